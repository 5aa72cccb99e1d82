/**
 * Who may open `/sync/<padId>`: the Origin check (cross-site pages refused), then the same access
 * policy as HTTP (access.ts), with the token from the stock client's `params` (query string), a
 * bearer header or the links cookie. Decided before the pad is loaded or created.
 *
 * A refusal completes the upgrade and closes at once with 4401 (no or unknown token) or 4403
 * (forbidden): y-websocket stops reconnecting on 4400-4499, whereas an HTTP 401/403 reaches a
 * browser as close code 1006 and is retried forever.
 */

import { CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED } from '../sync/close-codes.ts'
import type { Grant, SocketRequest } from '../sync/sync-endpoint.ts'
import { type AccessControl, atLeast, tokensOf } from './access.ts'
import { checkOrigin } from './origin-check.ts'

/**
 * `/sync/<pad>?view=only`: the socket asks to be read-only whatever its link allows (the "now"
 * page follows sessions and never writes, so an editor's link there grants it no writing).
 */
export const VIEW_PARAM = 'view'
export const VIEW_ONLY = 'only'

function asksViewOnly(url: string | undefined): boolean {
  return new URL(url ?? '/', 'http://x').searchParams.get(VIEW_PARAM) === VIEW_ONLY
}

export function socketAuthorizer(
  access: AccessControl,
  allowedOrigins: readonly string[],
): (request: SocketRequest) => Promise<Grant> {
  return async ({ padId, req }) => {
    const origin = checkOrigin(req.headers.origin, req.headers.host, allowedOrigins)
    if (origin === 'foreign') {
      return { ok: false, code: CLOSE_FORBIDDEN, reason: 'cross-site socket refused (Origin does not match)' }
    }
    const tokens = tokensOf(req)
    const decision = await access.decide({ kind: 'pad', padId }, tokens)
    if (atLeast(decision.role, 'edit'))
      return asksViewOnly(req.url)
        ? { ok: true, readOnly: true, via: decision.via }
        : { ok: true, via: decision.via }
    if (decision.role === 'read') return { ok: true, readOnly: true, via: decision.via }
    return (await access.recognises(tokens))
      ? { ok: false, code: CLOSE_FORBIDDEN, reason: 'your link does not give access to this pad' }
      : { ok: false, code: CLOSE_UNAUTHORIZED, reason: 'this pad needs a link (token) from the organisers' }
  }
}
