/**
 * The part of the server that works on the data, without a port: db -> store -> rooms ->
 * meetings, minutes, search. The server (app.ts) adds the sync endpoint and HTTP on top; the admin
 * CLI uses it as it is, against the same database, possibly while a server runs on it.
 */

import { History } from './history/history.ts'
import { Materials } from './meetings/materials.ts'
import { Meetings } from './meetings/meetings.ts'
import { Series } from './meetings/series.ts'
import { loadDefaultTemplates } from './meetings/templates.ts'
import { Minutes } from './minutes/minutes.ts'
import { DEFAULTS, type Durability } from './ops/config.ts'
import type { Logger } from './ops/logger.ts'
import { type Db, openDb } from './storage/db.ts'
import { SqliteHistoryLog } from './storage/history-log.ts'
import { SqliteMaterialsRepo } from './storage/materials-store.ts'
import { type MeetingsRepo, SqliteMeetingsRepo } from './storage/meetings-store.ts'
import type { PadLog } from './storage/pad-log.ts'
import { SearchIndex } from './storage/search-index.ts'
import { SqliteSeriesRepo } from './storage/series-store.ts'
import { SqlitePadLog } from './storage/sqlite-pad-log.ts'
import { PadStore } from './storage/store.ts'
import { WalCheckpointer } from './storage/wal-checkpointer.ts'
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
  /**
   * The pad log the rooms persist to, given the SQLite one: the server's counts its commits for
   * /metrics; tests of the sync path may return another engine (MemoryPadLog). SQLite's when absent.
   */
  padLog?: (sqlite: PadLog) => PadLog
}

export interface Core {
  readonly db: Db
  /** The SQLite pad store, for what still reads it synchronously (exports, meetings, the CLI). */
  readonly store: PadStore
  /** The pad log the rooms persist to. */
  readonly padLog: PadLog
  readonly rooms: Rooms
  readonly meetingsStore: MeetingsRepo
  readonly meetings: Meetings
  readonly minutes: Minutes
  readonly search: SearchIndex
  readonly history: History
  /** Which meeting continues which; "start the next meeting". */
  readonly series: Series
  /** Session materials: the schedule's links and those added by hand. */
  readonly materials: Materials
  /** Checkpoints the WAL off the commit path; stops by itself once `db` is closed. */
  readonly walCheckpointer: WalCheckpointer
}

export function openCore(options: CoreOptions): Core {
  const templates = loadDefaultTemplates()
  const db = openDb(options.dataDir, options.durability)
  const walCheckpointer = new WalCheckpointer({ db, log: options.log })
  try {
    walCheckpointer.start()
    const store = new PadStore(db)
    const sqlitePadLog = new SqlitePadLog(store)
    const padLog = options.padLog ? options.padLog(sqlitePadLog) : sqlitePadLog
    const rooms = new Rooms({
      store: padLog,
      log: options.log,
      snapshotEvery: options.snapshotEvery,
      unloadDelayMs: options.unloadDelayMs,
      onPadChanged: (padId) => search.markDirty(padId),
      limits: options.limits ?? DEFAULTS,
      isClosed: (padId) => history.isClosed(padId),
      mayCreatePad: options.mayCreatePad,
    })
    const meetingsStore = new SqliteMeetingsRepo(db, store)
    const meetings = new Meetings({
      meetings: meetingsStore,
      rooms,
      templates,
      onPadChanged: (padId) => search.markDirty(padId),
    })
    const search: SearchIndex = new SearchIndex(
      db,
      {
        text: (padId): string | null => minutes.text(padId),
        // Speakers are searchable from the start: they are metadata, never in the text.
        title: (padId) => {
          const pad = meetingsStore.padNow(padId)
          return pad ? [pad.title ?? padId, ...pad.speakers].join('\n') : null
        },
      },
      options.log,
    )
    const minutes: Minutes = new Minutes({
      store,
      rooms,
      meetings,
      search,
      snapshotEvery: options.snapshotEvery,
      log: options.log,
      scrubWal: () => walCheckpointer.scrub(),
    })
    const history: History = new History(new SqliteHistoryLog(db), rooms)
    const series = new Series({
      meetings,
      store: new SqliteSeriesRepo(db),
      textOf: (padId) => minutes.text(padId),
    })
    const materials = new Materials({ meetings, store: new SqliteMaterialsRepo(db) })
    search.indexMissing()
    return {
      db,
      store,
      padLog,
      rooms,
      meetingsStore,
      meetings,
      minutes,
      search,
      history,
      series,
      materials,
      walCheckpointer,
    }
  } catch (err) {
    walCheckpointer.stop()
    db.close()
    throw err
  }
}
