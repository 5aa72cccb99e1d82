/**
 * Each event's two secrets: the edit link and the read-only link of protected mode. They live in
 * their own table (never in EventInfo, so no listing or export can leak them), are made from
 * node's CSPRNG when an event's links are first needed, and are replaced by `rotate`. The storage
 * is links-store.ts; what a secret is, and when one is made, is decided here.
 */
import { randomBytes } from 'node:crypto'
import type { LinkKind, LinksRepo, StoredLinks } from '../storage/links-store.ts'
import { TOKEN_PARAM } from './access.ts'

/** 160 bits: beyond guessing (the issue asks for at least 128), and short enough for a URL. */
const SECRET_BYTES = 20

export type { LinkKind }

export interface EventSecrets {
  eventPk: number
  slug: string
  edit: string
  read: string
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
  private readonly repo: LinksRepo

  constructor(repo: LinksRepo) {
    this.repo = repo
  }

  /** The secrets of an event, or null when there is no such event. */
  async ofEvent(slug: string): Promise<EventSecrets | null> {
    return this.complete(await this.repo.ofEvent(slug))
  }

  /** The secrets of the event a pad is filed under; null for an unfiled or unknown pad. */
  async ofPad(padId: string): Promise<EventSecrets | null> {
    return this.complete(await this.repo.ofPad(padId))
  }

  /** Every event's secrets (to tell a stale or foreign link from a made-up token). */
  async all(): Promise<EventSecrets[]> {
    const out: EventSecrets[] = []
    for (const stored of await this.repo.all()) {
      const secrets = await this.complete(stored)
      if (secrets) out.push(secrets)
    }
    return out
  }

  /** Replaces one of an event's secrets: links carrying the old one (and their short links) stop working. */
  async rotate(slug: string, kind: LinkKind): Promise<EventSecrets | null> {
    const current = await this.ofEvent(slug)
    if (!current) return null
    await this.repo.rotate(current.eventPk, kind, newSecret(), Date.now())
    return this.ofEvent(slug)
  }

  /**
   * The short link code of a pad through its event's `kind` link, made on first use; null for a
   * pad without an event (no link opens it).
   */
  async shortCode(padId: string, kind: LinkKind): Promise<string | null> {
    const secrets = await this.ofPad(padId)
    if (!secrets) return null
    return this.repo.shortCode(padId, kind, secrets[kind], newShortCode(), Date.now())
  }

  /**
   * What a short link opens now, or null when it never existed or no longer works: its secret
   * was replaced, or the pad moved to another event (whose links are other secrets).
   */
  async resolveShort(code: string): Promise<ShortTarget | null> {
    const stored = await this.repo.short(code)
    if (!stored) return null
    const current = await this.ofPad(stored.padId)
    if (!current || current[stored.kind] !== stored.secret) return null
    return stored
  }

  private async complete(stored: StoredLinks | null): Promise<EventSecrets | null> {
    if (!stored) return null
    let row: StoredLinks | null = stored
    if (row.edit === null || row.read === null) {
      // First use of this event's links (a new event, or one from before links existed).
      row = await this.repo.initialise(row.eventPk, newSecret(), newSecret(), Date.now())
      if (!row || row.edit === null || row.read === null) return null
    }
    return { eventPk: row.eventPk, slug: row.slug, edit: row.edit, read: row.read }
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
