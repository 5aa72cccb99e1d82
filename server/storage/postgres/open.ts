/**
 * Opens the PostgreSQL engine: a pool (pool.ts), the schema brought up to date (migrate.ts), and
 * the storage interfaces over it. `close` ends the pool's connections.
 */

import { PgHistoryLog } from './history-log.ts'
import { migratePg } from './migrate.ts'
import { PgPadLog } from './pad-log.ts'
import { createPgPool, type PgPool, type PgPoolOptions } from './pool.ts'

export interface PgStorage {
  pool: PgPool
  padLog: PgPadLog
  historyLog: PgHistoryLog
  close(): Promise<void>
}

export async function openPostgres(options: PgPoolOptions): Promise<PgStorage> {
  const pool = createPgPool(options)
  try {
    await migratePg(pool)
  } catch (err) {
    await pool.end()
    throw err
  }
  return {
    pool,
    padLog: new PgPadLog(pool),
    historyLog: new PgHistoryLog(pool),
    close: () => pool.end(),
  }
}
