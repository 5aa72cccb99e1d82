/**
 * Online backup of the database while the server runs and people type: `VACUUM INTO` a new file
 * from a read-only connection of its own. A WAL reader never blocks the server's writes, and the
 * copy is one consistent snapshot of every committed transaction (SQLite's `backup()` from another
 * connection would instead restart on every write the server makes, and may never finish).
 *
 * The work runs on a worker thread: a 100 MB database takes about a second to copy, and the
 * server's event loop must keep answering keystrokes meanwhile. The copy is written under a
 * temporary name, fsynced, checked with `PRAGMA quick_check`, and only then renamed into place,
 * so a file with the backup's name is always a whole, readable database.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import type { BackupResult, Backups } from './backups.ts'
import { DB_FILE_NAME } from './db.ts'

export type { BackupResult } from './backups.ts'

/** Backups the admin endpoint writes go here, inside the data directory. */
export const BACKUP_DIR_NAME = 'backups'

/**
 * How long the backup's read-only connection waits for a lock. Readers of a WAL database only
 * wait while another connection recovers the WAL; the server's own writes never block them.
 */
const BUSY_TIMEOUT_MS = 10_000

export class BackupError extends Error {}

// Plain CommonJS, run by the worker as it is: a worker thread does not inherit the TypeScript
// loader when the CLI was started through tsx's register API, so this must not need it.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const Database = require(workerData.driver)
const { source, partial, busyTimeoutMs } = workerData
const db = new Database(source, { readonly: true, fileMustExist: true })
try {
  db.pragma('busy_timeout = ' + busyTimeoutMs)
  db.prepare('VACUUM INTO ?').run(partial)
} finally {
  db.close()
}
// SQLite does not sync the file VACUUM INTO writes: a power cut could leave it half written.
const fd = fs.openSync(partial, 'r+')
try { fs.fsyncSync(fd) } finally { fs.closeSync(fd) }
const copy = new Database(partial, { readonly: true, fileMustExist: true })
try {
  const check = copy.pragma('quick_check', { simple: true })
  const schemaVersion = copy.pragma('user_version', { simple: true })
  const pads = schemaVersion >= 1 ? copy.prepare('SELECT count(*) AS n FROM pads').get().n : 0
  parentPort.postMessage({ check, schemaVersion, pads })
} finally {
  copy.close()
}
`

interface WorkerReport {
  check: string
  schemaVersion: number
  pads: number
}

function runWorker(source: string, partial: string): Promise<WorkerReport> {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, source, partial, busyTimeoutMs: BUSY_TIMEOUT_MS },
    })
    let report: WorkerReport | null = null
    worker.once('message', (message: WorkerReport) => {
      report = message
    })
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (report) resolve(report)
      else reject(new BackupError(`backup worker exited with code ${code}`))
    })
  })
}

function fsyncDir(dir: string): void {
  let fd: number | null = null
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {
    // Some file systems cannot sync a directory; the file itself is synced already.
  } finally {
    if (fd !== null) fs.closeSync(fd)
  }
}

/** Gives the finished copy its name, never replacing a file that appeared meanwhile. */
function publish(partial: string, file: string): void {
  try {
    fs.linkSync(partial, file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new BackupError(`${file} already exists; choose a new file name`)
    // A file system without hard links: rename, which would replace a file created since the check.
    fs.renameSync(partial, file)
  }
}

/**
 * Copies the database `source` into the new file `target` (which must not exist), consistently,
 * while other connections keep writing.
 */
export async function backupDatabase(source: string, target: string): Promise<BackupResult> {
  const started = Date.now()
  const file = path.resolve(target)
  if (!fs.existsSync(source)) throw new BackupError(`no database at ${source}`)
  if (fs.existsSync(file)) throw new BackupError(`${file} already exists; choose a new file name`)
  const dir = path.dirname(file)
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new BackupError(`directory ${dir} does not exist`)
  const partial = path.join(dir, `.${path.basename(file)}.partial-${randomBytes(4).toString('hex')}`)
  try {
    const report = await runWorker(source, partial)
    if (report.check !== 'ok') throw new BackupError(`the copy failed its integrity check: ${report.check}`)
    publish(partial, file)
    fsyncDir(dir)
    return {
      path: file,
      bytes: fs.statSync(file).size,
      pads: report.pads,
      schemaVersion: report.schemaVersion,
      createdAt: new Date(started).toISOString(),
      tookMs: Date.now() - started,
    }
  } catch (err) {
    if (err instanceof BackupError) throw err
    const message = err instanceof Error ? err.message : String(err)
    throw new BackupError(`backup failed: ${message}`)
  } finally {
    fs.rmSync(partial, { force: true })
  }
}

/** `2026-11-10T09-30-00-123Z.sqlite`: sorts by time, and has no characters a file system refuses. */
export function backupFileName(at: Date): string {
  return `${at.toISOString().replace(/[:.]/g, '-')}.sqlite`
}

export interface OnlineBackupsOptions {
  dataDir: string
  /** Commits what the server has received but not yet stored, so the backup includes it. */
  flush?(): Promise<void> | void
  onDone?(ok: boolean): void
}

/** The Backups interface on SQLite: into DATA_DIR/backups/ (or a file named), one at a time. */
export class OnlineBackups implements Backups {
  private readonly options: OnlineBackupsOptions
  private last: Promise<unknown> = Promise.resolve()

  constructor(options: OnlineBackupsOptions) {
    this.options = options
  }

  /** Takes a backup after any backup already running has finished. */
  take(): Promise<BackupResult> {
    const next = this.last.then(() => this.run())
    this.last = next.catch(() => {})
    return next
  }

  /** Copies the database into the new file `file`, after any backup already running. */
  copyTo(file: string): Promise<BackupResult> {
    const next = this.last.then(async () => {
      await this.options.flush?.()
      return backupDatabase(path.join(this.options.dataDir, DB_FILE_NAME), file)
    })
    this.last = next.catch(() => {})
    return next
  }

  /** Resolves when no backup is running (at shutdown, before the database is closed). */
  async idle(): Promise<void> {
    await this.last
  }

  private async run(): Promise<BackupResult> {
    const dir = path.join(this.options.dataDir, BACKUP_DIR_NAME)
    fs.mkdirSync(dir, { recursive: true })
    await this.options.flush?.()
    const now = new Date()
    let target = path.join(dir, backupFileName(now))
    for (let n = 2; fs.existsSync(target); n++)
      target = path.join(dir, backupFileName(now).replace('.sqlite', `-${n}.sqlite`))
    try {
      const result = await backupDatabase(path.join(this.options.dataDir, DB_FILE_NAME), target)
      this.options.onDone?.(true)
      return result
    } catch (err) {
      this.options.onDone?.(false)
      throw err
    }
  }
}
