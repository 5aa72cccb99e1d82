/**
 * Every HTTP route and page with its access class, in one table, and the one middleware that
 * enforces it. A request matching no row is answered 404 before any handler runs, so a route
 * added without a row here cannot be reached (and test/access.test.ts fails until it has one).
 *
 *   public    everyone, in both modes
 *   read      open mode: everyone; protected: the subject event's read or edit link, or admin
 *   edit      open mode: everyone; protected: the subject event's edit link, or admin
 *   admin     open mode: everyone; protected: the admin token
 *   operator  the admin token; in open mode only a local request that did not come through a proxy
 *
 * The subject is the pad (`:id`) or event (`:slug`) in the path; rows marked `eventFromQuery`
 * take the event from `?event=` (search within an event); anything else is about the whole site,
 * which in protected mode only the admin token reads.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import {
  type AccessControl,
  atLeast,
  cookieTokens,
  cookieWith,
  type Decision,
  type Role,
  type Subject,
  TOKEN_COOKIE,
  TOKEN_PARAM,
  tokensOf,
} from '../access/access.ts'
import { MAX_SCHEDULE_BYTES, SCHEDULE_CONTENT_TYPES } from '../meetings/schedule.ts'
import { MAX_IMPORT_BYTES } from '../minutes/minutes.ts'
import { HttpError } from './http-errors.ts'

export type RouteClass = 'public' | 'read' | 'edit' | 'admin' | 'operator'
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/**
 * The request body a route takes: its media types and size limit (body-policy.ts enforces both
 * and reads the body; a route without one takes no body, and no parser runs for it).
 */
export interface BodyRule {
  /** Media types, without parameters (`charset` is honoured for text). */
  types: readonly string[]
  /** Largest body in bytes: past it, 413 naming the limit. */
  limit: number
  /**
   * What the handler finds in `req.body`: `json` parses application/json and gives any other
   * (text) type as a string; `text` gives every type as a string, as sent; `bytes` a Buffer.
   */
  read: 'json' | 'text' | 'bytes'
}

export interface RouteRule {
  method: Method
  /** Express-style: `:name` is one path segment; a trailing `/*` is anything below. */
  path: string
  class: RouteClass
  eventFromQuery?: true
  body?: BodyRule
}

const r = (
  method: Method,
  path: string,
  cls: RouteClass,
  extra: { eventFromQuery?: true; body?: BodyRule } = {},
): RouteRule => ({ method, path, class: cls, ...extra })

const KiB = 1024
const MiB = 1024 * KiB
const JSON_TYPES = ['application/json'] as const
/** A small JSON form (history actions, link rotation): a name and a number at most. */
const SMALL_JSON: BodyRule = { types: JSON_TYPES, limit: 16 * KiB, read: 'json' }
/**
 * An event or a pad's fields: a pad with 50 speakers and 50 links of long URLs is ~130 KiB of
 * JSON, an event's description 5,000 characters.
 */
const RECORD_JSON: BodyRule = { types: JSON_TYPES, limit: 256 * KiB, read: 'json' }
/** A template: up to 100,000 characters, as Markdown or as `{"body": ...}` (escapes grow it). */
const TEMPLATE: BodyRule = {
  types: ['application/json', 'text/markdown', 'text/plain'],
  limit: 1 * MiB,
  read: 'json',
}
/**
 * A conference schedule: iCalendar, frab schedule.xml or .json, or a JSON list (the importer
 * tells them apart by their content, so each is handed over as the text it is). A real
 * 2,000-session programme with abstracts as frab XML is ~20 MiB.
 */
export const SCHEDULE_IMPORT: BodyRule = {
  types: SCHEDULE_CONTENT_TYPES,
  limit: MAX_SCHEDULE_BYTES,
  // As bytes: the reader finds the format (and the encoding) from the content.
  read: 'bytes',
}
/** A pad's Yjs state (minutes.ts MAX_IMPORT_BYTES: the same bound as a whole pad over the socket). */
const YJS_IMPORT: BodyRule = {
  types: ['application/octet-stream', 'application/x-yjs'],
  limit: MAX_IMPORT_BYTES,
  read: 'bytes',
}

