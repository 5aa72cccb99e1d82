/**
 * The per-address new-pad limit (config maxNewPadsPerIpPerMinute) at the HTTP doors that create a
 * pad: `POST /api/pads`, `POST /api/events/:slug/pads`, `POST /api/pads/import`. A socket opening
 * a new name already counted against it; without it here an edit link made 2,000 pads in 2.6 s.
 * The organiser (the admin token, in protected mode) is not limited: a schedule of hundreds of
 * sessions is theirs to make. In open mode everyone is "admin", so everyone counts.
 */
import type { Request, Response } from 'express'
import { accessOf } from '../http/route-classes.ts'
import { TooMany } from '../lib/domain-errors.ts'

/**
 * Counts one new pad for `ip`; false when that address has made its share this minute (on every
 * server sharing the database: new-pad-limit.ts).
 */
export type NewPadGate = (ip: string) => Promise<boolean>

export async function admitNewPad(req: Request, res: Response, gate: NewPadGate): Promise<void> {
  const access = accessOf(res)
  if (access.mode === 'protected' && access.role === 'admin') return
  if (!(await gate(req.ip ?? req.socket.remoteAddress ?? 'unknown'))) {
    res.set('Retry-After', '60')
    throw new TooMany('too many new pads from your address; try again in a minute', 'too_many_new_pads')
  }
}
