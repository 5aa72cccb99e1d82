/**
 * DNS-rebinding protection by the Host header. A page on another site can point its own name at
 * 127.0.0.1 (or at a laptop's LAN address) after it has loaded; its scripts then reach this server
 * as "same origin", so the Origin checks pass, and in open mode a request from this machine is the
 * operator. What such a request cannot change is the name it was sent to: its Host header carries
 * the attacker's name. So requests and websocket upgrades are answered only when Host is an IP
 * address, `localhost`, or a name the operator gave (ALLOWED_HOSTS, or the host of an
 * ALLOWED_ORIGINS entry). A request that came through the reverse proxy the operator runs (its TCP
 * peer is a TRUST_PROXY address, and it carries a forwarding header) is not checked by name: the
 * proxy picks which names reach us, and a proxied request is never the operator's, so a rebound
 * name gains nothing a remote visitor lacks. A forwarding header from any other peer proves
 * nothing (a rebinding page can add one), so such a request is checked like any other.
 *
 * Whatever the name, the Host value must be a host name or address with an optional port: it goes
 * into links and QR codes, and `evil.com/.localhost` would otherwise pass as a .localhost name.
 */
import type { IncomingHttpHeaders } from 'node:http'
import net from 'node:net'
import type { RequestHandler } from 'express'
import { WrongHost } from '../lib/domain-errors.ts'
import { proxyTrust, type TrustProxySetting } from './trusted-proxies.ts'

/**
 * What a Host header may hold: a DNS name or IPv4 address, or an IPv6 address in brackets, then
 * an optional port. No two parts can match the same character, so it cannot backtrack.
 */
const HOST_SYNTAX = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i
/** The longest DNS name (253) plus a port. */
const MAX_HOST_LENGTH = 260

export function isWellFormedHost(host: string): boolean {
  return host.length <= MAX_HOST_LENGTH && HOST_SYNTAX.test(host)
}

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
  /**
   * Null when the request may be answered; otherwise why not, for the person who sent it.
   * `remoteAddress` is the TCP peer: only a configured proxy's forwarding headers count.
   */
  refusal(headers: IncomingHttpHeaders, remoteAddress: string | undefined): string | null
}

export function hostPolicy(options: {
  trustProxy: TrustProxySetting
  allowedHosts: readonly string[]
  allowedOrigins: readonly string[]
}): HostPolicy {
  const names = new Set([...options.allowedHosts, ...options.allowedOrigins.map((o) => new URL(o).hostname)])
  const isProxy = proxyTrust(options.trustProxy)
  return {
    refusal(headers, remoteAddress) {
      // No Host at all is a script speaking HTTP/1.0; every browser sends one.
      if (headers.host === undefined) return null
      if (!isWellFormedHost(headers.host)) return 'the Host header is not a host name (with an optional port)'
      if (cameThroughProxy(headers) && isProxy(remoteAddress)) return null
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
    const refusal = policy.refusal(req.headers, req.socket.remoteAddress)
    next(refusal === null ? undefined : new WrongHost(refusal))
  }
}
