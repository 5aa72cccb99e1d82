/**
 * The PadLog interface (../pad-log.ts) on PostgreSQL, with SQLite's guarantees (store.ts):
 *
 * - `appendBatch` is one transaction for rows of any pads: every pad's advisory lock, in sorted
 *   order (pad-lock.ts); the pad rows made or touched; seqs drawn from the shared sequence under
 *   those locks, so one pad's seqs follow commit order even with two servers appending to it; the
 *   rows; the writer claims (first claim stands, as SQLite's INSERT OR IGNORE). Deadlocks and
 *   serialization failures are retried whole (transaction.ts); a COMMIT without an answer rejects.
 * - Every other write to a pad (snapshots, forget-history, delete) takes the same lock, so it
 *   reads the pad as the last append left it: a snapshot-if-current cannot slip a rebuilt state
 *   in beside a "forget history" that committed meanwhile.
 * - A pad's load is one statement: one consistent view of its snapshot, rows and claims.
 */
import type { WriterHash } from '../../sync/writer-key.ts'
import type { AuthorSummary, LoadedLog, LogRow, PadLog, PadSummary } from '../pad-log.ts'
import { NEWEST_KEPT, type SnapshotMeta, thinned } from '../snapshot-policy.ts'
import { fromBytea, toBytea } from './bytes.ts'
import { lockKeysSql, lockPads, padLockKey, sortedLockKeys } from './pad-lock.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inStatement, inTransaction } from './transaction.ts'

/**
 * Rows this large go in one INSERT each, their bytes a parameter of their own, which the driver
 * sends in binary; smaller ones all in one INSERT of arrays, where bytea travels as hex text (twice
 * the size, parsed on both sides: a 16 MiB row took twice as long that way, while one statement
 * for a whole tick of keystrokes is what keeps commits cheap).
 */
const BINARY_ROW_BYTES = 64 * 1024

/**
 * A whole append in one statement, so that without a large row it is one round trip, its COMMIT
 * included (on a busy host each round trip waits for the database's process to be scheduled, and
 * an append used to take six or seven):
 *
 * - `locked`: the pads' advisory locks ($1, sorted; pad-lock.ts), one row once all are held;
 * - `upserted`: the pad rows made or touched ($2–$4, in lock order), with their keys;
 * - `drawn`: one seq per row from the shared sequence, numbered in ascending order, so the batch's
 *   rows ($5–$9, in their order) get increasing seqs (MATERIALIZED: each `nextval` runs once);
 * - `stored`: the rows whose bytes came here (a large row's are NULL: the caller inserts it with its
 *   bytes as a binary parameter, at the seq and pad returned for it, in the same transaction);
 * - `claimed`: the writer claims ($10–$12; the first claim of an id stands, as SQLite's INSERT OR
 *   IGNORE).
 *
 * Locks first: `upserted` and `drawn` read `locked`'s one row, which its aggregate yields only
 * after taking the last lock, so no pad row is touched and no seq drawn before every lock is held.
 * Nothing here reads a table through the statement's snapshot (taken before the locks): the
 * upsert and the claims see concurrent commits through their conflict checks, and `nextval` is
 * outside snapshots. The rows reference pad rows inserted by the same statement: foreign keys are
 * checked at its end. Returns each row's seq and pad key, in batch order.
 */
