/**
 * Backups of the whole database, as the HTTP layer (POST /api/admin/backup) and the CLI
 * (`summitpad backup <file>`) ask for them: a promise-returning interface, SQLite's online backup
 * behind it (backup.ts). An engine whose database has its own backup tools (PostgreSQL: pg_dump,
 * base backups, point-in-time recovery) says so with `backupsUnsupported`: every call rejects with
 * an Unsupported domain error whose message names what to use (HTTP 501, CLI exit 1).
 */
import { Unsupported } from '../lib/domain-errors.ts'

export interface BackupResult {
  /** Where the backup is: an absolute file path for SQLite. */
  path: string
  bytes: number
  /** Pads in the backup: a quick sanity check for the operator. */
  pads: number
  /** Schema version of the backup. */
  schemaVersion: number
  createdAt: string
  tookMs: number
}

export interface Backups {
  /**
   * Takes a backup into the engine's own place for them (DATA_DIR/backups for SQLite), after any
   * backup already running has finished; everything committed before the call is in it.
   */
  take(): Promise<BackupResult>
  /** Copies the database into the new file `file` (which must not exist), while others write. */
  copyTo(file: string): Promise<BackupResult>
  /** Resolves when no backup is running (at shutdown, before the database is closed). */
  idle(): Promise<void>
}

/** The Backups of an engine that leaves backups to its database's tools: `how` says which. */
export function backupsUnsupported(how: string): Backups {
  const refuse = () => Promise.reject(new Unsupported(how, 'backup_unsupported'))
  return { take: refuse, copyTo: refuse, idle: () => Promise.resolve() }
}
