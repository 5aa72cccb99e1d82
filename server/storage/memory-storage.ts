/**
 * The in-memory engine as a PadStorage bundle (storage.ts): the pad log answering after the delays
 * the caller chooses, its history log, a search store scanning its entries, and no backups (there
 * is no file to copy: the refusal says so). For tests of the sync path and the storage contract;
 * nothing survives the process.
 */
import { backupsUnsupported } from './backups.ts'
import { MemoryPadLog, type MemoryPadLogOptions } from './memory-pad-log.ts'
import { MemorySearchStore } from './memory-search-store.ts'
import type { PadStorage } from './storage.ts'

export interface MemoryStorage extends PadStorage {
  readonly padLog: MemoryPadLog
  readonly search: MemorySearchStore
}

export function openMemoryStorage(options: MemoryPadLogOptions = {}): MemoryStorage {
  const padLog = new MemoryPadLog(options)
  return {
    engine: 'memory',
    padLog,
    history: padLog.history(),
    search: new MemorySearchStore(padLog),
    backups: backupsUnsupported('backups: the in-memory store keeps nothing to back up'),
    // Nothing is kept of what was forgotten.
    scrubForgotten: async () => true,
    health: async () => ({ ok: true }),
    close: async () => {},
  }
}
