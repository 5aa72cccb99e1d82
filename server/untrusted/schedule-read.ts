/**
 * One entry point for every schedule format: `readSchedule(bytes or text, options)` looks at the
 * content (never only at a Content-Type or a file name: organisers send .ics as text/plain and
 * frab XML as application/octet-stream) and hands it to the reader of its format.
 *
 * This module is what the parse worker runs (`readScheduleTask`); the server calls it through
 * `readUntrusted` (untrusted-files.ts), never on its own event loop.
 */
import type { PadKind } from '../meetings/model.ts'
import type { ParseResult, ScheduleEntry } from '../meetings/schedule.ts'
import { FRAB_JSON, FRAB_XML, parseFrabJson, parseFrabXml } from '../meetings/schedule-frab.ts'
import { parseIcs } from '../meetings/schedule-ics.ts'
import { parseJsonSchedule } from '../meetings/schedule-json.ts'
import type { Outcome } from './worker-budget.ts'

export const SCHEDULE_FORMATS = ['ics', 'frab-xml', 'frab-json', 'json-list'] as const
export type ScheduleFormat = (typeof SCHEDULE_FORMATS)[number]

export const FORMAT_NAMES: Record<ScheduleFormat, string> = {
  ics: 'iCalendar (.ics)',
  'frab-xml': FRAB_XML,
  'frab-json': FRAB_JSON,
  'json-list': 'JSON list of sessions',
}

export interface ReadOptions {
  /** The event's zone: times without one (floating iCal times, Pentabarf) are read in it. */
  eventZone: string
  /** The kind of sessions whose type the file does not say. */
  fallbackKind: PadKind
  /** What the sender said it is (Content-Type, extension, --format): only for the error message. */
  declared?: ScheduleFormat | null
}

export interface ReadSchedule {
  format: ScheduleFormat
  entries: ScheduleEntry[]
}

const ANY_FORMAT =
  'expected an iCalendar file (BEGIN:VCALENDAR), a frab schedule.xml (<schedule>), ' +
  'a frab schedule.json ({"schedule": …}) or a JSON list of sessions ([{"id", "title", …}])'

/** 1-based line and column of character `at` in `text`. */
function lineAndColumn(text: string, at: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < at && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: at - lineStart + 1 }
}

function withFormat(format: ScheduleFormat, result: ParseResult): Outcome<ReadSchedule> {
  return result.ok ? { ok: true, value: { format, entries: result.entries } } : result
}

export function readSchedule(input: string | Uint8Array, options: ReadOptions): Outcome<ReadSchedule> {
  const text = (typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input)).replace(
    /^\uFEFF/,
    '',
  )
  const head = text.slice(0, 200).trimStart()
  const { eventZone, fallbackKind } = options
  if (/^BEGIN:VCALENDAR/i.test(head)) return withFormat('ics', parseIcs(text, eventZone, fallbackKind))
  if (head.startsWith('<')) return withFormat('frab-xml', parseFrabXml(text, eventZone, fallbackKind))
  if (head.startsWith('{') || head.startsWith('[')) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      const at = /position (\d+)/.exec(err instanceof Error ? err.message : '')
      const where = at ? lineAndColumn(text, +at[1]!) : null
      const name = head.startsWith('[') ? FORMAT_NAMES['json-list'] : FRAB_JSON
      return {
        ok: false,
        error: `${name}: ${where ? `line ${where.line}, column ${where.column}: ` : ''}not valid JSON`,
      }
    }
    if (Array.isArray(value))
      return withFormat(
        'json-list',
        prefixError(FORMAT_NAMES['json-list'], parseJsonSchedule(value, eventZone, fallbackKind)),
      )
    if (value && typeof value === 'object' && 'schedule' in value)
      return withFormat('frab-json', parseFrabJson(value, eventZone, fallbackKind))
    return {
      ok: false,
      error: `JSON: neither a frab schedule.json (no "schedule" at the top) nor a list of sessions; ${ANY_FORMAT}`,
    }
  }
  const declared = options.declared ? `${FORMAT_NAMES[options.declared]} was declared, but ` : ''
  return {
    ok: false,
    error: `${declared}line 1 is not the start of any schedule format: ${ANY_FORMAT}`,
  }
}

function prefixError(name: string, result: ParseResult): ParseResult {
  return result.ok ? result : { ok: false, error: `${name}: ${result.error}` }
}

export interface ScheduleTaskInput {
  body: string | Uint8Array
  options: ReadOptions
}

/** The worker's entry point (worker-budget.ts): the same, with its arguments in one message. */
export function readScheduleTask(input: ScheduleTaskInput): Outcome<ReadSchedule> {
  return readSchedule(input.body, input.options)
}
