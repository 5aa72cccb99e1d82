/**
 * Brings a PostgreSQL database's schema up to date (schema.ts), safely when several servers
 * start at once: every migrator first takes one transaction-scoped advisory lock
 * (`pg_advisory_xact_lock`, released by its COMMIT or ROLLBACK, so it never outlives the
 * transaction on a pooled connection), then reads the version, so the others wait and find the
 * work done. All pending migrations and the new version commit together, or none.
 *
 * A database whose version is newer than this server knows is refused before anything is
 * touched: an older server must not write into a schema it does not understand.
 */

import type { PgPool } from './pool.ts'
import { PG_MIGRATIONS } from './schema.ts'
import { inTransaction } from './transaction.ts'

/** The advisory lock key of migrations ("summitpd" in ASCII): one per database. */
export const MIGRATION_LOCK_KEY = '8319676203324960868'

export class NewerSchemaError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`database schema version ${found} is newer than this server (${known}): upgrade the server`)
    this.name = 'NewerSchemaError'
  }
}

/** Resolves with the schema version the database has now. */
export async function migratePg(
  pool: PgPool,
  migrations: readonly string[] = PG_MIGRATIONS,
): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query('CREATE TABLE IF NOT EXISTS summitpad_schema (version integer NOT NULL)')
    const { rows } = await client.query<{ version: number }>('SELECT version FROM summitpad_schema')
    const current = rows[0]?.version ?? 0
    if (current > migrations.length) throw new NewerSchemaError(current, migrations.length)
    if (current === migrations.length) return current
    for (let version = current; version < migrations.length; version++)
      await client.query(migrations[version]!)
    if (rows.length === 0)
      await client.query('INSERT INTO summitpad_schema (version) VALUES ($1)', [migrations.length])
    else await client.query('UPDATE summitpad_schema SET version = $1', [migrations.length])
    return migrations.length
  })
}
