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
import type {
  AppendedBatch,
  AuthorSummary,
  LoadedLog,
  LogRow,
  LogTail,
  PadLog,
  PadSummary,
} from '../pad-log.ts'
import { NEWEST_KEPT, type SnapshotMeta, thinned } from '../snapshot-policy.ts'
import { fromBytea, toBytea } from './bytes.ts'
import { lockPads, lockPadsStatement, padLockKey } from './pad-lock.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inStatement, inTransaction } from './transaction.ts'

/** Reads of several statements: one consistent view. */
const READ = { isolation: 'repeatable read', readOnly: true } as const

/**
 * Rows this large go in one INSERT each, their bytes a parameter of their own, which the driver
 * sends in binary; smaller ones all in one INSERT of arrays, where bytea travels as hex text (twice
 * the size, parsed on both sides: a 16 MiB row took twice as long that way, while one statement
 * for a whole tick of keystrokes is what keeps commits cheap).
 */
const BINARY_ROW_BYTES = 64 * 1024

/**
 * A pad's head (PadLog.heads) as an expression over the `pads` row in scope: its newest row, or the
 * snapshot covering everything after "forget history"; each an index lookup (pad, seq / upto).
 */
const HEAD_OF_PAD = `greatest(
  coalesce((SELECT max(u.seq) FROM updates u WHERE u.pad = pads.pk), 0),
  coalesce((SELECT max(s.upto) FROM snapshots s WHERE s.pad = pads.pk), 0))`

/**
 * An append in one statement, run once its transaction holds the pads' locks (taken by the
 * statement sent with BEGIN, pad-lock.ts `lockPadsStatement`): BEGIN and the locks, this, COMMIT
 * are three round trips (on a busy host each waits for the database's process to be scheduled;
 * an append used to take six or seven).
 *
 * - `upserted`: the pad rows made or touched ($1–$3, in lock order), with their keys and each
 *   pad's head before this batch (what a room catching up on other servers' rows needs). Read
 *   through this statement's snapshot, taken after the locks are held: a pad's last writer
 *   committed before its lock was released to us (PostgreSQL makes a commit visible before it
 *   releases the locks), so the head is exact. That is why the locks are taken by an earlier
 *   statement: one that waited for them itself would read through a snapshot older than the
 *   commit it waited for (one round trip fewer, and a head that misses rows).
 * - `drawn`: one seq per row from the shared sequence, under the locks, numbered in ascending
 *   order, so the batch's rows ($4–$8, in their order) get increasing seqs (MATERIALIZED: each
 *   `nextval` runs once);
 * - `stored`: the rows whose bytes came here (a large row's are NULL: the caller inserts it with its
 *   bytes as a binary parameter, at the seq and pad returned for it, in the same transaction);
 * - `claimed`: the writer claims ($9–$11; the first claim of an id stands, as SQLite's INSERT OR
 *   IGNORE).
 *
 * The rows reference pad rows inserted by the same statement: foreign keys are checked at its end.
 * Returns each row's seq, pad key and id, and its pad's head before the batch, in batch order.
 */
const APPEND_SQL = `
  WITH upserted AS (
    INSERT INTO pads (id, created_at, updated_at)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
    ON CONFLICT (id) DO UPDATE SET updated_at = greatest(pads.updated_at, excluded.updated_at)
    RETURNING id, pk, ${HEAD_OF_PAD} AS head
  ),
  drawn AS MATERIALIZED (
    SELECT nextval('updates_seq') AS seq FROM generate_series(1, cardinality($4::text[]))
  ),
  numbered AS MATERIALIZED (
    SELECT seq, row_number() OVER (ORDER BY seq) AS i FROM drawn
  ),
  batch AS MATERIALIZED (
    SELECT n.seq, u.pk, u.id, u.head, r.at, r.conn, r.author, r.data
    FROM unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::bytea[])
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
    FROM unnest($9::text[], $10::bigint[], $11::bytea[]) AS c(pad_id, client, key_hash)
    JOIN upserted u ON u.id = c.pad_id
    ON CONFLICT DO NOTHING
  )
  SELECT seq, pk, id, head FROM batch ORDER BY seq`

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

  async appendBatch(rows: readonly LogRow[]): Promise<number[]> {
    return (await this.appendBatchWithHeads(rows)).seqs
  }

  appendBatchWithHeads(rows: readonly LogRow[]): Promise<AppendedBatch> {
    if (rows.length === 0) return Promise.resolve({ seqs: [], headsBefore: new Map() })
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
    return inTransaction(
      this.pool,
      async (client): Promise<AppendedBatch> => {
        const { rows: stored } = await client.query<{ seq: number; pk: number; id: string; head: number }>(
          APPEND_SQL,
          values,
        )
        // In batch order (APPEND_SQL returns the rows by ascending seq).
        for (const [i, row] of batch.entries())
          if (isLarge(row))
            await client.query(
              'INSERT INTO updates (seq, pad, at, conn, author, data) VALUES ($1, $2, $3, $4, $5, $6)',
              [stored[i]!.seq, stored[i]!.pk, row.at, row.conn, row.author, row.data],
            )
        return {
          seqs: stored.map((r) => r.seq),
          headsBefore: new Map(stored.map((r) => [r.id, r.head])),
        }
      },
      { withBegin: lockPadsStatement(ids) },
    )
  }

  rowsAfter(padId: string, afterSeq: number, limit: number): Promise<LogTail | null> {
    // One snapshot for the whole read. Seqs are drawn under the pad's lock, which its writer holds
    // until its commit is visible; so a row with a lower seq than one this snapshot sees was
    // committed before that one and is seen too: the rows returned have no holes. (This needs
    // `updates_seq` to hand out values in time order across sessions: its CACHE must stay 1.)
    return inTransaction(
      this.pool,
      async (client): Promise<LogTail | null> => {
        const pk = await padPk(client, padId)
        if (pk === null) return { rows: [], writers: new Map() }
        const { rows: checked } = await client.query<{ forgotten: boolean }>(
          `SELECT o.oldest > $2 AND NOT EXISTS (SELECT 1 FROM updates WHERE pad = $1 AND seq <= o.oldest) AS forgotten
           FROM (SELECT coalesce(min(upto), 0) AS oldest FROM snapshots WHERE pad = $1) o`,
          [pk, afterSeq],
        )
        if (checked[0]!.forgotten) return null
        const updates = await client.query<{ seq: number; data: Buffer }>(
          'SELECT seq, data FROM updates WHERE pad = $1 AND seq > $2 ORDER BY seq LIMIT $3',
          [pk, afterSeq, limit],
        )
        const writers = new Map<number, WriterHash>()
        if (updates.rows.length > 0) {
          const claimed = await client.query<{ client: number; key_hash: Buffer }>(
            'SELECT client, key_hash FROM writers WHERE pad = $1',
            [pk],
          )
          for (const row of claimed.rows) writers.set(row.client, row.key_hash.toString('hex'))
        }
        return { rows: updates.rows.map((r) => ({ seq: r.seq, data: fromBytea(r.data) })), writers }
      },
      READ,
    )
  }

  async heads(padIds: readonly string[]): Promise<Map<string, number>> {
    if (padIds.length === 0) return new Map()
    const { rows } = await this.pool.query<{ id: string; head: number }>(
      `SELECT id, ${HEAD_OF_PAD} AS head FROM pads WHERE id = ANY($1::text[])`,
      [[...padIds]],
    )
    return new Map(rows.map((r) => [r.id, r.head]))
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
