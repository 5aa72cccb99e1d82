/**
 * Moves a whole installation between the engines (`summitpad export-data` / `import-data`): every
 * table read from one database and written to the other, row for row with its keys (pads.pk,
 * updates.seq, snapshot and checkpoint ids), which the PostgreSQL schema mirrors column for column
 * (postgres/schema.ts vs db.ts).
 *
 * - Tables in dependency order (an event before its pads, a pad before its rows), each read in
 *   key order in batches of TRANSFER_BATCH_ROWS, so memory holds one batch, not the database.
 * - One transaction per side: the source is read from one snapshot (SQLite: one read transaction
 *   on a connection of its own; PostgreSQL: REPEATABLE READ, READ ONLY), so a server writing
 *   meanwhile changes nothing of what is copied; the target commits all of it or nothing.
 * - The target must be empty: the copy keeps keys, and merging two installations is not a copy.
 * - Counts are compared, table by table, before the target commits.
 * - PostgreSQL's sequences are set past the largest key copied (SQLite's AUTOINCREMENT follows the
 *   keys inserted by itself), so the next pad, row or checkpoint does not collide.
 *
 * Search: SQLite keeps it in an FTS5 table keyed by rowid (= the pad's pk), PostgreSQL in
 * pad_search with a generated tsvector: both hold the indexed title and body, which is what moves.
 */
import Database from 'better-sqlite3'
import type pg from 'pg'
import { migrate } from './db.ts'
import { migratePg } from './postgres/migrate.ts'
import { createPgPool } from './postgres/pool.ts'

/** Rows per read and per INSERT: 500 × 17 columns stays far under PostgreSQL's 65,535 parameters. */
export const TRANSFER_BATCH_ROWS = 500

interface TableSpec {
  name: string
  /** Every column, in the same order on both sides. */
  columns: readonly string[]
  /** The primary key: rows are read in its order, each batch after the last key read. */
  key: readonly string[]
  /** PostgreSQL's sequence behind the key (set past the largest copied), if any. */
  sequenceOf?: string
}

/** In dependency order: every table a row refers to comes before it. */
export const TABLES: readonly TableSpec[] = [
  {
    name: 'events',
    columns: [
      'pk',
      'slug',
      'name',
      'starts_on',
      'ends_on',
      'timezone',
      'description',
      'created_at',
      'updated_at',
    ],
    key: ['pk'],
    sequenceOf: 'pk',
  },
  {
    name: 'pads',
    columns: [
      'pk',
      'id',
      'created_at',
      'updated_at',
      'event',
      'title',
      'kind',
      'track',
      'room',
      'starts_at',
      'ends_at',
      'speakers',
      'links',
      'cancelled',
      'source_uid',
      'closed_at',
      'template',
    ],
    key: ['pk'],
    sequenceOf: 'pk',
  },
  {
    name: 'updates',
    columns: ['seq', 'pad', 'at', 'conn', 'author', 'data'],
    key: ['seq'],
    sequenceOf: 'seq',
  },
  { name: 'snapshots', columns: ['id', 'pad', 'upto', 'at', 'data'], key: ['id'], sequenceOf: 'id' },
  { name: 'event_templates', columns: ['event', 'kind', 'body'], key: ['event', 'kind'] },
  { name: 'checkpoints', columns: ['id', 'pad', 'seq', 'name', 'at'], key: ['id'], sequenceOf: 'id' },
  { name: 'event_links', columns: ['event', 'edit_secret', 'read_secret', 'rotated_at'], key: ['event'] },
  { name: 'writers', columns: ['pad', 'client', 'key_hash'], key: ['pad', 'client'] },
  { name: 'short_links', columns: ['code', 'pad', 'link', 'secret', 'created_at'], key: ['code'] },
  { name: 'pad_series', columns: ['pad', 'pad_title', 'continues', 'continues_title', 'at'], key: ['pad'] },
  { name: 'pad_materials', columns: ['pad', 'url', 'state', 'kind', 'title', 'at'], key: ['pad', 'url'] },
  { name: 'pad_search', columns: ['pad', 'title', 'body'], key: ['pad'] },
]

export type Row = Record<string, unknown>

/** One side of a transfer, inside its one transaction. */
export interface TableSide {
  readonly engine: 'sqlite' | 'postgres'
  /** Up to `limit` rows of `table` after `after` (key values) in key order. */
  read(table: TableSpec, after: readonly unknown[] | null, limit: number): Promise<Row[]>
  count(table: TableSpec): Promise<number>
  insert(table: TableSpec, rows: readonly Row[]): Promise<void>
  /** After every insert: keys drawn from now on come after those copied. */
  afterInserts(): Promise<void>
  commit(): Promise<void>
  /** Rolls back (if still open) and lets go of the connection. */
  close(): Promise<void>
}

/** The target holds data already: nothing was copied. */
export class TargetNotEmpty extends Error {}

export interface TransferReport {
  /** Rows copied per table. */
  tables: Record<string, number>
}

export async function transfer(source: TableSide, target: TableSide): Promise<TransferReport> {
  for (const table of TABLES) {
    const n = await target.count(table)
    if (n > 0)
      throw new TargetNotEmpty(
        `the target ${target.engine} database is not empty (${table.name} has ${n} row${n === 1 ? '' : 's'}): import into a new, empty database`,
      )
  }
  const tables: Record<string, number> = {}
  for (const table of TABLES) {
    let after: unknown[] | null = null
    let copied = 0
    for (;;) {
      const rows = await source.read(table, after, TRANSFER_BATCH_ROWS)
      if (rows.length === 0) break
      await target.insert(table, rows)
      copied += rows.length
      const last = rows.at(-1)!
      after = table.key.map((k) => last[k])
      if (rows.length < TRANSFER_BATCH_ROWS) break
    }
    tables[table.name] = copied
  }
  await target.afterInserts()
  for (const table of TABLES) {
    const [from, to] = [await source.count(table), await target.count(table)]
    if (from !== tables[table.name] || to !== from)
      throw new Error(
        `${table.name}: ${from} rows in the source, ${tables[table.name]} read, ${to} in the target`,
      )
  }
  await target.commit()
  return { tables }
}

