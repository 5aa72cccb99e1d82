/**
 * The SeriesRepo interface (../series-store.ts) on PostgreSQL: SQLite's statements, one each
 * (each atomic by itself). Rows outlive their pads, as on SQLite.
 */
import { SERIES_COLUMNS, type SeriesLink, type SeriesRepo, type SeriesRow, toLink } from '../series-store.ts'
import type { PgPool } from './pool.ts'

/** PostgreSQL's SQLSTATE of a unique violation (here: pad_series_next, one successor per meeting). */
const UNIQUE_VIOLATION = '23505'

export class PgSeriesRepo implements SeriesRepo {
  private readonly pool: PgPool

  constructor(pool: PgPool) {
    this.pool = pool
  }

  private async one(sql: string, pad: string): Promise<SeriesLink | null> {
    const { rows } = await this.pool.query<SeriesRow>(sql, [pad])
    return rows[0] ? toLink(rows[0]) : null
  }

  linkOf(pad: string): Promise<SeriesLink | null> {
    return this.one(`SELECT ${SERIES_COLUMNS} FROM pad_series WHERE pad = $1`, pad)
  }

  nextOf(pad: string): Promise<SeriesLink | null> {
    return this.one(`SELECT ${SERIES_COLUMNS} FROM pad_series WHERE continues = $1`, pad)
  }

  async backFrom(pad: string, max: number): Promise<SeriesLink[]> {
    // One query however long the series; `n` bounds it even if a cycle were ever stored.
    const { rows } = await this.pool.query<SeriesRow>(
      `WITH RECURSIVE back(pad, pad_title, continues, continues_title, at, n) AS (
         SELECT ${SERIES_COLUMNS}, 1 FROM pad_series WHERE pad = $1
         UNION ALL
         SELECT s.pad, s.pad_title, s.continues, s.continues_title, s.at, b.n + 1
         FROM pad_series s JOIN back b ON s.pad = b.continues WHERE b.n < $2
       ) SELECT ${SERIES_COLUMNS} FROM back ORDER BY n`,
      [pad, max],
    )
    return rows.map(toLink)
  }

  async forwardFrom(pad: string, max: number): Promise<SeriesLink[]> {
    const { rows } = await this.pool.query<SeriesRow>(
      `WITH RECURSIVE fwd(pad, pad_title, continues, continues_title, at, n) AS (
         SELECT ${SERIES_COLUMNS}, 1 FROM pad_series WHERE continues = $1
         UNION ALL
         SELECT s.pad, s.pad_title, s.continues, s.continues_title, s.at, f.n + 1
         FROM pad_series s JOIN fwd f ON s.continues = f.pad WHERE f.n < $2
       ) SELECT ${SERIES_COLUMNS} FROM fwd ORDER BY n`,
      [pad, max],
    )
    return rows.map(toLink)
  }

  async link(link: SeriesLink): Promise<'linked' | 'taken'> {
    try {
      await this.pool.query(
        `INSERT INTO pad_series (${SERIES_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (pad) DO UPDATE SET pad_title = excluded.pad_title, continues = excluded.continues,
           continues_title = excluded.continues_title, at = excluded.at`,
        [link.pad, link.padTitle, link.continues, link.continuesTitle, link.at],
      )
      return 'linked'
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return 'taken'
      throw err
    }
  }

  async unlink(pad: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM pad_series WHERE pad = $1', [pad])
    return (rowCount ?? 0) > 0
  }
}
