/**
 * The HTTP side: health, metrics, the admin endpoints, the JSON API under /api, the pages and
 * their assets, ending in the one 404 and the one error handler. Every request gets an id (sent
 * back as X-Request-Id) and one log line at debug level; an unexpected error is logged once, at
 * error level, with that id.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import { createApiRouter } from './api-routes.ts'
import type { BackupResult } from './backup.ts'
import type { History } from './history.ts'
import { createHistoryRouter } from './history-routes.ts'
import { errorHandler, HttpError, notFound } from './http-errors.ts'
import type { Logger } from './logger.ts'
import type { Meetings } from './meetings.ts'
import type { Metrics } from './metrics.ts'
import type { Minutes } from './minutes.ts'
import { createMinutesRouter } from './minutes-routes.ts'
import { createPagesRouter } from './pages.ts'
import type { SearchIndex } from './search-index.ts'

export interface ServerStatus {
  padsLoaded: number
  connections: number
}

export interface HttpAppOptions {
  log: Logger
  meetings: Meetings
  minutes: Minutes
  search: SearchIndex
  history: History
  status(): ServerStatus
  startedAt: number
  metrics: Metrics
  /** Bearer token for /api/admin; null = admin endpoints answer loopback requests only. */
  adminToken: string | null
  /** Takes an online backup into DATA_DIR/backups. */
  backup(): Promise<BackupResult>
  /** Behind a reverse proxy (TRUST_PROXY): believe its X-Forwarded-Proto/-For, one hop. */
  trustProxy: boolean
}

/** An id a proxy assigned (nginx `$request_id`) is kept if it is this tame; otherwise we make one. */
const INCOMING_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/** Headers a reverse proxy adds: a request carrying one came from further away than the proxy. */
const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const

export type AdminAccess = { ok: true } | { ok: false; status: 401 | 403; code: string; message: string }

export interface AdminRequest {
  authorization: string | undefined
  remoteAddress: string | undefined
  /** The request came through a reverse proxy (it carries a forwarding header). */
  proxied: boolean
}

const digest = (text: string) => createHash('sha256').update(text).digest()

function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

/**
 * Who may use /api/admin: with a token configured, whoever presents it (`Authorization: Bearer`);
 * without one, only a client on this machine that did not come through a proxy — behind nginx on
 * the same host every request is from loopback, so the forwarding headers decide.
 */
export function adminAccess(request: AdminRequest, token: string | null): AdminAccess {
  if (token !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.authorization ?? '')
    // Compare digests: constant time, whatever the lengths.
    if (match && timingSafeEqual(digest(match[1]!), digest(token))) return { ok: true }
    return { ok: false, status: 401, code: 'unauthorized', message: 'admin endpoints need the admin token' }
  }
  if (isLoopback(request.remoteAddress) && !request.proxied) return { ok: true }
  return {
    ok: false,
    status: 403,
    code: 'forbidden',
    message: 'admin endpoints answer only local requests while ADMIN_TOKEN is not set',
  }
}

/** The request's logger, carrying its id. */
function requestLog(res: Response): Logger {
  return res.locals.log as Logger
}

export function createHttpApp(options: HttpAppOptions): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  // Behind a reverse proxy, take the scheme from its headers, so links and QR codes say https
  // when nginx terminates TLS. Only the nearest hop is believed, and only when configured.
  app.set('trust proxy', options.trustProxy ? 1 : false)

  app.use((req, res, next) => {
    const incoming = req.get('x-request-id')
    const id = incoming && INCOMING_REQUEST_ID.test(incoming) ? incoming : randomBytes(6).toString('hex')
    const log = options.log.child({ reqId: id })
    res.locals.log = log
    res.set('X-Request-Id', id)
    const started = process.hrtime.bigint()
    res.once('close', () => {
      if (!log.isLevelEnabled('debug')) return
      log.debug(
        {
          method: req.method,
          path: req.originalUrl.split('?', 1)[0],
          status: res.statusCode,
          ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      )
    })
    next()
  })

  app.get('/healthz', (_req, res) => {
    res.json({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
      ...options.status(),
    })
  })

  app.get('/metrics', (_req, res, next) => {
    options.metrics.render().then((text) => {
      // setHeader, not res.set: express would reorder the parameters of this exact media type.
      res.setHeader('Content-Type', options.metrics.contentType)
      res.end(text)
    }, next)
  })

  const requireAdmin = (req: Request, res: Response, next: NextFunction) => {
    const access = adminAccess(
      {
        authorization: req.get('authorization'),
        remoteAddress: req.socket.remoteAddress,
        proxied: PROXY_HEADERS.some((h) => req.get(h) !== undefined),
      },
      options.adminToken,
    )
    if (access.ok) return next()
    if (access.status === 401) res.set('WWW-Authenticate', 'Bearer realm="summitpad admin"')
    next(new HttpError(access.status, access.code, access.message))
  }
  app.post('/api/admin/backup', requireAdmin, (_req, res, next) => {
    options.backup().then((backup) => {
      requestLog(res).info({ path: backup.path, bytes: backup.bytes, ms: backup.tookMs }, 'backup written')
      res.status(201).json(backup)
    }, next)
  })

  app.use('/api', createHistoryRouter(options.history))
  app.use('/api', createMinutesRouter(options.minutes, options.search))
  app.use('/api', createApiRouter(options.meetings))
  app.use(createPagesRouter(options))
  app.use(notFound)
  // The one error handler, given the request's own logger so its line carries the request id.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) =>
    errorHandler(requestLog(res) ?? options.log)(err, req, res, next),
  )
  return app
}
