/**
 * The HTTP side: health, metrics, the admin endpoints, the JSON API under /api, the pages and
 * their assets, ending in the one 404 and the one error handler. Every request gets an id (sent
 * back as X-Request-Id) and one log line at debug level; an unexpected error is logged once, at
 * error level, with that id.
 */
import { randomBytes } from 'node:crypto'
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express'
import type { AccessControl } from '../access/access.ts'
import type { EventLinks, LinkKind } from '../access/event-links.ts'
import { cameThroughProxy, type HostPolicy, hostGuard } from '../access/host-check.ts'
import type { NewPadGate } from '../access/new-pad-gate.ts'
import { crossSiteGuard } from '../access/origin-check.ts'
import { proxyTrust, type TrustProxySetting } from '../access/trusted-proxies.ts'
import type { History } from '../history/history.ts'
import type { Materials } from '../meetings/materials.ts'
import type { Meetings } from '../meetings/meetings.ts'
import type { Series } from '../meetings/series.ts'
import type { Minutes } from '../minutes/minutes.ts'
import type { Logger } from '../ops/logger.ts'
import type { Metrics } from '../ops/metrics.ts'
import type { BackupResult } from '../storage/backups.ts'
import type { SearchIndex } from '../storage/search-index.ts'
import type { StorageHealth } from '../storage/storage.ts'
import { bodyPolicy } from './body-policy.ts'
import type { AssetManifest } from './client-assets.ts'
import { errorHandler, notFound } from './http-errors.ts'
import { createNowRouter } from './now-routes.ts'
import { createPagesRouter } from './pages.ts'
import { accessGuard } from './route-classes.ts'
import { securityHeaders } from './security-headers.ts'

export interface ServerStatus {
  padsLoaded: number
  connections: number
}

export interface HttpAppOptions {
  log: Logger
  meetings: Meetings
  series: Series
  materials: Materials
  minutes: Minutes
  search: SearchIndex
  history: History
  status(): ServerStatus
  /** Whether the storage answers now (ops/readiness.ts: bounded, at most one probe a second). */
  health(): Promise<StorageHealth>
  startedAt: number
  metrics: Metrics
  /** Who may do what (open or protected mode). */
  access: AccessControl
  /** The events' edit and read-only links (admin: show, rotate). */
  links: EventLinks
  /** After a rotation: cut off the sockets that came in with the old link. */
  linkRotated(eventPk: number, kind: LinkKind): void
  /** ALLOWED_ORIGINS (besides the request's own Host), for the cross-site checks. */
  allowedOrigins: readonly string[]
  /** Which Host names are answered (DNS rebinding): checked before anything else. */
  hosts: HostPolicy
  /** The client build's files per page script (client-assets.ts). */
  assets: AssetManifest
  /** Takes an online backup into DATA_DIR/backups. */
  backup(): Promise<BackupResult>
  /** Behind a reverse proxy (TRUST_PROXY): believe its X-Forwarded-Proto/-For, one hop, from it only. */
  trustProxy: TrustProxySetting
  /** The per-address new-pad limit (server/new-pad-gate.ts). */
  newPads: NewPadGate
}

/** An id a proxy assigned (nginx `$request_id`) is kept if it is this tame; otherwise we make one. */
const INCOMING_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/

