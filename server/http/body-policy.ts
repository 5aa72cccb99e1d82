/**
 * The one request-body policy of the HTTP API: a route's row in the route table (route-classes.ts)
 * says which media types it takes and how large a body may be; this middleware enforces both and
 * reads the body for the handler. A type the route does not take gets 415 naming the types it
 * does; a body over the limit 413 naming the limit; a route without a body rule takes no body, and
 * no parser runs for it (one router's parser must never decide for another's routes).
 */
import express, { type RequestHandler } from 'express'
import { HttpError } from './http-errors.ts'
import { type BodyRule, matchRoute, type RouteRule } from './route-classes.ts'

/** `1 MiB`, `16 KiB`: how a limit is named to the client. */
export function sizeName(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`
  return `${bytes} bytes`
}

/** Whether the request carries a body (an empty one, `Content-Length: 0`, is none). */
function hasBody(headers: { 'content-length'?: string; 'transfer-encoding'?: string }): boolean {
  if (headers['transfer-encoding'] !== undefined) return true
  const length = headers['content-length']
  return length !== undefined && length !== '0'
}

const everyType = () => true

/** The readers of one rule, made once: the checks of type and size are done before they run. */
function readersOf(rule: BodyRule): { json: RequestHandler | null; other: RequestHandler } {
  const limit = rule.limit
  switch (rule.read) {
    case 'json':
      return {
        json: express.json({ limit, strict: false, type: everyType }),
        other: express.text({ limit, type: everyType }),
      }
    case 'text':
      return { json: null, other: express.text({ limit, type: everyType }) }
    case 'bytes':
      return { json: null, other: express.raw({ limit, type: everyType }) }
  }
}

const readers = new Map<BodyRule, ReturnType<typeof readersOf>>()

function refuseType(rule: RouteRule, body: BodyRule | undefined, sent: string | undefined): HttpError {
  const what = `${rule.method} ${rule.path}`
  if (!body) return new HttpError(415, 'unsupported_media_type', `${what} takes no request body`)
  return new HttpError(
    415,
    'unsupported_media_type',
    `${what} takes ${body.types.join(', ')}${sent ? `, not ${sent.split(';', 1)[0]!.trim()}` : ' (send a Content-Type)'}`,
  )
}

/**
 * Runs after the access guard (an unauthorised caller's body is never read) for every request;
 * one with no row in the table was answered 404 there.
 */
export function bodyPolicy(): RequestHandler {
  return (req, res, next) => {
    const match = matchRoute(req.method, req.path)
    if (!match || !hasBody(req.headers)) return next()
    const body = match.rule.body
    const sent = req.headers['content-type']
    if (!body || !sent || !req.is([...body.types])) return next(refuseType(match.rule, body, sent))
    let reader = readers.get(body)
    if (!reader) {
      reader = readersOf(body)
      readers.set(body, reader)
    }
    const read = reader.json && req.is('application/json') ? reader.json : reader.other
    read(req, res, (err?: unknown) => {
      const e = err as { type?: string } | undefined
      if (e?.type === 'entity.too.large') {
        return next(
          new HttpError(
            413,
            'too_large',
            `request body is over the ${sizeName(body.limit)} limit of ${match.rule.method} ${match.rule.path}`,
          ),
        )
      }
      next(err)
    })
  }
}
