/**
 * Reads a published schedule — an iCalendar (.ics) file or a simple JSON list — into entries keyed
 * by the schedule's own id (iCal UID, JSON `id`), so a re-import updates pads instead of adding
 * them. Pure: text in, entries or an error out. Times become UTC milliseconds.
 */
import ICAL from 'ical.js'
import { z } from 'zod'
import { pushAll } from '../shared/arrays.ts'
import { PAD_KINDS, type PadKind, type PadLink } from '../shared/meetings.ts'
import { isValidIsoDateTime, isValidTimeZone, zonedToUtc } from '../shared/time.ts'

export interface ScheduleEntry {
  uid: string
  title: string
  kind: PadKind
  track: string | null
  room: string | null
  startsAt: number | null
  endsAt: number | null
  speakers: string[]
  links: PadLink[]
  cancelled: boolean
}

export type ParseResult = { ok: true; entries: ScheduleEntry[] } | { ok: false; error: string }

/** A schedule bigger than any conference's: protects the server from a pathological file. */
export const MAX_SCHEDULE_ENTRIES = 2000
/** Occurrences expanded per recurring entry (a daily BoF over a week-long event is 7). */
const MAX_OCCURRENCES = 60

const KIND_WORDS: Record<string, PadKind> = {
  'mini-summit': 'mini-summit',
  'mini summit': 'mini-summit',
  minisummit: 'mini-summit',
  microconference: 'mini-summit',
  summit: 'mini-summit',
  bof: 'bof',
  'birds of a feather': 'bof',
  talk: 'talk',
  presentation: 'talk',
  keynote: 'talk',
  meeting: 'meeting',
  'hallway meeting': 'meeting',
}

function kindFromWord(word: string): PadKind | null {
  return KIND_WORDS[word.trim().toLowerCase()] ?? null
}

function guessKind(categories: string[], title: string, fallback: PadKind): PadKind {
  for (const c of categories) {
    const kind = kindFromWord(c)
    if (kind) return kind
  }
  if (/\bbof\b/i.test(title)) return 'bof'
  if (/mini-?summit|microconference/i.test(title)) return 'mini-summit'
  return fallback
}

// ---------------------------------------------------------------- iCalendar

function stringsOf(component: ICAL.Component, name: string): string[] {
  const out: string[] = []
  for (const prop of component.getAllProperties(name)) {
    for (const value of prop.getValues())
      if (typeof value === 'string' && value.trim()) out.push(value.trim())
  }
  return out
}

function personOf(prop: ICAL.Property): string | null {
  const cn = prop.getParameter('cn')
  if (typeof cn === 'string' && cn.trim()) return cn.trim()
  const value = String(prop.getFirstValue() ?? '').replace(/^mailto:/i, '')
  return value || null
}

/**
 * UTC ms of an iCal time: "Z" times are UTC; a TZID that names an IANA zone is converted with
 * Intl; another TZID uses the file's VTIMEZONE; a floating time is in the event's zone.
 */
function toUtc(
  time: ICAL.Time,
  tzid: string | null,
  zones: Map<string, ICAL.Timezone>,
  eventZone: string,
): number {
  const wall = {
    year: time.year,
    month: time.month,
    day: time.day,
    hour: time.hour,
    minute: time.minute,
    second: time.second,
  }
  if (time.zone?.tzid === 'UTC')
    return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second)
  if (tzid) {
    if (isValidTimeZone(tzid)) return zonedToUtc(wall, tzid)
    const zone = zones.get(tzid)
    if (zone) {
      const t = time.clone()
      t.zone = zone
      return t.toUnixTime() * 1000
    }
  }
  return zonedToUtc(wall, eventZone)
}

export function parseIcs(text: string, eventZone: string, fallbackKind: PadKind = 'talk'): ParseResult {
  let root: ICAL.Component
  try {
    root = new ICAL.Component(ICAL.parse(text) as unknown[])
  } catch (err) {
    return {
      ok: false,
      error: `not a valid iCalendar file: ${err instanceof Error ? err.message : String(err)}`,
    }
  }
  if (root.name !== 'vcalendar') return { ok: false, error: 'not a valid iCalendar file: no VCALENDAR' }
  const zones = new Map<string, ICAL.Timezone>()
  for (const vtz of root.getAllSubcomponents('vtimezone')) {
    const tzid = vtz.getFirstPropertyValue('tzid')
    if (typeof tzid === 'string') zones.set(tzid, new ICAL.Timezone(vtz))
  }
  const vevents = root.getAllSubcomponents('vevent')
  // Modified occurrences (RECURRENCE-ID) are attached to their series, not read on their own.
  const exceptions = vevents.filter((v) => v.hasProperty('recurrence-id'))
  const entries: ScheduleEntry[] = []
  const ctx: VeventContext = { zones, eventZone, fallbackKind }
  for (const vevent of vevents) {
    if (vevent.hasProperty('recurrence-id')) continue
    const uid = vevent.getFirstPropertyValue('uid')
    if (typeof uid !== 'string' || !uid.trim()) {
      return { ok: false, error: 'a VEVENT has no UID: entries need one to be re-imported' }
    }
    if (!vevent.hasProperty('dtstart')) return { ok: false, error: `entry "${uid}" has no DTSTART` }
    try {
      pushAll(entries, readVevent(vevent, uid, exceptions, ctx))
    } catch (err) {
      // ical.js reads values lazily: a malformed date throws here, not in ICAL.parse.
      return {
        ok: false,
        error: `not a valid iCalendar file: entry "${uid}": ${err instanceof Error ? err.message : String(err)}`,
      }
    }
    if (entries.length > MAX_SCHEDULE_ENTRIES)
      return { ok: false, error: `more than ${MAX_SCHEDULE_ENTRIES} sessions` }
  }
  return { ok: true, entries }
}

