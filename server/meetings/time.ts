/**
 * Time zones without a library: an event has an IANA time zone, its sessions are stored as UTC
 * milliseconds, and pages show them in the event's zone. Built on Intl, which Node and browsers ship.
 */

export interface WallTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    })
    formatters.set(timeZone, f)
  }
  return f
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone)
    return true
  } catch {
    return false
  }
}

function partsAt(ms: number, timeZone: string): WallTime & { weekday: string } {
  const out: Record<string, string> = {}
  for (const part of formatterFor(timeZone).formatToParts(new Date(ms))) out[part.type] = part.value
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour),
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: out.weekday ?? '',
  }
}

const wallAsUtc = (w: WallTime): number => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)

/** The zone's offset from UTC at instant `ms`, in ms. */
function offsetAt(ms: number, timeZone: string): number {
  return wallAsUtc(partsAt(ms, timeZone)) - Math.floor(ms / 1000) * 1000
}

/** The UTC instant of a wall-clock time in `timeZone` (two passes settle DST transitions). */
export function zonedToUtc(wall: WallTime, timeZone: string): number {
  const guess = wallAsUtc(wall)
  const first = guess - offsetAt(guess, timeZone)
  return guess - offsetAt(first, timeZone)
}

const pad2 = (n: number) => String(n).padStart(2, '0')

export interface ZonedParts {
  /** YYYY-MM-DD in the zone. */
  date: string
  /** HH:MM in the zone. */
  time: string
  /** Mon, Tue, ... */
  weekday: string
}

export function inZone(ms: number, timeZone: string): ZonedParts {
  const p = partsAt(ms, timeZone)
  return {
    date: `${p.year}-${pad2(p.month)}-${pad2(p.day)}`,
    time: `${pad2(p.hour)}:${pad2(p.minute)}`,
    weekday: p.weekday,
  }
}

/** "Tue 2026-11-10, 09:00–10:30 (Europe/Prague)" */
export function describeSlot(
  startsAt: number | null,
  endsAt: number | null,
  timeZone: string,
): string | null {
  if (startsAt === null) return null
  const start = inZone(startsAt, timeZone)
  let text = `${start.weekday} ${start.date}, ${start.time}`
  if (endsAt !== null) {
    const end = inZone(endsAt, timeZone)
    text += end.date === start.date ? `–${end.time}` : ` – ${end.weekday} ${end.date}, ${end.time}`
  }
  return `${text} (${timeZone})`
}

const ISO_DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?$/i

/**
 * An ISO 8601 date-time whose fields are real ("2026-02-31T09:00" is not, though Date.parse
 * rolls it over to March); the offset is optional (then it is read in the event's zone).
 */
export function isValidIsoDateTime(text: string): boolean {
  const m = ISO_DATE_TIME.exec(text)
  if (!m) return false
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(
    Number,
  ) as number[]
  const d = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!))
  return (
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month! - 1 &&
    d.getUTCDate() === day &&
    hour! < 24 &&
    minute! < 60 &&
    second! < 60
  )
}
