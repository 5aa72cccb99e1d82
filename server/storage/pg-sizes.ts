/**
 * PostgreSQL's sizes for /metrics (StorageSizes, storage.ts), read without superuser:
 * - the database: `pg_database_size(current_database())`, the files of this database's tables,
 *   indexes and TOAST (dead rows included until VACUUM reuses their space); any role that may
 *   connect may read it.
 * - the write-ahead log: the size of pg_wal (`pg_ls_waldir()`), which is the whole cluster's,
 *   not this database's, and which only superusers and members of pg_monitor may list. For any
 *   other role it is null: not reported, rather than a 0 that reads as "empty". The privilege is
 *   checked first, so a role without it does not log an error in the database at each scrape.
 */
import type pg from 'pg'
import type { StorageSizes } from './storage.ts'

export async function pgSizes(pool: pg.Pool): Promise<StorageSizes> {
  const { rows } = await pool.query<{ db: number; wal_visible: boolean }>(
    `SELECT pg_database_size(current_database()) AS db,
            has_function_privilege('pg_catalog.pg_ls_waldir()', 'EXECUTE') AS wal_visible`,
  )
  const row = rows[0]!
  let walBytes: number | null = null
  if (row.wal_visible) {
    const wal = await pool.query<{ bytes: number }>(
      'SELECT coalesce(sum(size), 0)::bigint AS bytes FROM pg_ls_waldir()',
    )
    walBytes = Number(wal.rows[0]!.bytes)
  }
  return { databaseBytes: Number(row.db), walBytes }
}
