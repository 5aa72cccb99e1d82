/**
 * Reads an iCalendar (.ics) schedule with ical.js: time zones (VTIMEZONE or IANA TZID), recurring
 * sessions (one entry per occurrence, EXDATE and moved occurrences honoured), STATUS:CANCELLED,
 * CATEGORIES for kind and track, ORGANIZER/ATTENDEE names as speakers.
 *
 * Recurrence expansion is bounded by the work it does, not by what it yields: ical.js steps a
 * rule's clock (a day, an hour, a second) until a date matches, so a rule no date ever matches
 * (`FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`) would step forever without yielding anything.
 */
import ICAL from 'ical.js'
import { pushAll } from '../lib/arrays.ts'
import { materialKindOf } from './material-kinds.ts'
import type { PadKind, PadLink } from './model.ts'
import {
  guessKind,
  isWebLink,
  kindFromWord,
  MAX_SCHEDULE_ENTRIES,
  type ParseResult,
  type ScheduleEntry,
} from './schedule.ts'
import { isValidTimeZone, zonedToUtc } from './time.ts'

const FORMAT = 'iCalendar (.ics)'

/** Occurrences expanded per recurring entry (a daily BoF over a week-long event is 7). */
export const MAX_OCCURRENCES = 60
/**
 * Steps of a recurrence rule's clock per file, whether or not a step yields an occurrence. A daily
 * rule over a year is 366 steps, an hourly one 8,784; a file needing more is not a schedule.
 */
export const MAX_RECURRENCE_STEPS = 50_000
/** Occurrences later than this after their DTSTART are not expanded: a conference lasts days. */
export const RECURRENCE_HORIZON_DAYS = 366

class RecurrenceRunaway extends Error {}
class PastHorizon extends Error {}

interface RecurIteratorLike {
  last: ICAL.Time | null
  rule: unknown
}
type StepFn = (this: RecurIteratorLike, ...args: unknown[]) => unknown

/**
 * The budget of the expansion running now (null: none running). ical.js gives no hook inside its
 * stepping loop, so its step functions are wrapped once to count against this; expansion is
 * synchronous, so one variable is enough.
 */
let activeBudget: RecurrenceBudget | null = null

interface RecurrenceBudget {
  steps: number
  /** Last day (dayNumber) expanded. */
  horizon: number
  /** The RRULEs of the VEVENT being expanded (not those of a VTIMEZONE it converts through). */
  rules: Set<unknown>
}

/**
 * A wall-clock date as one comparable number (20261110). Not `Time.compare`: that converts zones,
 * which expands the file's VTIMEZONE rules through these same step functions.
 */
const dayNumber = (t: { year: number; month: number; day: number }) => t.year * 10_000 + t.month * 100 + t.day

const STEP_FUNCTIONS = [
  'next_second',
  'next_minute',
  'next_hour',
  'next_day',
  'next_week',
  'next_month',
  'next_year',
] as const

function guardRecurrenceSteps(): void {
  const proto = (ICAL as unknown as { RecurIterator: { prototype: Record<string, unknown> } }).RecurIterator
    .prototype
  if (proto.__summitpadGuard) return
  proto.__summitpadGuard = true
  for (const name of STEP_FUNCTIONS) {
    const original = proto[name] as StepFn
    proto[name] = function (this: RecurIteratorLike, ...args: unknown[]) {
      const budget = activeBudget?.rules.has(this.rule) ? activeBudget : null
      if (budget && --budget.steps < 0) throw new RecurrenceRunaway()
      const result = original.apply(this, args)
      if (budget && this.last && dayNumber(this.last) > budget.horizon) throw new PastHorizon()
      return result
    } satisfies StepFn
  }
}

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

/** A message of ical.js about the file, or a generic one when it is a JavaScript failure instead. */
function icalMessage(err: unknown): string {
  if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError)
    return 'a value could not be read'
  return err.message.replace(/\s+/g, ' ').slice(0, 200)
}

/** 1-based line of the file where `fragment` (quoted in a parser message) starts, if found. */
function lineOf(text: string, fragment: string | undefined): number | null {
  if (!fragment) return null
  const at = text.indexOf(fragment.slice(0, 80))
  if (at < 0) return null
  let line = 1
  for (let i = 0; i < at; i++) if (text.charCodeAt(i) === 10) line++
  return line
}

/** Properties whose values ical.js reads lazily: read each once, so an error can name it. */
const TYPED_PROPERTIES = ['dtstart', 'dtend', 'duration', 'rrule', 'rdate', 'exdate', 'recurrence-id']

