/**
 * Rebuilds a pad's Y.Doc from what the store holds: the newest snapshot, then the log after it,
 * all in one Yjs transaction (one cleanup pass instead of one per row).
 */
import * as Y from 'yjs'
import type { StoredPad } from './store.ts'

/** Origin of the transaction that replays stored data; rows replayed are never logged again. */
export const LOAD_ORIGIN = Symbol('load')

export function docFromStored(stored: StoredPad | null): Y.Doc {
  // gc stays on (the default): deleted text is dropped from the live doc; the log keeps history.
  const doc = new Y.Doc()
  if (!stored) return doc
  Y.transact(
    doc,
    () => {
      if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot, LOAD_ORIGIN)
      for (const row of stored.updates) Y.applyUpdate(doc, row.data, LOAD_ORIGIN)
    },
    LOAD_ORIGIN,
  )
  if (doc.store.pendingStructs || doc.store.pendingDs) {
    // Stored rows were all complete when written; missing dependencies mean the data is damaged.
    doc.destroy()
    throw new Error('stored pad has updates with missing dependencies')
  }
  return doc
}

/** The pad's full state as one update, never including structs still waiting for dependencies. */
export function encodeState(doc: Y.Doc): Uint8Array {
  doc.store.pendingStructs = null
  doc.store.pendingDs = null
  return Y.encodeStateAsUpdate(doc)
}
