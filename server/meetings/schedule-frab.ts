/**
 * Reads the frab family of schedules: `schedule.xml` (frab, Pentabarf/FOSDEM, pretalx) and
 * C3VOC `schedule.json` (frab, pretalx). Both list days, then rooms, then events; both become one
 * neutral shape here, then entries.
 *
 * Times: an event's `date` (ISO with offset, frab and pretalx) wins. Without one (Pentabarf) the
 * start is the day's date plus `start` in the conference's zone (`time_zone_name`, else the
 * event's), and a start before the day's own start (`day@start`, else `day_change`) belongs to the
 * next calendar day: a 00:30 session listed under 27 December is on the 28th.
 * Keys: the event's `guid` where present (stable across frab exports), else its `id`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { materialKindOf } from './material-kinds.ts'
import type { PadKind, PadLink } from './model.ts'
import {
  guessKind,
  isWebLink,
  MAX_SCHEDULE_ENTRIES,
  type ParseResult,
  parseTime,
  type ScheduleEntry,
} from './schedule.ts'
import { isValidIsoDateTime, isValidTimeZone, zonedToUtc } from './time.ts'

export const FRAB_XML = 'frab schedule.xml'
export const FRAB_JSON = 'frab schedule.json'

/** One event, as both formats give it. */
interface FrabEvent {
  /** Where it is in the file, for error messages. */
  where: string
  guid: string | null
  id: string | null
  date: string | null
  start: string | null
  duration: string | null
  room: string | null
  title: string | null
  subtitle: string | null
  track: string | null
  type: string | null
  persons: string[]
  links: PadLink[]
}

interface FrabDay {
  date: string | null
  /** ISO start of the conference day (frab: `day@start`), if given. */
  start: string | null
  events: FrabEvent[]
}

interface FrabSchedule {
  timeZone: string | null
  /** "HH:MM[:SS]" at which a listed day begins (Pentabarf: `day_change`). */
  dayChange: string | null
  days: FrabDay[]
}

class FrabError extends Error {}

const HHMM = /^(\d{1,2}):(\d\d)(?::(\d\d))?$/
const DAY = /^(\d{4})-(\d\d)-(\d\d)$/

function minutesOf(value: string, what: string, where: string): number {
  const m = HHMM.exec(value.trim())
  if (!m || +m[2]! > 59) throw new FrabError(`${where}: <${what}> "${value.slice(0, 40)}" is not HH:MM`)
  return +m[1]! * 60 + +m[2]! + (m[3] ? +m[3] / 60 : 0)
}

function toEntries(
  schedule: FrabSchedule,
  format: string,
  eventZone: string,
  fallback: PadKind,
): ParseResult {
  const zone = schedule.timeZone && isValidTimeZone(schedule.timeZone) ? schedule.timeZone : eventZone
  const entries: ScheduleEntry[] = []
  try {
    for (const day of schedule.days) {
      for (const e of day.events) {
        const key = e.guid ?? e.id
        if (!key) throw new FrabError(`${e.where}: no guid or id`)
        const title = [e.title, e.subtitle].filter(Boolean)[0]?.trim()
        if (!title) throw new FrabError(`${e.where}: no <title>`)
        const startsAt = startOf(e, day, schedule, zone)
        const duration = e.duration ? minutesOf(e.duration, 'duration', e.where) : null
        entries.push({
          uid: key,
          title: title.slice(0, 300),
          kind: guessKind([e.type ?? '', e.track ?? ''], title, fallback),
          track: e.track?.slice(0, 200) || null,
          room: e.room?.slice(0, 200) || null,
          startsAt,
          endsAt: startsAt !== null && duration !== null ? startsAt + duration * 60_000 : null,
          speakers: e.persons.map((p) => p.slice(0, 200)).slice(0, 50),
          links: e.links.slice(0, 50),
          cancelled: false,
        })
        if (entries.length > MAX_SCHEDULE_ENTRIES)
          throw new FrabError(`more than ${MAX_SCHEDULE_ENTRIES} sessions`)
      }
    }
  } catch (err) {
    if (err instanceof FrabError) return { ok: false, error: `${format}: ${err.message}` }
    throw err
  }
  return { ok: true, entries }
}