interface VeventContext {
  zones: Map<string, ICAL.Timezone>
  eventZone: string
  fallbackKind: PadKind
}

/** The UTC ms of an iCal time, read in the zone its own TZID names. */
function timeOf(time: ICAL.Time | null, ctx: VeventContext): number | null {
  if (!time) return null
  const tzid = (time as ICAL.Time & { timezone?: string }).timezone ?? time.zone?.tzid ?? null
  return toUtc(time, tzid === 'floating' ? null : tzid, ctx.zones, ctx.eventZone)
}

/** The sessions of one VEVENT: itself, or each occurrence of a recurring one. */
function readVevent(
  vevent: ICAL.Component,
  uid: string,
  exceptions: ICAL.Component[],
  ctx: VeventContext,
): ScheduleEntry[] {
  const event = new ICAL.Event(vevent, {
    strictExceptions: true,
    exceptions: exceptions.filter((e) => e.getFirstPropertyValue('uid') === uid),
  })
  const describe = (
    item: ICAL.Event,
    start: ICAL.Time | null,
    end: ICAL.Time | null,
    key: string,
  ): ScheduleEntry => {
    const c = item.component
    const categories = stringsOf(c, 'categories')
    const title = item.summary?.trim() || '(untitled)'
    const people = [...c.getAllProperties('organizer'), ...c.getAllProperties('attendee')].map(personOf)
    const status = String(c.getFirstPropertyValue('status') ?? '').toUpperCase()
    return {
      uid: key,
      title,
      kind: guessKind(categories, title, ctx.fallbackKind),
      track: categories.find((cat) => !kindFromWord(cat)) ?? null,
      room: item.location?.trim() || null,
      startsAt: timeOf(start, ctx),
      endsAt: timeOf(end, ctx),
      speakers: [...new Set(people.filter((p): p is string => p !== null))],
      links: stringsOf(c, 'url').map((url) => ({ title: null, url })),
      cancelled: status === 'CANCELLED',
    }
  }
  if (!event.isRecurring()) return [describe(event, event.startDate ?? null, event.endDate ?? null, uid)]
  const out: ScheduleEntry[] = []
  const it = event.iterator()
  for (let n = 0; n < MAX_OCCURRENCES; n++) {
    const next = it.next()
    if (!next) break
    const details = event.getOccurrenceDetails(next)
    // Each occurrence is its own session with its own pad, keyed by UID and original start.
    const key = `${uid}#${new Date(timeOf(details.recurrenceId, ctx)!).toISOString()}`
    out.push(describe(details.item, details.startDate, details.endDate, key))
  }
  return out
}

// ---------------------------------------------------------------- JSON

const isoTime = z.string().refine(isValidIsoDateTime, {
  message: 'must be an ISO 8601 date-time, e.g. 2026-11-10T09:00:00+01:00',
})

const jsonEntry = z.strictObject({
  id: z.union([z.string().min(1).max(200), z.number().int()]).transform(String),
  title: z.string().trim().min(1).max(300),
  kind: z.enum(PAD_KINDS).optional(),
  track: z.string().max(200).nullish(),
  room: z.string().max(200).nullish(),
  start: isoTime.nullish(),
  end: isoTime.nullish(),
  speakers: z.array(z.string().max(200)).max(50).optional(),
  links: z
    .array(z.union([z.url(), z.strictObject({ title: z.string().max(300).nullish(), url: z.url() })]))
    .max(50)
    .optional(),
  cancelled: z.boolean().optional(),
})

export const jsonSchedule = z.array(jsonEntry).max(MAX_SCHEDULE_ENTRIES)

/**
 * A JSON list: `[{ "id", "title", "kind"?, "track"?, "room"?, "start"?, "end"?, "speakers"?, "links"?,
 * "cancelled"? }]`; times are ISO 8601 with an offset (a time without one is in the event's zone).
 */
export function parseJsonSchedule(
  value: unknown,
  eventZone: string,
  fallbackKind: PadKind = 'talk',
): ParseResult {
  const parsed = jsonSchedule.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    return { ok: false, error: `${issue.path.join('.') || 'schedule'}: ${issue.message}` }
  }
  const ids = new Set<string>()
  const entries: ScheduleEntry[] = []
  for (const e of parsed.data) {
    if (ids.has(e.id)) return { ok: false, error: `duplicate id "${e.id}"` }
    ids.add(e.id)
    if (e.start && e.end && parseTime(e.end, eventZone) < parseTime(e.start, eventZone)) {
      return { ok: false, error: `entry "${e.id}": end is before start` }
    }
    entries.push({
      uid: e.id,
      title: e.title,
      kind: e.kind ?? guessKind([], e.title, fallbackKind),
      track: e.track ?? null,
      room: e.room ?? null,
      startsAt: e.start ? parseTime(e.start, eventZone) : null,
      endsAt: e.end ? parseTime(e.end, eventZone) : null,
      speakers: e.speakers ?? [],
      links: (e.links ?? []).map((l) =>
        typeof l === 'string' ? { title: null, url: l } : { title: l.title ?? null, url: l.url },
      ),
      cancelled: e.cancelled ?? false,
    })
  }
  return { ok: true, entries }
}

/** An ISO time; without an offset it is wall-clock time in `zone`. */
export function parseTime(text: string, zone: string): number {
  if (/(Z|[+-]\d\d:?\d\d)$/i.test(text)) return Date.parse(text)
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(text)!
  return zonedToUtc(
    { year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +(m[6] ?? 0) },
    zone,
  )
}
