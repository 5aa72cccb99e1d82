/**
 * A pad's current document for a read outside the sync path (exports, the search index, a
 * series' outcomes): the live room's when the pad is open (after committing what is pending), else
 * rebuilt from the pad log (pad-doc.ts). Minutes, search and series all read pads through this, so
 * none of them needs another: the composition root builds it right after the rooms.
 */
import type * as Y from 'yjs'
import type { Logger } from '../ops/logger.ts'
import type { PadLog, StoredPad } from '../storage/pad-log.ts'
import { admitStoredRead } from './item-budget.ts'
import { NOTES_TEXT } from './notes-text-check.ts'
import { encodeState, readStoredDoc } from './pad-doc.ts'
import type { Rooms } from './rooms.ts'

export interface PadReaderDeps {
  rooms: Rooms
  padLog: PadLog
  /** Log rows after which a snapshot is due (config SNAPSHOT_EVERY). */
  snapshotEvery: number
  log: Logger
}

/** A stored pad is rebuilt for a read only within MAX_READ_ITEMS (item-budget.ts). */
const admitRead = (stored: StoredPad): void => admitStoredRead(stored, 'this pad')

export class PadReader {
  private readonly d: PadReaderDeps

  constructor(deps: PadReaderDeps) {
    this.d = deps
  }

  /** The pad's Markdown now, or null when it has never been stored nor opened. */
  text(padId: string): Promise<string | null> {
    return this.withDoc(padId, (doc) => doc.getText(NOTES_TEXT).toString())
  }

  /** The pad's Yjs state now (no pending structs). */
  state(padId: string): Promise<Uint8Array | null> {
    return this.withDoc(padId, (doc) => encodeState(doc))
  }

  /** `read` of the pad's document now; null when the pad has never been stored nor opened. */
  async withDoc<T>(padId: string, read: (doc: Y.Doc) => T): Promise<T | null> {
    if (this.d.rooms.get(padId)) await this.d.rooms.flush()
    // Looked up again: the room may have been unloaded while its last writes were committed.
    const room = this.d.rooms.get(padId)
    if (room) return read(room.doc)
    const doc = await readStoredDoc(
      this.d.padLog,
      padId,
      this.d.snapshotEvery,
      (err) => this.d.log.warn({ pad: padId, err }, 'could not keep a snapshot of a replayed pad'),
      admitRead,
    )
    if (!doc) return null
    try {
      return read(doc)
    } finally {
      doc.destroy()
    }
  }
}
