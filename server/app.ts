/**
 * The composition root, top to bottom: config -> storage (openStorage: SQLite, or PostgreSQL with
 * DATABASE_URL) -> metrics -> core (rooms, pad reads, search, meetings, minutes, history) -> access
 * -> sync endpoint -> http app, on one port. It owns startup and the graceful shutdown, which undoes it in reverse; nothing here is global, so tests build as many servers as they like, each
 * on port 0 with its own data directory.
 */
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { AccessControl } from './access/access.ts'
import { EventLinks } from './access/event-links.ts'
import { hostPolicy } from './access/host-check.ts'
import { NewPadLimit } from './access/new-pad-limit.ts'
import { socketAuthorizer } from './access/socket-access.ts'
import { type Core, openCore } from './core.ts'
import { readAssetManifest } from './http/client-assets.ts'
import { closeConnectionsWhen } from './http/closing-connections.ts'
import { createHttpApp } from './http/http-app.ts'
import type { Meetings } from './meetings/meetings.ts'
import type { Minutes } from './minutes/minutes.ts'
import type { Config } from './ops/config.ts'
import type { Logger } from './ops/logger.ts'
import { Metrics, meteredPadLog } from './ops/metrics.ts'
import { CLIENT_OUT } from './ops/paths.ts'
import { Readiness } from './ops/readiness.ts'
import type { BackupResult, Backups } from './storage/backups.ts'
import type { Db } from './storage/db.ts'
import { openStorage } from './storage/open-storage.ts'
import type { PadLog } from './storage/pad-log.ts'
import type { SearchIndex } from './storage/search-index.ts'
import { type Storage, sqliteExtra } from './storage/storage.ts'
import type { PadStore } from './storage/store.ts'
import { CLOSE } from './sync/close-codes.ts'
import { controlEffects } from './sync/control-effects.ts'
import { liveLoad } from './sync/live-load.ts'
import type { Rooms } from './sync/rooms.ts'
import { SharedCounts } from './sync/shared-counts.ts'
import { SyncEndpoint, type SyncEndpointOptions } from './sync/sync-endpoint.ts'

/**
 * Connections the kernel completes and queues for us while the event loop is busy: a room, or a
 * whole venue after a Wi-Fi blip or a restart, connects at once. Past node's default of 511 the
 * kernel drops the handshakes' last step; the clients' requests then wait for TCP's retries (1, 2,
 * 4, 8, 16 s) and are reset after ~30 s. Capped by the kernel's net.core.somaxconn (4096 by
 * default since Linux 5.4).
 */
const LISTEN_BACKLOG = 4096

/** Operator settings that are not part of Config (yet): read by main.ts, passed in. */
export interface OpsOptions {
  /**
   * ADMIN_TOKEN: set = protected mode (access.ts). Unset = open mode, where the operator
   * endpoints (backup) answer only requests from this machine that did not come through a proxy.
   */
  adminToken?: string | null
  /** Replaces the socket access check (tests of the authorisation seam); access.ts when absent. */
  authorize?: SyncEndpointOptions['authorize']
  /**
   * The pad log the rooms persist to, given the SQLite one (tests of the sync path on another
   * engine, e.g. MemoryPadLog); SQLite's when absent.
   */
  padLog?: (sqlite: PadLog) => PadLog
  /**
   * The storage to serve from, any engine (tests of the seam, e.g. one whose health fails); the
   * server owns it from then on and closes it. Absent: `openStorage(config)`.
   */
  storage?: Storage
}

export interface Summitpad {
  /** http://host:port, with the port actually bound. */
  readonly url: string
  readonly port: number
  readonly storage: Storage
  /** SQLite's database, for tests that read the file: throws on another engine. */
  readonly db: Db
  /** SQLite's synchronous pad store, for tests: throws on another engine. */
  readonly store: PadStore
  readonly rooms: Rooms
  readonly meetings: Meetings
  readonly minutes: Minutes
  readonly search: SearchIndex
  readonly metrics: Metrics
  readonly backups: Backups
  /** Graceful shutdown: stop accepting, flush and snapshot, close sockets with 1012, close the DB. */
  close(): Promise<void>
}

