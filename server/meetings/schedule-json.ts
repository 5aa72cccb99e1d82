/**
 * Summitpad's own schedule format, the JSON list, validated with zod. Apart from schedule.ts,
 * whose constants every start needs, so that a start does not load zod (apiRouter in http-app.ts).
 */
import { z } from 'zod'
import { PAD_KINDS, type PadKind } from './model.ts'
import {
  guessKind,
  isWebLink,
  MAX_SCHEDULE_ENTRIES,
  type ParseResult,
  parseTime,
  type ScheduleEntry,
} from './schedule.ts'
import { isValidIsoDateTime } from './time.ts'

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
