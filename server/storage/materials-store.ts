/**
 * Session materials added or removed by hand (migration 11), by pad id. Plain values in and out,
 * every method a Promise (the storage interfaces do not assume SQLite).
 */
import type { MaterialKind } from '../meetings/model.ts'
import type { Db } from './db.ts'

export interface HandMaterial {
  url: string
  /** 'added': a material of its own; 'removed': hides the schedule's link of this address. */
  state: 'added' | 'removed'
  kind: MaterialKind
  title: string | null
  /** UTC ms. */
  at: number
}

/** A pad_materials row with its pad's id, as both engines return it. */
export interface MaterialRow {
  pad_id: string
  url: string
  state: 'added' | 'removed'
  kind: string
  title: string | null
  at: number
}

export const toMaterial = (r: MaterialRow): HandMaterial => ({
  url: r.url,
  state: r.state,
  kind: r.kind as MaterialKind,
  title: r.title,
  at: r.at,
})

export interface MaterialsRepo {
  /** The pad's rows, oldest first. */
  ofPad(padId: string): Promise<HandMaterial[]>
  /** Every pad's rows in one event, by pad id (the event page, the feed, the bundle). */
  ofEvent(slug: string): Promise<Map<string, HandMaterial[]>>
  /** Stores the row of `m.url` for the pad (replacing one of the same address); nothing when the pad does not exist. */
  put(padId: string, m: HandMaterial): Promise<void>
  /** Deletes the pad's row of `url`; whether there was one. */
  remove(padId: string, url: string): Promise<boolean>
}

/** MaterialsRepo on SQLite (table pad_materials; its rows go with their pad). */
export class SqliteMaterialsRepo implements MaterialsRepo {
  private readonly s

  constructor(db: Db) {
    const select = `SELECT p.id AS pad_id, m.url, m.state, m.kind, m.title, m.at
      FROM pad_materials m JOIN pads p ON p.pk = m.pad`
    this.s = {
      ofPad: db.prepare<[string], MaterialRow>(`${select} WHERE p.id = ? ORDER BY m.at, m.rowid`),
      ofEvent: db.prepare<[string], MaterialRow>(
        `${select} JOIN events e ON e.pk = p.event WHERE e.slug = ? ORDER BY m.at, m.rowid`,
      ),
      put: db.prepare<
        [{ pad: string; url: string; state: string; kind: string; title: string | null; at: number }]
      >(
        `INSERT INTO pad_materials (pad, url, state, kind, title, at)
         SELECT pk, @url, @state, @kind, @title, @at FROM pads WHERE id = @pad
         ON CONFLICT(pad, url) DO UPDATE SET state = excluded.state, kind = excluded.kind,
           title = excluded.title, at = excluded.at`,
      ),
      remove: db.prepare<[string, string]>(
        'DELETE FROM pad_materials WHERE pad = (SELECT pk FROM pads WHERE id = ?) AND url = ?',
      ),
    }
  }

  async ofPad(padId: string): Promise<HandMaterial[]> {
    return this.s.ofPad.all(padId).map(toMaterial)
  }

  /** Every pad's rows in one event, by pad id (the event page, the feed, the bundle). */
  async ofEvent(slug: string): Promise<Map<string, HandMaterial[]>> {
    const out = new Map<string, HandMaterial[]>()
    for (const row of this.s.ofEvent.all(slug)) {
      const list = out.get(row.pad_id) ?? []
      list.push(toMaterial(row))
      out.set(row.pad_id, list)
    }
    return out
  }

  async put(padId: string, m: HandMaterial): Promise<void> {
    this.s.put.run({ pad: padId, url: m.url, state: m.state, kind: m.kind, title: m.title, at: m.at })
  }

  async remove(padId: string, url: string): Promise<boolean> {
    return this.s.remove.run(padId, url).changes > 0
  }
}