function startOf(e: FrabEvent, day: FrabDay, schedule: FrabSchedule, zone: string): number | null {
  if (e.date) {
    if (!isValidIsoDateTime(e.date))
      throw new FrabError(`${e.where}: <date> "${e.date.slice(0, 40)}" is not an ISO date-time`)
    return parseTime(e.date, zone)
  }
  if (!e.start) return null
  const dayMatch = day.date ? DAY.exec(day.date) : null
  if (!dayMatch) throw new FrabError(`${e.where}: its day has no date="YYYY-MM-DD"`)
  const minutes = minutesOf(e.start, 'start', e.where)
  const date = { year: +dayMatch[1]!, month: +dayMatch[2]!, day: +dayMatch[3]! }
  let at = wallTime(date, 0, minutes, zone)
  // Listed under this day but before the day begins: after midnight, on the next calendar day.
  const dayStart =
    day.start && isValidIsoDateTime(day.start)
      ? parseTime(day.start, zone)
      : schedule.dayChange && HHMM.test(schedule.dayChange.trim())
        ? wallTime(date, 0, minutesOf(schedule.dayChange, 'day_change', 'conference'), zone)
        : null
  if (dayStart !== null && at < dayStart) at = wallTime(date, 1, minutes, zone)
  return at
}

/** UTC ms of `minutes` after midnight, `plusDays` after `date`, on the wall clock of `zone`. */
function wallTime(
  date: { year: number; month: number; day: number },
  plusDays: number,
  minutes: number,
  zone: string,
): number {
  // "25:30" (a generator counting past midnight) is 01:30 the next day.
  const whole = Math.floor(minutes) % 1440
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + plusDays + Math.floor(minutes / 1440)))
  return zonedToUtc(
    {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: Math.floor(whole / 60),
      minute: whole % 60,
      second: Math.round((minutes - Math.floor(minutes)) * 60),
    },
    zone,
  )
}

// ---------------------------------------------------------------- XML

/** Text of an element that may carry attributes (`<track slug="x">Name</track>`). */
function text(value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value === 'string' || typeof value === 'number') return String(value).trim() || null
  if (typeof value === 'object' && '#text' in value) return text((value as { '#text': unknown })['#text'])
  return null
}

const asArray = (value: unknown): unknown[] =>
  value === undefined || value === null || value === '' ? [] : Array.isArray(value) ? value : [value]

const obj = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // A schedule uses the five XML entities and numeric ones; no DOCTYPE-defined entities.
  processEntities: { enabled: true, maxEntityCount: 1000, maxEntitySize: 1000 },
  htmlEntities: false,
  isArray: (name) => ['day', 'room', 'event', 'person', 'link', 'attachment'].includes(name),
})

export function parseFrabXml(text_: string, eventZone: string, fallbackKind: PadKind = 'talk'): ParseResult {
  const valid = XMLValidator.validate(text_)
  if (valid !== true) {
    const { line, col, msg } = valid.err
    return { ok: false, error: `${FRAB_XML}: line ${line}, column ${col}: ${msg}` }
  }
  let parsed: unknown
  try {
    parsed = xmlParser.parse(text_)
  } catch (err) {
    // The parser's own limits ("Maximum nested tags exceeded", entity limits): about the file.
    if (err instanceof TypeError || err instanceof RangeError || !(err instanceof Error)) throw err
    return { ok: false, error: `${FRAB_XML}: ${err.message.slice(0, 200)}` }
  }
  const doc = obj(parsed)
  const rootName = Object.keys(doc).find((k) => !k.startsWith('?'))
  if (rootName !== 'schedule') {
    return { ok: false, error: `${FRAB_XML}: the root element is <${rootName ?? ''}>, expected <schedule>` }
  }
  const root = obj(doc.schedule)
  const conference = obj(root.conference)
  const days: FrabDay[] = asArray(root.day).map((d, di) => {
    const day = obj(d)
    const date = text(day['@date'])
    return {
      date,
      start: text(day['@start']),
      events: asArray(day.room).flatMap((r) => {
        const room = obj(r)
        return asArray(room.event).map((ev, ei): FrabEvent => {
          const e = obj(ev)
          const guid = text(e['@guid'])
          const id = text(e['@id'])
          const label = guid ? `guid "${guid}"` : id ? `id "${id}"` : `#${ei + 1}`
          return {
            where: `day ${di + 1} (${date ?? 'no date'}), room "${text(room['@name']) ?? ''}", event ${label}`,
            guid,
            id,
            date: text(e.date),
            start: text(e.start),
            duration: text(e.duration),
            room: text(e.room) ?? text(room['@name']),
            title: text(e.title),
            subtitle: text(e.subtitle),
            track: text(e.track),
            type: text(e.type),
            persons: asArray(obj(e.persons).person)
              .map(text)
              .filter((p): p is string => !!p),
            links: eventLinks(
              text(e.url),
              [...asArray(obj(e.links).link), ...asArray(obj(e.attachments).attachment)].map((l) => ({
                href: text(obj(l)['@href']),
                title: text(l),
              })),
            ),
          }
        })
      }),
    }
  })
  return toEntries(
    { timeZone: text(conference.time_zone_name), dayChange: text(conference.day_change), days },
    FRAB_XML,
    eventZone,
    fallbackKind,
  )
}

