/**
 * One storage engine, opened: every interface the server's domain reads and writes through, and
 * one `close`. The composition root (core.ts) receives a Storage and builds everything else on
 * it; a second engine is one more `open…Storage` returning the same shape (PostgreSQL next).
 *
 * `openSqliteStorage` is the SQLite engine: one database file in the data directory, its WAL
 * checkpointed off the commit path, online backups into DATA_DIR/backups.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Durability } from '../ops/config.ts'
import type { Logger } from '../ops/logger.ts'
import { OnlineBackups } from './backup.ts'
import type { Backups } from './backups.ts'
import { type ControlEvents, LocalControlEvents } from './control-events.ts'
import { closeDb, DB_FILE_NAME, type Db, openDb } from './db.ts'
import { type HistoryLog, SqliteHistoryLog } from './history-log.ts'
import { type LinksRepo, SqliteLinksRepo } from './links-store.ts'
import type { LiveCounts } from './live-counts.ts'
import { type MaterialsRepo, SqliteMaterialsRepo } from './materials-store.ts'
import { type MeetingsRepo, SqliteMeetingsRepo } from './meetings-store.ts'
import type { PadLog } from './pad-log.ts'
import type { SearchStore } from './search-store.ts'
import { type SeriesRepo, SqliteSeriesRepo } from './series-store.ts'
import { SqlitePadLog } from './sqlite-pad-log.ts'
import { SqliteSearchStore } from './sqlite-search-store.ts'
import { PadStore } from './store.ts'
import { WalCheckpointer } from './wal-checkpointer.ts'

/** Whether the engine answers now, and if not what is wrong, in an operator's words. */
export type StorageHealth = { ok: true } | { ok: false; error: string }

/** What the engine occupies, for /metrics (each engine says what its numbers mean: README). */
export interface StorageSizes {
  /** The database: SQLite's file; PostgreSQL's `pg_database_size(current_database())`. */
  databaseBytes: number
  /**
   * The write-ahead log: SQLite's -wal file; PostgreSQL's pg_wal directory when the role may list
   * it (pg_monitor), else null (not reported rather than reported as 0).
   */
  walBytes: number | null
}

/**
 * What every engine stores of pads: their logs, history, search index and backups. The in-memory
 * engine (memory-storage.ts, for tests of the sync path) is this much.
 */
export interface PadStorage {
  /** For logs and error messages: "sqlite", "postgres"... */
  readonly engine: string
  /** Pads' update logs and snapshots (what the rooms persist to). */
  readonly padLog: PadLog
  /** Row metadata, states at a revision, checkpoints, the closed flag (the history pages). */
  readonly history: HistoryLog
  /** The full-text index (when to re-index is SearchIndex's, not the engine's). */
  readonly search: SearchStore
  /** Whole-database backups, or a clear refusal where the database has its own tools. */
  readonly backups: Backups
  /**
   * After "forget history" committed: leaves no copy of the forgotten data in the engine's own
   * logs (SQLite's write-ahead log). False when a reader kept it for now: try again later.
   */
  scrubForgotten(): Promise<boolean>
  /**
   * One cheap read (SQLite: a trivial query; PostgreSQL: `SELECT 1` through the pool, bounded in
   * time): /healthz. Never rejects: a failure is the answer.
   */
  health(): Promise<StorageHealth>
  /** The engine's sizes for /metrics; absent where there is nothing to measure (in memory). */
  sizes?(): Promise<StorageSizes>
  /** Waits for running backups, then closes the engine; nothing may be called afterwards. */
  close(): Promise<void>
}

