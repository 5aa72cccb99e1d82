/**
 * Each event's two secrets: the edit link and the read-only link of protected mode. They live in
 * their own table (never in EventInfo, so no listing or export can leak them), are made from
 * node's CSPRNG when an event's links are first needed, and are replaced by `rotate`.
 */
import { randomBytes } from 'node:crypto'
import type { Db } from '../storage/db.ts'
import { TOKEN_PARAM } from './access.ts'

/** 160 bits: beyond guessing (the issue asks for at least 128), and short enough for a URL. */
const SECRET_BYTES = 20

export type LinkKind = 'edit' | 'read'

export interface EventSecrets {
  eventPk: number
  slug: string
  edit: string
  read: string
}

interface Row {
  pk: number
  slug: string
  edit_secret: string | null
  read_secret: string | null
}

const newSecret = () => randomBytes(SECRET_BYTES).toString('base64url')

/**
 * A QR code's short link (`/q/<code>`) is itself a secret: whoever has it opens what the event
 * link behind it opens. 20 characters of 5 bits = 100 random bits (at least 96: beyond guessing
 * at any request rate a server answers), lower-case letters and digits without look-alikes
 * (Crockford's base 32), so it can be read off a projector and typed on a phone.
 */
export const SHORT_CODE_LENGTH = 20
const SHORT_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

function newShortCode(): string {
  const bytes = randomBytes(SHORT_CODE_LENGTH)
  let code = ''
  // 256 is a multiple of 32: the low five bits of a uniform byte are uniform.
  for (const b of bytes) code += SHORT_ALPHABET[b & 31]
  return code
}

/** What a short link opens: a pad, through one of its event's links (its current secret). */
export interface ShortTarget {
  padId: string
  kind: LinkKind
  secret: string
}

export class EventLinks {
  private readonly s

  constructor(db: Db) {
    const select = `SELECT e.pk, e.slug, l.edit_secret, l.read_secret FROM events e LEFT JOIN event_links l ON l.event = e.pk`
    this.s = {
      bySlug: db.prepare<[string], Row>(`${select} WHERE e.slug = ?`),
      byPad: db.prepare<[string], Row>(`${select} WHERE e.pk = (SELECT event FROM pads WHERE id = ?)`),
      all: db.prepare<[], Row>(select),
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

  /** The secrets of an event, or null when there is no such event. */
  ofEvent(slug: string): EventSecrets | null {
    return this.complete(this.s.bySlug.get(slug))
  }

  /** The secrets of the event a pad is filed under; null for an unfiled or unknown pad. */
  ofPad(padId: string): EventSecrets | null {
    return this.complete(this.s.byPad.get(padId))
  }

  /** Every event's secrets (to tell a stale or foreign link from a made-up token). */
  all(): EventSecrets[] {
    return this.s.all.all().map((row) => this.complete(row)!)
  }

  /** Replaces one of an event's secrets: links carrying the old one stop working. */
  rotate(slug: string, kind: LinkKind): EventSecrets | null {
    const current = this.ofEvent(slug)
    if (!current) return null
    const statement = kind === 'edit' ? this.s.rotateEdit : this.s.rotateRead
    statement.run(newSecret(), Date.now(), current.eventPk)
    // The short links that stood for the old secret go with it.
    this.s.dropShorts.run(current[kind])
    return this.ofEvent(slug)
  }

  /**
   * The short link code of a pad through its event's `kind` link, made on first use; null for a
   * pad without an event (no link opens it).
   */
  shortCode(padId: string, kind: LinkKind): string | null {
    const secrets = this.ofPad(padId)
    if (!secrets) return null
    const secret = secrets[kind]
    const known = this.s.shortOf.get(padId, kind, secret)
    if (known) return known.code
    const code = newShortCode()
    this.s.addShort.run(code, kind, secret, Date.now(), padId)
    return code
  }

  /**
   * What a short link opens now, or null when it never existed or no longer works: its secret
   * was replaced, or the pad moved to another event (whose links are other secrets).
   */
  resolveShort(code: string): ShortTarget | null {
    const row = this.s.short.get(code)
    if (!row) return null
    const kind = row.link as LinkKind
    const current = this.ofPad(row.pad_id)
    if (!current || current[kind] !== row.secret) return null
    return { padId: row.pad_id, kind, secret: row.secret }
  }

  private complete(row: Row | undefined): EventSecrets | null {
    if (!row) return null
    if (row.edit_secret === null || row.read_secret === null) {
      // First use of this event's links (a new event, or one from before links existed).
      this.s.create.run(row.pk, newSecret(), newSecret(), Date.now())
      return this.complete(this.s.bySlug.get(row.slug))
    }
    return { eventPk: row.pk, slug: row.slug, edit: row.edit_secret, read: row.read_secret }
  }
}

export interface EventLinkUrls {
  event: string
  /** Opens the event's pads for editing. */
  edit: string
  /** Opens them to follow along: the document and live changes, nothing stored from the holder. */
  read: string
}

export function linkUrls(base: string, secrets: EventSecrets): EventLinkUrls {
  const url = (secret: string) => `${base}/e/${secrets.slug}?${TOKEN_PARAM}=${secret}`
  return { event: secrets.slug, edit: url(secrets.edit), read: url(secrets.read) }
}
