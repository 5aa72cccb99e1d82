/**
 * `GET /api/events/<slug>/now`: the sessions of an event under way at this moment (by the
 * server's clock, or `?at=` a given time), for the "now" page (client/now-page.ts), and when to
 * ask again. Route -> validate -> Meetings -> sessionsAt (meetings/now.ts). The answer names
 * pads and their schedule only: never a link's token.
 */
import express, { type Request, type Router } from 'express'
import type { Meetings } from '../meetings/meetings.ts'
import type { EventInfo, PadInfo } from '../meetings/model.ts'
import { sessionsAt, slotOf } from '../meetings/now.ts'
import { parseTime } from '../meetings/schedule.ts'
import { inZone, isValidIsoDateTime } from '../meetings/time.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute } from './json-route.ts'

/**
 * Most sessions the page follows at once, each a live socket and a Yjs doc in the browser. The
 * largest conferences run about 35 rooms in parallel (FOSDEM); past this a broken schedule (a
 * thousand sessions "all day") would open a thousand sockets from one tab. The rest are counted.
 */
export const MAX_NOW_SESSIONS = 60
/**
 * Longest wait before the page asks again even when no start or end is due: a re-imported or
 * edited schedule reaches the page within this. A small JSON answer, so cheap at this rate.
 */
export const NOW_REFRESH_MAX_MS = 30_000
/** Shortest wait, so a session starting in 3 ms is not asked about in a tight loop. */
export const NOW_REFRESH_MIN_MS = 1_000
/** `?at=`: an ISO date-time is 35 characters at most. */
const MAX_AT_LENGTH = 40

export interface NowSession {
  id: string
  title: string
  kind: PadInfo['kind']
  room: string | null
  track: string | null
  speakers: string[]
  startsAt: string
  endsAt: string
  /** "09:00–10:30" in the event's zone, as the event page writes it. */
  time: string
  /** The pad page. */
  link: string
}

export interface NowAnswer {
  event: { slug: string; name: string; timezone: string }
  /** The moment asked about (ISO, UTC). */
  at: string
  sessions: NowSession[]
  /** Sessions under way that are not listed (past MAX_NOW_SESSIONS). */
  more: number
  /** When a session next starts or ends (ISO, UTC), or null. */
  nextChangeAt: string | null
  /** When the page should ask again. */
  refreshInMs: number
}

/** The moment asked about: `?at=` (ISO; without an offset, in the event's zone) or the clock. */
function momentOf(req: Request, event: EventInfo, clock: () => number): number {
  const at = req.query.at
  if (at === undefined) return clock()
  if (typeof at !== 'string' || at.length > MAX_AT_LENGTH || !isValidIsoDateTime(at))
    throw new HttpError(
      400,
      'invalid',
      'at must be one date and time, e.g. 2026-11-10T09:00 or 2026-11-10T08:00Z',
    )
  return parseTime(at, event.timezone)
}

export function nowAnswer(event: EventInfo, pads: readonly PadInfo[], at: number): NowAnswer {
  const { now, nextChange } = sessionsAt(pads, at)
  const zone = event.timezone
  const sessions = now.slice(0, MAX_NOW_SESSIONS).map((pad): NowSession => {
    const slot = slotOf(pad)!
    return {
      id: pad.id,
      title: pad.title ?? pad.id,
      kind: pad.kind,
      room: pad.room,
      track: pad.track,
      speakers: pad.speakers,
      startsAt: new Date(slot.start).toISOString(),
      endsAt: new Date(slot.end).toISOString(),
      time: `${inZone(slot.start, zone).time}–${inZone(slot.end, zone).time}`,
      link: `/p/${encodeURIComponent(pad.id)}`,
    }
  })
  const wait = nextChange === null ? NOW_REFRESH_MAX_MS : nextChange - at
  return {
    event: { slug: event.slug, name: event.name, timezone: zone },
    at: new Date(at).toISOString(),
    sessions,
    more: now.length - sessions.length,
    nextChangeAt: nextChange === null ? null : new Date(nextChange).toISOString(),
    refreshInMs: Math.min(NOW_REFRESH_MAX_MS, Math.max(NOW_REFRESH_MIN_MS, wait)),
  }
}

export function createNowRouter(meetings: Meetings, clock: () => number = Date.now): Router {
  const api = express.Router()
  api.get(
    '/events/:slug/now',
    asyncRoute(async (req, res) => {
      const event = await meetings.event(String(req.params.slug))
      const at = momentOf(req, event, clock)
      const pads = await meetings.pads({ event: event.slug })
      res.set('Cache-Control', 'private, no-store')
      res.json(nowAnswer(event, pads, at))
    }),
  )
  return api
}
