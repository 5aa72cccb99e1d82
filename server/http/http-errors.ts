/**
 * The one error shape of the HTTP API, `{ error: { code, message } }`, and the middleware that
 * produces it. A client's mistake is a 4xx with a message meant for them; anything else is a 500
 * that says nothing about the server's insides (no stack, no path). The one place where the
 * domain's errors (lib/domain-errors.ts) become statuses.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { DomainError, type DomainErrorKind, type StorageUnavailable } from '../lib/domain-errors.ts'
import type { Logger } from '../ops/logger.ts'
import { storageUnavailable } from '../storage/unavailable.ts'
import { html, page, siteHeader } from './html.ts'

export class HttpError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** The status of each domain error kind, as the API has answered them since before they were kinds. */
export const STATUS_OF_KIND: Readonly<Record<DomainErrorKind, number>> = {
  not_found: 404,
  conflict: 409,
  invalid: 400,
  too_large: 413,
  // 422 Unprocessable: the bytes were acceptable, reading them was not.
  too_costly: 422,
  too_many: 429,
  busy: 503,
  forbidden: 403,
  // 421 Misdirected Request: the request reached a server that does not answer to its Host.
  wrong_host: 421,
  // 501 Not Implemented: not by this server as it is set up; the message says what to use instead.
  unsupported: 501,
}

/**
 * Retry-After of a 503 while the storage is unavailable, in seconds: a database restart or
 * failover takes seconds, and /healthz sees its end within a second (ops/readiness.ts).
 */
export const STORAGE_RETRY_AFTER_S = 5

/**
 * A refusal as a person who followed a link reads it (the API's message speaks to scripts and
 * mentions the admin token; an attendee has no use for that).
 */
const PAGE_MESSAGE: Record<number, string> = {
  401: 'These notes open with a link from the organisers. Open the link they shared (in an email or on the projector), or ask them for it.',
  403: 'The link you opened does not reach this page: it is for another event, or for reading only. Ask the organisers for the right link.',
}

/**
 * express' and body-parser's own 4xx errors, in our words. Their messages are the insides of
 * JavaScript libraries ("incorrect header check" from zlib, JSON.parse's "Unexpected token ... at
 * position 5", "Failed to decode param '%E0'"): none is echoed, whatever the error.
 */
const CLIENT_ERRORS: Record<string, { code: string; message: string }> = {
  'entity.parse.failed': { code: 'invalid_json', message: 'request body is not valid JSON' },
  'entity.too.large': { code: 'entity_too_large', message: 'request body too large' },
  'entity.verify.failed': { code: 'entity_verify_failed', message: 'request body refused' },
  'encoding.unsupported': {
    code: 'encoding_unsupported',
    message: 'unsupported Content-Encoding (send the body as it is, or gzip or deflate it)',
  },
  'charset.unsupported': { code: 'charset_unsupported', message: 'unsupported charset (send UTF-8)' },
  'request.aborted': { code: 'request_aborted', message: 'the request was aborted' },
  'request.size.invalid': {
    code: 'request_size_invalid',
    message: 'request body length does not match Content-Length',
  },
  'parameters.too.many': { code: 'parameters_too_many', message: 'too many parameters' },
}

export function plainClientError(err: { type?: unknown; code?: unknown; message?: unknown }): {
  code: string
  message: string
} {
  const known = typeof err.type === 'string' ? CLIENT_ERRORS[err.type] : undefined
  if (known) return known
  // zlib's errors while inflating a gzip/deflate body (Z_DATA_ERROR, Z_BUF_ERROR).
  if (typeof err.code === 'string' && err.code.startsWith('Z_'))
    return { code: 'bad_request', message: 'the compressed request body is damaged' }
  if (typeof err.message === 'string' && err.message.startsWith('Failed to decode param'))
    return { code: 'bad_request', message: 'the address holds invalid percent-encoding' }
  return { code: 'bad_request', message: 'bad request' }
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`))
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status = 500
    let code = 'internal'
    let message = 'internal server error'
    let unavailable: StorageUnavailable | null = null
    if (err instanceof HttpError) {
      ;({ status, code, message } = err)
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      status = err.status
      ;({ code, message } = plainClientError(err))
    } else {
      // The database not answering (an engine's error, or already the domain's) is a 503 to
      // retry, not an internal error: one warning line per request refused, no stack.
      unavailable = storageUnavailable(err)
      if (unavailable)
        log.warn({ method: req.method, path: req.path, reason: unavailable.reason }, 'storage unavailable')
      const known = unavailable ?? (err instanceof DomainError ? err : null)
      if (known) {
        status = STATUS_OF_KIND[known.kind]
        ;({ code, message } = known)
      } else {
        log.error({ err, method: req.method, path: req.path }, 'request failed')
      }
    }
    if (res.headersSent) return
    if (unavailable) res.set('Retry-After', String(STORAGE_RETRY_AFTER_S))
    res.status(status)
    if (!req.path.startsWith('/api/') && req.accepts(['json', 'html']) === 'html') {
      // A person followed a link: give them a page, not JSON.
      const title = unavailable
        ? 'Try again in a moment'
        : status === 404
          ? 'Not found'
          : status === 401 || status === 403
            ? 'This needs a link from the organisers'
            : status === 421
              ? 'Wrong address for this server'
              : status >= 500
                ? 'Something went wrong'
                : 'Bad request'
      return void res.type('html').send(
        page({
          title,
          body: html`${siteHeader()}<main><h1>${title}</h1><p>${PAGE_MESSAGE[status] ?? message}</p><p><a href="/">Back to the events</a></p></main>`,
        }),
      )
    }
    res.json({ error: { code, message } })
  }
}