/** The table (README "Access control" lists it, "HTTP API" the bodies; keep them in step). */
export const ROUTES: readonly RouteRule[] = [
  // Health, metrics, static assets, the service worker, the front page.
  r('GET', '/healthz', 'public'),
  r('GET', '/livez', 'public'),
  r('GET', '/metrics', 'public'),
  r('GET', '/assets/*', 'public'),
  r('GET', '/favicon.ico', 'public'),
  r('GET', '/sw.js', 'public'),
  r('GET', '/', 'public'),
  r('GET', '/api/templates/:kind', 'public'),
  // Pages.
  r('GET', '/search', 'read', { eventFromQuery: true }),
  r('GET', '/e/:slug', 'read'),
  r('GET', '/e/:slug/outcomes', 'read'),
  r('GET', '/e/:slug/now', 'read'),
  r('GET', '/p/:id', 'read'),
  r('GET', '/p/:id/series', 'read'),
  r('GET', '/p/:id/history', 'read'),
  r('GET', '/p/:id/qr', 'read'),
  // A QR code's short link: the code is itself a secret (event-links.ts), checked by its handler.
  r('GET', '/q/:code', 'public'),
  // Events.
  r('GET', '/api/events', 'admin'),
  r('POST', '/api/events', 'admin', { body: RECORD_JSON }),
  r('GET', '/api/events/:slug', 'read'),
  r('PATCH', '/api/events/:slug', 'admin', { body: RECORD_JSON }),
  r('DELETE', '/api/events/:slug', 'admin'),
  r('GET', '/api/events/:slug/pads', 'read'),
  r('POST', '/api/events/:slug/pads', 'edit', { body: RECORD_JSON }),
  r('POST', '/api/events/:slug/import', 'admin', { body: SCHEDULE_IMPORT }),
  r('GET', '/api/events/:slug/presence', 'read'),
  r('GET', '/api/events/:slug/templates/:kind', 'read'),
  r('PUT', '/api/events/:slug/templates/:kind', 'admin', { body: TEMPLATE }),
  r('DELETE', '/api/events/:slug/templates/:kind', 'admin'),
  r('GET', '/api/events/:slug/export', 'read'),
  r('GET', '/api/events/:slug/outcomes', 'read'),
  r('GET', '/api/events/:slug/links', 'admin'),
  r('POST', '/api/events/:slug/links/rotate', 'admin', { body: SMALL_JSON }),
  // Pads.
  r('GET', '/api/pads', 'read', { eventFromQuery: true }),
  r('POST', '/api/pads', 'admin', { body: RECORD_JSON }),
  r('POST', '/api/pads/import', 'edit', { eventFromQuery: true, body: YJS_IMPORT }),
  r('GET', '/api/pads/:id', 'read'),
  r('PATCH', '/api/pads/:id', 'admin', { body: RECORD_JSON }),
  r('DELETE', '/api/pads/:id', 'admin'),
  r('GET', '/api/pads/:id/presence', 'read'),
  r('GET', '/api/pads/:id/export', 'read'),
  r('POST', '/api/pads/:id/forget-history', 'admin'),
  r('GET', '/api/pads/:id/history', 'read'),
  r('GET', '/api/pads/:id/revisions/:seq', 'read'),
  r('GET', '/api/pads/:id/revision', 'read'),
  r('GET', '/api/pads/:id/diff', 'read'),
  r('POST', '/api/pads/:id/restore', 'edit', { body: SMALL_JSON }),
  r('POST', '/api/pads/:id/checkpoints', 'edit', { body: SMALL_JSON }),
  r('POST', '/api/pads/:id/close', 'edit', { body: SMALL_JSON }),
  r('POST', '/api/pads/:id/reopen', 'edit', { body: SMALL_JSON }),
  r('GET', '/api/search', 'read', { eventFromQuery: true }),
  // Series: the other meeting (or the new one's event) is checked by the handler too.
  r('GET', '/api/pads/:id/series', 'read'),
  // Every meeting of the series; those the caller's link does not open show their title only.
  r('GET', '/api/pads/:id/series/view', 'read'),
  r('PUT', '/api/pads/:id/continues', 'edit', { body: SMALL_JSON }),
  r('POST', '/api/pads/:id/next', 'edit', { body: SMALL_JSON }),
  // Materials: editors add and remove them.
  r('GET', '/api/pads/:id/materials', 'read'),
  r('POST', '/api/pads/:id/materials', 'edit', { body: SMALL_JSON }),
  r('DELETE', '/api/pads/:id/materials', 'edit'),
  // Following from afar: the Atom feed of the event's closed sessions.
  r('GET', '/api/events/:slug/feed', 'read'),
  // …and the sessions under way now (or `?at=` a given time), for the "now" page.
  r('GET', '/api/events/:slug/now', 'read'),
  // Operations.
  r('POST', '/api/admin/backup', 'operator'),
]

interface Compiled {
  rule: RouteRule
  pattern: RegExp
}

