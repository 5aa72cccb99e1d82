/**
 * Keeps SQLite's write-ahead log short without stalling a commit: checkpoints run on a worker
 * thread of their own instead of inside whichever commit crosses `wal_autocheckpoint`.
 *
 * Why: with the automatic checkpoint, every ~300th one-row commit also copied the WAL into the
 * database and fsynced both files, 5–23 ms on our disks. better-sqlite3 is synchronous, so the
 * event loop waited and every keystroke of that tick reached its pad's peers late (docs/benchmarks.md,
 * "Findings"). Checkpointing never affects durability: a committed transaction is in the WAL, and the
 * WAL survives a crash whether or not it was copied yet.
 *
 * How: every `intervalMs`, if this connection wrote anything since the last round, the worker's own
 * connection runs a PASSIVE checkpoint, which takes no lock a writer needs, so commits on the main
 * thread go on meanwhile. When the writer finds the WAL wholly copied it starts it again from the
 * beginning of the same file. Under writes that never pause, a checkpoint on another thread never
 * catches the last frame, so the WAL would never start again; past `maxWalBytes` the main thread
 * finishes the copy itself (one stall, far rarer than before: the worker has copied nearly all).
 * The file keeps its largest size until a quiet round (no writes since the one before) finds it
 * larger than `IDLE_TRUNCATE_BYTES`; the worker then runs a TRUNCATE checkpoint. That one must
 * hold writers off while it cuts the file (~0.6 ms per MB here), which is why it waits for a
 * quiet moment; letting the commit that starts the WAL again cut it (`journal_size_limit`) put
 * that cost on a keystroke. A reader that holds an old snapshot (an online backup) keeps the WAL
 * long until it ends; that is SQLite's rule for every checkpoint.
 *
 * The worker opens its connection for a round and closes it after; the round after `db` was closed
 * ends the worker. Nothing here is global; every database gets its own.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../ops/logger.ts'
import type { Db } from './db.ts'

/** Often enough that the WAL rarely holds more than a second of writes; a round with no writes costs one query. */
export const CHECKPOINT_INTERVAL_MS = 1000

/**
 * Past this much unchecked WAL the main thread checkpoints itself. Large enough that sustained
 * writes reach it rarely (~5,000 one-row commits), small enough that opening after a crash, which
 * reads the whole WAL, stays quick and the disk use stays modest.
 */
export const MAX_WAL_BYTES = 64 * 1024 * 1024

/** A quiet server cuts a WAL file larger than this back to nothing (about what the automatic checkpoint kept). */
export const IDLE_TRUNCATE_BYTES = 4 * 1024 * 1024

/** How long a scrub waits for readers to leave the WAL: it runs on the thread every keystroke goes through. */
export const WAL_SCRUB_WAIT_MS = 200

