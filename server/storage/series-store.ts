/**
 * Which meeting continues which (migration 10), by pad id. Plain values in and out, every method
 * a Promise (the storage interfaces do not assume SQLite). Rows outlive their pads on purpose: a
 * walk along the series passes a deleted meeting by its row and names it by the title kept there.
 */
import type { Db } from './db.ts'

export interface SeriesLink {
  /** The later meeting. */
  pad: string
  /** Its title when linked (names it once it is gone). */
  padTitle: string | null
  /** The meeting it continues. */
  continues: string
  continuesTitle: string | null
  /** When the link was made, UTC ms. */
  at: number
}

/** A pad_series row, as both engines return it. */
export interface SeriesRow {
  pad: string
  pad_title: string | null
  continues: string
  continues_title: string | null
  at: number
}

export const toLink = (r: SeriesRow): SeriesLink => ({
  pad: r.pad,
  padTitle: r.pad_title,
  continues: r.continues,
  continuesTitle: r.continues_title,
  at: r.at,
})

export const SERIES_COLUMNS = 'pad, pad_title, continues, continues_title, at'

export interface SeriesRepo {
  /** What `pad` continues, or null. */
  linkOf(pad: string): Promise<SeriesLink | null>
  /** The meeting that continues `pad`, or null. */
  nextOf(pad: string): Promise<SeriesLink | null>
  /** Links from `pad` backwards (what it continues, what that continues...), nearest first, at most `max`. */
  backFrom(pad: string, max: number): Promise<SeriesLink[]>
  /** Links after `pad` (what continues it, ...), nearest first, at most `max`. */
  forwardFrom(pad: string, max: number): Promise<SeriesLink[]>
  /**
   * Records (or replaces) what `link.pad` continues, atomically. 'taken': another meeting already
   * continues `link.continues` (a meeting is continued by at most one; nothing written).
   */
  link(link: SeriesLink): Promise<'linked' | 'taken'>
  /** Removes what `pad` continues; whether there was a link. */
  unlink(pad: string): Promise<boolean>
}

/** SeriesRepo on SQLite (table pad_series). */
export class SqliteSeriesRepo implements SeriesRepo {
  private readonly s

  constructor(db: Db) {
    this.s = {
      linkOf: db.prepare<[string], SeriesRow>(`SELECT ${SERIES_COLUMNS} FROM pad_series WHERE pad = ?`),
      nextOf: db.prepare<[string], SeriesRow>(`SELECT ${SERIES_COLUMNS} FROM pad_series WHERE continues = ?`),
      // The rows from `pad` backwards (pad, what it continues, what that continues, ...): one
      // query however long the series; `n` bounds it even if a cycle were ever stored.
      back: db.prepare<[string, number], SeriesRow>(
        `WITH RECURSIVE back(pad, pad_title, continues, continues_title, at, n) AS (
           SELECT ${SERIES_COLUMNS}, 1 FROM pad_series WHERE pad = ?
           UNION ALL
           SELECT s.pad, s.pad_title, s.continues, s.continues_title, s.at, b.n + 1
           FROM pad_series s JOIN back b ON s.pad = b.continues WHERE b.n < ?
         ) SELECT ${SERIES_COLUMNS} FROM back ORDER BY n`,
      ),
      forward: db.prepare<[string, number], SeriesRow>(
        `WITH RECURSIVE fwd(pad, pad_title, continues, continues_title, at, n) AS (
           SELECT ${SERIES_COLUMNS}, 1 FROM pad_series WHERE continues = ?
           UNION ALL
           SELECT s.pad, s.pad_title, s.continues, s.continues_title, s.at, f.n + 1
           FROM pad_series s JOIN fwd f ON s.continues = f.pad WHERE f.n < ?
         ) SELECT ${SERIES_COLUMNS} FROM fwd ORDER BY n`,
      ),
      upsert: db.prepare<[string, string | null, string, string | null, number]>(
        `INSERT INTO pad_series (${SERIES_COLUMNS}) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(pad) DO UPDATE SET pad_title = excluded.pad_title, continues = excluded.continues,
           continues_title = excluded.continues_title, at = excluded.at`,
      ),
      unlink: db.prepare<[string]>('DELETE FROM pad_series WHERE pad = ?'),
    }
  }

  /** What `pad` continues, or null. */
  async linkOf(pad: string): Promise<SeriesLink | null> {
    const row = this.s.linkOf.get(pad)
    return row ? toLink(row) : null
  }

  /** The meeting that continues `pad`, or null. */
  async nextOf(pad: string): Promise<SeriesLink | null> {
    const row = this.s.nextOf.get(pad)
    return row ? toLink(row) : null
  }

  /** Links from `pad` backwards, nearest first, at most `max`. */
  async backFrom(pad: string, max: number): Promise<SeriesLink[]> {
    return this.s.back.all(pad, max).map(toLink)
  }

  /** Links after `pad`, nearest first, at most `max`. */
  async forwardFrom(pad: string, max: number): Promise<SeriesLink[]> {
    return this.s.forward.all(pad, max).map(toLink)
  }

  /**
   * Records (or replaces) what `link.pad` continues. 'taken': another meeting already continues
   * `link.continues` (nothing written).
   */
  async link(link: SeriesLink): Promise<'linked' | 'taken'> {
    try {
      this.s.upsert.run(link.pad, link.padTitle, link.continues, link.continuesTitle, link.at)
      return 'linked'
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return 'taken'
      throw err
    }
  }

  async unlink(pad: string): Promise<boolean> {
    return this.s.unlink.run(pad).changes > 0
  }
}
