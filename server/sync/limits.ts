/**
 * Limits that keep one misbehaving laptop — or one person with a script — from hurting a room of
 * note-takers: the mechanisms (token bucket, per-IP counters) and the awareness-state policy.
 * The numbers themselves live in config.ts, each with its reason.
 */

import { cursorDecodes } from './awareness-cursor.ts'

/**
 * A token bucket — `rate` tokens per second, holding at most `burst` — for many sockets at once:
 * this object holds the setting, and each socket only one number, `due`: the moment its bucket is
 * full again, measured in tokens (`rate` per second since the epoch; 0 = full). Equivalent to a
 * bucket that stores its level and last refill time, without an object and two boxed numbers per
 * socket (sockets are many, and mostly idle). Counting in tokens rather than milliseconds keeps a
 * burst exact: taking a token adds exactly 1.
 */
export class TokenBucket {
  readonly rate: number
  readonly burst: number

  constructor(rate: number, burst: number) {
    this.rate = rate
    this.burst = burst
  }

  /** Tokens available now to a socket whose bucket is full again at `due`. */
  level(due: number, now = Date.now()): number {
    return this.burst - Math.max(0, due - this.inTokens(now))
  }

  /** The socket's new `due` after taking one token, or null if there is none. */
  take(due: number, now = Date.now()): number | null {
    const clock = this.inTokens(now)
    if (this.burst - Math.max(0, due - clock) < 1) return null
    return Math.max(due, clock) + 1
  }

  /** The socket's new `due` after spending `tokens` it may not have: a debt it waits out. */
  charge(due: number, tokens: number, now = Date.now()): number {
    return Math.max(due, this.inTokens(now)) + tokens
  }

  /** Milliseconds until a token is available. */
  waitMs(due: number, now = Date.now()): number {
    const missing = 1 - this.level(due, now)
    return missing <= 0 ? 0 : Math.ceil((missing / this.rate) * 1000)
  }

  private inTokens(ms: number): number {
    return (ms * this.rate) / 1000
  }
}

/** Live connections per client address. */
export class ConnectionCounter {
  private readonly counts = new Map<string, number>()
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  /**
   * Counts a new connection from `ip`, unless that would exceed the limit together with the
   * `elsewhere` connections the address has on other servers (shared-counts.ts).
   */
  tryAdd(ip: string, elsewhere = 0): boolean {
    const n = this.counts.get(ip) ?? 0
    if (n + elsewhere >= this.max) return false
    this.counts.set(ip, n + 1)
    return true
  }

  /** Open connections per address (only addresses that have some). */
  entries(): IterableIterator<[string, number]> {
    return this.counts.entries()
  }

  remove(ip: string): void {
    const n = (this.counts.get(ip) ?? 1) - 1
    if (n <= 0) this.counts.delete(ip)
    else this.counts.set(ip, n)
  }
}

/**
 * Distinct pads each client address created in a sliding one-minute window. A pad counts once,
 * however many of that address's sockets write to it: a room behind one NAT address typing into
 * the pad on the projector has created one pad, not one per person.
 */
export class PerMinuteCounter {
  /** Per address: when each pad it created in the window was created. */
  private readonly created = new Map<string, Map<string, number>>()
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  /**
   * Counts `key` (a pad) as created by `ip` now, unless that would pass the limit together with
   * the `elsewhere` pads the address created on other servers this minute (shared-counts.ts).
   */
  tryHit(ip: string, key: string, elsewhere = 0, now = Date.now()): boolean {
    const mine = this.created.get(ip) ?? new Map<string, number>()
    for (const [k, t] of mine) if (now - t >= 60_000) mine.delete(k)
    if (mine.has(key)) return true
    if (mine.size + elsewhere >= this.max) return false
    mine.set(key, now)
    this.created.set(ip, mine)
    // Forget addresses that went quiet, so the map cannot grow without bound.
    if (this.created.size > 10_000) {
      for (const [addr, pads] of this.created)
        if ([...pads.values()].every((t) => now - t >= 60_000)) this.created.delete(addr)
    }
    return true
  }

  /** Counts `key` as created by `ip` now, whatever the limit (admitted by a check elsewhere). */
  add(ip: string, key: string, now = Date.now()): void {
    const mine = this.created.get(ip) ?? new Map<string, number>()
    mine.set(key, now)
    this.created.set(ip, mine)
  }
}

const COLOR = /^#[0-9a-fA-F]{6}$/
const COLOR_WITH_ALPHA = /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: a name is one line of plain text
const MARKUP_OR_CONTROL = /[<>\u0000-\u001f\u007f]/g
/** Longest user name shown next to a cursor. */
export const NAME_MAX_LENGTH = 64

/** A person's name as plain text of bounded length (it is shown in pages and stored in the log). */
export function plainName(name: string): string {
  return name.replace(MARKUP_OR_CONTROL, '').slice(0, NAME_MAX_LENGTH)
}

/**
 * Makes an awareness state safe to relay: y-codemirror.next writes `user.color` and
 * `user.colorLight` into `style` attributes and shows `user.name`, so a colour must be #rrggbb,
 * a name plain text of bounded length; `user.viewer` is true exactly for a read-only link's
 * socket. Returns the JSON to relay, or null to refuse it.
 */
export function sanitizeAwarenessState(json: string, viewer = false): string | null {
  if (json === 'null') return json
  let state: unknown
  try {
    state = JSON.parse(json)
  } catch {
    return null
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return null
  // Relayed as it is, a cursor that does not decode throws in every other editor's cursor code.
  const cursorDropped = 'cursor' in state && !cursorDecodes((state as { cursor?: unknown }).cursor)
  if (cursorDropped) delete (state as { cursor?: unknown }).cursor
  const user = (state as { user?: unknown }).user
  if (user === undefined) {
    if (!viewer)
      return cursorDropped ? JSON.stringify(state) : json
      // A viewer without a name still shows as one, never as an anonymous editor.
    ;(state as { user?: unknown }).user = { viewer: true }
    return JSON.stringify(state)
  }
  if (typeof user !== 'object' || user === null || Array.isArray(user)) return null
  const u = user as Record<string, unknown>
  let changed = false
  // Set by the server only: someone on a read-only link shows as a viewer, whatever they claim.
  if (u.viewer !== (viewer || undefined)) {
    if (viewer) u.viewer = true
    else delete u.viewer
    changed = true
  }
  for (const key of ['color', 'colorLight'] as const) {
    if (u[key] === undefined) continue
    const ok =
      typeof u[key] === 'string' && (key === 'color' ? COLOR : COLOR_WITH_ALPHA).test(u[key] as string)
    if (!ok) {
      delete u[key]
      changed = true
    }
  }
  if (u.name !== undefined) {
    const clean = typeof u.name === 'string' ? plainName(u.name) : ''
    if (clean !== u.name) {
      u.name = clean || 'Anonymous'
      changed = true
    }
  }
  return changed || cursorDropped ? JSON.stringify(state) : json
}
