/**
 * The PadLog interface on SQLite: each call runs PadStore's synchronous transaction at once and
 * returns its settled result (a failure is a rejected promise, never a throw). SQLite lives in
 * this process, so the work is done by the time the call returns; callers still await it, as
 * they must for a networked engine.
 */
import type { AppendedBatch, LoadedLog, LogRow, LogTail, PadLog } from './pad-log.ts'
import { settled } from './settled.ts'
import type { PadStore } from './store.ts'

export class SqlitePadLog implements PadLog {
  private readonly store: PadStore

  constructor(store: PadStore) {
    this.store = store
  }

  appendBatch(rows: readonly LogRow[]): Promise<number[]> {
    return settled(() => this.store.append(rows))
  }

  appendBatchWithHeads(rows: readonly LogRow[]): Promise<AppendedBatch> {
    return settled(() => this.store.appendWithHeads(rows))
  }

  rowsAfter(padId: string, afterSeq: number, limit: number): Promise<LogTail | null> {
    return settled(() => this.store.rowsAfter(padId, afterSeq, limit))
  }

  heads(padIds: readonly string[]): Promise<Map<string, number>> {
    return settled(() => this.store.heads(padIds))
  }

  load(padId: string): Promise<LoadedLog | null> {
    return settled(() => this.store.loadWithWriters(padId))
  }

  writeSnapshot(padId: string, upto: number, state: Uint8Array, at?: number): Promise<void> {
    return settled(() => this.store.writeSnapshot(padId, upto, state, at))
  }

  snapshotIfCurrent(padId: string, upto: number, state: Uint8Array, at?: number): Promise<boolean> {
    return settled(() => this.store.writeSnapshotIfCurrent(padId, upto, state, at))
  }

  forgetHistory(padId: string, state: Uint8Array, at?: number): Promise<void> {
    return settled(() => this.store.forgetHistory(padId, state, at))
  }

  forgetHistoryIfCurrent(padId: string, upto: number, state: Uint8Array, at?: number): Promise<boolean> {
    return settled(() => this.store.forgetHistoryIfCurrent(padId, upto, state, at))
  }

  lastSeq(padId: string): Promise<number> {
    return settled(() => this.store.lastSeq(padId))
  }

  authors(padId: string) {
    return settled(() => this.store.authors(padId))
  }

  exists(padId: string): Promise<boolean> {
    return settled(() => this.store.exists(padId))
  }

  delete(padId: string): Promise<boolean> {
    return settled(() => this.store.delete(padId))
  }

  list() {
    return settled(() => this.store.list())
  }
}
