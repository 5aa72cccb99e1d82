/**
 * API routes for the minutes: per-pad export and Yjs import, event bundle, action/decision
 * roll-up, search, and "forget history". Route -> validate -> Minutes/SearchIndex -> response.
 */
import express, { type Response, type Router } from 'express'
import { z } from 'zod'
import { TOKEN_PARAM } from '../access/access.ts'
import { admitNewPad, type NewPadGate } from '../access/new-pad-gate.ts'
import type { Materials } from '../meetings/materials.ts'
import { PAD_KINDS } from '../meetings/model.ts'
import { EXPORT_FORMATS, type Exported, type ExportFormat, type Minutes } from '../minutes/minutes.ts'
import type { SearchIndex } from '../storage/search-index.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute } from './json-route.ts'
import { plainIssue } from './plain-errors.ts'
import { onlyAdminNames } from './route-classes.ts'

/** `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987). */
export function contentDisposition(filename: string, inline = false): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

export function sendExported(res: Response, file: Exported, inline = false): void {
  res.set({
    'Content-Type': file.contentType,
    'Content-Disposition': contentDisposition(file.filename, inline),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    ...file.headers,
  })
  res.send(typeof file.body === 'string' ? file.body : Buffer.from(file.body))
}

/** Writes `chunk`, then waits while the client has not taken what was sent (a slow reader holds no more). */
function writeDrained(res: Response, chunk: Uint8Array): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('the client went away'))
  if (res.write(chunk)) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onDrain = () => done()
    const onClose = () => done(new Error('the client went away'))
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

const importQuery = z.strictObject({
  title: z.string().trim().min(1).max(300),
  kind: z.enum(PAD_KINDS).default('meeting'),
  event: z.string().max(60).optional(),
  id: z.string().max(100).optional(),
})
const searchQuery = z.strictObject({
  q: z.string().max(500).default(''),
  event: z.string().max(60).optional(),
  kind: z.enum(PAD_KINDS).optional(),
})

function query<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  // `token` is a credential (route-classes.ts has read it), not a parameter of the route.
  const { [TOKEN_PARAM]: _token, ...rest } = (value ?? {}) as Record<string, unknown>
  const parsed = schema.safeParse(rest)
  if (parsed.success) return parsed.data
  throw new HttpError(400, 'invalid', plainIssue(parsed.error.issues[0]!))
}

export function createMinutesRouter(
  minutes: Minutes,
  materials: Materials,
  search: SearchIndex,
  newPads: NewPadGate,
): Router {
  const api = express.Router()

  api.get('/pads/:id/export', (req, res, next) => {
    const format = req.query.format ?? 'md'
    if (typeof format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new HttpError(400, 'invalid', `format must be one of ${EXPORT_FORMATS.join(', ')}`)
    }
    const inline = req.query.inline === '1' && format !== 'yjs'
    materials
      .findOf(req.params.id)
      .then((links) => minutes.exportPad(req.params.id, format as ExportFormat, links))
      .then((file) => sendExported(res, file, inline))
      .catch(next)
  })

  // The body is read by body-policy.ts (the route table's rule: Yjs bytes, up to MAX_IMPORT_BYTES).
  api.post('/pads/import', (req, res, next) => {
    if (!Buffer.isBuffer(req.body)) {
      throw new HttpError(415, 'unsupported_media_type', 'send the Yjs state as application/octet-stream')
    }
    const input = query(importQuery, req.query)
    if (input.id !== undefined) onlyAdminNames(res)
    admitNewPad(req, res, newPads)
      .then(() => minutes.importYjs(new Uint8Array(req.body), input))
      .then((pad) => {
        res.status(201).location(`/api/pads/${pad.id}`).json(pad)
      }, next)
  })

  api.post('/pads/:id/forget-history', (req, res, next) => {
    minutes
      .forgetHistory(req.params.id)
      .then(() => minutes.scrubForgotten())
      .then((cut) => {
        if (!cut)
          throw new HttpError(
            503,
            'busy',
            'the history is forgotten, but a backup in progress keeps its old copy in the write-ahead log: send this again in a minute',
          )
        res.json({ id: req.params.id, history: 'forgotten' })
      })
      .catch(next)
  })

  api.get('/events/:slug/export', async (req, res, next) => {
    let zip: Awaited<ReturnType<Minutes['eventZip']>>
    try {
      zip = await minutes.eventZip(req.params.slug, await materials.linksOfEvent(req.params.slug))
    } catch (err) {
      return next(err)
    }
    res.set({
      'Content-Type': zip.contentType,
      'Content-Disposition': contentDisposition(zip.filename),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    })
    zip
      .write((chunk) => writeDrained(res, chunk))
      .then(
        () => res.end(),
        (err: unknown) => {
          // Headers are gone once the first bytes are: a broken zip must not look complete.
          if (res.headersSent) res.destroy(err instanceof Error ? err : undefined)
          else next(err)
        },
      )
  })

  api.get(
    '/events/:slug/outcomes',
    asyncRoute(async (req, res) => {
      res.json(await minutes.rollup(String(req.params.slug)))
    }),
  )

  api.get(
    '/search',
    asyncRoute(async (req, res) => {
      const q = query(searchQuery, req.query)
      res.json({ query: q.q, hits: await search.search(q.q, { event: q.event, kind: q.kind }) })
    }),
  )

  return api
}
