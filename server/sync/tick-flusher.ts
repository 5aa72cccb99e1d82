/**
 * Commits the updates of one event-loop tick, across all rooms, in one SQLite transaction, and
 * only then lets each room broadcast them: persist, then broadcast. A burst of keystrokes from a
 * room of typists costs one commit per tick instead of one per keystroke.
 */

import type { PadStore } from '../storage/store.ts'
import type { PendingRow, Room } from './room.ts'

export class TickFlusher {
  private readonly store: PadStore
  private dirty = new Set<Room>()
  private scheduled: NodeJS.Immediate | null = null

  constructor(store: PadStore) {
    this.store = store
  }

  markDirty(room: Room): void {
    this.dirty.add(room)
    this.scheduled ??= setImmediate(() => this.flush())
  }

  flush(): void {
    if (this.scheduled) {
      clearImmediate(this.scheduled)
      this.scheduled = null
    }
    if (this.dirty.size === 0) return
    const rooms = [...this.dirty]
    this.dirty = new Set()
    const batches: PendingRow[][] = rooms.map((room) => room.takePending())
    let seqs: number[]
    try {
      seqs = this.store.append(batches.flat())
    } catch (err) {
      for (const room of rooms) room.persistFailed(err)
      return
    }
    let offset = 0
    rooms.forEach((room, i) => {
      const rows = batches[i]!
      room.committed(rows, seqs.slice(offset, offset + rows.length))
      offset += rows.length
    })
  }
}