// ---------------------------------------------------------------- JSON

/** A string field of a JSON object, or an error naming its path. */
function field(o: Record<string, unknown>, name: string, path: string): string | null {
  const v = o[name]
  if (v === undefined || v === null || v === '') return null
  if (typeof v === 'string') return v.trim() || null
  if (typeof v === 'number') return String(v)
  throw new FrabError(`${path}.${name}: must be a string`)
}

function personName(p: unknown): string | null {
  if (typeof p === 'string') return p.trim() || null
  const o = obj(p)
  for (const k of ['public_name', 'full_public_name', 'name']) {
    if (typeof o[k] === 'string' && (o[k] as string).trim()) return (o[k] as string).trim()
  }
  return null
}

export function parseFrabJson(
  value: unknown,
  eventZone: string,
  fallbackKind: PadKind = 'talk',
): ParseResult {
  try {
    const schedule = obj(obj(value).schedule)
    const conference = schedule.conference
    if (typeof conference !== 'object' || conference === null)
      throw new FrabError('schedule.conference: missing')
    const c = obj(conference)
    if (!Array.isArray(c.days)) throw new FrabError('schedule.conference.days: must be a list')
    const days: FrabDay[] = c.days.map((d, di) => {
      const dayPath = `schedule.conference.days[${di}]`
      const day = obj(d)
      const rooms = day.rooms
      if (typeof rooms !== 'object' || rooms === null || Array.isArray(rooms))
        throw new FrabError(`${dayPath}.rooms: must be an object of room name to events`)
      return {
        date: field(day, 'date', dayPath),
        start: field(day, 'day_start', dayPath),
        events: Object.entries(rooms).flatMap(([roomName, list]) => {
          const roomPath = `${dayPath}.rooms[${JSON.stringify(roomName)}]`
          if (!Array.isArray(list)) throw new FrabError(`${roomPath}: must be a list of events`)
          return list.map((ev, ei): FrabEvent => {
            const path = `${roomPath}[${ei}]`
            const e = obj(ev)
            const guid = field(e, 'guid', path)
            const id = field(e, 'id', path)
            const url = field(e, 'url', path)
            return {
              where: path,
              guid,
              id,
              date: field(e, 'date', path),
              start: field(e, 'start', path),
              duration: field(e, 'duration', path),
              room: field(e, 'room', path) ?? roomName,
              title: field(e, 'title', path),
              subtitle: field(e, 'subtitle', path),
              track: field(e, 'track', path),
              type: field(e, 'type', path),
              persons: (Array.isArray(e.persons) ? e.persons : [])
                .map(personName)
                .filter((p): p is string => !!p),
              links: eventLinks(
                url,
                (['links', 'attachments', 'resources'] as const).flatMap((name) =>
                  (Array.isArray(e[name]) ? (e[name] as unknown[]) : []).map((l) => {
                    if (typeof l === 'string') return { href: l, title: null }
                    // pretalx's API names a resource's address `resource` and its title `description`.
                    // Loose: a material of an odd shape is left out, not the schedule refused.
                    const o = obj(l)
                    return {
                      href: loose(o.url) ?? loose(o.resource),
                      title: loose(o.title) ?? loose(o.description),
                    }
                  }),
                ),
              ),
            }
          })
        }),
      }
    })
    return toEntries(
      {
        timeZone: field(c, 'time_zone_name', 'schedule.conference'),
        dayChange: field(c, 'day_change', 'schedule.conference'),
        days,
      },
      FRAB_JSON,
      eventZone,
      fallbackKind,
    )
  } catch (err) {
    if (err instanceof FrabError) return { ok: false, error: `${FRAB_JSON}: ${err.message}` }
    throw err
  }
}

/**
 * An event's materials: its page (`url`, the talk page) and its links, attachments and resources,
 * each sorted into a kind. frab gives attachments as paths on its own site (`/system/event_attachments/…`):
 * they are read against the talk page's address. Anything not http(s) is left out.
 */
const loose = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null)

function eventLinks(url: string | null, others: { href: string | null; title: string | null }[]): PadLink[] {
  const out: PadLink[] = []
  if (url && isWebLink(url)) out.push({ title: null, url, kind: 'talk' })
  for (const { href, title } of others) {
    if (!href) continue
    const absolute =
      url && isWebLink(url) && href.startsWith('/') && !href.startsWith('//') ? new URL(href, url).href : href
    if (!isWebLink(absolute) || out.some((l) => l.url === absolute)) continue
    const name = title?.slice(0, 300) || null
    out.push({ title: name, url: absolute, kind: materialKindOf(name, absolute) })
  }
  return out
}
