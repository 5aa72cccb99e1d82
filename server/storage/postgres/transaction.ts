/**
 * One transaction on a pooled connection (or one statement as its own, `inStatement`), retried
 * when PostgreSQL says retrying is safe.
 *
 * - Deadlock (40P01) and serialization failure (40001): the transaction was rolled back by the
 *   database, so running it again from the start is what PostgreSQL's documentation asks for.
 * - Anything else, in particular a connection lost mid-flight, rejects: when the COMMIT was sent
 *   and no answer came, nobody knows whether it committed, so the caller must treat the work as
 *   not acknowledged (a room does not broadcast it; the client re-sends its structs, which Yjs
 *   applies idempotently).
 *
 * A connection that failed is destroyed, not returned to the pool. While checked out, a
 * connection's own `error` event (the database going away between two queries) is caught here:
 * the pool only listens on idle ones, and an unheard `error` ends the process.
 */
import type pg from 'pg'
import type { PgClient, PgPool } from './pool.ts'

/** SQLSTATEs after which the whole transaction may simply run again. */
const RETRYABLE = new Set(['40P01', '40001'])

/** Tries of one transaction before its error is the caller's: contention, not a loop. */
export const MAX_TRANSACTION_TRIES = 5

export type Isolation = 'read committed' | 'repeatable read'

export interface TransactionOptions {
  isolation?: Isolation
  readOnly?: boolean
  /**
   * A statement without parameters sent together with BEGIN, in one simple query (one round trip;
   * it runs inside the transaction): an append's pad locks (pad-lock.ts `lockPadsStatement`).
   * Its result is not returned.
   */
  withBegin?: string | null
}

const sqlState = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined

const retryable = (err: unknown): boolean => RETRYABLE.has(sqlState(err) ?? '')

/**
 * One statement as its own transaction (autocommit: one round trip, its COMMIT included; with
 * `synchronous_commit` on, the answer comes once it is durable), retried as `inTransaction` retries.
 * A connection that failed is destroyed by the pool (`pool.query` releases it with the error).
 */
export async function inStatement<R extends pg.QueryResultRow>(
  pool: PgPool,
  text: string,
  values: unknown[],
): Promise<R[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await pool.query<R>(text, values)).rows
    } catch (err) {
      if (!retryable(err) || attempt >= MAX_TRANSACTION_TRIES) throw err
    }
  }
}

export async function inTransaction<T>(
  pool: PgPool,
  work: (client: PgClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const begin = `BEGIN ISOLATION LEVEL ${(options.isolation ?? 'read committed').toUpperCase()}${options.readOnly ? ' READ ONLY' : ''}`
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect()
    let lost: Error | null = null
    const onError = (err: Error) => {
      lost = err
    }
    client.on('error', onError)
    try {
      await client.query(options.withBegin ? `${begin}; ${options.withBegin}` : begin)
      const result = await work(client)
      await client.query('COMMIT')
      client.removeListener('error', onError)
      client.release()
      return result
    } catch (err) {
      const retry = retryable(err) && attempt < MAX_TRANSACTION_TRIES
      if (lost === null) {
        try {
          await client.query('ROLLBACK')
        } catch (rollbackErr) {
          lost = rollbackErr as Error
        }
      }
      client.removeListener('error', onError)
      // A connection in an unknown state (lost, or its ROLLBACK failed) is closed, not reused.
      client.release(lost ?? undefined)
      if (!retry) throw err
    }
  }
}
