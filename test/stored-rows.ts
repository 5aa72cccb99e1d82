/**
 * Raw reads of a test server's tables, on either engine (test-storage.ts): for tests about what
 * is *stored* — a deleted pad leaves no row behind, forgotten bytes are gone from every table —
 * which no storage interface answers, by design. Both engines name their tables and columns the
 * same (server/storage/db.ts, server/storage/postgres/schema.ts), except where noted here.
 */
import type { PgStorage } from '../server/storage/postgres/open.ts'
import { sqliteOf } from '../server/storage/storage.ts'
import type { TestServer } from './helpers.ts'

type Row = Record<string, unknown>

/** One query with `?` placeholders, on the server's engine; numbers come back as numbers. */
export async function queryRows(server: TestServer, sql: string, params: unknown[] = []): Promise<Row[]> {
  const sqlite = sqliteOf(server.storage)
  if (sqlite) return sqlite.db.prepare(sql).all(...params) as Row[]
  if (server.storage.engine !== 'postgres') throw new Error(`no raw reads on ${server.storage.engine}`)
  let n = 0
  const text = sql.replace(/\?/g, () => `$${++n}`)
  const { rows } = await (server.storage as PgStorage).pool.query(text, params)
  return rows
}

/** The pad's primary key in `pads`, or undefined when there is no row for it. */
export async function padPk(server: TestServer, id: string): Promise<number | undefined> {
  const [row] = await queryRows(server, 'SELECT pk FROM pads WHERE id = ?', [id])
  return row === undefined ? undefined : Number(row.pk)
}

/** Rows of the pad with key `pk` in its log, its snapshots, or the search index. */
export async function countPadRows(
  server: TestServer,
  table: 'updates' | 'snapshots' | 'pad_search',
  pk: number,
): Promise<number> {
  // SQLite's FTS5 table is keyed by rowid; PostgreSQL's pad_search by its `pad` column.
  const key = table === 'pad_search' && sqliteOf(server.storage) ? 'rowid' : 'pad'
  const [row] = await queryRows(server, `SELECT count(*) AS n FROM ${table} WHERE ${key} = ?`, [pk])
  return Number(row!.n)
}

/** The names of the engine's own tables (not its catalogue's). */
export async function tableNames(server: TestServer): Promise<string[]> {
  const rows = sqliteOf(server.storage)
    ? await queryRows(
        server,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      )
    : await queryRows(
        server,
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
      )
  return rows.map((r) => String(r.name))
}

/** Every value of every row of `table`, as bytes (text as UTF-8; a tsvector as its text form). */
export async function tableValues(server: TestServer, table: string): Promise<Buffer[]> {
  const rows = await queryRows(server, `SELECT * FROM "${table}"`)
  return rows.flatMap((row) =>
    Object.values(row).map((value) => (Buffer.isBuffer(value) ? value : Buffer.from(String(value)))),
  )
}
