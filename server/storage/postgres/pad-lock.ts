/**
 * Per-pad advisory locks: what makes one pad's rows numbered in commit order when several servers
 * append to it at once. A seq drawn from the shared sequence is not commit-ordered by itself (a
 * transaction can draw 10, another 11 and commit first); drawn while holding the pad's lock,
 * which only the COMMIT releases, the next writer of that pad draws after this one committed.
 *
 * Transaction-scoped (`pg_advisory_xact_lock`) only: a session lock would stay on the pooled
 * connection after an error. Several pads are locked in ascending key order, so two batches
 * sharing pads never wait for each other in a cycle.
 */
import { createHash } from 'node:crypto'
import type { PgClient } from './pool.ts'

/**
 * A pad id's lock key: 64 bits of its SHA-256, as a decimal string (the bigint PostgreSQL takes).
 * Two pads sharing a key only wait for each other now and then; nothing is wrong then.
 */
export function padLockKey(padId: string): bigint {
  return createHash('sha256').update(`pad:${padId}`).digest().readBigInt64BE(0)
}

/** The lock keys of `padIds` (any order, repeats allowed), distinct, ascending, as the strings a bigint[] parameter takes. */
export function sortedLockKeys(padIds: Iterable<string>): string[] {
  return [...new Set([...padIds].map(padLockKey))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String)
}

/**
 * The SQL that takes the locks of the keys in parameter `$n` (`sortedLockKeys`) in their order and
 * yields one row once it holds them all: a function scan of unnest yields the array in order, and
 * the aggregate takes each lock as its row arrives and answers only after the last one.
 */
export const lockKeysSql = (n: number): string =>
  `SELECT count(pg_advisory_xact_lock(k)) AS locks FROM unnest($${n}::bigint[]) AS k`

/** Takes the locks of `padIds` (any order, repeats allowed) in ascending key order, in one query. */
export async function lockPads(client: PgClient, padIds: Iterable<string>): Promise<void> {
  const keys = sortedLockKeys(padIds)
  if (keys.length === 0) return
  await client.query(lockKeysSql(1), [keys])
}

/**
 * The same locks as one statement without parameters, sent in the same round trip as BEGIN
 * (transaction.ts `withBegin`): an append then holds its pads' locks after one round trip, and its
 * next statement reads the pads as their last writers left them (see pad-log.ts APPEND_SQL). The
 * keys are written into the text, which is safe: they are integers computed here, never outside text.
 * Null for no pads.
 */
export function lockPadsStatement(padIds: Iterable<string>): string | null {
  const keys = sortedLockKeys(padIds)
  if (keys.length === 0) return null
  return `SELECT count(pg_advisory_xact_lock(k)) FROM unnest('{${keys.join(',')}}'::bigint[]) AS k`
}