export function parseIcs(text: string, eventZone: string, fallbackKind: PadKind = 'talk'): ParseResult {
  guardRecurrenceSteps()
  let root: ICAL.Component
  try {
    root = new ICAL.Component(ICAL.parse(text) as unknown[])
  } catch (err) {
    const message = icalMessage(err)
    // ical.js quotes the offending line last: `invalid line (no token ";" or ":") "the line"`.
    const quoted = [...message.matchAll(/"([^"]+)"|'([^']+)'/g)].at(-1)
    const line = lineOf(text, quoted?.[1] ?? quoted?.[2])
    return { ok: false, error: `${FORMAT}: ${line ? `line ${line}: ` : ''}${message}` }
  }
  if (root.name !== 'vcalendar') return { ok: false, error: `${FORMAT}: no BEGIN:VCALENDAR` }
  const zones = new Map<string, ICAL.Timezone>()
  for (const vtz of root.getAllSubcomponents('vtimezone')) {
    const tzid = vtz.getFirstPropertyValue('tzid')
    if (typeof tzid === 'string') zones.set(tzid, new ICAL.Timezone(vtz))
  }
  const vevents = root.getAllSubcomponents('vevent')
  // Modified occurrences (RECURRENCE-ID) are attached to their series, not read on their own.
  const exceptions = vevents.filter((v) => v.hasProperty('recurrence-id'))
  const entries: ScheduleEntry[] = []
  const ctx: VeventContext = {
    zones,
    eventZone,
    fallbackKind,
    budget: { steps: MAX_RECURRENCE_STEPS, horizon: 0, rules: new Set() },
  }
  for (const [i, vevent] of vevents.entries()) {
    if (vevent.hasProperty('recurrence-id')) continue
    const uid = vevent.getFirstPropertyValue('uid')
    const which = typeof uid === 'string' && uid.trim() ? `VEVENT "${uid}"` : `VEVENT #${i + 1}`
    if (typeof uid !== 'string' || !uid.trim()) {
      return { ok: false, error: `${FORMAT}: ${which}: no UID (entries need one to be re-imported)` }
    }
    if (!vevent.hasProperty('dtstart')) return { ok: false, error: `${FORMAT}: ${which}: no DTSTART` }
    for (const name of TYPED_PROPERTIES) {
      try {
        for (const prop of vevent.getAllProperties(name)) prop.getValues()
      } catch (err) {
        return { ok: false, error: `${FORMAT}: ${which}: ${name.toUpperCase()}: ${icalMessage(err)}` }
      }
    }
    try {
      pushAll(entries, readVevent(vevent, uid, exceptions, ctx))
    } catch (err) {
      if (err instanceof RecurrenceRunaway) {
        return {
          ok: false,
          error:
            `${FORMAT}: ${which}: RRULE: no occurrence found within ${MAX_RECURRENCE_STEPS} steps ` +
            '(a rule that never or rarely matches, e.g. FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30)',
        }
      }
      return { ok: false, error: `${FORMAT}: ${which}: ${icalMessage(err)}` }
    }
    if (entries.length > MAX_SCHEDULE_ENTRIES)
      return { ok: false, error: `${FORMAT}: more than ${MAX_SCHEDULE_ENTRIES} sessions` }
  }
  return { ok: true, entries }
}

interface VeventContext {
  zones: Map<string, ICAL.Timezone>
  eventZone: string
  fallbackKind: PadKind
  budget: RecurrenceBudget
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
    // Without DTEND or DURATION ical.js ends the event where it starts: say "no end" instead.
    const hasEnd = c.hasProperty('dtend') || c.hasProperty('duration')
    return {
      uid: key,
      title,
      kind: guessKind(categories, title, ctx.fallbackKind),
      track: categories.find((cat) => !kindFromWord(cat)) ?? null,
      room: item.location?.trim() || null,
      startsAt: timeOf(start, ctx),
      endsAt: hasEnd ? timeOf(end, ctx) : null,
      speakers: [...new Set(people.filter((p): p is string => p !== null))],
      links: icsLinks(c),
      cancelled: status === 'CANCELLED',
    }
  }
  if (!event.isRecurring()) return [describe(event, event.startDate ?? null, event.endDate ?? null, uid)]
  const start = event.startDate
  const last = new Date(Date.UTC(start.year, start.month - 1, start.day + RECURRENCE_HORIZON_DAYS))
  const horizon = dayNumber({
    year: last.getUTCFullYear(),
    month: last.getUTCMonth() + 1,
    day: last.getUTCDate(),
  })
  ctx.budget.horizon = horizon
  ctx.budget.rules = new Set(vevent.getAllProperties('rrule').map((p) => p.getFirstValue()))
  activeBudget = ctx.budget
  const out: ScheduleEntry[] = []
  try {
    const it = event.iterator()
    for (let n = 0; n < MAX_OCCURRENCES; n++) {
      const next = it.next()
      if (!next || dayNumber(next) > horizon) break
      const details = event.getOccurrenceDetails(next)
      // Each occurrence is its own session with its own pad, keyed by UID and original start.
      const key = `${uid}#${new Date(timeOf(details.recurrenceId, ctx)!).toISOString()}`
      out.push(describe(details.item, details.startDate, details.endDate, key))
    }
  } catch (err) {
    if (!(err instanceof PastHorizon)) throw err
  } finally {
    activeBudget = null
  }
  if (out.length === 0)
    throw new Error(`RRULE: no occurrence within ${RECURRENCE_HORIZON_DAYS} days of DTSTART`)
  return out
}

/**
 * A session's materials: `URL` is its page; each `ATTACH` given by address (not inline BASE64
 * data) is a material, named by its FMTTYPE-free `FILENAME` or `X-TITLE` parameter if any.
 */
function icsLinks(c: ICAL.Component): PadLink[] {
  const out: PadLink[] = stringsOf(c, 'url')
    .filter(isWebLink)
    .map((url) => ({ title: null, url, kind: 'talk' as const }))
  for (const prop of c.getAllProperties('attach')) {
    if (prop.getParameter('encoding') !== undefined) continue
    const url = String(prop.getFirstValue() ?? '').trim()
    if (!isWebLink(url) || out.some((l) => l.url === url)) continue
    const named = prop.getParameter('filename') ?? prop.getParameter('x-title')
    const title = typeof named === 'string' && named.trim() ? named.trim().slice(0, 300) : null
    out.push({ title, url, kind: materialKindOf(title, url) })
  }
  return out.slice(0, 50)
}
