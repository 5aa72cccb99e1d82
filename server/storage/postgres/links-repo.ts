/**
 * The LinksRepo interface (../links-store.ts) on PostgreSQL: SQLite's statements; each
 * read-then-write one transaction, with the row it decides on locked, so two servers' concurrent
 * first uses, rotations or short links end as SQLite's one-writer-at-a-time would.
 */
import {
  type LinkKind,
  type LinksRepo,
  type LinksRow,
  type StoredLinks,
  type StoredShort,
  toLinks,
} from '../links-store.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

const SELECT =
  'SELECT e.pk, e.slug, l.edit_secret, l.read_secret FROM events e LEFT JOIN event_links l ON l.event = e.pk'

async function byPk(client: PgClient, eventPk: number): Promise<LinksRow | undefined> {
  return (await client.query<LinksRow>(`${SELECT} WHERE e.pk = $1`, [eventPk])).rows[0]
}

export class PgLinksRepo implements LinksRepo {
  private readonly pool: PgPool

  constructor(pool: PgPool) {
    this.pool = pool
  }

  async ofEvent(slug: string): Promise<StoredLinks | null> {
    const { rows } = await this.pool.query<LinksRow>(`${SELECT} WHERE e.slug = $1`, [slug])
    return rows[0] ? toLinks(rows[0]) : null
  }

  async ofPad(padId: string): Promise<StoredLinks | null> {
    const { rows } = await this.pool.query<LinksRow>(
      `${SELECT} WHERE e.pk = (SELECT event FROM pads WHERE id = $1)`,
      [padId],
    )
    return rows[0] ? toLinks(rows[0]) : null
  }

  async all(): Promise<StoredLinks[]> {
    const { rows } = await this.pool.query<LinksRow>(`${SELECT} ORDER BY e.pk`)
    return rows.map(toLinks)
  }

  initialise(eventPk: number, edit: string, read: string, at: number): Promise<StoredLinks | null> {
    return inTransaction(this.pool, async (client) => {
      // FOR KEY SHARE of the event: it cannot be deleted before the links row is in.
      const event = await client.query('SELECT 1 FROM events WHERE pk = $1 FOR KEY SHARE', [eventPk])
      if ((event.rowCount ?? 0) === 0) return null
      // A concurrent first use that committed first wins: its secrets are the ones read back.
      await client.query(
        `INSERT INTO event_links (event, edit_secret, read_secret, rotated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (event) DO NOTHING`,
        [eventPk, edit, read, at],
      )
      return toLinks((await byPk(client, eventPk))!)
    })
  }

  rotate(eventPk: number, kind: LinkKind, secret: string, at: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      // FOR UPDATE: a concurrent rotation waits, then drops the short links of the secret this
      // one wrote, not of one already gone.
      const row = (
        await client.query<{ edit_secret: string; read_secret: string }>(
          'SELECT edit_secret, read_secret FROM event_links WHERE event = $1 FOR UPDATE',
          [eventPk],
        )
      ).rows[0]
      const old = kind === 'edit' ? row?.edit_secret : row?.read_secret
      if (old === null || old === undefined) return false
      const column = kind === 'edit' ? 'edit_secret' : 'read_secret'
      await client.query(`UPDATE event_links SET ${column} = $1, rotated_at = $2 WHERE event = $3`, [
        secret,
        at,
        eventPk,
      ])
      // The short links that stood for the old secret go with it.
      await client.query('DELETE FROM short_links WHERE secret = $1', [old])
      return true
    })
  }

  shortCode(
    padId: string,
    kind: LinkKind,
    secret: string,
    candidate: string,
    at: number,
  ): Promise<string | null> {
    return inTransaction(this.pool, async (client) => {
      // The pad's row locked: two concurrent requests for the same link make one code, not two.
      const pad = await client.query<{ pk: number }>('SELECT pk FROM pads WHERE id = $1 FOR NO KEY UPDATE', [
        padId,
      ])
      const pk = pad.rows[0]?.pk
      if (pk === undefined) return null
      const known = await client.query<{ code: string }>(
        'SELECT code FROM short_links WHERE pad = $1 AND link = $2 AND secret = $3',
        [pk, kind, secret],
      )
      if (known.rows[0]) return known.rows[0].code
      await client.query(
        'INSERT INTO short_links (code, pad, link, secret, created_at) VALUES ($1, $2, $3, $4, $5)',
        [candidate, pk, kind, secret, at],
      )
      return candidate
    })
  }

  async short(code: string): Promise<StoredShort | null> {
    const { rows } = await this.pool.query<{ pad_id: string; link: string; secret: string }>(
      'SELECT p.id AS pad_id, s.link, s.secret FROM short_links s JOIN pads p ON p.pk = s.pad WHERE s.code = $1',
      [code],
    )
    const row = rows[0]
    return row ? { padId: row.pad_id, kind: row.link as LinkKind, secret: row.secret } : null
  }
}