const APPEND_SQL = `
  WITH locked AS MATERIALIZED (${lockKeysSql(1)}),
  upserted AS (
    INSERT INTO pads (id, created_at, updated_at)
    SELECT p.* FROM locked, unnest($2::text[], $3::bigint[], $4::bigint[]) AS p
    ON CONFLICT (id) DO UPDATE SET updated_at = greatest(pads.updated_at, excluded.updated_at)
    RETURNING id, pk
  ),
  drawn AS MATERIALIZED (
    SELECT nextval('updates_seq') AS seq
    FROM locked, generate_series(1, cardinality($5::text[]) + 0 * locked.locks)
  ),
  numbered AS MATERIALIZED (
    SELECT seq, row_number() OVER (ORDER BY seq) AS i FROM drawn
  ),
  batch AS MATERIALIZED (
    SELECT n.seq, u.pk, r.at, r.conn, r.author, r.data
    FROM unnest($5::text[], $6::bigint[], $7::text[], $8::text[], $9::bytea[])
      WITH ORDINALITY AS r(pad_id, at, conn, author, data, i)
    JOIN numbered n ON n.i = r.i
    JOIN upserted u ON u.id = r.pad_id
  ),
  stored AS (
    INSERT INTO updates (seq, pad, at, conn, author, data)
    SELECT seq, pk, at, conn, author, data FROM batch WHERE data IS NOT NULL
  ),
  claimed AS (
    INSERT INTO writers (pad, client, key_hash)
    SELECT u.pk, c.client, c.key_hash
    FROM unnest($10::text[], $11::bigint[], $12::bytea[]) AS c(pad_id, client, key_hash)
    JOIN upserted u ON u.id = c.pad_id
    ON CONFLICT DO NOTHING
  )
  SELECT seq, pk FROM batch ORDER BY seq`

async function padPk(client: PgClient, padId: string): Promise<number | null> {
  const { rows } = await client.query<{ pk: number }>('SELECT pk FROM pads WHERE id = $1', [padId])
  return rows[0]?.pk ?? null
}

/** What each row of LOAD_SQL is. */
const LoadPart = { Pad: 0, Snapshot: 1, Update: 2, Writer: 3 } as const

/**
 * A pad's newest snapshot, the rows after it and its writer claims in one statement: one round
 * trip (a pad opens after it: every round trip is a wait for the database's process on a busy host)
 * and one snapshot of the database (one statement sees one, as REPEATABLE READ would across
 * several). Rows by part, then by number (`n`: the pad's key, the snapshot's `upto`, the seq, the
 * client id). No rows: no such pad.
 */
const LOAD_SQL = `
  WITH pad AS (SELECT pk FROM pads WHERE id = $1),
  snap AS MATERIALIZED (
    SELECT s.upto, s.data FROM snapshots s JOIN pad ON s.pad = pad.pk ORDER BY s.upto DESC, s.id DESC LIMIT 1
  )
  SELECT ${LoadPart.Pad} AS kind, pk AS n, NULL::bytea AS data FROM pad
  UNION ALL
  SELECT ${LoadPart.Snapshot}, upto, data FROM snap
  UNION ALL
  SELECT ${LoadPart.Update}, u.seq, u.data FROM updates u JOIN pad ON u.pad = pad.pk
  WHERE u.seq > coalesce((SELECT upto FROM snap), 0)
  UNION ALL
  SELECT ${LoadPart.Writer}, w.client, w.key_hash FROM writers w JOIN pad ON w.pad = pad.pk
  ORDER BY kind, n`

export class PgPadLog implements PadLog {
  private readonly pool: PgPool

  constructor(pool: PgPool) {
    this.pool = pool
  }