/** A whole engine: the pads, and the events, series, materials and links around them. */
export interface Storage extends PadStorage {
  readonly meetings: MeetingsRepo
  readonly series: SeriesRepo
  readonly materials: MaterialsRepo
  readonly links: LinksRepo
  /**
   * Changes other servers on the same database must apply to their live pads (a pad deleted, a
   * session closed, a link rotated): control-events.ts. SQLite's reach this process only.
   */
  readonly control: ControlEvents
  /**
   * Where several server processes share the engine (PostgreSQL), what each publishes of its live
   * sockets for the others (live-counts.ts). Absent where one process owns the engine (SQLite):
   * its local counts are the whole truth, and nothing extra is written.
   */
  readonly liveCounts?: LiveCounts
}

/** SQLite's extras, for the few readers of the file itself (tests, benchmarks, the CLI's checks). */
export interface SqliteStorage extends Storage {
  readonly db: Db
  /** The synchronous pad store under `padLog` (tests and benchmarks that read the file). */
  readonly store: PadStore
  readonly walCheckpointer: WalCheckpointer
}

/** SQLite's extras when `storage` is SQLite's, else null (code that needs the file itself). */
export function sqliteOf(storage: Storage): SqliteStorage | null {
  return storage.engine === 'sqlite' && 'db' in storage ? (storage as SqliteStorage) : null
}

/**
 * SQLite's extras for the readers of the file itself (tests, benchmarks, the CLI's checks), which
 * run on SQLite: on another engine, reading one throws, naming the engine.
 */
export function sqliteExtra<K extends 'db' | 'store' | 'walCheckpointer'>(
  storage: Storage,
  key: K,
): SqliteStorage[K] {
  const sqlite = sqliteOf(storage)
  if (!sqlite) throw new Error(`${key} is SQLite's; this storage is ${storage.engine}`)
  return sqlite[key]
}

export interface SqliteStorageOptions {
  dataDir: string
  durability: Durability
  log: Logger
  /**
   * Another process (a running server) may use the database: at close, leave its write-ahead
   * log to that process instead of truncating it (the CLI).
   */
  shared?: boolean
}

export function openSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  const db = openDb(options.dataDir, options.durability)
  const walCheckpointer = new WalCheckpointer({ db, log: options.log })
  try {
    walCheckpointer.start()
    const store = new PadStore(db)
    const backups = new OnlineBackups({ dataDir: options.dataDir })
    const control = new LocalControlEvents(options.log)
    let closing: Promise<void> | null = null
    return {
      engine: 'sqlite',
      db,
      store,
      walCheckpointer,
      padLog: new SqlitePadLog(store),
      meetings: new SqliteMeetingsRepo(db, store),
      series: new SqliteSeriesRepo(db),
      materials: new SqliteMaterialsRepo(db),
      links: new SqliteLinksRepo(db),
      control,
      history: new SqliteHistoryLog(db),
      search: new SqliteSearchStore(db),
      backups,
      scrubForgotten: () => walCheckpointer.scrub(),
      health: async () => sqliteHealth(db),
      sizes: async () => {
        const file = path.join(options.dataDir, DB_FILE_NAME)
        return { databaseBytes: await fileSize(file), walBytes: await fileSize(`${file}-wal`) }
      },
      close() {
        closing ??= (async () => {
          // A backup in progress reads through its own connection; let it finish its file.
          await backups.idle()
          await control.close()
          // No background round may hold the file while the last checkpoint empties the WAL.
          walCheckpointer.stop()
          if (options.shared) db.close()
          else closeDb(db)
        })()
        return closing
      },
    }
  } catch (err) {
    walCheckpointer.stop()
    db.close()
    throw err
  }
}

/** A trivial read of the file's schema: fails when the file is gone bad, locked out or closed. */
function sqliteHealth(db: Db): StorageHealth {
  try {
    db.prepare('SELECT count(*) FROM sqlite_schema').get()
    return { ok: true }
  } catch (err) {
    return { ok: false, error: `database error: ${err instanceof Error ? err.message : String(err)}` }
  }
}

/** 0 for a file that is not there (the WAL after a clean shutdown). */
async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size
  } catch {
    return 0
  }
}
