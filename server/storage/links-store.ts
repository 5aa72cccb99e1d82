/**
 * Each event's two link secrets (edit, read-only) and the short links of QR codes, as an
 * interface whose every call returns a promise, and its SQLite implementation. What a secret is
 * and how it is made and compared is access/'s business (event-links.ts, access.ts): this stores
 * strings. Every multi-step change is one operation, atomic in the engine (a rotation replaces a
 * secret and drops the short links that stood for the old one together).
 */
import type { Db } from './db.ts'
import { settled } from './settled.ts'

export type LinkKind = 'edit' | 'read'

/** An event's stored secrets; null until its links are first needed. */
export interface StoredLinks {
  eventPk: number
  slug: string
  edit: string | null
  read: string | null
}

/** A short link as stored: the pad and which of its event's links (and secret) it stands for. */
export interface StoredShort {
  padId: string
  kind: LinkKind
  secret: string
}

export interface LinksRepo {
  /** The event's secrets; null when there is no such event. */
  ofEvent(slug: string): Promise<StoredLinks | null>
  /** The secrets of the event a pad is filed under; null for an unfiled or unknown pad. */
  ofPad(padId: string): Promise<StoredLinks | null>
  /** Every event's. */
  all(): Promise<StoredLinks[]>
  /**
   * Stores the event's first secrets unless it has some already (a concurrent first use wins
   * once); resolves with the secrets stored now, or null when the event is gone.
   */
  initialise(eventPk: number, edit: string, read: string, at: number): Promise<StoredLinks | null>
  /**
   * Replaces one of the event's secrets and deletes the short links of the old one, atomically.
   * Resolves false when the event has no secrets stored.
   */
  rotate(eventPk: number, kind: LinkKind, secret: string, at: number): Promise<boolean>
  /**
   * The short link code of a pad through `kind` with `secret`: the one stored, or `candidate`,
   * stored now. Null when the pad does not exist.
   */
  shortCode(
    padId: string,
    kind: LinkKind,
    secret: string,
    candidate: string,
    at: number,
  ): Promise<string | null>
  /** What a short link code was made for, or null. */
  short(code: string): Promise<StoredShort | null>
}

/** An event's row with its links' secrets (null before first use), as both engines return it. */
export interface LinksRow {
  pk: number
  slug: string
  edit_secret: string | null
  read_secret: string | null
}

export const toLinks = (row: LinksRow): StoredLinks => ({
  eventPk: row.pk,
  slug: row.slug,
  edit: row.edit_secret,
  read: row.read_secret,
})

export class SqliteLinksRepo implements LinksRepo {
  private readonly s
  private readonly db: Db

  constructor(db: Db) {
    this.db = db
    const select = `SELECT e.pk, e.slug, l.edit_secret, l.read_secret FROM events e LEFT JOIN event_links l ON l.event = e.pk`
    this.s = {
      bySlug: db.prepare<[string], LinksRow>(`${select} WHERE e.slug = ?`),
      byPk: db.prepare<[number], LinksRow>(`${select} WHERE e.pk = ?`),
      byPad: db.prepare<[string], LinksRow>(`${select} WHERE e.pk = (SELECT event FROM pads WHERE id = ?)`),
      all: db.prepare<[], LinksRow>(select),
      create: db.prepare<[number, string, string, number]>(
        'INSERT OR IGNORE INTO event_links (event, edit_secret, read_secret, rotated_at) VALUES (?, ?, ?, ?)',
      ),
      rotateEdit: db.prepare<[string, number, number]>(
        'UPDATE event_links SET edit_secret = ?, rotated_at = ? WHERE event = ?',
      ),
      rotateRead: db.prepare<[string, number, number]>(
        'UPDATE event_links SET read_secret = ?, rotated_at = ? WHERE event = ?',
      ),
      shortOf: db.prepare<[string, string, string], { code: string }>(
        'SELECT s.code FROM short_links s JOIN pads p ON p.pk = s.pad WHERE p.id = ? AND s.link = ? AND s.secret = ?',
      ),
      addShort: db.prepare<[string, string, string, number, string]>(
        'INSERT INTO short_links (code, pad, link, secret, created_at) SELECT ?, pk, ?, ?, ? FROM pads WHERE id = ?',
      ),
      short: db.prepare<[string], { pad_id: string; link: string; secret: string }>(
        'SELECT p.id AS pad_id, s.link, s.secret FROM short_links s JOIN pads p ON p.pk = s.pad WHERE s.code = ?',
      ),
      dropShorts: db.prepare<[string]>('DELETE FROM short_links WHERE secret = ?'),
    }
  }

  ofEvent(slug: string): Promise<StoredLinks | null> {
    return settled(() => {
      const row = this.s.bySlug.get(slug)
      return row ? toLinks(row) : null
    })
  }

  ofPad(padId: string): Promise<StoredLinks | null> {
    return settled(() => {
      const row = this.s.byPad.get(padId)
      return row ? toLinks(row) : null
    })
  }

  all(): Promise<StoredLinks[]> {
    return settled(() => this.s.all.all().map(toLinks))
  }

  initialise(eventPk: number, edit: string, read: string, at: number): Promise<StoredLinks | null> {
    return settled(() =>
      this.db.transaction(() => {
        if (!this.s.byPk.get(eventPk)) return null
        this.s.create.run(eventPk, edit, read, at)
        return toLinks(this.s.byPk.get(eventPk)!)
      })(),
    )
  }

  rotate(eventPk: number, kind: LinkKind, secret: string, at: number): Promise<boolean> {
    return settled(() =>
      this.db.transaction(() => {
        const row = this.s.byPk.get(eventPk)
        const old = kind === 'edit' ? row?.edit_secret : row?.read_secret
        if (old === null || old === undefined) return false
        ;(kind === 'edit' ? this.s.rotateEdit : this.s.rotateRead).run(secret, at, eventPk)
        // The short links that stood for the old secret go with it.
        this.s.dropShorts.run(old)
        return true
      })(),
    )
  }

  shortCode(
    padId: string,
    kind: LinkKind,
    secret: string,
    candidate: string,
    at: number,
  ): Promise<string | null> {
    return settled(() =>
      this.db.transaction(() => {
        const known = this.s.shortOf.get(padId, kind, secret)
        if (known) return known.code
        return this.s.addShort.run(candidate, kind, secret, at, padId).changes > 0 ? candidate : null
      })(),
    )
  }

  short(code: string): Promise<StoredShort | null> {
    return settled(() => {
      const row = this.s.short.get(code)
      return row ? { padId: row.pad_id, kind: row.link as LinkKind, secret: row.secret } : null
    })
  }
}
