/**
 * What every schedule reader produces (entries carrying the schedule's own id: iCal UID, frab
 * guid, JSON `id`) and the words that turn a session's type into a pad kind; the formats are read
 * by schedule-json.ts, schedule-frab.ts and schedule-ics.ts. Pure: values in, entries or an error
 * out. Times are UTC milliseconds.
 */
import type { PadKind, PadLink } from './model.ts'
import { zonedToUtc } from './time.ts'

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

/** An ISO time; without an offset it is wall-clock time in `zone`. */
export function parseTime(text: string, zone: string): number {
  if (/(Z|[+-]\d\d:?\d\d)$/i.test(text)) return Date.parse(text)
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(text)!
  return zonedToUtc(
    { year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +(m[6] ?? 0) },
    zone,
  )
}
