/**
 * POST /api/events/:slug/import: a schedule file in any format (schedule-read.ts finds which from
 * its content), read in a budgeted worker, then matched with the event's pads. `?dryRun=1` reports
 * what an import would do and writes nothing.
 *
 * The body reaches the handler as raw bytes, read by body-policy.ts under the route table's rule
 * (route-classes.ts SCHEDULE_IMPORT: these types, MAX_SCHEDULE_BYTES).
 */
import express, { type Request, type Router } from 'express'
import { z } from 'zod'
import { TOKEN_PARAM } from '../access/access.ts'
import type { ImportReport, Meetings } from '../meetings/meetings.ts'
import { PAD_KINDS } from '../meetings/model.ts'
import { SCHEDULE_CONTENT_TYPES } from '../meetings/schedule.ts'
import type { Logger } from '../ops/logger.ts'
import type { ScheduleFormat } from '../untrusted/schedule-read.ts'
import { readUntrusted, scheduleTask } from '../untrusted/untrusted-files.ts'
import { HttpError } from './http-errors.ts'

/** Longest default session length an import may ask for: a whole day. */
const MAX_DEFAULT_MINUTES = 24 * 60

const importQuery = z.strictObject({
  kind: z.enum(PAD_KINDS).optional(),
  dryRun: z.enum(['0', '1', 'true', 'false']).optional(),
  defaultMinutes: z.coerce.number().int().min(1).max(MAX_DEFAULT_MINUTES).optional(),
})

/** What the sender says the file is: used only to word an error when the content is none of them. */
export function declaredFormat(contentType: string | undefined): ScheduleFormat | null {
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase()
  if (type === 'text/calendar') return 'ics'
  if (type === 'application/xml' || type === 'text/xml') return 'frab-xml'
  return null
}

export interface ScheduleImportRequest {
  body: string | Uint8Array
  declared: ScheduleFormat | null
  kind?: (typeof PAD_KINDS)[number] | undefined
  dryRun?: boolean | undefined
  defaultMinutes?: number | undefined
}

/** Reads the file under budget and imports it (or reports what importing would do): API and CLI alike. */
export async function importScheduleFile(
  meetings: Meetings,
  slug: string,
  request: ScheduleImportRequest,
  log?: Logger,
): Promise<ImportReport & { format: ScheduleFormat }> {
  const event = await meetings.event(slug)
  const read = await readUntrusted(
    scheduleTask,
    {
      body: request.body,
      options: {
        eventZone: event.timezone,
        fallbackKind: request.kind ?? 'talk',
        declared: request.declared,
      },
    },
    { code: 'invalid_schedule', what: 'schedule' },
    log,
  )
  const report = await meetings.importSchedule(event.slug, read.entries, {
    dryRun: request.dryRun ?? false,
    ...(request.defaultMinutes !== undefined ? { defaultMinutes: request.defaultMinutes } : {}),
  })
  return { format: read.format, ...report }
}

function query(req: Request) {
  const { [TOKEN_PARAM]: _token, ...rest } = req.query as Record<string, unknown>
  const parsed = importQuery.safeParse(rest)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  throw new HttpError(400, 'invalid', `${issue.path.join('.') || 'query'}: ${issue.message}`)
}

export function createScheduleRouter(meetings: Meetings): Router {
  const api = express.Router()
  api.post('/events/:slug/import', (req, res, next) => {
    const q = query(req)
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        `send the schedule file as the request body, as one of ${SCHEDULE_CONTENT_TYPES.join(', ')}`,
      )
    }
    importScheduleFile(
      meetings,
      String(req.params.slug),
      {
        body: new Uint8Array(req.body),
        declared: declaredFormat(req.get('content-type')),
        kind: q.kind,
        dryRun: q.dryRun === '1' || q.dryRun === 'true',
        defaultMinutes: q.defaultMinutes,
      },
      res.locals.log as Logger,
    ).then((report) => res.json(report), next)
  })
  return api
}