function compile(rule: RouteRule): Compiled {
  const below = rule.path.endsWith('/*')
  const base = below ? rule.path.slice(0, -2) : rule.path
  const source = base
    .split('/')
    .map((part) =>
      part.startsWith(':') ? `(?<${part.slice(1)}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  return { rule, pattern: new RegExp(`^${source}${below ? '(?:/.*)?' : ''}/?$`) }
}

const COMPILED = ROUTES.map(compile)

export interface MatchedRoute {
  rule: RouteRule
  params: Record<string, string>
}

/** The table row for a request, with its path parameters (HEAD is GET's). */
export function matchRoute(method: string, path: string): MatchedRoute | null {
  const m = method === 'HEAD' ? 'GET' : method
  for (const { rule, pattern } of COMPILED) {
    if (rule.method !== m) continue
    const found = pattern.exec(path)
    if (!found) continue
    const params: Record<string, string> = {}
    for (const [name, raw] of Object.entries(found.groups ?? {})) {
      try {
        params[name] = decodeURIComponent(raw)
      } catch {
        params[name] = raw
      }
    }
    return { rule, params }
  }
  return null
}

function subjectOf(match: MatchedRoute, query: Request['query']): Subject {
  if (match.params.id !== undefined) return { kind: 'pad', padId: match.params.id }
  if (match.params.slug !== undefined) return { kind: 'event', slug: match.params.slug }
  if (match.rule.eventFromQuery && typeof query.event === 'string' && query.event)
    return { kind: 'event', slug: query.event }
  return { kind: 'site' }
}

const NEEDS: Record<Exclude<RouteClass, 'public' | 'operator'>, Role> = {
  read: 'read',
  edit: 'edit',
  admin: 'admin',
}

/** What the guard found, for handlers that show more or less (the front page, the event page). */
export interface RequestAccess extends Decision {
  mode: AccessControl['mode']
}

export const accessOf = (res: Response): RequestAccess => res.locals.access as RequestAccess

/**
 * Choosing a new pad's id is the organiser's: an edit link could otherwise claim an id the
 * organiser is about to use (or one of a predictable scheme), and what is typed there would land
 * in that link's event. Others get a generated id.
 */
export function onlyAdminNames(res: Response): void {
  if (accessOf(res).role !== 'admin')
    throw new HttpError(
      403,
      'forbidden',
      'Only the organiser (admin token) chooses pad names: leave the pad name out and one is made up.',
    )
}

export interface GuardOptions {
  access: AccessControl
  /** The operator rule of open mode: a local request not through a proxy. */
  isLocalRequest(req: Request): boolean
}

/** How long a browser keeps the links it opened (a conference, and the review months later). */
const TOKEN_COOKIE_MAX_AGE_S = 400 * 24 * 3600

export function accessGuard({ access, isLocalRequest }: GuardOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    guard(req, res, next).catch(next)
  }

  async function guard(req: Request, res: Response, next: NextFunction): Promise<void> {
    const match = matchRoute(req.method, req.path)
    if (!match) return next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`))
    const tokens = tokensOf(req)
    const decision = await access.decide(subjectOf(match, req.query), tokens)
    res.locals.access = { ...decision, mode: access.mode } satisfies RequestAccess
    const cls = match.rule.class
    if (cls === 'public') return await keepLink(req, res, next, match)
    if (cls === 'operator') {
      if (access.mode === 'open' ? isLocalRequest(req) : decision.role === 'admin') return next()
      return next(
        access.mode === 'open'
          ? new HttpError(403, 'forbidden', 'this answers only local requests while ADMIN_TOKEN is not set')
          : refusal(res, await access.recognises(tokens)),
      )
    }
    if (!atLeast(decision.role, NEEDS[cls])) return next(refusal(res, await access.recognises(tokens)))
    // What this answer holds depends on the caller's link (the organiser's page shows the links):
    // no shared or disk cache may keep it.
    if (access.mode === 'protected') res.set('Cache-Control', 'private, no-store')
    await keepLink(req, res, next, match)
  }

  /**
   * A shared link was opened (`?token=` on a page, in protected mode, and the token itself opens
   * the page): the browser keeps it in a cookie, so the editor's socket, its API calls and later
   * visits carry it, and the address bar, history and Referer lose it.
   */
  async function keepLink(
    req: Request,
    res: Response,
    next: NextFunction,
    match: MatchedRoute,
  ): Promise<void> {
    const linkToken = typeof req.query[TOKEN_PARAM] === 'string' ? (req.query[TOKEN_PARAM] as string) : null
    if (
      !linkToken ||
      req.method !== 'GET' ||
      req.path.startsWith('/api/') ||
      access.mode !== 'protected' ||
      (await access.decide(subjectOf(match, req.query), [linkToken])).role === 'none'
    )
      return next()
    res.cookie(TOKEN_COOKIE, cookieWith(linkToken, cookieTokens(req.headers.cookie)), {
      httpOnly: true,
      sameSite: 'lax',
      secure: req.secure,
      path: '/',
      maxAge: TOKEN_COOKIE_MAX_AGE_S * 1000,
      encode: (v) => v,
    })
    // The same address without the token, built from the raw request (a URL parser would fold
    // "\\" and ".." and could turn the path into "//elsewhere"); never protocol-relative.
    const mark = req.originalUrl.indexOf('?')
    const path = mark < 0 ? req.originalUrl : req.originalUrl.slice(0, mark)
    const rest = new URLSearchParams(mark < 0 ? '' : req.originalUrl.slice(mark + 1))
    rest.delete(TOKEN_PARAM)
    const query = rest.toString()
    res.redirect(303, `/${path.replace(/^[/\\]+/, '')}${query ? `?${query}` : ''}`)
  }
}

function refusal(res: Response, known: boolean): HttpError {
  if (known) return new HttpError(403, 'forbidden', 'your link does not give access to this')
  res.set('WWW-Authenticate', 'Bearer realm="summitpad"')
  return new HttpError(
    401,
    'unauthorized',
    'this server is protected: open the link the organisers shared, or send the admin token',
  )
}
