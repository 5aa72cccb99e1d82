/**
 * Commits the updates of one event-loop tick, across all rooms, in one atomic append, and only
 * then lets each room broadcast them: persist, then broadcast. A burst of keystrokes from a room
 * of typists costs one commit per tick instead of one per keystroke.
 *
 * At most one append is in flight. Rows queued meanwhile wait for it and go in the next one:
 * rows of a pad depend on the rows before them, so a later batch must never be stored when an
 * earlier one failed (the failed rooms are discarded, and their queued rows with them).
 */

import type { PadLog } from '../storage/pad-log.ts'
import type { PendingRow, Room } from './room.ts'

export class TickFlusher {
  private readonly store: PadLog
  private dirty = new Set<Room>()
  private scheduled: NodeJS.Immediate | null = null
  /** The append in flight (settled: it never rejects), or null. */
  private inFlight: Promise<void> | null = null
  /** The commit that starts once `inFlight` settles, shared by everyone flushing meanwhile. */
  private next: Promise<void> | null = null

  constructor(store: PadLog) {
    this.store = store
  }

  markDirty(room: Room): void {
    this.dirty.add(room)
    this.scheduled ??= setImmediate(() => void this.flush())
  }

  /**
   * Commits every row queued so far. Resolves once they are stored and handed to their rooms
   * (or their rooms were told the commit failed); never rejects.
   */
  flush(): Promise<void> {
    if (this.scheduled) {
      clearImmediate(this.scheduled)
      this.scheduled = null
    }
    if (this.inFlight === null) return this.commitDirty()
    this.next ??= this.inFlight.then(() => {
      this.next = null
      // Through flush again: an exclusive write may have taken the slot first.
      return this.flush()
    })
    return this.next
  }

  /**
   * Runs `op` (a write that must not interleave with appends, e.g. "forget history": rows stored
   * while it runs would be dropped with the log) once no append is in flight, and starts none
   * until it is done. Rows queued meanwhile wait, as behind an append.
   */
  async exclusive<T>(op: () => Promise<T>): Promise<T> {
    while (this.inFlight !== null) await this.inFlight
    const running = op()
    const settled: Promise<void> = running.then(
      () => {},
      () => {},
    )
    const slot = settled.finally(() => {
      if (this.inFlight === slot) this.inFlight = null
    })
    this.inFlight = slot
    return running
  }

  private commitDirty(): Promise<void> {
    if (this.dirty.size === 0) return Promise.resolve()
    const rooms = [...this.dirty]
    this.dirty = new Set()
    const batches: PendingRow[][] = rooms.map((room) => room.takePending())
    const commit = this.store.appendBatchWithHeads(batches.flat()).then(
      ({ seqs, headsBefore }) => {
        let offset = 0
        rooms.forEach((room, i) => {
          const rows = batches[i]!
          room.committed(rows, seqs.slice(offset, offset + rows.length), headsBefore.get(room.padId) ?? 0)
          offset += rows.length
        })
      },
      (err: unknown) => {
        for (const room of rooms) room.persistFailed(err)
      },
    )
    // Stored but not all sent (a room threw while broadcasting): its peers must resync.
    const handed = commit.catch((err: unknown) => {
      for (const room of rooms) room.persistFailed(err)
    })
    const settled = handed.finally(() => {
      if (this.inFlight === settled) this.inFlight = null
    })
    this.inFlight = settled
    return settled
  }
}
