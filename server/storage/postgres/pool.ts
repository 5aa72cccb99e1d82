/**
 * The PostgreSQL connection pool (node-postgres). Two things every pool of the server must have:
 *
 * - an `error` handler: an idle pooled connection that the database drops (a restart, a failover,
 *   an idle timeout) emits `error`, and an unhandled `error` event ends the process. The pool
 *   discards that connection itself; the next query opens a new one.
 * - `synchronous_commit = on` for every session, whatever the server's default: an edit is
 *   acknowledged (broadcast, "Saved") only once its COMMIT is durable.
 *
 * bigint columns (seqs, times in ms, counts) come back as JavaScript numbers: every one of them
 * stays far below 2^53, and the interfaces speak numbers.
 */
import pg from 'pg'

/** PostgreSQL's type oid of int8 (bigint, count(*), sum of int). */
const INT8_OID = 20

/** Most connections one server holds: appends are one at a time per server, reads come in bursts. */
export const POOL_MAX_CONNECTIONS = 10

/** A connection attempt that takes longer fails the operation instead of hanging a room. */
export const CONNECT_TIMEOUT_MS = 10_000

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value)
    return pg.types.getTypeParser(oid, format)
  },
}

export interface PgPoolOptions {
  /** postgres://user@host:port/database */
  connectionString: string
  max?: number
  /** Told about each idle connection the pool lost (the pool has already dropped it). */
  onIdleError?: (err: Error) => void
  /** Extra session settings (`-c name=value`), e.g. a search_path. */
  sessionOptions?: string
}

export function createPgPool(options: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? POOL_MAX_CONNECTIONS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types,
    options: ['-c synchronous_commit=on', options.sessionOptions ?? ''].join(' ').trim(),
  })
  pool.on('error', (err) => options.onIdleError?.(err))
  return pool
}

export type PgPool = pg.Pool
export type PgClient = pg.PoolClient
