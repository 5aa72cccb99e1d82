/**
 * The HistoryLog interface (../history-log.ts) on PostgreSQL: SQLite's queries, one statement
 * each where SQLite used one, and one REPEATABLE READ transaction where it read several (a
 * revision's snapshot and rows, the bounds), so each answer is one consistent view. Writes to a
 * pad's history (a checkpoint) take the pad's advisory lock, as appends do (pad-lock.ts).
 */
import type { HistoryLog, HistoryRow, StoredCheckpoint } from '../history-log.ts'
import type { StoredPad } from '../pad-log.ts'
import { fromBytea } from './bytes.ts'
import { lockPads } from './pad-lock.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

const READ = { isolation: 'repeatable read', readOnly: true } as const

/** The pad's oldest and newest revision: after "forget history" the oldest is its snapshot's. */
async function boundsOf(client: PgClient, padId: string): Promise<{ first: number; last: number }> {
  const { rows } = await client.query<{
    first_row: number | null
    last_row: number | null
    oldest: number | null
  }>(
    `SELECT (SELECT min(seq) FROM updates WHERE pad = p.pk) AS first_row,
            (SELECT max(seq) FROM updates WHERE pad = p.pk) AS last_row,
            (SELECT min(upto) FROM snapshots WHERE pad = p.pk) AS oldest
     FROM pads p WHERE p.id = $1`,
    [padId],
  )
  const firstRow = rows[0]?.first_row ?? null
  const lastRow = rows[0]?.last_row ?? null
  const oldest = rows[0]?.oldest ?? null
  const first = oldest !== null && (firstRow === null || oldest < firstRow) ? oldest : (firstRow ?? 0)
  return { first, last: Math.max(lastRow ?? 0, oldest ?? 0) }
}

export class PgHistoryLog implements HistoryLog {
  private readonly pool: PgPool

  constructor(pool: PgPool) {
    this.pool = pool
  }

  async padState(padId: string): Promise<{ closedAt: number | null } | null> {
    const { rows } = await this.pool.query<{ closed_at: number | null }>(
      'SELECT closed_at FROM pads WHERE id = $1',
      [padId],
    )
    return rows[0] ? { closedAt: rows[0].closed_at } : null
  }

  async rows(padId: string): Promise<HistoryRow[]> {
    const { rows } = await this.pool.query<HistoryRow>(
      `SELECT u.seq, u.at, u.conn, u.author, length(u.data) AS bytes
       FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = $1 ORDER BY u.seq`,
      [padId],
    )
    return rows
  }

  async rowTime(padId: string, seq: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ at: number }>(
      'SELECT u.at FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = $1 AND u.seq = $2',
      [padId, seq],
    )
    return rows[0]?.at ?? null
  }

  async seqAtTime(padId: string, ms: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ seq: number | null }>(
      'SELECT max(u.seq) AS seq FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = $1 AND u.at <= $2',
      [padId, ms],
    )
    return rows[0]?.seq ?? null
  }

  async neighbours(padId: string, seq: number): Promise<{ prev: number | null; next: number | null }> {
    // One statement: both answers from the same view of the log.
    const { rows } = await this.pool.query<{ prev: number | null; next: number | null }>(
      `SELECT (SELECT max(u.seq) FROM updates u WHERE u.pad = p.pk AND u.seq < $2) AS prev,
              (SELECT min(u.seq) FROM updates u WHERE u.pad = p.pk AND u.seq > $2) AS next
       FROM pads p WHERE p.id = $1`,
      [padId, seq],
    )
    return { prev: rows[0]?.prev ?? null, next: rows[0]?.next ?? null }
  }

  async creditsBetween(
    padId: string,
    after: number,
    upto: number,
  ): Promise<{ conn: string; author: string | null }[]> {
    const { rows } = await this.pool.query<{ conn: string; author: string | null }>(
      `SELECT u.conn, u.author FROM updates u JOIN pads p ON p.pk = u.pad
       WHERE p.id = $1 AND u.seq > $2 AND u.seq <= $3 ORDER BY u.seq`,
      [padId, after, upto],
    )
    return rows
  }

  bounds(padId: string): Promise<{ first: number; last: number }> {
    return inTransaction(this.pool, (client) => boundsOf(client, padId), READ)
  }

  stateAt(padId: string, seq: number): Promise<StoredPad> {
    return inTransaction(
      this.pool,
      async (client): Promise<StoredPad> => {
        const snapshot = (
          await client.query<{ upto: number; data: Buffer }>(
            `SELECT s.upto, s.data FROM snapshots s JOIN pads p ON p.pk = s.pad
             WHERE p.id = $1 AND s.upto <= $2 ORDER BY s.upto DESC, s.id DESC LIMIT 1`,
            [padId, seq],
          )
        ).rows[0]
        const upto = snapshot?.upto ?? 0
        const updates = await client.query<{ seq: number; data: Buffer }>(
          `SELECT u.seq, u.data FROM updates u JOIN pads p ON p.pk = u.pad
           WHERE p.id = $1 AND u.seq > $2 AND u.seq <= $3 ORDER BY u.seq`,
          [padId, upto, seq],
        )
        return {
          snapshot: snapshot ? fromBytea(snapshot.data) : null,
          snapshotUpto: upto,
          updates: updates.rows.map((r) => ({ seq: r.seq, data: fromBytea(r.data) })),
        }
      },
      READ,
    )
  }

  async checkpoints(padId: string): Promise<StoredCheckpoint[]> {
    const { rows } = await this.pool.query<StoredCheckpoint>(
      `SELECT c.seq, c.name, c.at FROM checkpoints c JOIN pads p ON p.pk = c.pad
       WHERE p.id = $1 ORDER BY c.seq, c.id`,
      [padId],
    )
    return rows
  }

  addCheckpoint(padId: string, name: string, at: number): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      // Under the pad's lock: the revision named is the newest committed, and stays the newest
      // until this commits.
      await lockPads(client, [padId])
      const pk = (await client.query<{ pk: number }>('SELECT pk FROM pads WHERE id = $1', [padId])).rows[0]
        ?.pk
      if (pk === undefined) throw new Error(`pad "${padId}" has no stored data`)
      const seq = (await boundsOf(client, padId)).last
      await client.query('INSERT INTO checkpoints (pad, seq, name, at) VALUES ($1, $2, $3, $4)', [
        pk,
        seq,
        name,
        at,
      ])
      return seq
    })
  }

  async setClosed(padId: string, at: number | null): Promise<void> {
    await this.pool.query('UPDATE pads SET closed_at = $1 WHERE id = $2', [at, padId])
  }
}
