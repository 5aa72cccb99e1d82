/**
 * Who may do what: the two modes of issue 8 and the credentials they accept.
 *
 * Open mode (no ADMIN_TOKEN): everyone may do everything, as in Etherpad — a laptop on a table.
 * Protected mode: the admin token may do everything; an event's edit link edits (and reads) that
 * event's pads, its read-only link reads them; unfiled pads and the site as a whole need the
 * admin token. A credential is a token string, presented in any of three ways (see `tokensOf`),
 * always compared as SHA-256 digests with timingSafeEqual, so comparisons take the same time
 * whatever the token and whichever secret it is compared with.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { pushAll } from '../lib/arrays.ts'
import type { EventLinks, EventSecrets, LinkKind } from './event-links.ts'

export type Mode = 'open' | 'protected'

/** What a request may do on its subject, in increasing order of power. */
export type Role = 'none' | 'read' | 'edit' | 'admin'
const RANK: Record<Role, number> = { none: 0, read: 1, edit: 2, admin: 3 }
export const atLeast = (role: Role, needed: Role) => RANK[role] >= RANK[needed]

/** What a request is about: a pad, an event, or the whole site (listings, site-wide search). */
export type Subject = { kind: 'pad'; padId: string } | { kind: 'event'; slug: string } | { kind: 'site' }

/** Which link granted a role (null: the admin token, or open mode): what rotating it must cut off. */
export interface Via {
  eventPk: number
  link: LinkKind
  /** The link's secret's digest when it granted: a re-check tells a since-rotated link by it. */
  digest: Buffer
}

/**
 * Does the link behind `via` still open the pad whose event's secrets are now `current` (null: the
 * pad is unfiled or gone)? No, once the link was rotated or the pad moved to another event.
 */
export function linkStillOpens(via: Via, current: EventSecrets | null): boolean {
  return (
    current !== null && current.eventPk === via.eventPk && sameSecret(digest(current[via.link]), via.digest)
  )
}

export interface Decision {
  role: Role
  via: Via | null
}

/** Cookie that keeps the links a browser has opened, so pages, API calls and the editor's socket carry them. */
export const TOKEN_COOKIE = 'summitpad_tokens'
/** Query parameter of shareable links (`/e/lpc-2026?token=…`) and of the stock client's `params`. */
export const TOKEN_PARAM = 'token'
/** A browser keeps at most this many links (a cookie is ~4 KB); the newest win. */
export const MAX_KEPT_TOKENS = 12
/** Longer strings are not tokens of ours; ignoring them bounds the hashing a request can cause. */
const MAX_TOKEN_LENGTH = 256

const digest = (text: string) => createHash('sha256').update(text).digest()
const sameSecret = (a: Buffer, b: Buffer) => timingSafeEqual(a, b)

export interface AccessOptions {
  /** ADMIN_TOKEN: set = protected mode. */
  adminToken: string | null
  links: EventLinks
}

export class AccessControl {
  readonly mode: Mode
  private readonly adminDigest: Buffer | null
  private readonly links: EventLinks

  constructor(options: AccessOptions) {
    this.mode = options.adminToken ? 'protected' : 'open'
    this.adminDigest = options.adminToken ? digest(options.adminToken) : null
    this.links = options.links
  }

  /** The role `tokens` give on `subject`. */
  async decide(subject: Subject, tokens: readonly string[]): Promise<Decision> {
    if (this.mode === 'open') return { role: 'admin', via: null }
    const digests = tokens.map(digest)
    if (digests.some((d) => sameSecret(d, this.adminDigest!))) return { role: 'admin', via: null }
    const secrets =
      subject.kind === 'pad'
        ? await this.links.ofPad(subject.padId)
        : subject.kind === 'event'
          ? await this.links.ofEvent(subject.slug)
          : null
    if (secrets) {
      const edit = digest(secrets.edit)
      const read = digest(secrets.read)
      if (digests.some((d) => sameSecret(d, edit)))
        return { role: 'edit', via: { eventPk: secrets.eventPk, link: 'edit', digest: edit } }
      if (digests.some((d) => sameSecret(d, read)))
        return { role: 'read', via: { eventPk: secrets.eventPk, link: 'read', digest: read } }
    }
    return { role: 'none', via: null }
  }

  /**
   * For a refusal only: does the caller hold a token we know (the admin token or any event's
   * current link)? Refused without one is unauthenticated (401, close 4401); refused despite one
   * is forbidden (403, close 4403): e.g. event A's link on event B's pad. It reads every event's
   * secrets, so it is asked once per refusal, never per event on a page.
   */
  async recognises(tokens: readonly string[]): Promise<boolean> {
    if (this.mode === 'open' || tokens.length === 0) return false
    const digests = tokens.map(digest)
    if (digests.some((d) => sameSecret(d, this.adminDigest!))) return true
    for (const secrets of await this.links.all()) {
      const edit = digest(secrets.edit)
      const read = digest(secrets.read)
      if (digests.some((d) => sameSecret(d, edit) || sameSecret(d, read))) return true
    }
    return false
  }
}

/**
 * ADMIN_TOKEN as the operator wrote it, or why it cannot work: it travels as a bearer token, in
 * a cookie and in a query string, and is compared with what is presented (at most 256 characters).
 */
export function adminTokenProblem(token: string): string | null {
  if (token.length < 16)
    return 'ADMIN_TOKEN must be at least 16 characters (use e.g. `openssl rand -base64 24`)'
  if (token.length > MAX_TOKEN_LENGTH) return `ADMIN_TOKEN must be at most ${MAX_TOKEN_LENGTH} characters`
  if (!/^[\x21-\x7e]+$/.test(token)) return 'ADMIN_TOKEN must be printable ASCII without spaces'
  return null
}

/** Cookie values of a request, by name (first wins); malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>()
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const name = pair.slice(0, eq).trim()
    if (name && !cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim())
  }
  return cookies
}

/** The tokens kept in the links cookie (URI-encoded, separated by "|", a cookie-safe character). */
export function cookieTokens(header: string | undefined): string[] {
  const value = parseCookies(header).get(TOKEN_COOKIE)
  if (!value) return []
  const tokens: string[] = []
  for (const part of value.split('|').slice(0, MAX_KEPT_TOKENS)) {
    try {
      const token = decodeURIComponent(part)
      if (token) tokens.push(token)
    } catch {
      // A cookie we did not write; ignore that part.
    }
  }
  return tokens
}

/** The links cookie's value after opening `token`: newest first, no repeats, bounded. */
export function cookieWith(token: string, kept: readonly string[]): string {
  return [token, ...kept.filter((t) => t !== token)]
    .slice(0, MAX_KEPT_TOKENS)
    .map(encodeURIComponent)
    .join('|')
}

/**
 * Every token a request presents: `Authorization: Bearer` (scripts, the API), the `token` query
 * parameter (shareable links; the stock y-websocket client's `params`) and the links cookie (a
 * browser that opened links before). Bounded in number and length.
 */
export function tokensOf(req: Pick<IncomingMessage, 'headers' | 'url'>): string[] {
  const tokens: string[] = []
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  if (bearer) tokens.push(bearer[1]!)
  const query = new URL(req.url ?? '/', 'http://x').searchParams.getAll(TOKEN_PARAM)
  pushAll(tokens, query.slice(0, 2))
  pushAll(tokens, cookieTokens(req.headers.cookie))
  return tokens.filter((t) => t.length > 0 && t.length <= MAX_TOKEN_LENGTH).slice(0, MAX_KEPT_TOKENS + 3)
}
