/**
 * What a pad costs beyond its encoded size: its items. Every struct Yjs holds is an object of
 * ~200 bytes in memory that each load, apply, snapshot and history read walks, deleted or not; a
 * delete-set range can split one item in two. 14.7 MiB of two and a half million one-character
 * items inserted and deleted (an empty text, under the size limit) took 4-39 s to apply and
 * ~1 GB of memory. Counted by update-check's walk, before anything is applied.
 */
import type * as Y from 'yjs'
import { TooLarge } from '../lib/domain-errors.ts'
import type { StoredPad } from '../storage/pad-log.ts'
import { checkUpdate, type UpdateShape } from './update-check.ts'

/**
 * Items (structs) plus delete-set ranges a pad may hold. The worst honest case we know: five
 * people typing in turn at the very end of the pad, so that no keystroke merges with the one
 * before, is 90,000 items an hour (the benchmark's session); people typing on their own lines
 * merge a run of keystrokes into one item and stay far below. 200,000 is about 40 MB in memory,
 * and a second or two to apply in the worst layout on a busy 2-core machine (measured: 2.6 s for
 * 200,000 one-character items inserted at alternate ends and deleted), not 4-39 s.
 */
export const MAX_PAD_ITEMS = 200_000

/** Items and delete ranges an update brings at most. */
export function itemsIn(shape: UpdateShape): number {
  return shape.structCount + shape.deleteRangeCount
}

/**
 * Structs the update adds to a doc whose clocks are `stateOf(client)`, at most: its structs, but
 * no more than the clocks it adds (a reconnecting client's step 2 re-sends what the pad holds).
 * Its delete ranges are not counted here (a step 2 re-sends the pad's whole delete set, which
 * splits nothing): what they split is counted after the apply (`itemsOf`).
 */
export function newStructsIn(shape: UpdateShape, stateOf: (client: number) => number): number {
  let clocks = 0
  for (const [client, end] of shape.ends)
    clocks += Math.max(0, end - Math.max(stateOf(client), shape.starts.get(client) ?? 0))
  return Math.min(shape.structCount, clocks)
}

/** Items the doc holds: its structs, deleted or not (O(clients), not O(items)). */
export function itemsOf(doc: Y.Doc): number {
  let n = 0
  for (const structs of doc.store.clients.values()) n += structs.length
  return n
}

/**
 * Items a history read (a revision, a diff, an export of a pad not in memory) may rebuild: the
 * stored blobs are counted one by one, so keystrokes a pad holds merged count once each here.
 * Twice MAX_PAD_ITEMS: any pad written within the budget reads; a pad stored before it, holding
 * millions of items, is refused in milliseconds instead of holding the server for seconds.
 */
export const MAX_READ_ITEMS = 2 * MAX_PAD_ITEMS

/** Items and delete ranges in stored blobs (a snapshot and log rows), counted by the walk alone. */
export function storedItems(blobs: Iterable<Uint8Array>): number {
  let n = 0
  for (const blob of blobs) {
    const shape = checkUpdate(blob)
    if (shape.ok) n += itemsIn(shape.value)
  }
  return n
}

/** Refuses (TooLarge) to rebuild a stored pad past MAX_READ_ITEMS: counted before anything is applied. */
export function admitStoredRead(stored: StoredPad, what: string): void {
  const blobs = stored.snapshot ? [stored.snapshot] : []
  for (const row of stored.updates) blobs.push(row.data)
  if (storedItems(blobs) > MAX_READ_ITEMS) throw new TooLarge(tooManyItemsToRead(what))
}

/** The message of a refused history read, naming the limit. */
export function tooManyItemsToRead(what: string): string {
  return `${what} holds more than ${MAX_READ_ITEMS} edits (items and deletions: MAX_READ_ITEMS); rebuilding it would hold the server up for seconds`
}

/** The refusal, naming the limit. */
export function tooManyItems(what: string): string {
  return `${what} would hold more than ${MAX_PAD_ITEMS} edits (items and deletions: MAX_PAD_ITEMS)`
}
