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

/**
 * A query with no answer after this long rejects (its connection is then dropped): a network
 * that hangs without resetting would otherwise hold the server's one append in flight, and every
 * room's edits behind it, for ever. Generous: a 16 MiB row or a 50,000-row load takes seconds.
 */
export const QUERY_TIMEOUT_MS = 30_000

/**
 * The database ends a session left inside a transaction this long (a server that vanished
 * mid-append): its pad locks would otherwise stall the other servers' appends to those pads until
 * TCP noticed, hours later. Our transactions never wait on anything but their own queries.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000

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
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    types,
    options: [
      '-c synchronous_commit=on',
      `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`,
      options.sessionOptions ?? '',
    ]
      .join(' ')
      .trim(),
  })
  pool.on('error', (err) => options.onIdleError?.(err))
  return pool
}

export type PgPool = pg.Pool
export type PgClient = pg.PoolClient
