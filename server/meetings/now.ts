/**
 * Which sessions of an event are happening at a given moment, from the pads' schedule fields
 * alone (no clock of its own: the caller passes the time), and when that answer next changes.
 * The "now" page (server/http/now-routes.ts, client/now-page.ts) shows these sessions live.
 */
import { DEFAULT_SESSION_MINUTES } from './meetings.ts'
import type { PadInfo } from './model.ts'

/** What `sessionsAt` needs of a pad (PadInfo has it all). */
export type ScheduledPad = Pick<PadInfo, 'id' | 'startsAt' | 'endsAt' | 'cancelled' | 'closedAt' | 'room'>

export interface Happening<P extends ScheduledPad> {
  /** The sessions under way, by room (sessions without one last), then start, then id. */
  now: P[]
  /**
   * The next moment (ms since the epoch) a session of these pads starts or ends after `at`: the
   * answer changes then, so the page re-reads it then. Null when nothing more is scheduled.
   */
  nextChange: number | null
}

/** A session's interval [start, end) in ms, or null when it has no (readable) start. */
export function slotOf(pad: ScheduledPad): { start: number; end: number } | null {
  if (!pad.startsAt) return null
  const start = Date.parse(pad.startsAt)
  if (!Number.isFinite(start)) return null
  const stored = pad.endsAt ? Date.parse(pad.endsAt) : Number.NaN
  // A session given a start only (a pad made by hand) lasts as long as the schedule importer
  // assumes for an entry without an end.
  const end = Number.isFinite(stored) ? stored : start + DEFAULT_SESSION_MINUTES * 60_000
  return { start, end }
}

/**
 * The sessions happening at `at`: started at or before it and ending after it (a session ending
 * exactly now is over; one starting exactly now is on). Cancelled sessions never are; closed ones
 * neither (closing a session is saying it is over: its minutes are final). Sessions without a
 * start time are never "now". Times are compared as instants, whatever offset the schedule wrote.
 */
export function sessionsAt<P extends ScheduledPad>(pads: readonly P[], at: number): Happening<P> {
  const now: { pad: P; start: number }[] = []
  let nextChange: number | null = null
  const later = (t: number) => {
    if (t > at && (nextChange === null || t < nextChange)) nextChange = t
  }
  for (const pad of pads) {
    if (pad.cancelled || pad.closedAt) continue
    const slot = slotOf(pad)
    if (!slot) continue
    later(slot.start)
    later(slot.end)
    if (slot.start <= at && at < slot.end) now.push({ pad, start: slot.start })
  }
  now.sort(
    (a, b) =>
      roomOrder(a.pad.room, b.pad.room) ||
      a.start - b.start ||
      (a.pad.id < b.pad.id ? -1 : a.pad.id > b.pad.id ? 1 : 0),
  )
  return { now: now.map((n) => n.pad), nextChange }
}

function roomOrder(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return a.localeCompare(b)
}
