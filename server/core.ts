/**
 * The part of the server that works on the data, without a port, built top to bottom: storage ->
 * rooms -> pad reads -> search -> meetings, minutes, history, series, materials. Each line uses
 * only what the lines above it built (no closure refers to a later variable); `close` undoes it
 * from the bottom up. The server (app.ts) adds the sync endpoint and HTTP on top; the admin CLI
 * uses it as it is, against the same database, possibly while a server runs on it.
 */

import { History } from './history/history.ts'
import { Materials } from './meetings/materials.ts'
import { Meetings } from './meetings/meetings.ts'
import { Series } from './meetings/series.ts'
import { loadDefaultTemplates } from './meetings/templates.ts'
import { Minutes } from './minutes/minutes.ts'
import { DEFAULTS, type Durability } from './ops/config.ts'
import type { Logger } from './ops/logger.ts'
import type { Db } from './storage/db.ts'
import type { MeetingsRepo } from './storage/meetings-store.ts'
import type { PadLog } from './storage/pad-log.ts'
import { SearchIndex } from './storage/search-index.ts'
import { openSqliteStorage, type Storage, sqliteExtra } from './storage/storage.ts'
import type { PadStore } from './storage/store.ts'
import type { WalCheckpointer } from './storage/wal-checkpointer.ts'
import { CATCH_UP_POLL_MS } from './sync/catch-up.ts'
import { PadReader } from './sync/pad-reader.ts'
import type { Origin } from './sync/peer.ts'
import type { RoomLimits } from './sync/room.ts'
import { Rooms } from './sync/rooms.ts'

export interface CoreOptions {
  dataDir: string
  durability: Durability
  log: Logger
  snapshotEvery: number
  unloadDelayMs: number
  /** Pad and awareness limits (the defaults of config.ts when absent). */
  limits?: RoomLimits
  /** Per-address rate limit on new pads (none when absent, e.g. in the CLI). */
  mayCreatePad?: (origin: Origin, padId: string) => boolean
  /** The storage to build on, any engine (storage/open-storage.ts); SQLite in `dataDir` when absent. */
  storage?: Storage
  /**
   * The pad log the rooms persist to, given the storage's: the server's counts its commits for
   * /metrics; tests of the sync path may return another engine (MemoryPadLog).
   */
  padLog?: (stored: PadLog) => PadLog
}

export interface Core {
  readonly storage: Storage
  /** SQLite's database, for tests and benchmarks that read the file: throws on another engine. */
  readonly db: Db
  /** The SQLite pad store, for tests and benchmarks that read the file synchronously (SQLite only). */
  readonly store: PadStore
  /** The pad log the rooms persist to. */
  readonly padLog: PadLog
  readonly rooms: Rooms
  /** A pad's current text or state: the live room's, or rebuilt from the pad log. */
  readonly reader: PadReader
  readonly meetingsStore: MeetingsRepo
  readonly meetings: Meetings
  readonly minutes: Minutes
  readonly search: SearchIndex
  readonly history: History
  /** Which meeting continues which; "start the next meeting". */
  readonly series: Series
  /** Session materials: the schedule's links and those added by hand. */
  readonly materials: Materials
  /** SQLite's WAL checkpointer (tests): throws on another engine. */
  readonly walCheckpointer: WalCheckpointer
  /**
   * Indexes what is still stale, then closes the storage (after its running backups). The rooms
   * are the caller's to close first (the server closes its sockets with them).
   */
  close(): Promise<void>
}

export function openCore(options: CoreOptions): Core {
  const storage =
    options.storage ??
    openSqliteStorage({ dataDir: options.dataDir, durability: options.durability, log: options.log })
  try {
    const templates = loadDefaultTemplates()
    const padLog = options.padLog ? options.padLog(storage.padLog) : storage.padLog
    const rooms = new Rooms({
      store: padLog,
      log: options.log,
      snapshotEvery: options.snapshotEvery,
      unloadDelayMs: options.unloadDelayMs,
      limits: options.limits ?? DEFAULTS,
      isClosed: async (padId) => ((await storage.history.padState(padId))?.closedAt ?? null) !== null,
      mayCreatePad: options.mayCreatePad,
      // Several servers may share a PostgreSQL database, and hold the same pad at once.
      catchUpEveryMs: storage.engine === 'postgres' ? CATCH_UP_POLL_MS : undefined,
    })
    const reader = new PadReader({ rooms, padLog, snapshotEvery: options.snapshotEvery, log: options.log })
    const meetingsStore = storage.meetings
    const search = new SearchIndex(
      storage.search,
      {
        text: (padId) => reader.text(padId),
        // Speakers are searchable from the start: they are metadata, never in the text.
        title: async (padId) => {
          const pad = await meetingsStore.pad(padId)
          return pad ? [pad.title ?? padId, ...pad.speakers].join('\n') : null
        },
      },
      options.log,
    )
    rooms.onPadChanged((padId) => search.markDirty(padId))
    const meetings = new Meetings({
      meetings: meetingsStore,
      rooms,
      templates,
      onPadChanged: (padId) => search.markDirty(padId),
      announce: (events) => storage.control.publish(events),
      liveCounts: storage.liveCounts,
    })
    const minutes = new Minutes({
      padLog,
      reader,
      rooms,
      meetings,
      search,
      log: options.log,
      scrubWal: () => storage.scrubForgotten(),
    })
    const history = new History(storage.history, rooms, (events) => storage.control.publish(events))
    const series = new Series({ meetings, store: storage.series, textOf: (padId) => reader.text(padId) })
    const materials = new Materials({ meetings, store: storage.materials })
    // In the background: a search waits for it (SearchIndex), nothing else needs it.
    void search.indexMissing()
    let closing: Promise<void> | null = null
    return {
      storage,
      get db() {
        return sqliteExtra(storage, 'db')
      },
      get store() {
        return sqliteExtra(storage, 'store')
      },
      padLog,
      rooms,
      reader,
      meetingsStore,
      meetings,
      minutes,
      search,
      history,
      series,
      materials,
      get walCheckpointer() {
        return sqliteExtra(storage, 'walCheckpointer')
      },
      close() {
        closing ??= (async () => {
          try {
            await search.flush()
          } finally {
            await storage.close()
          }
        })()
        return closing
      },
    }
  } catch (err) {
    // A storage given is the caller's to close; one opened here is closed here.
    if (!options.storage) void storage.close()
    throw err
  }
}
