/**
 * TRUST_PROXY: which TCP peers are reverse proxies we run. Their forwarding headers
 * (X-Forwarded-For, -Proto, Forwarded, X-Real-IP) are believed only on a connection that comes
 * from one of them: anyone else can write those headers too, and a DNS-rebinding page that added
 * one would otherwise skip the Host check.
 *
 *   TRUST_PROXY=127.0.0.1,::1          addresses
 *   TRUST_PROXY=10.0.0.0/8,fd00::/8    CIDR ranges
 *   TRUST_PROXY=1 (or true, yes)       the loopback addresses: a proxy on this machine, as in the
 *                                      README's nginx setup (what `1` was always used for)
 */
import net from 'node:net'

/** The setting: false (none), true (loopback, see above), or a list of addresses and CIDR ranges. */
export type TrustProxySetting = boolean | readonly string[]

/** What `TRUST_PROXY=1` means. */
export const LOOPBACK_PROXIES: readonly string[] = ['127.0.0.0/8', '::1']

/** Whether a connection's peer address is a proxy we run. */
export type ProxyTrust = (remoteAddress: string | undefined) => boolean

const YES = new Set(['1', 'true', 'yes'])
const NO = new Set(['', '0', 'false', 'no'])

/** Parses TRUST_PROXY; anything that is not an address or range is a configuration error. */
export function parseTrustProxy(raw: string | undefined): TrustProxySetting | { error: string } {
  const value = (raw ?? '').trim().toLowerCase()
  if (NO.has(value)) return false
  if (YES.has(value)) return true
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const entry of entries) {
    if (parseEntry(entry) === null)
      return {
        error: `TRUST_PROXY: "${entry}" is not an IP address or CIDR range (e.g. 127.0.0.1,::1 or 10.0.0.0/8)`,
      }
  }
  return entries
}

function parseEntry(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address = '', prefixText, extra] = entry.split('/')
  if (extra !== undefined) return null
  const version = net.isIP(address)
  if (version === 0) return null
  const family = version === 4 ? 'ipv4' : 'ipv6'
  const max = version === 4 ? 32 : 128
  if (prefixText === undefined) return { address, prefix: max, family }
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null
  return { address, prefix: Number(prefixText), family }
}

/** The check for one setting, built once (a BlockList answers in time independent of the request). */
export function proxyTrust(setting: TrustProxySetting): ProxyTrust {
  const entries = setting === true ? LOOPBACK_PROXIES : setting === false ? [] : setting
  if (entries.length === 0) return () => false
  const list = new net.BlockList()
  for (const entry of entries) {
    const parsed = parseEntry(entry)
    if (parsed === null) throw new Error(`TRUST_PROXY: invalid entry "${entry}"`)
    list.addSubnet(parsed.address, parsed.prefix, parsed.family)
  }
  return (remoteAddress) => {
    if (!remoteAddress) return false
    // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    const v4 = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : null
    if (v4 !== null && net.isIPv4(v4)) return list.check(v4, 'ipv4')
    const version = net.isIP(remoteAddress)
    return version !== 0 && list.check(remoteAddress, version === 4 ? 'ipv4' : 'ipv6')
  }
}
