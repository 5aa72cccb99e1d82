/**
 * `openPgStorage`: the PostgreSQL engine as a whole Storage bundle (storage.ts), the module that
 * `openStorage` (open-storage.ts) loads when DATABASE_URL is set.
 *
 * FOR NOW a stand-in, to be replaced by the real bundle (the repos, the search store and the
 * backups' refusal are being written beside this): the pad log and history log, health and sizes
 * are PostgreSQL's; every other interface refuses each call with a clear Unsupported error, so a
 * server started on it says what is missing instead of failing somewhere obscure.
 */
import { Unsupported } from '../../lib/domain-errors.ts'
import type { Logger } from '../../ops/logger.ts'
import { backupsUnsupported } from '../backups.ts'
import { pgSizes } from '../pg-sizes.ts'
import type { Storage } from '../storage.ts'
import { probePg } from './health.ts'
import { openPostgres } from './open.ts'

export interface PgStorageOptions {
  connectionString: string
  log: Logger
}

/** What refuses: every method of a repo not yet written for PostgreSQL. */
function notYet<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      if (property === 'then') return undefined // not a thenable
      return () =>
        Promise.reject(
          new Unsupported(`${what} on PostgreSQL is not available in this build yet`, 'postgres_incomplete'),
        )
    },
  })
}

export async function openPgStorage(options: PgStorageOptions): Promise<Storage> {
  const pg = await openPostgres({
    connectionString: options.connectionString,
    onIdleError: (err) => options.log.warn({ err }, 'a pooled PostgreSQL connection was lost'),
  })
  return {
    engine: 'postgres',
    padLog: pg.padLog,
    history: pg.historyLog,
    meetings: notYet('meetings'),
    series: notYet('series'),
    materials: notYet('materials'),
    links: notYet('event links'),
    search: notYet('search'),
    backups: backupsUnsupported(
      "backups on PostgreSQL are the database's: pg_dump, or base backups with WAL archiving for point-in-time recovery (docs/postgres.md)",
    ),
    // Deleted rows are gone from the tables at COMMIT; what stays in WAL is the database's (docs/postgres.md).
    scrubForgotten: async () => true,
    health: () => probePg(pg.pool),
    sizes: () => pgSizes(pg.pool),
    close: () => pg.close(),
  }
}
