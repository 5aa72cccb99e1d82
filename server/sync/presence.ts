/**
 * The awareness (presence) states of one pad, as the server relays them.
 *
 * Clients send awareness updates of many client ids: their own, and — because the stock client
 * re-sends every change it hears — echoes of everyone else's. An entry is accepted only if it is
 * newer (higher clock) than what we hold, so echoes die here instead of being fanned out again.
 * The peer that first introduces a client id owns it: only that peer may change or remove it (a
 * viewer rewriting an editor's state, or removing it and bringing it back at clock 2^40 so her own
 * updates are ignored, is dropped silently: stock clients re-send every change they hear, timeouts
 * included, and must never be closed for it), and when that peer's socket closes its ids are
 * removed and the removal is broadcast. State JSON is kept as text; it is parsed once on accept.
 */
import { BoundedReader } from '../../shared/bounded-reader.ts'
import type { AwarenessEntry } from '../../shared/protocol.ts'

/** The message type of an awareness frame (y-protocols). */
const MESSAGE_AWARENESS = 1
/** The bytes of the JSON state `null` (a removal). */
const NULL_STATE = [0x6e, 0x75, 0x6c, 0x6c]

/**
 * An echo may name every state the room holds, and a few more (removals of states that just
 * left): a frame claiming more entries than that is not an echo, and goes through the normal path.
 */
const ECHO_SLACK_ENTRIES = 16

interface Held<P> {
  clock: number
  state: string
  owner: P
}

export class Presence<P> {
  private readonly states = new Map<number, Held<P>>()
  private readonly names = new Map<P, string>()
  private readonly owned = new Map<P, number>()

  /**
   * Applies an update from `peer`; returns the entries that changed something, to broadcast, or
   * null when the peer tried to introduce more than `maxOwned` client ids (nothing is applied).
   */
  apply(
    peer: P,
    entries: readonly AwarenessEntry[],
    maxOwned = Number.POSITIVE_INFINITY,
  ): AwarenessEntry[] | null {
    const introducing = new Set<number>()
    for (const entry of entries) {
      if (entry.state !== 'null' && !this.states.has(entry.clientId)) introducing.add(entry.clientId)
    }
    if ((this.owned.get(peer) ?? 0) + introducing.size > maxOwned) return null
    const accepted: AwarenessEntry[] = []
    for (const entry of entries) {
      const held = this.states.get(entry.clientId)
      const removing = entry.state === 'null'
      if (held) {
        // Someone else's presence: an echo, or an attempt to rewrite or remove it.
        if (held.owner !== peer) continue
        if (!supersedes(entry, held)) continue
        if (removing) {
          this.states.delete(entry.clientId)
          this.disown(held.owner)
        } else {
          held.clock = entry.clock
          held.state = entry.state
          this.noteName(peer, entry.state)
        }
      } else {
        if (removing) continue
        // A client id we do not hold is introduced by this peer, whatever its clock: after a
        // reconnect the client re-sends its state with the clock it had, which is lower than the
        // removal we broadcast when its old socket closed (the reference server ignores it then).
        this.states.set(entry.clientId, { clock: entry.clock, state: entry.state, owner: peer })
        this.owned.set(peer, (this.owned.get(peer) ?? 0) + 1)
        this.noteName(peer, entry.state)
      }
      accepted.push(entry)
    }
    return accepted
  }

  /**
   * Whether `frame` (a whole websocket message) is an awareness update that `apply` would drop
   * entirely: every entry is someone else's state, one of `peer`'s own at a clock it already has,
   * or the removal of a state nobody holds. The stock client re-sends every presence change it
   * hears: in a room of 300 these are most of its frames, and they are answered by nothing.
   * Decided from the ids and clocks alone, before any state is decoded; false for anything else
   * (including a malformed frame, which the normal path refuses).
   */
  isEcho(peer: P, frame: Uint8Array): boolean {
    try {
      const outer = new BoundedReader(frame)
      if (outer.varUint('message type') !== MESSAGE_AWARENESS) return false
      const update = outer.varBytes('awareness update')
      const reader = new BoundedReader(update)
      const n = reader.count('awareness entry count', 3)
      if (n === 0 || n > this.states.size + ECHO_SLACK_ENTRIES) return false
      for (let i = 0; i < n; i++) {
        const clientId = reader.varUint('awareness client id')
        const clock = reader.varUint('awareness clock')
        const length = reader.varUint('awareness state length')
        const start = reader.offset
        reader.skip(length, 'awareness state')
        const removal = length === 4 && NULL_STATE.every((byte, k) => update[start + k] === byte)
        const held = this.states.get(clientId)
        if (!held) {
          if (!removal) return false
        } else if (held.owner === peer) {
          if (clock > held.clock || (clock === held.clock && removal)) return false
        }
      }
      return reader.remaining === 0 && outer.remaining === 0
    } catch {
      return false
    }
  }

  /** Drops every id `peer` introduced; returns the removals to broadcast. */
  removePeer(peer: P): AwarenessEntry[] {
    const removed: AwarenessEntry[] = []
    for (const [clientId, held] of this.states) {
      if (held.owner !== peer) continue
      this.states.delete(clientId)
      removed.push({ clientId, clock: held.clock + 1, state: 'null' })
    }
    this.names.delete(peer)
    this.owned.delete(peer)
    return removed
  }

  private disown(peer: P): void {
    const n = (this.owned.get(peer) ?? 1) - 1
    if (n <= 0) this.owned.delete(peer)
    else this.owned.set(peer, n)
  }

  /** The peer that introduced `clientId`, if it is present. */
  ownerOf(clientId: number): P | undefined {
    return this.states.get(clientId)?.owner
  }

  all(): AwarenessEntry[] {
    return [...this.states].map(([clientId, held]) => ({ clientId, clock: held.clock, state: held.state }))
  }

  /** The user name `peer` announced for a client id it owns, if any. */
  nameOf(peer: P): string | null {
    return this.names.get(peer) ?? null
  }

  /** Names of everyone present, for "who is here". */
  people(): { clientId: number; name: string | null }[] {
    return [...this.states].map(([clientId, held]) => ({ clientId, name: userNameOf(held.state) }))
  }

  get size(): number {
    return this.states.size
  }

  private noteName(peer: P, state: string): void {
    const name = userNameOf(state)
    if (name !== null) this.names.set(peer, name)
  }
}

/**
 * Whether `entry` replaces `than` for a client that holds `than`: a higher clock, or a removal at
 * the same clock (y-protocols' rule; a client ignores anything else).
 */
export function supersedes(entry: AwarenessEntry, than: { clock: number; state: string }): boolean {
  return (
    entry.clock > than.clock ||
    (entry.clock === than.clock && entry.state === 'null' && than.state !== 'null')
  )
}

/** `state.user.name` of an awareness state, as y-codemirror.next and most editors set it. */
export function userNameOf(state: string): string | null {
  try {
    const parsed: unknown = JSON.parse(state)
    if (typeof parsed !== 'object' || parsed === null) return null
    const user = (parsed as { user?: unknown }).user
    if (typeof user !== 'object' || user === null) return null
    const name = (user as { name?: unknown }).name
    return typeof name === 'string' && name.length > 0 ? name.slice(0, 100) : null
  } catch {
    return null
  }
}
