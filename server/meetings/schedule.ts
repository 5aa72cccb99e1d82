/**
 * What every schedule reader produces (entries carrying the schedule's own id: iCal UID, frab
 * guid, JSON `id`), the words that turn a session's type into a pad kind, and the simplest format,
 * Summitpad's own JSON list. Pure: values in, entries or an error out. Times are UTC milliseconds.
 */
import { z } from 'zod'
import { pushAll } from '../lib/arrays.ts'
import { PAD_KINDS, type PadKind, type PadLink } from './model.ts'
import { isValidIsoDateTime, zonedToUtc } from './time.ts'

export interface ScheduleEntry {
  /** The schedule's own id; several entries may share one (see schedule-match.ts). */
  uid: string
  title: string
  kind: PadKind
  track: string | null
  room: string | null
  startsAt: number | null
  /** null: the file gives no end (the import gives it a default length and says so). */
  endsAt: number | null
  speakers: string[]
  links: PadLink[]
  cancelled: boolean
}

export type ParseResult = { ok: true; entries: ScheduleEntry[] } | { ok: false; error: string }

/**
 * Sessions in one file. FOSDEM, the largest schedule we know of, has about 1,100 events; this
 * leaves room and still bounds what one upload can create.
 */
export const MAX_SCHEDULE_ENTRIES = 5000

/** Largest schedule file accepted (API and CLI): a 2,000-session frab XML with abstracts is ~8 MiB. */
export const MAX_SCHEDULE_BYTES = 32 * 1024 * 1024
/** What organisers send schedules as; the content decides the format, not this. */
export const SCHEDULE_CONTENT_TYPES = [
  'text/calendar',
  'application/json',
  'application/xml',
  'text/xml',
  'text/plain',
  'application/octet-stream',
]

/**
 * The session types conference tools publish (frab/pretalx `<type>`, iCal CATEGORIES, a JSON
 * "kind"), lower-cased with `-` and `_` read as spaces, and the pad kind each becomes. Any other
 * type gets the import's fallback kind (`?kind=`, default talk).
 */
const KIND_WORDS: Record<string, PadKind> = {
  'mini summit': 'mini-summit',
  minisummit: 'mini-summit',
  microconference: 'mini-summit',
  summit: 'mini-summit',
  bof: 'bof',
  'birds of a feather': 'bof',
  unconference: 'bof',
  'bof/unconference': 'bof',
  meetup: 'bof',
  'open space': 'bof',
  talk: 'talk',
  lecture: 'talk',
  presentation: 'talk',
  keynote: 'talk',
  plenary: 'talk',
  panel: 'talk',
  'lightning talk': 'talk',
  'lightning talks': 'talk',
  maintrack: 'talk',
  devroom: 'talk',
  tutorial: 'talk',
  workshop: 'meeting',
  meeting: 'meeting',
  'hallway meeting': 'meeting',
  'working session': 'meeting',
}

export function kindFromWord(word: string): PadKind | null {
  return (
    KIND_WORDS[
      word
        .trim()
        .toLowerCase()
        .replace(/[\s_-]+/g, ' ')
    ] ?? null
  )
}

export function guessKind(types: string[], title: string, fallback: PadKind): PadKind {
  for (const t of types) {
    const kind = kindFromWord(t)
    if (kind) return kind
  }
  if (/\bbof\b/i.test(title)) return 'bof'
  if (/mini-?summit|microconference/i.test(title)) return 'mini-summit'
  return fallback
}

/** Only web links become pad links: a schedule is untrusted, a `javascript:` link is not a link. */
export function isWebLink(url: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(url) && URL.canParse(url)
}

// ---------------------------------------------------------------- the JSON list

const isoTime = z.string().refine(isValidIsoDateTime, {
  message: 'must be an ISO 8601 date-time, e.g. 2026-11-10T09:00:00+01:00',
})

const webUrl = z.string().refine(isWebLink, { message: 'must be an http(s) URL' })

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
    .array(z.union([webUrl, z.strictObject({ title: z.string().max(300).nullish(), url: webUrl })]))
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
    const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
    return { ok: false, error: `${where.replace(/^\./, '') || 'the list'}: ${issue.message}` }
  }
  const entries: ScheduleEntry[] = []
  for (const [i, e] of parsed.data.entries()) {
    if (e.start && e.end && parseTime(e.end, eventZone) < parseTime(e.start, eventZone)) {
      return { ok: false, error: `[${i}].end: before its start (id "${e.id}")` }
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
