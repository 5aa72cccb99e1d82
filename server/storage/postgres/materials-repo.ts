/**
 * The MaterialsRepo interface (../materials-store.ts) on PostgreSQL: SQLite's statements, one
 * each. Rows go with their pad (a cascading key). Oldest first, ties in insertion order (the
 * `id` column of migration 2 stands for SQLite's rowid).
 */
import { type HandMaterial, type MaterialRow, type MaterialsRepo, toMaterial } from '../materials-store.ts'
import type { PgPool } from './pool.ts'

const SELECT = `SELECT p.id AS pad_id, m.url, m.state, m.kind, m.title, m.at
  FROM pad_materials m JOIN pads p ON p.pk = m.pad`

export class PgMaterialsRepo implements MaterialsRepo {
  private readonly pool: PgPool

  constructor(pool: PgPool) {
    this.pool = pool
  }

  async ofPad(padId: string): Promise<HandMaterial[]> {
    const { rows } = await this.pool.query<MaterialRow>(`${SELECT} WHERE p.id = $1 ORDER BY m.at, m.id`, [
      padId,
    ])
    return rows.map(toMaterial)
  }

  async ofEvent(slug: string): Promise<Map<string, HandMaterial[]>> {
    const { rows } = await this.pool.query<MaterialRow>(
      `${SELECT} JOIN events e ON e.pk = p.event WHERE e.slug = $1 ORDER BY m.at, m.id`,
      [slug],
    )
    const out = new Map<string, HandMaterial[]>()
    for (const row of rows) {
      const list = out.get(row.pad_id) ?? []
      list.push(toMaterial(row))
      out.set(row.pad_id, list)
    }
    return out
  }

  async put(padId: string, m: HandMaterial): Promise<void> {
    await this.pool.query(
      `INSERT INTO pad_materials (pad, url, state, kind, title, at)
       SELECT pk, $2, $3, $4, $5, $6 FROM pads WHERE id = $1
       ON CONFLICT (pad, url) DO UPDATE SET state = excluded.state, kind = excluded.kind,
         title = excluded.title, at = excluded.at`,
      [padId, m.url, m.state, m.kind, m.title, m.at],
    )
  }

  async remove(padId: string, url: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM pad_materials WHERE pad = (SELECT pk FROM pads WHERE id = $1) AND url = $2',
      [padId, url],
    )
    return (rowCount ?? 0) > 0
  }
}
