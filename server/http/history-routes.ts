/**
 * API routes for a pad's history: timeline, revisions (by seq or time), diffs, restore,
 * checkpoints, and closing / reopening a session.
 */
import express, { type Router } from 'express'
import { z } from 'zod'
import type { History } from '../history/history.ts'
import { plainName } from '../sync/limits.ts'
import { HttpError } from './http-errors.ts'

const seqParam = z.coerce.number().int().min(0)
/** `name`: who restores, as they gave it in the editor; the log and open editors credit them. */
const restoreBody = z.strictObject({ seq: seqParam, name: z.string().max(1000).optional() })
const checkpointBody = z.strictObject({ name: z.string().trim().min(1).max(200) })
const closeBody = z.strictObject({ name: z.string().trim().min(1).max(200).optional() })

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value ?? {})
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  throw new HttpError(400, 'invalid', `${issue.path.join('.') || what}: ${issue.message}`)
}

export function createHistoryRouter(history: History): Router {
  const api = express.Router()

  api.get('/pads/:id/history', (req, res, next) => {
    history.timeline(req.params.id).then((timeline) => res.json(timeline), next)
  })

  api.get('/pads/:id/revisions/:seq', (req, res, next) => {
    const seq = parse(seqParam, req.params.seq, 'seq')
    history.revision(req.params.id, seq).then((revision) => res.json(revision), next)
  })

  // ?at=2026-11-10T10:30:00Z: the revision current at that moment.
  api.get('/pads/:id/revision', (req, res, next) => {
    const at = typeof req.query.at === 'string' ? Date.parse(req.query.at) : Number.NaN
    if (Number.isNaN(at)) throw new HttpError(400, 'invalid', 'at: must be an ISO 8601 time')
    history
      .seqAtTime(req.params.id, at)
      .then((seq) => history.revision(req.params.id, seq))
      .then((revision) => res.json(revision), next)
  })

  api.get('/pads/:id/diff', (req, res, next) => {
    const from = parse(seqParam, req.query.from, 'from')
    const to = parse(seqParam, req.query.to, 'to')
    history.diff(req.params.id, from, to).then((diff) => res.json(diff), next)
  })

  api.post('/pads/:id/restore', (req, res, next) => {
    const { seq, name } = parse(restoreBody, req.body, 'body')
    history
      .isClosed(req.params.id)
      .then((closed) => {
        if (closed) throw new HttpError(409, 'closed', 'the session is closed: reopen it to restore')
        return history.restore(req.params.id, seq, plainName(name ?? '').trim() || null)
      })
      .then((restored) => res.json(restored), next)
  })

  api.post('/pads/:id/checkpoints', (req, res, next) => {
    const { name } = parse(checkpointBody, req.body, 'body')
    history.addCheckpoint(req.params.id, name).then((checkpoint) => res.status(201).json(checkpoint), next)
  })

  api.post('/pads/:id/close', (req, res, next) => {
    const { name } = parse(closeBody, req.body, 'body')
    history.close(req.params.id, name).then((checkpoint) => res.json({ closed: true, checkpoint }), next)
  })

  api.post('/pads/:id/reopen', (req, res, next) => {
    history.reopen(req.params.id).then(() => res.json({ closed: false }), next)
  })

  return api
}
