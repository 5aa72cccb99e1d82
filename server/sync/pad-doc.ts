/**
 * Rebuilds a pad's Y.Doc from what the store holds: the newest snapshot, then the log after it,
 * all in one Yjs transaction (one cleanup pass instead of one per row). Also: what a room starts
 * from (`loadForRoom`), and reads outside a room that keep a long replay (`readStoredDoc`).
 */
import * as Y from 'yjs'
import type { PadLog, StoredPad } from '../storage/pad-log.ts'
import { snapshotDue } from '../storage/snapshot-policy.ts'
import { checkUpdate, lacksDependencies } from './update-check.ts'

/** Origin of the transaction that replays stored data; rows replayed are never logged again. */
export const LOAD_ORIGIN = Symbol('load')

export function docFromStored(stored: StoredPad | null): Y.Doc {
  // gc stays on (the default): deleted text is dropped from the live doc; the log keeps history.
  const doc = new Y.Doc()
  if (!stored) return doc
  applyStored(doc, stored, LOAD_ORIGIN)
  if (doc.store.pendingStructs || doc.store.pendingDs) {
    // Stored rows were all complete when written; missing dependencies mean the data is damaged.
    doc.destroy()
    throw new Error('stored pad has updates with missing dependencies')
  }
  return doc
}

/** Applies a stored pad (its snapshot, then its rows) to `doc` in one transaction of `origin`. */
export function applyStored(doc: Y.Doc, stored: StoredPad, origin: unknown): void {
  Y.transact(
    doc,
    () => {
      if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot, origin)
      for (const row of stored.updates) Y.applyUpdate(doc, row.data, origin)
    },
    origin,
  )
}

/**
 * A pad as a room starts with it: a Y.Doc, or — when the newest snapshot covers the whole log —
 * just those bytes, which `Room` rebuilds into a Y.Doc only once it has answered the first reader.
 */
export type LoadedPad = { doc: Y.Doc; state: null } | { doc: null; state: Uint8Array }

export function loadForRoom(stored: StoredPad | null, mayDefer = true): LoadedPad {
  if (mayDefer && stored?.snapshot && stored.updates.length === 0 && isComplete(stored.snapshot))
    return { doc: null, state: stored.snapshot }
  return { doc: docFromStored(stored), state: null }
}

/**
 * Whether a stored snapshot is one we would accept from a client into an empty pad: it will be
 * sent as it is, before any Y.Doc has tried it. Ours always are; damaged bytes take the eager
 * path, which refuses them (1011) as before. ~2 ms for a pad of 50,000 keystrokes.
 */
function isComplete(snapshot: Uint8Array): boolean {
  const shape = checkUpdate(snapshot)
  return shape.ok && !lacksDependencies(shape.value, () => 0)
}

/** The pad's full state as one update, never including structs still waiting for dependencies. */
export function encodeState(doc: Y.Doc): Uint8Array {
  doc.store.pendingStructs = null
  doc.store.pendingDs = null
  return Y.encodeStateAsUpdate(doc)
}

/**
 * A pad no room holds, rebuilt for a read (export, search index). A tail long enough to be worth a
 * snapshot (snapshot-policy.ts: rows written by another program, a snapshot that failed) is
 * replayed here once and kept as a snapshot, so the next read — and the first person to open the
 * pad — load the snapshot instead of replaying it all again. Keeping it is optional: if it cannot
 * be written (a full disk, a locked database) the read still succeeds, and `snapshotFailed` hears
 * why. Null when the pad was never stored.
 */
export async function readStoredDoc(
  log: PadLog,
  padId: string,
  snapshotEvery: number,
  snapshotFailed: (err: unknown) => void,
  /** Looks at what would be rebuilt first, and may refuse it by throwing (a read budget). */
  admit?: (stored: StoredPad) => void,
): Promise<Y.Doc | null> {
  const stored = await log.load(padId)
  if (!stored) return null
  admit?.(stored)
  const doc = docFromStored(stored)
  const last = stored.updates.at(-1)
  const debt = {
    rowsSince: stored.updates.length,
    bytesSince: stored.updates.reduce((n, u) => n + u.data.byteLength, 0),
    snapshotBytes: stored.snapshot?.byteLength ?? 0,
  }
  if (last && snapshotDue(debt, snapshotEvery)) {
    try {
      await log.snapshotIfCurrent(padId, last.seq, encodeState(doc))
    } catch (err) {
      snapshotFailed(err)
    }
  }
  return doc
}