export async function startSummitpad(config: Config, log: Logger, ops: OpsOptions = {}): Promise<Summitpad> {
  // Read first: a server without its built client refuses to start before it opens anything.
  const assets = readAssetManifest(CLIENT_OUT)
  const storage = ops.storage ?? (await openStorage(config, log))
  const metrics = new Metrics({ sizes: storage.sizes ? () => storage.sizes!() : undefined })
  const readiness = new Readiness(() => storage.health())
  // Anyone with edit rights may create pads, but one address only so many a minute (random names
  // fill disks). Counted: distinct pads whose first content was stored, not connections.
  // Several servers on one database: the per-address limits add the others' counts.
  const shared = storage.liveCounts ? new SharedCounts({ store: storage.liveCounts, log }) : null
  const newPads = new NewPadLimit({
    max: config.maxNewPadsPerIpPerMinute,
    log,
    shared: storage.liveCounts,
    elsewhere: shared ? (ip) => shared.of(ip).newPads : undefined,
  })
  let core: Core
  try {
    core = openCore({
      dataDir: config.dataDir,
      durability: config.durability,
      log,
      snapshotEvery: config.snapshotEvery,
      unloadDelayMs: config.unloadDelayMs,
      limits: config,
      mayCreatePad: (origin, padId) => !('ip' in origin) || newPads.mayCreate(String(origin.ip), padId),
      storage,
      padLog: (stored) => meteredPadLog(ops.padLog?.(stored) ?? stored, metrics),
    })
  } catch (err) {
    await storage.close()
    throw err
  }
  const { rooms, meetings, minutes, search, history, series, materials } = core
  rooms.onCaughtUp((rows) => metrics.rowsCaughtUp(rows))
  const links = new EventLinks(core.storage.links)
  const access = new AccessControl({ adminToken: ops.adminToken || null, links })
  // One policy for pages, the API and websocket upgrades.
  const hosts = hostPolicy(config)
  const endpoint = new SyncEndpoint({
    rooms,
    log,
    config,
    metrics,
    hosts,
    authorize: ops.authorize ?? socketAuthorizer(access, config.allowedOrigins),
    socketsElsewhere: shared ? (ip) => shared.of(ip).sockets : undefined,
  })
  // Control events (a pad deleted or moved, a session closed or reopened, a link rotated) from this
  // server and the others on the same database, applied to the rooms and sockets held here.
  await storage.control.subscribe(
    controlEffects({
      rooms,
      sockets: endpoint,
      padState: (padId) => storage.history.padState(padId),
      linksOfPad: (padId) => links.ofPad(padId),
      log,
    }),
  )
  shared?.start(() => liveLoad(rooms, meetings, endpoint))
  metrics.watch({ connections: () => endpoint.connectionCount, padsLoaded: () => rooms.loadedCount })
  const backup = async (): Promise<BackupResult> => {
    // What the server has received but not yet stored goes into the backup too.
    await rooms.flush()
    try {
      const result = await storage.backups.take()
      metrics.backupCompleted(true)
      return result
    } catch (err) {
      metrics.backupCompleted(false)
      throw err
    }
  }
  const app = createHttpApp({
    log,
    meetings,
    series,
    materials,
    minutes,
    search,
    history,
    startedAt: Date.now(),
    status: () => ({ padsLoaded: rooms.loadedCount, connections: endpoint.connectionCount }),
    health: () => readiness.check(),
    metrics,
    access,
    links,
    allowedOrigins: config.allowedOrigins,
    hosts,
    assets,
    // Applied here and on every other server by the control effects below.
    linkRotated: (eventPk, link) => void storage.control.publish([{ type: 'link-rotated', eventPk, link }]),
    backup,
    trustProxy: config.trustProxy,
    // Each pad made over HTTP is a new one: a key of its own (the id is chosen after the check).
    newPads: (ip) => newPads.admit(ip, `http:${randomUUID()}`),
  })
  const server = http.createServer(app)
  let shuttingDown = false
  closeConnectionsWhen(server, () => shuttingDown)
  server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head))
  server.on('clientError', (_err, socket) => socket.destroy())

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    await shared?.stop()
    await core.close()
    throw err
  }
  const port = (server.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host

  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      await rooms.closeAll(CLOSE.serviceRestart, 'server restart')
      endpoint.close(CLOSE.serviceRestart, 'server restart')
      server.closeIdleConnections()
      await Promise.race([
        stopped,
        new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref()),
      ])
      server.closeAllConnections()
      // Its people and sockets are gone: the other servers' counts stop including them now.
      await shared?.stop()
      // The search index brought up to date, then the storage closed (after a running backup).
      await core.close()
    })()
    return closing
  }

  return {
    url: `http://${host}:${port}`,
    port,
    storage,
    get db() {
      return sqliteExtra(storage, 'db')
    },
    get store() {
      return sqliteExtra(storage, 'store')
    },
    rooms,
    meetings,
    minutes,
    search,
    metrics,
    backups: storage.backups,
    close,
  }
}