// ---------------------------------------------------------------- SQLite

/** `pad_search` is FTS5: its key is the rowid. */
const sqliteColumn = (table: TableSpec, column: string) =>
  table.name === 'pad_search' && column === 'pad' ? 'rowid' : column

function keyAfter(columns: readonly string[], placeholders: readonly string[]): string {
  return columns.length === 1
    ? `${columns[0]} > ${placeholders[0]}`
    : `(${columns.join(', ')}) > (${placeholders.join(', ')})`
}

/**
 * A SQLite database file as one side (close is idempotent, as the PostgreSQL side's). A source is read through a connection of its own inside one
 * read transaction (a server may keep writing through WAL meanwhile); a target is created and
 * migrated if missing, and written in one transaction.
 */
export function sqliteSide(file: string, role: 'source' | 'target'): TableSide {
  const db = new Database(file, role === 'source' ? { readonly: true, fileMustExist: true } : {})
  try {
    if (role === 'target') {
      db.pragma('journal_mode = WAL')
      db.pragma('foreign_keys = ON')
      migrate(db)
    } else {
      const version = db.pragma('user_version', { simple: true }) as number
      if (version === 0) throw new Error(`${file} is not a Summitpad database`)
    }
    db.exec('BEGIN')
  } catch (err) {
    db.close()
    throw err
  }
  let open = true
  let closed = false
  const select = (table: TableSpec) =>
    table.columns
      .map((c) => (sqliteColumn(table, c) === c ? c : `${sqliteColumn(table, c)} AS ${c}`))
      .join(', ')
  return {
    engine: 'sqlite',
    async read(table, after, limit) {
      const key = table.key.map((k) => sqliteColumn(table, k))
      const where = after
        ? `WHERE ${keyAfter(
            key,
            key.map(() => '?'),
          )}`
        : ''
      return db
        .prepare(`SELECT ${select(table)} FROM ${table.name} ${where} ORDER BY ${key.join(', ')} LIMIT ?`)
        .all([...(after ?? []), limit]) as Row[]
    },
    async count(table) {
      return (db.prepare(`SELECT count(*) AS n FROM ${table.name}`).get() as { n: number }).n
    },
    async insert(table, rows) {
      const columns = table.columns.map((c) => sqliteColumn(table, c))
      const insert = db.prepare(
        `INSERT INTO ${table.name} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      )
      for (const row of rows) insert.run(table.columns.map((c) => row[c] ?? null))
    },
    // AUTOINCREMENT keeps the largest seq ever inserted, explicit ones too; rowids follow max().
    async afterInserts() {},
    async commit() {
      db.exec('COMMIT')
      open = false
    },
    async close() {
      if (closed) return
      closed = true
      if (open) db.exec('ROLLBACK')
      open = false
      // A target is one file when done, as a copy or a new data directory expects.
      if (role === 'target') db.pragma('wal_checkpoint(TRUNCATE)')
      db.close()
    },
  }
}

// ---------------------------------------------------------------- PostgreSQL

/** A PostgreSQL database as one side: one connection, one transaction (migrated first as a target). */
export async function pgSide(connectionString: string, role: 'source' | 'target'): Promise<TableSide> {
  const pool = createPgPool({ connectionString, max: 1 })
  let client: pg.PoolClient | null = null
  try {
    if (role === 'target') await migratePg(pool)
    client = await pool.connect()
    await client.query(role === 'source' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN')
  } catch (err) {
    client?.release(true)
    await pool.end()
    throw err
  }
  const c = client
  let open = true
  let closed = false
  return {
    engine: 'postgres',
    async read(table, after, limit) {
      const where = after
        ? `WHERE ${keyAfter(
            table.key,
            table.key.map((_, i) => `$${i + 1}`),
          )}`
        : ''
      const { rows } = await c.query(
        `SELECT ${table.columns.join(', ')} FROM ${table.name} ${where} ORDER BY ${table.key.join(', ')} LIMIT $${(after?.length ?? 0) + 1}`,
        [...(after ?? []), limit],
      )
      return rows as Row[]
    },
    async count(table) {
      const { rows } = await c.query<{ n: number }>(`SELECT count(*) AS n FROM ${table.name}`)
      return Number(rows[0]!.n)
    },
    async insert(table, rows) {
      const width = table.columns.length
      const values = rows.map(
        (_, r) => `(${table.columns.map((_, i) => `$${r * width + i + 1}`).join(', ')})`,
      )
      await c.query(
        `INSERT INTO ${table.name} (${table.columns.join(', ')}) VALUES ${values.join(', ')}`,
        rows.flatMap((row) => table.columns.map((col) => row[col] ?? null)),
      )
    },
    async afterInserts() {
      for (const table of TABLES) {
        if (!table.sequenceOf) continue
        // Past the largest key copied; on an empty table the sequence starts at 1 as new.
        await c.query(
          `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${table.sequenceOf}) FROM ${table.name}), 0) + 1, false)`,
          [table.name, table.sequenceOf],
        )
      }
    },
    async commit() {
      await c.query('COMMIT')
      open = false
    },
    async close() {
      if (closed) return
      closed = true
      try {
        if (open) await c.query('ROLLBACK')
        c.release()
      } catch (err) {
        c.release(err as Error)
      }
      open = false
      await pool.end()
    },
  }
}