  appendBatch(rows: readonly LogRow[]): Promise<number[]> {
    if (rows.length === 0) return Promise.resolve([])
    // Taken now, as they are at the call: the caller may change its buffers after.
    const batch = rows.map((row) => ({
      ...row,
      data: toBytea(row.data),
      claims: row.claims && [...row.claims],
    }))
    // One row per pad, in lock order (row locks on pads are then taken in one order too).
    const pads = new Map<string, { createdAt: number; updatedAt: number }>()
    for (const row of batch) {
      const pad = pads.get(row.padId)
      if (pad) pad.updatedAt = Math.max(pad.updatedAt, row.at)
      else pads.set(row.padId, { createdAt: row.at, updatedAt: row.at })
    }
    const ids = [...pads.keys()].sort((a, b) => {
      const ka = padLockKey(a)
      const kb = padLockKey(b)
      return ka < kb ? -1 : ka > kb ? 1 : 0
    })
    const claims = batch.flatMap((row) =>
      row.claims && row.writer
        ? row.claims.map((client) => ({ padId: row.padId, client, key: Buffer.from(row.writer!, 'hex') }))
        : [],
    )
    const isLarge = (row: { data: Buffer }) => row.data.byteLength >= BINARY_ROW_BYTES
    const values = [
      sortedLockKeys(ids),
      ids,
      ids.map((id) => pads.get(id)!.createdAt),
      ids.map((id) => pads.get(id)!.updatedAt),
      batch.map((row) => row.padId),
      batch.map((row) => row.at),
      batch.map((row) => row.conn),
      batch.map((row) => row.author),
      batch.map((row) => (isLarge(row) ? null : row.data)),
      claims.map((c) => c.padId),
      claims.map((c) => c.client),
      claims.map((c) => c.key),
    ]
    const seqsOf = (stored: { seq: number }[]) => stored.map((r) => r.seq)
    // The usual append (a tick's keystrokes): one statement, its own transaction.
    if (!batch.some(isLarge))
      return inStatement<{ seq: number; pk: number }>(this.pool, APPEND_SQL, values).then(seqsOf)
    return inTransaction(this.pool, async (client) => {
      const { rows: stored } = await client.query<{ seq: number; pk: number }>(APPEND_SQL, values)
      // In batch order (APPEND_SQL returns the rows by ascending seq).
      for (const [i, row] of batch.entries())
        if (isLarge(row))
          await client.query(
            'INSERT INTO updates (seq, pad, at, conn, author, data) VALUES ($1, $2, $3, $4, $5, $6)',
            [stored[i]!.seq, stored[i]!.pk, row.at, row.conn, row.author, row.data],
          )
      return seqsOf(stored)
    })
  }

  async load(padId: string): Promise<LoadedLog | null> {
    const rows = await inStatement<{ kind: number; n: number; data: Buffer | null }>(this.pool, LOAD_SQL, [
      padId,
    ])
    if (rows[0]?.kind !== LoadPart.Pad) return null
    let snapshot: Uint8Array | null = null
    let snapshotUpto = 0
    const updates: { seq: number; data: Uint8Array }[] = []
    const writers = new Map<number, WriterHash>()
    for (const row of rows) {
      if (row.kind === LoadPart.Snapshot) {
        snapshot = fromBytea(row.data!)
        snapshotUpto = row.n
      } else if (row.kind === LoadPart.Update) updates.push({ seq: row.n, data: fromBytea(row.data!) })
      else if (row.kind === LoadPart.Writer) writers.set(row.n, row.data!.toString('hex'))
    }
    return { snapshot, snapshotUpto, updates, writers }
  }

  writeSnapshot(padId: string, upto: number, state: Uint8Array, at = Date.now()): Promise<void> {
    const data = toBytea(state)
    return inTransaction(this.pool, async (client) => {
      await lockPads(client, [padId])
      const pk = await padPk(client, padId)
      if (pk === null) throw new Error(`cannot snapshot pad "${padId}": it has no stored updates`)
      await client.query('INSERT INTO snapshots (pad, upto, at, data) VALUES ($1, $2, $3, $4)', [
        pk,
        upto,
        at,
        data,
      ])
      await thin(client, pk, at)
    })
  }

  snapshotIfCurrent(padId: string, upto: number, state: Uint8Array, at = Date.now()): Promise<boolean> {
    const data = toBytea(state)
    return inTransaction(this.pool, async (client) => {
      await lockPads(client, [padId])
      // Only while row `upto` is still this pad's (not forgotten, not a deleted pad's) and no
      // snapshot covers it yet.
      const stored = await client.query<{ pad: number }>(
        `INSERT INTO snapshots (pad, upto, at, data)
         SELECT p.pk, $2, $3, $4 FROM pads p
         WHERE p.id = $1
           AND EXISTS (SELECT 1 FROM updates u WHERE u.pad = p.pk AND u.seq = $2)
           AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.pad = p.pk AND s.upto >= $2)
         RETURNING pad`,
        [padId, upto, at, data],
      )
      const pk = stored.rows[0]?.pad
      if (pk === undefined) return false
      await thin(client, pk, at)
      return true
    })
  }

  async forgetHistory(padId: string, state: Uint8Array, at = Date.now()): Promise<void> {
    const done = await this.replaceHistory(padId, state, at, null)
    if (done === null) throw new Error(`pad "${padId}" has no stored data`)
  }

