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
 * - Reads of several statements run in one REPEATABLE READ transaction: one consistent view.
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
import { lockPads, padLockKey } from './pad-lock.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

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

async function padPk(client: PgClient, padId: string): Promise<number | null> {
  const { rows } = await client.query<{ pk: number }>('SELECT pk FROM pads WHERE id = $1', [padId])
  return rows[0]?.pk ?? null
}

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
    return inTransaction(this.pool, async (client) => {
      await lockPads(
        client,
        batch.map((row) => row.padId),
      )
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
      // Each pad's head is read by this statement, under the locks: a READ COMMITTED statement sees
      // every transaction committed before it starts, and the pad's last writer committed before
      // its lock was released to us (PostgreSQL makes a commit visible before releasing its locks).
      const upserted = await client.query<{ id: string; pk: number; head: number }>(
        `INSERT INTO pads (id, created_at, updated_at)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
         ON CONFLICT (id) DO UPDATE SET updated_at = greatest(pads.updated_at, excluded.updated_at)
         RETURNING id, pk, ${HEAD_OF_PAD} AS head`,
        [ids, ids.map((id) => pads.get(id)!.createdAt), ids.map((id) => pads.get(id)!.updatedAt)],
      )
      const pkOf = new Map(upserted.rows.map((r) => [r.id, r.pk]))
      // Drawn under the locks; ascending, so the batch's rows get increasing seqs in their order.
      const drawn = await client.query<{ seq: number }>(
        "SELECT nextval('updates_seq') AS seq FROM generate_series(1, $1::int)",
        [batch.length],
      )
      const seqs = drawn.rows.map((r) => r.seq).sort((a, b) => a - b)
      const rowsOf = batch.map((row, i) => ({ ...row, seq: seqs[i]!, pk: pkOf.get(row.padId)! }))
      const small = rowsOf.filter((row) => row.data.byteLength < BINARY_ROW_BYTES)
      if (small.length > 0)
        await client.query(
          `INSERT INTO updates (seq, pad, at, conn, author, data)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])`,
          [
            small.map((row) => row.seq),
            small.map((row) => row.pk),
            small.map((row) => row.at),
            small.map((row) => row.conn),
            small.map((row) => row.author),
            small.map((row) => row.data),
          ],
        )
      for (const row of rowsOf)
        if (row.data.byteLength >= BINARY_ROW_BYTES)
          await client.query(
            'INSERT INTO updates (seq, pad, at, conn, author, data) VALUES ($1, $2, $3, $4, $5, $6)',
            [row.seq, row.pk, row.at, row.conn, row.author, row.data],
          )
      const claims = batch.flatMap((row) =>
        row.claims && row.writer
          ? row.claims.map((client) => ({
              pad: pkOf.get(row.padId)!,
              client,
              key: Buffer.from(row.writer!, 'hex'),
            }))
          : [],
      )
      if (claims.length > 0)
        // The first claim of an id stands: a later one (or another server's) changes nothing.
        await client.query(
          `INSERT INTO writers (pad, client, key_hash)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING`,
          [claims.map((c) => c.pad), claims.map((c) => c.client), claims.map((c) => c.key)],
        )
      return { seqs, headsBefore: new Map(upserted.rows.map((r) => [r.id, r.head])) }
    })
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

  load(padId: string): Promise<LoadedLog | null> {
    return inTransaction(
      this.pool,
      async (client): Promise<LoadedLog | null> => {
        const pk = await padPk(client, padId)
        if (pk === null) return null
        const snapshot = (
          await client.query<{ upto: number; data: Buffer }>(
            'SELECT upto, data FROM snapshots WHERE pad = $1 ORDER BY upto DESC, id DESC LIMIT 1',
            [pk],
          )
        ).rows[0]
        const upto = snapshot?.upto ?? 0
        const updates = await client.query<{ seq: number; data: Buffer }>(
          'SELECT seq, data FROM updates WHERE pad = $1 AND seq > $2 ORDER BY seq',
          [pk, upto],
        )
        const claimed = await client.query<{ client: number; key_hash: Buffer }>(
          'SELECT client, key_hash FROM writers WHERE pad = $1',
          [pk],
        )
        const writers = new Map<number, WriterHash>()
        for (const row of claimed.rows) writers.set(row.client, row.key_hash.toString('hex'))
        return {
          snapshot: snapshot ? fromBytea(snapshot.data) : null,
          snapshotUpto: upto,
          updates: updates.rows.map((r) => ({ seq: r.seq, data: fromBytea(r.data) })),
          writers,
        }
      },
      READ,
    )
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