// Plain CommonJS, run by the worker as it is: a worker thread does not inherit the TypeScript
// loader when the CLI was started through tsx's register API (the same reason as backup.ts).
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads')
const Database = require(workerData.driver)
parentPort.on('message', (message) => {
  if (message === 'close') {
    parentPort.close()
    return
  }
  const started = performance.now()
  // TRUNCATE holds writers off while it waits (for a commit, or for a reader to leave the WAL) and
  // while it cuts the file: only when the server is quiet, and it gives up waiting after 20 ms, so a
  // keystroke arriving then waits at most that plus the cut (~0.6 ms per MB of WAL here).
  const truncate = message === 'truncate'
  let db = null
  try {
    // A connection per round: between rounds nothing of ours holds the database open, so a restore
    // in place (or anything else that wants it alone) right after the server closed is not refused.
    db = new Database(workerData.file, { fileMustExist: true })
    // PASSIVE never waits for a lock; no busy handler, so a round never sleeps on one.
    db.pragma('busy_timeout = ' + (truncate ? 20 : 0))
    const [result] = db.pragma(truncate ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(PASSIVE)')
    parentPort.postMessage({ ok: true, log: result.log, checkpointed: result.checkpointed, ms: performance.now() - started })
  } catch (err) {
    parentPort.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) })
  } finally {
    if (db) db.close()
  }
})
`

type WorkerReply =
  | { ok: true; log: number; checkpointed: number; ms: number }
  | { ok: false; message: string }

export interface WalCheckpointerOptions {
  db: Db
  log: Logger
  intervalMs?: number
  maxWalBytes?: number
}

export interface CheckpointStats {
  /** Rounds the worker finished. */
  worker: number
  /** Checkpoints the main thread ran because the WAL passed `maxWalBytes` (each one a stall). */
  mainThread: number
  /** Frames in the WAL after the last round (0 after it started again). */
  walFrames: number
}

export class WalCheckpointer {
  private readonly db: Db
  private readonly log: Logger
  private readonly intervalMs: number
  private readonly maxWalFrames: number
  private timer: NodeJS.Timeout | null = null
  private worker: Worker | null = null
  private inFlight = false
  /** Scrubs waiting for the round in flight to end (it holds SQLite's checkpoint lock). */
  private roundEnded: (() => void)[] = []
  /** After a worker failure the rounds run on the main thread: slower commits beat an unbounded WAL. */
  private workerFailed = false
  private changesSeen = -1
  private readonly maxWalBytes
  private readonly walFile: string
  private readonly totalChanges
  readonly stats: CheckpointStats = { worker: 0, mainThread: 0, walFrames: 0 }

  constructor(options: WalCheckpointerOptions) {
    this.db = options.db
    this.log = options.log
    this.intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS
    const pageSize = this.db.pragma('page_size', { simple: true }) as number
    this.maxWalBytes = options.maxWalBytes ?? MAX_WAL_BYTES
    this.maxWalFrames = Math.max(1, Math.floor(this.maxWalBytes / pageSize))
    this.walFile = `${this.db.name}-wal`
    // Counts this connection's row changes: a round with none has nothing new to copy.
    this.totalChanges = this.db.prepare('SELECT total_changes() AS n').pluck()
  }

  /** Takes checkpointing over from SQLite's automatic one, for this connection. */
  start(): void {
    if (this.timer) return
    this.db.pragma('wal_autocheckpoint = 0')
    // Only what a burst wrote past the bound is cut on the commit path; the rest waits for quiet.
    this.db.pragma(`journal_size_limit = ${this.maxWalBytes}`)
    this.changesSeen = this.totalChanges.get() as number
    this.timer = setInterval(() => this.round(), this.intervalMs)
    // A server keeps itself alive; a CLI command must not wait for this timer.
    this.timer.unref()
  }

  /** Stops the rounds and closes the worker's connection. The database itself is the caller's. */
  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.worker?.postMessage('close')
    this.worker = null
  }

  /**
   * Copies the whole WAL into the database and cuts the file to nothing, now: after a forget the
   * WAL still holds the old pages (the forgotten text) until SQLite would reuse that space, which
   * can be days. A round of ours in flight holds SQLite's checkpoint lock, and a checkpoint that
   * finds that lock taken fails at once, without waiting; so the round is let finish first. Then
   * readers get at most WAL_SCRUB_WAIT_MS to leave; false if one stayed (a backup being copied).
   */
  async scrub(): Promise<boolean> {
    while (this.inFlight) await new Promise<void>((resolve) => this.roundEnded.push(resolve))
    // No await from here on: no round can start between the check above and the checkpoint.
    const previous = this.db.pragma('busy_timeout', { simple: true }) as number
    this.db.pragma(`busy_timeout = ${WAL_SCRUB_WAIT_MS}`)
    try {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[]
      const cut = result?.busy === 0
      if (cut) this.stats.walFrames = 0
      return cut
    } finally {
      this.db.pragma(`busy_timeout = ${previous}`)
    }
  }

  private round(): void {
    if (!this.db.open) {
      this.stop()
      return
    }
    if (this.inFlight) return
    const changes = this.totalChanges.get() as number
    const quiet = changes === this.changesSeen
    this.changesSeen = changes
    if (quiet && this.stats.walFrames === 0) {
      if (!this.workerFailed && this.walFileBytes() > IDLE_TRUNCATE_BYTES) this.post('truncate')
      return
    }
    // Writes since the last round, or frames it left over (written during it, or a reader in the way).
    if (this.workerFailed) this.checkpointHere()
    else this.post('checkpoint')
  }

  private post(message: 'checkpoint' | 'truncate'): void {
    this.inFlight = true
    this.ensureWorker().postMessage(message)
  }

  private walFileBytes(): number {
    try {
      return fs.statSync(this.walFile).size
    } catch {
      return 0
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker
    // Started at the first round with writes, so a short CLI command never starts a thread.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), file: this.db.name },
    })
    worker.unref()
    worker.on('message', (reply: WorkerReply) => this.finished(reply))
    worker.on('error', (err) => this.failed(worker, err))
    this.worker = worker
    return worker
  }

  private roundOver(): void {
    this.inFlight = false
    for (const resolve of this.roundEnded.splice(0)) resolve()
  }

  private finished(reply: WorkerReply): void {
    this.roundOver()
    if (!reply.ok) {
      this.log.warn(
        { err: reply.message },
        'WAL checkpoint failed on its worker; checkpointing on the main thread',
      )
      this.workerFailed = true
      this.stopWorker()
      return
    }
    this.stats.worker++
    this.stats.walFrames = reply.log - reply.checkpointed
    if (reply.log > this.maxWalFrames && this.db.open) this.checkpointHere()
  }

  private failed(worker: Worker, err: Error): void {
    if (this.worker !== worker) return
    this.log.warn({ err }, 'WAL checkpoint worker stopped; checkpointing on the main thread')
    this.roundOver()
    this.workerFailed = true
    this.worker = null
  }

  private stopWorker(): void {
    this.worker?.postMessage('close')
    this.worker = null
  }

  /** A PASSIVE checkpoint on this connection: the commit path waits for it, so only when needed. */
  private checkpointHere(): void {
    const [result] = this.db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[]
    this.stats.mainThread++
    this.stats.walFrames = result ? result.log - result.checkpointed : 0
  }
}