  async forgetHistoryIfCurrent(
    padId: string,
    upto: number,
    state: Uint8Array,
    at = Date.now(),
  ): Promise<boolean> {
    return (await this.replaceHistory(padId, state, at, upto)) === true
  }

  /**
   * The pad's log and snapshots replaced by `state`, covering every revision so far, under the
   * pad's lock. `ifUpto`: only while that is still the newest revision (null: always). Resolves
   * with null when the pad has no stored data, else whether it was done.
   */
  private replaceHistory(padId: string, state: Uint8Array, at: number, ifUpto: number | null) {
    const data = toBytea(state)
    return inTransaction(this.pool, async (client): Promise<boolean | null> => {
      await lockPads(client, [padId])
      const pk = await padPk(client, padId)
      if (pk === null) return null
      const { rows } = await client.query<{ covered: number }>(
        `SELECT greatest(coalesce((SELECT max(seq) FROM updates WHERE pad = $1), 0),
                         coalesce((SELECT max(upto) FROM snapshots WHERE pad = $1), 0)) AS covered`,
        [pk],
      )
      const covered = rows[0]!.covered
      if (ifUpto !== null && covered !== ifUpto) return false
      await client.query('DELETE FROM updates WHERE pad = $1', [pk])
      await client.query('DELETE FROM snapshots WHERE pad = $1', [pk])
      await client.query('INSERT INTO snapshots (pad, upto, at, data) VALUES ($1, $2, $3, $4)', [
        pk,
        covered,
        at,
        data,
      ])
      return true
    })
  }

  async lastSeq(padId: string): Promise<number> {
    const { rows } = await this.pool.query<{ seq: number | null }>(
      'SELECT max(u.seq) AS seq FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = $1',
      [padId],
    )
    return rows[0]?.seq ?? 0
  }

  async authors(padId: string): Promise<AuthorSummary[]> {
    const { rows } = await this.pool.query<AuthorSummary>(
      `SELECT u.author AS name, count(*) AS edits, min(u.at) AS "firstAt", max(u.at) AS "lastAt"
       FROM updates u JOIN pads p ON p.pk = u.pad
       WHERE p.id = $1 AND u.conn <> 'server' AND u.conn NOT LIKE 'restore:%'
       GROUP BY u.author ORDER BY min(u.at)`,
      [padId],
    )
    return rows
  }

  async exists(padId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM pads WHERE id = $1', [padId])
    return (rowCount ?? 0) > 0
  }

  delete(padId: string): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await lockPads(client, [padId])
      const { rowCount } = await client.query('DELETE FROM pads WHERE id = $1', [padId])
      return (rowCount ?? 0) > 0
    })
  }

  async list(): Promise<PadSummary[]> {
    const { rows } = await this.pool.query<PadSummary>(
      `SELECT p.id, p.created_at AS "createdAt", p.updated_at AS "updatedAt",
              (SELECT count(*) FROM updates u WHERE u.pad = p.pk) AS "updateCount",
              (SELECT coalesce(sum(length(u.data)), 0) FROM updates u WHERE u.pad = p.pk)
                + (SELECT coalesce(sum(length(s.data)), 0) FROM snapshots s WHERE s.pad = p.pk) AS bytes
       FROM pads p ORDER BY p.updated_at DESC`,
    )
    return rows
  }
}

/** Drops the snapshots snapshot-policy.ts does not keep (the log still covers their revisions). */
async function thin(client: PgClient, pk: number, now: number): Promise<void> {
  const snapshots = await client.query<SnapshotMeta>('SELECT id, upto, at FROM snapshots WHERE pad = $1', [
    pk,
  ])
  if (snapshots.rows.length <= NEWEST_KEPT + 1) return
  const checkpoints = await client.query<{ seq: number }>('SELECT seq FROM checkpoints WHERE pad = $1', [pk])
  const doomed = thinned(
    snapshots.rows,
    checkpoints.rows.map((c) => c.seq),
    now,
  )
  if (doomed.length > 0) await client.query('DELETE FROM snapshots WHERE id = ANY($1::bigint[])', [doomed])
}
