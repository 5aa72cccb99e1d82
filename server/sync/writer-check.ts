/**
 * Edits belong to their writer: which Yjs client ids of an update a socket may write.
 *
 * Yjs trusts the client id in a struct. Anyone who writes structs under a colleague's id at her
 * next clocks makes the server (and everyone) drop her real edits at those clocks as duplicates,
 * and her own Yjs silently moves her to a new id: her offline lines vanish while her screen says
 * "Saved". So, for every client id whose *new* structs an update carries (structs the pad already
 * holds are re-sent harmlessly by every reconnecting client and are always accepted):
 *   - an id the pad already holds, first written with a writer key, may be continued only with
 *     that key; one first written without a key (stock clients, bots) stays open to anyone, as
 *     before keys existed;
 *   - an id the pad does not hold yet, that another socket announced in its presence, is that
 *     socket's (its first keystroke may still be in flight) unless both carry the same key (two
 *     tabs of one browser);
 *   - an id the pad does not hold yet is claimed for the sender's key when the sender says it is
 *     its own: sent as a live update, or announced in the sender's own presence. Ids arriving
 *     only in a sync step 2 are not claimed: after a restore from backup, or a failover, a client
 *     honestly re-sends other people's edits the server lost, and must not take their ids.
 */
import * as Y from 'yjs'
import type { UpdateShape } from './update-check.ts'
import type { WriterHash } from './writer-key.ts'

export interface WriterView {
  /** The pad's clock for `client` (0 when it holds none of its structs). */
  stateOf(client: number): number
  /** The key `client` was first written with, null when none. Only asked for ids the pad holds. */
  keyOf(client: number): WriterHash | null
  /**
   * For an id present in awareness: whether the sender introduced it ('self'), or the key of the
   * socket that did ('other' and its key, null for a keyless socket); undefined when absent.
   */
  presenceOf(client: number): { by: 'self' } | { by: 'other'; writer: WriterHash | null } | undefined
}

export interface WriterVerdict {
  /** Ids whose new structs this sender may not write. */
  foreign: number[]
  /** Ids the pad does not hold yet that this update's structs claim for the sender's key. */
  claims: number[]
}

export function checkWriters(
  shape: UpdateShape,
  writer: WriterHash | null,
  live: boolean,
  view: WriterView,
): WriterVerdict {
  const foreign: number[] = []
  const claims: number[] = []
  for (const [client, end] of shape.ends) {
    const state = view.stateOf(client)
    if (end <= state) continue
    if (state > 0) {
      const owner = view.keyOf(client)
      if (owner !== null && owner !== writer) foreign.push(client)
      continue
    }
    const present = view.presenceOf(client)
    if (present?.by === 'other' && (writer === null || present.writer !== writer)) {
      foreign.push(client)
      continue
    }
    if (writer !== null && (live || present !== undefined)) claims.push(client)
  }
  return { foreign, claims }
}

/** `update` without any struct of `clients` (its delete set is kept whole: anyone may delete). */
export function withoutClients(update: Uint8Array, clients: readonly number[]): Uint8Array {
  // Everything below a clock in the state vector counts as known and is left out: past every
  // clock, a client's structs are all left out.
  const past = new Map(clients.map((client) => [client, Number.MAX_SAFE_INTEGER]))
  return Y.diffUpdate(update, Y.encodeStateVector(past))
}
