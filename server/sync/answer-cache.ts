/**
 * The frames a room answers requests with — its sync step 1, its sync step 2 for a given state
 * vector, everyone's presence — encoded once per change of the pad or of its presence, not once
 * per request. A socket that asks for a 15 MiB pad forty times (or forty sockets that ask once)
 * cost one encoding, and ws sends the same bytes to each of them without copying them.
 *
 * A step 2 depends on the asker's state vector only through the clients the pad holds and the
 * clocks below the pad's own: the cache key keeps just that, so state vectors padded with made-up
 * clients or clocks past the pad's end share the answer of the state vector they amount to.
 */
import type * as Y from 'yjs'

/**
 * Step 2 answers kept per room: one pad size each at most, held until the pad changes. The
 * common ones are two (a newcomer's whole pad, and an editor's save check that lacks nothing).
 */
export const MAX_CACHED_STATE_ANSWERS = 4

export class AnswerCache {
  private step1: Uint8Array | null = null
  private presence: Uint8Array | null = null
  private readonly states = new Map<string, Uint8Array>()

  /** The pad changed: every state answer is stale. */
  docChanged(): void {
    this.step1 = null
    this.states.clear()
  }

  /** Someone's presence changed. */
  presenceChanged(): void {
    this.presence = null
  }

  step1Frame(make: () => Uint8Array): Uint8Array {
    this.step1 ??= make()
    return this.step1
  }

  presenceFrame(make: () => Uint8Array): Uint8Array {
    this.presence ??= make()
    return this.presence
  }

  /** The step 2 frame for the asker's `key` (see `stateKey`), made at most once per change. */
  stateFrame(key: string, make: () => Uint8Array): Uint8Array {
    const held = this.states.get(key)
    if (held) return held
    const frame = make()
    if (this.states.size >= MAX_CACHED_STATE_ANSWERS) {
      // The oldest goes: Maps iterate in insertion order.
      const oldest = this.states.keys().next().value
      if (oldest !== undefined) this.states.delete(oldest)
    }
    this.states.set(key, frame)
    return frame
  }
}

/** Key of the whole pad's answer (an empty state vector), whether or not the doc is built. */
export const WHOLE_PAD_KEY = '*'

/**
 * What of `stateVector` decides the step 2 answer on `doc`: the clients whose structs the asker
 * lacks part of, with the clock it has. Every state vector lacking all of the pad maps to
 * WHOLE_PAD_KEY.
 */
export function stateKey(doc: Y.Doc, stateVector: Map<number, number>): string {
  const parts: string[] = []
  let lacksAll = true
  for (const [client, structs] of doc.store.clients) {
    const last = structs[structs.length - 1]
    const end = last ? last.id.clock + last.length : 0
    const has = stateVector.get(client) ?? 0
    if (has > 0) lacksAll = false
    if (has < end) parts.push(`${client}:${has}`)
  }
  return lacksAll ? WHOLE_PAD_KEY : parts.join(',')
}
