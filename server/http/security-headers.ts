/**
 * Security headers on every response (helmet) and the pages' Content Security Policy.
 *
 * - scripts only from /assets (no inline script anywhere: pages load bundles by URL);
 * - styles may be inline: CodeMirror injects its theme as <style> elements, and y-codemirror.next
 *   colours remote cursors with style attributes (the server only relays #rrggbb colours);
 * - the socket: `connect-src 'self'` plus this host's ws:/wss: (older browsers do not count a
 *   websocket to the same host as 'self');
 * - no `upgrade-insecure-requests` and no HSTS: on a conference LAN the server is often plain
 *   http://laptop.local:1234, and either would make browsers refuse it. Behind TLS, the proxy
 *   adds HSTS (README, production setup).
 */
import type { IncomingMessage } from 'node:http'
import type { RequestHandler } from 'express'
import helmet from 'helmet'

const socketSources = (req: IncomingMessage) => {
  const host = req.headers.host
  return host && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? `ws://${host} wss://${host}` : ''
}

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'", (req) => socketSources(req as IncomingMessage)],
        'worker-src': ["'self'"],
        'manifest-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'self'"],
      },
    },
    strictTransportSecurity: false,
    // The default (same-origin) would also be right; say it, since the editor's bundle is one.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'same-origin' },
  })
}
