/**
 * Cross-site protection by the `Origin` header. Browsers send it on every websocket upgrade and
 * on every state-changing fetch or form post, and a page cannot forge it; so a request whose
 * Origin is neither this server (the request's own Host) nor one the operator listed in
 * ALLOWED_ORIGINS (a proxy that rewrites Host) came from another site's page. Requests without
 * Origin come from scripts, bots and the Node y-websocket client: they rely on tokens.
 */
import type { RequestHandler } from 'express'
import { Forbidden } from '../lib/domain-errors.ts'

export type OriginVerdict = 'absent' | 'same' | 'listed' | 'foreign'

export function checkOrigin(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): OriginVerdict {
  if (origin === undefined) return 'absent'
  // "null" (sandboxed frames, file: pages) is a real, foreign origin.
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    return 'foreign'
  }
  if (allowed.includes(parsed.origin)) return 'listed'
  if (host !== undefined && parsed.host === host.toLowerCase() && /^https?:$/.test(parsed.protocol))
    return 'same'
  return 'foreign'
}

/**
 * ALLOWED_ORIGINS: comma-separated origins ("https://pads.example.org"); each is normalised the
 * way browsers send it, and anything that is not a bare http(s) origin is a configuration error.
 */
export function parseAllowedOrigins(raw: string | undefined): string[] | { error: string } {
  const origins: string[] = []
  for (const item of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    let url: URL
    try {
      url = new URL(item)
    } catch {
      return { error: `ALLOWED_ORIGINS: "${item}" is not a URL like https://pads.example.org` }
    }
    if (!/^https?:$/.test(url.protocol) || url.origin !== item.replace(/\/$/, '').toLowerCase()) {
      return {
        error: `ALLOWED_ORIGINS: "${item}" must be an origin only (scheme://host[:port]), e.g. https://pads.example.org`,
      }
    }
    origins.push(url.origin)
  }
  return origins
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * CSRF protection for state-changing requests: refused when the browser says they come from
 * another site's page (Origin, or Sec-Fetch-Site when a browser sends no Origin). The links
 * cookie is also SameSite=Lax, so a cross-site form post would not carry it anyway.
 */
export function crossSiteGuard(allowed: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next()
    const verdict = checkOrigin(req.get('origin'), req.get('host'), allowed)
    const fetchSite = req.get('sec-fetch-site')
    if (verdict === 'foreign' || (verdict === 'absent' && fetchSite === 'cross-site')) {
      return next(
        new Forbidden('refused: this request came from another site (Origin does not match)', 'cross_site'),
      )
    }
    next()
  }
}