/** A request from this machine that did not come through a reverse proxy (open mode's operator rule). */
export function isLocalDirect(request: { remoteAddress: string | undefined; proxied: boolean }): boolean {
  return isLoopback(request.remoteAddress) && !request.proxied
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
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
  // Express asks hop by hop, from the socket outwards: only the socket's peer (hop 0) is checked.
  const isProxy = proxyTrust(options.trustProxy)
  app.set('trust proxy', (address: string, hop: number) => hop === 0 && isProxy(address))

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

  app.use(securityHeaders())
  app.use(hostGuard(options.hosts))
  app.use(crossSiteGuard(options.allowedOrigins))
  app.use(
    accessGuard({
      access: options.access,
      isLocalRequest: (req) =>
        isLocalDirect({ remoteAddress: req.socket.remoteAddress, proxied: cameThroughProxy(req.headers) }),
    }),
  )
  // Every route's body, by the route table's rule: no router reads bodies itself.
  app.use(bodyPolicy())

  // Readiness, for monitoring: 503 while the storage does not answer, saying why. Not for a load
  // balancer's health check (README "Health checks"): that is /livez.
  app.get('/healthz', (_req, res, next) => {
    options.health().then((storage) => {
      res.status(storage.ok ? 200 : 503).json({
        status: storage.ok ? 'ok' : 'degraded',
        uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
        ...options.status(),
        storage,
      })
    }, next)
  })

  // Liveness, for load balancers: this process serves HTTP and its event loop turns. It does not
  // ask the database: a database outage would otherwise take every server out of the pool at once.
  app.get('/livez', (_req, res) => {
    res.json({ status: 'ok' })
  })

  app.get('/metrics', (_req, res, next) => {
    options.metrics.render().then((text) => {
      // setHeader, not res.set: express would reorder the parameters of this exact media type.
      res.setHeader('Content-Type', options.metrics.contentType)
      res.end(text)
    }, next)
  })

  app.post('/api/admin/backup', (_req, res, next) => {
    options.backup().then((backup) => {
      requestLog(res).info({ path: backup.path, bytes: backup.bytes, ms: backup.tookMs }, 'backup written')
      res.status(201).json(backup)
    }, next)
  })

  // Not with the lazy routers below: it validates by hand (no zod) and needs nothing a start does not load.
  app.use('/api', createNowRouter(options.meetings))
  app.use(
    '/api',
    lazyRouter(() => apiRouter(options)),
  )
  app.use(createPagesRouter(options))
  app.use(notFound)
  // The one error handler, given the request's own logger so its line carries the request id.
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) =>
    errorHandler(requestLog(res) ?? options.log)(err, req, res, next),
  )
  return app
}

/**
 * The JSON API's routers, with their request validation (zod: a quarter of the server's code, and
 * the largest part of a start's module evaluation), are loaded by the first /api request rather
 * than by the start: a restart listens sooner, while editors (websocket) and pages never need them.
 * That first request waits once for the load (tens of ms); every later one finds them ready.
 */
async function apiRouter(options: HttpAppOptions): Promise<Router> {
  const [schedule, links, history, minutes, materials, feed, eventFeed, series, api] = await Promise.all([
    import('./schedule-routes.ts'),
    import('./links-routes.ts'),
    import('./history-routes.ts'),
    import('./minutes-routes.ts'),
    import('./materials-routes.ts'),
    import('./feed-routes.ts'),
    import('../minutes/event-feed.ts'),
    import('./series-routes.ts'),
    import('./api-routes.ts'),
  ])
  const router = express.Router()
  // First: the schedule import reads its own (raw, larger) body before any router parses JSON.
  router.use(schedule.createScheduleRouter(options.meetings))
  router.use(links.createLinksRouter(options.links, options.linkRotated))
  router.use(history.createHistoryRouter(options.history))
  router.use(minutes.createMinutesRouter(options.minutes, options.materials, options.search, options.newPads))
  router.use(materials.createMaterialsRouter(options.materials))
  router.use(
    feed.createFeedRouter(
      new eventFeed.EventFeed({
        meetings: options.meetings,
        minutes: options.minutes,
        materials: options.materials,
      }),
    ),
  )
  router.use(series.createSeriesRouter(options.series, options.meetings, options.access, options.newPads))
  router.use(api.createApiRouter(options.meetings, { newPads: options.newPads }))
  return router
}

/** A router made on first use; requests meanwhile wait for it. A failed load is tried again. */
function lazyRouter(load: () => Promise<Router>): RequestHandler {
  let router: Promise<Router> | null = null
  return (req, res, next) => {
    if (!router) {
      router = load()
      router.catch(() => {
        router = null
      })
    }
    router.then((r) => r(req, res, next), next)
  }
}
