/**
 * DNS-rebinding protection by the Host header. A page on another site can point its own name at
 * 127.0.0.1 (or at a laptop's LAN address) after it has loaded; its scripts then reach this server
 * as "same origin", so the Origin checks pass, and in open mode a request from this machine is the
 * operator. What such a request cannot change is the name it was sent to: its Host header carries
 * the attacker's name. So requests and websocket upgrades are answered only when Host is an IP
 * address, `localhost`, or a name the operator gave (ALLOWED_HOSTS, or the host of an
 * ALLOWED_ORIGINS entry). A request that came through the reverse proxy the operator runs
 * (TRUST_PROXY, and a forwarding header) is not checked: the proxy picks which names reach us, and
 * a proxied request is never the operator's, so a rebound name gains nothing a remote visitor
 * lacks. A direct request to a server behind a proxy is checked like any other.
 */
import type { IncomingHttpHeaders } from 'node:http'
import net from 'node:net'
import type { RequestHandler } from 'express'
import { HttpError } from './http-errors.ts'

/** `HOST:PORT`, `[v6]:PORT` or a bare host, as browsers send it: the name alone, lower case. */
export function hostName(hostHeader: string): string {
  const trimmed = hostHeader.trim().toLowerCase()
  const name = trimmed.startsWith('[') ? trimmed.slice(1, trimmed.indexOf(']')) : trimmed.replace(/:\d*$/, '')
  return name.replace(/\.$/, '')
}

/**
 * ALLOWED_HOSTS: comma-separated names this server is reached by without a proxy (a laptop's
 * `ana-laptop.local`, a LAN's `pads.lan`). Anything that is not a plain DNS name is a configuration error.
 */
export function parseAllowedHosts(raw: string | undefined): string[] | { error: string } {
  const names: string[] = []
  for (const item of (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const name = item.toLowerCase().replace(/\.$/, '')
    if (
      !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name) ||
      name.length > 253
    ) {
      return {
        error: `ALLOWED_HOSTS: "${item}" must be a host name only (no scheme, port or path), e.g. pads.lan`,
      }
    }
    names.push(name)
  }
  return names
}

/** Headers a reverse proxy adds: a request carrying one came from further away than the proxy. */
const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const

export function cameThroughProxy(headers: IncomingHttpHeaders): boolean {
  return PROXY_HEADERS.some((h) => headers[h] !== undefined)
}

export interface HostPolicy {
  /** Null when the request may be answered; otherwise why not, for the person who sent it. */
  refusal(headers: IncomingHttpHeaders): string | null
}

export function hostPolicy(options: {
  trustProxy: boolean
  allowedHosts: readonly string[]
  allowedOrigins: readonly string[]
}): HostPolicy {
  const names = new Set([...options.allowedHosts, ...options.allowedOrigins.map((o) => new URL(o).hostname)])
  return {
    refusal(headers) {
      // No Host at all is a script speaking HTTP/1.0; every browser sends one.
      if (headers.host === undefined || (options.trustProxy && cameThroughProxy(headers))) return null
      const name = hostName(headers.host)
      if (net.isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || names.has(name))
        return null
      return `this server does not answer to the name "${name}"; if that is its name, add it to ALLOWED_HOSTS`
    },
  }
}

/** Refuses requests sent to a name that is not this server's with 421 Misdirected Request. */
export function hostGuard(policy: HostPolicy): RequestHandler {
  return (req, _res, next) => {
    const refusal = policy.refusal(req.headers)
    next(refusal === null ? undefined : new HttpError(421, 'unknown_host', refusal))
  }
}
