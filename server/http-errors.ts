/**
 * The one error shape of the HTTP API, `{ error: { code, message } }`, and the middleware that
 * produces it. A client's mistake is a 4xx with a message meant for them; anything else is a 500
 * that says nothing about the server's insides (no stack, no path).
 */
import type { ErrorRequestHandler, RequestHandler } from 'express'
import { html, page, siteHeader } from './html.ts'
import type { Logger } from './logger.ts'

export class HttpError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/**
 * A refusal as a person who followed a link reads it (the API's message speaks to scripts and
 * mentions the admin token; an attendee has no use for that).
 */
const PAGE_MESSAGE: Record<number, string> = {
  401: 'These notes open with a link from the organisers. Open the link they shared (in an email or on the projector), or ask them for it.',
  403: 'The link you opened does not reach this page: it is for another event, or for reading only. Ask the organisers for the right link.',
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`))
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status = 500
    let code = 'internal'
    let message = 'internal server error'
    if (err instanceof HttpError) {
      ;({ status, code, message } = err)
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      // express' own body parser: malformed JSON, body too large, wrong charset.
      status = err.status
      code =
        err.type === 'entity.parse.failed'
          ? 'invalid_json'
          : String(err.type ?? 'bad_request').replace(/\W/g, '_')
      message = err.type === 'entity.parse.failed' ? 'request body is not valid JSON' : String(err.message)
    } else {
      log.error({ err, method: req.method, path: req.path }, 'request failed')
    }
    if (res.headersSent) return
    res.status(status)
    if (!req.path.startsWith('/api/') && req.accepts(['json', 'html']) === 'html') {
      // A person followed a link: give them a page, not JSON.
      const title =
        status === 404
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
