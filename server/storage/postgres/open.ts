/**
 * Opens the PostgreSQL engine as a storage bundle (../storage.ts): a pool (pool.ts), the schema
 * brought up to date (migrate.ts), and every storage interface over it. `close` ends the pool
 * once the work running on it is done.
 *
 * What PostgreSQL leaves to its own tools (docs/postgres.md): backups (pg_dump, base backups with
 * point-in-time recovery), and removing forgotten history from the WAL, its archive and replicas.
 */
import type { Logger } from '../../ops/logger.ts'
import { backupsUnsupported } from '../backups.ts'
import { pgSizes } from '../pg-sizes.ts'
import type { Storage } from '../storage.ts'
import { PgControlEvents } from './control-channel.ts'
import { type PgHealth, probePg } from './health.ts'
import { PgHistoryLog } from './history-log.ts'
import { PgLinksRepo } from './links-repo.ts'
import { PgLiveCounts } from './live-counts.ts'
import { PgMaterialsRepo } from './materials-repo.ts'
import { PgMeetingsRepo } from './meetings-repo.ts'
import { migratePg } from './migrate.ts'
import { PgPadLog } from './pad-log.ts'
import { createPgPool, type PgPool, type PgPoolOptions } from './pool.ts'
import { PgSearchStore } from './search-store.ts'
import { PgSeriesRepo } from './series-repo.ts'

/** What `backups.take()` / `copyTo()` answer on PostgreSQL (HTTP 501, CLI exit 1). */
export const PG_BACKUP_MESSAGE =
  'backups: the PostgreSQL engine leaves backups to PostgreSQL: use pg_dump, or base backups with WAL archiving (point-in-time recovery)'

/** PostgreSQL's extras: its pool (tests, the CLI) and a bounded health probe (/healthz). */
export interface PgStorage extends Storage {
  readonly engine: 'postgres'
  readonly pool: PgPool
  readonly padLog: PgPadLog
  readonly history: PgHistoryLog
  /** The same as `history` (older tests' name). */
  readonly historyLog: PgHistoryLog
  /** LISTEN/NOTIFY between the servers of this database (its listener's pid, for tests). */
  readonly control: PgControlEvents
  readonly liveCounts: PgLiveCounts
  /** One `SELECT 1`, bounded in time (health.ts): never rejects. */
  health(): Promise<PgHealth>
}

export interface PgStorageOptions extends PgPoolOptions {
  /** Told (warn) about idle connections the database dropped, unless `onIdleError` is given. */
  log?: Logger
  /** How often held pads are re-checked against missed control events (control-channel.ts; tests). */
  controlRecheckMs?: number
  /** How often the listening connection is checked, and how long it may take to answer (tests). */
  controlHeartbeatMs?: number
}

export async function openPgStorage(options: PgStorageOptions): Promise<PgStorage> {
  const pool = createPgPool({
    ...options,
    onIdleError:
      options.onIdleError ??
      ((err) =>
        options.log?.warn({ err }, 'PostgreSQL dropped an idle connection; the pool opens a new one')),
  })
  try {
    await migratePg(pool)
  } catch (err) {
    await pool.end()
    throw err
  }
  const padLog = new PgPadLog(pool)
  const history = new PgHistoryLog(pool)
  // Listens only once the server subscribes: the CLI publishes without holding a connection.
  const control = new PgControlEvents({
    pool,
    connectionString: options.connectionString,
    sessionOptions: options.sessionOptions,
    log: options.log,
    recheckMs: options.controlRecheckMs,
    heartbeatMs: options.controlHeartbeatMs,
  })
  let closing: Promise<void> | null = null
  return {
    engine: 'postgres',
    pool,
    padLog,
    history,
    historyLog: history,
    meetings: new PgMeetingsRepo(pool, padLog),
    series: new PgSeriesRepo(pool),
    materials: new PgMaterialsRepo(pool),
    links: new PgLinksRepo(pool),
    search: new PgSearchStore(pool),
    control,
    liveCounts: new PgLiveCounts(pool),
    backups: backupsUnsupported(PG_BACKUP_MESSAGE),
    scrubForgotten: () => scrubForgotten(pool),
    health: () => probePg(pool),
    sizes: () => pgSizes(pool),
    close() {
      // pool.end() waits for every checked-out connection to come back (the running
      // transactions finish), then closes them all.
      closing ??= control.close().then(() => pool.end())
      return closing
    },
  }
}

/** The engine without the options of a whole server (the foundation's tests). */
export const openPostgres = (options: PgStorageOptions): Promise<PgStorage> => openPgStorage(options)

/**
 * After "forget history" committed, its rows are deleted; a plain VACUUM of the log's tables
 * removes them from the table pages now instead of at autovacuum's next round (no exclusive
 * lock: appends go on). It cannot remove rows an open transaction still sees, nor reach the WAL,
 * its archive, replicas or base backups, which keep the data until they are recycled
 * (docs/postgres.md, "Forget history"). Resolves true: nothing left to retry here.
 */
async function scrubForgotten(pool: PgPool): Promise<boolean> {
  await pool.query('VACUUM updates, snapshots')
  return true
}
