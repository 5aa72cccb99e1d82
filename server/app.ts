/**
 * The composition root: config -> db -> store -> rooms -> sync endpoint + http app, on one port.
 * It owns startup and the graceful shutdown; nothing here is global, so tests build as many
 * servers as they like, each on port 0 with its own data directory.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { ensureClientBuilt } from './client-build.ts'
import type { Config } from './config.ts'
import { type Db, openDb } from './db.ts'
import { createHttpApp } from './http-app.ts'
import type { Logger } from './logger.ts'
import { Meetings } from './meetings.ts'
import { MeetingsStore } from './meetings-store.ts'
import { Minutes } from './minutes.ts'
import { CLOSE } from './peer.ts'
import { Rooms } from './rooms.ts'
import { SearchIndex } from './search-index.ts'
import { PadStore } from './store.ts'
import { SyncEndpoint } from './sync-endpoint.ts'
import { loadDefaultTemplates } from './templates.ts'

export interface Summitpad {
  /** http://host:port, with the port actually bound. */
  readonly url: string
  readonly port: number
  readonly db: Db
  readonly store: PadStore
  readonly rooms: Rooms
  readonly meetings: Meetings
  readonly minutes: Minutes
  readonly search: SearchIndex
  /** Graceful shutdown: stop accepting, flush and snapshot, close sockets with 1012, close the DB. */
  close(): Promise<void>
}

export async function startSummitpad(config: Config, log: Logger): Promise<Summitpad> {
  if (ensureClientBuilt()) log.info('built the browser client')
  const templates = loadDefaultTemplates()
  const db = openDb(config.dataDir, config.durability)
  const store = new PadStore(db)
  const rooms = new Rooms({
    store,
    log,
    snapshotEvery: config.snapshotEvery,
    unloadDelayMs: config.unloadDelayMs,
    onPadChanged: (padId) => search.markDirty(padId),
  })
  const meetingsStore = new MeetingsStore(db)
  const meetings = new Meetings({ db, store, meetings: meetingsStore, rooms, templates })
  const search: SearchIndex = new SearchIndex(db, {
    text: (padId): string | null => minutes.text(padId),
    title: (padId) => meetingsStore.pad(padId)?.title ?? null,
  })
  const minutes: Minutes = new Minutes({ store, rooms, meetings, search })
  search.indexMissing()
  const endpoint = new SyncEndpoint({
    rooms,
    log,
    maxFrameBytes: config.maxFrameBytes,
    pingIntervalMs: config.pingIntervalMs,
  })
  const app = createHttpApp({
    log,
    meetings,
    minutes,
    search,
    startedAt: Date.now(),
    status: () => ({ padsLoaded: rooms.loadedCount, connections: endpoint.connectionCount }),
  })
  const server = http.createServer(app)
  server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head))
  server.on('clientError', (_err, socket) => socket.destroy())

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(config.port, config.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    db.close()
    throw err
  }
  const port = (server.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host

  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      rooms.closeAll(CLOSE.serviceRestart, 'server restart')
      search.flush()
      endpoint.close(CLOSE.serviceRestart, 'server restart')
      server.closeIdleConnections()
      await Promise.race([
        stopped,
        new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref()),
      ])
      server.closeAllConnections()
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.close()
    })()
    return closing
  }

  return { url: `http://${host}:${port}`, port, db, store, rooms, meetings, minutes, search, close }
}
