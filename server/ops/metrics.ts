/**
 * The server's Prometheus metrics (prom-client), in a registry of its own: no global state, so
 * every server a test starts counts for itself. Gauges are read when scraped (connections, pads
 * loaded, database and WAL size); counters and the persistence histogram are fed by the few
 * places that see the events, through the small methods below.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { PadLog } from '../storage/pad-log.ts'
import type { StorageSizes } from '../storage/storage.ts'
import {
  CLOSE,
  CLOSE_AWARENESS_TOO_LARGE,
  CLOSE_NOT_TEXT,
  CLOSE_NOT_YOUR_EDITS,
  CLOSE_PAD_FULL,
  CLOSE_POLICY,
  CLOSE_SLOW_READER,
  CLOSE_TOO_MANY_NEW_PADS,
  CLOSE_TRY_LATER,
} from '../sync/close-codes.ts'

/**
 * Distinct values a `reason` label may take; later ones are counted as "other". Reasons come
 * from code, but a reason built from client input by mistake would otherwise make a new time
 * series per bad frame and grow the scrape without bound.
 */
export const MAX_REASON_LABELS = 24

/** What the sync path reports about hostile or broken input (implemented by Metrics). */
export interface SyncMetrics {
  /** A frame was refused and its socket closed; `reason` from `frameRejectReason(closeCode)`. */
  frameRejected(reason: string): void
  /** A websocket upgrade was refused, e.g. "bad_path", "bad_pad_id", "load_failed". */
  connectionRefused(reason: string): void
  /** An upgrade request's TCP socket: its bytes are counted from now on... */
  socketOpened(socket: CountedSocket): void
  /** ...and, once it has closed, added to the totals (the caller listens: one listener per socket). */
  socketClosed(socket: CountedSocket): void
}

/** A low-cardinality label for a refused frame, from the close code the socket got. */
export function frameRejectReason(closeCode: number): string {
  switch (closeCode) {
    case CLOSE.unsupportedData:
      return 'text_frame'
    case CLOSE.protocolError:
      return 'protocol_error'
    case CLOSE.invalidPayload:
      return 'invalid_update'
    case CLOSE_POLICY:
      return 'policy'
    case CLOSE.tooBig:
      return 'too_large'
    case CLOSE.internalError:
      return 'internal_error'
    case CLOSE_TRY_LATER:
      return 'try_later'
    case CLOSE_PAD_FULL:
      return 'pad_full'
    case CLOSE_TOO_MANY_NEW_PADS:
      return 'too_many_new_pads'
    case CLOSE_AWARENESS_TOO_LARGE:
      return 'awareness_too_large'
    case CLOSE_NOT_YOUR_EDITS:
      return 'not_your_edits'
    case CLOSE_NOT_TEXT:
      return 'not_text'
    case CLOSE_SLOW_READER:
      return 'slow_reader'
    default:
      return 'other'
  }
}

/** The label for a frame the ws library itself refused (its 'error' event): too big, or malformed. */
export function wsErrorReason(err: Error & { code?: string }): string {
  return err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too_large' : 'ws_protocol'
}

/** What the gauges read at each scrape, given once what they read is built (`Metrics.watch`). */
export interface LiveCounts {
  /** Open websocket connections now. */
  connections(): number
  /** Pads held in memory now. */
  padsLoaded(): number
}

export interface MetricsSources extends Partial<LiveCounts> {
  /**
   * The storage's sizes, read at each scrape (Storage.sizes: SQLite's files, PostgreSQL's
   * database and pg_wal); the gauges are left out of the scrape when absent or when it fails.
   */
  sizes?: () => Promise<StorageSizes>
}

/** The TCP socket under a websocket: Node counts its bytes; we only add them up. */
export interface CountedSocket {
  readonly bytesRead: number
  readonly bytesWritten: number
}

export class Metrics implements SyncMetrics {
  readonly registry = new Registry()
  private readonly framesRejected: Counter<'reason'>
  private readonly connectionsRefused: Counter<'reason'>
  private readonly updates: Counter
  private readonly caughtUpRows: Counter
  private readonly persistSeconds: Histogram
  private readonly backups: Counter<'result'>
  private readonly lastBackup: Gauge
  private readonly reasons = new Set<string>()
  private readonly sockets = new Set<CountedSocket>()
  private closedRead = 0
  private closedWritten = 0
  /** Zero until `watch`: the metrics are built before the rooms and sockets they count. */
  private live: LiveCounts = { connections: () => 0, padsLoaded: () => 0 }

  constructor(sources: MetricsSources) {
    if (sources.connections && sources.padsLoaded)
      this.live = { connections: sources.connections, padsLoaded: sources.padsLoaded }
    const live = () => this.live
    const registers = [this.registry]
    // One read of the sizes serves both gauges of a scrape.
    let sizesRead: Promise<StorageSizes | null> | null = null
    const sizes = () => {
      sizesRead ??= (sources.sizes?.() ?? Promise.resolve(null))
        .catch(() => null)
        .finally(() => setImmediate(() => (sizesRead = null)))
      return sizesRead
    }
    // Process CPU, memory, file descriptors, GC and event-loop lag (nodejs_eventloop_lag_*).
    collectDefaultMetrics({ register: this.registry })

    new Gauge({
      name: 'summitpad_connections',
      help: 'Open websocket connections.',
      registers,
      collect() {
        this.set(live().connections())
      },
    })
    new Gauge({
      name: 'summitpad_pads_loaded',
      help: 'Pads held in memory.',
      registers,
      collect() {
        this.set(live().padsLoaded())
      },
    })
    // NaN when the size is unknown (no storage sizes, a failed read, PostgreSQL's WAL without
    // pg_monitor): Prometheus' "no value", rather than a 0 that reads as "empty".
    new Gauge({
      name: 'summitpad_db_bytes',
      help: "Size of the database: SQLite's file, or PostgreSQL's pg_database_size(current_database()).",
      registers,
      async collect() {
        const read = await sizes()
        this.set(read ? read.databaseBytes : Number.NaN)
      },
    })
    new Gauge({
      name: 'summitpad_db_wal_bytes',
      help: "Size of the write-ahead log: SQLite's -wal file (cut back when the server is quiet, 0 at shutdown), or PostgreSQL's pg_wal for the whole cluster (only with pg_monitor).",
      registers,
      async collect() {
        const read = await sizes()
        this.set(read?.walBytes ?? Number.NaN)
      },
    })
    this.updates = new Counter({
      name: 'summitpad_updates_persisted_total',
      help: 'Document updates committed to the log (rate() = updates per second).',
      registers,
    })
    this.caughtUpRows = new Counter({
      name: 'summitpad_catch_up_rows_total',
      help: 'Log rows read back by rooms catching up on rows another server stored for a pad it holds too (0 on one server).',
      registers,
    })
    this.persistSeconds = new Histogram({
      name: 'summitpad_persist_seconds',
      help: 'Time to commit one batch of updates (one database transaction).',
      registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    })
    const bytes = (name: string, help: string, total: () => number) => {
      let reported = 0
      new Counter({
        name,
        help,
        registers,
        collect() {
          const now = total()
          this.inc(now - reported)
          reported = now
        },
      })
    }
    bytes('summitpad_ws_received_bytes_total', 'Bytes received on websocket TCP connections.', () =>
      this.sum((s) => s.bytesRead, this.closedRead),
    )
    bytes('summitpad_ws_sent_bytes_total', 'Bytes sent on websocket TCP connections.', () =>
      this.sum((s) => s.bytesWritten, this.closedWritten),
    )
    this.framesRejected = new Counter({
      name: 'summitpad_frames_rejected_total',
      help: 'Websocket frames refused (the sender was disconnected), by reason.',
      labelNames: ['reason'],
      registers,
    })
    this.connectionsRefused = new Counter({
      name: 'summitpad_connections_refused_total',
      help: 'Websocket upgrades refused, by reason.',
      labelNames: ['reason'],
      registers,
    })
    this.backups = new Counter({
      name: 'summitpad_backups_total',
      help: 'Online backups taken through the admin endpoint, by result.',
      labelNames: ['result'],
      registers,
    })
    this.lastBackup = new Gauge({
      name: 'summitpad_backup_last_success_timestamp_seconds',
      help: 'Unix time of the last successful online backup (0: none since start).',
      registers,
    })
  }

  /** The Content-Type of `render()`: the Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType
  }

  render(): Promise<string> {
    return this.registry.metrics()
  }

  frameRejected(reason: string): void {
    this.framesRejected.inc({ reason: this.label(reason) })
  }

  connectionRefused(reason: string): void {
    this.connectionsRefused.inc({ reason: this.label(reason) })
  }

  /** Counts `counts`' connections and loaded pads from now on (the server calls it once they exist). */
  watch(counts: LiveCounts): void {
    this.live = counts
  }

  /** `count` updates were committed in one transaction that took `seconds`. */
  updatesPersisted(count: number, seconds: number): void {
    this.updates.inc(count)
    this.persistSeconds.observe(seconds)
  }

  /** A room read `rows` back from the log, stored by another server (Room.catchUp). */
  rowsCaughtUp(rows: number): void {
    this.caughtUpRows.inc(rows)
  }

  backupCompleted(ok: boolean, at = Date.now()): void {
    this.backups.inc({ result: ok ? 'ok' : 'failed' })
    if (ok) this.lastBackup.set(at / 1000)
  }

  socketOpened(socket: CountedSocket): void {
    this.sockets.add(socket)
  }

  socketClosed(socket: CountedSocket): void {
    if (!this.sockets.delete(socket)) return
    this.closedRead += socket.bytesRead
    this.closedWritten += socket.bytesWritten
  }

  private sum(of: (s: CountedSocket) => number, closed: number): number {
    let total = closed
    for (const socket of this.sockets) total += of(socket)
    return total
  }

  private label(reason: string): string {
    const clean =
      reason
        .toLowerCase()
        .replace(/[^a-z0-9_]+/g, '_')
        .slice(0, 40) || 'other'
    if (this.reasons.has(clean)) return clean
    if (this.reasons.size >= MAX_REASON_LABELS) return 'other'
    this.reasons.add(clean)
    return clean
  }
}

/**
 * The pad log, timing each commit for `summitpad_persist_seconds`. Every update the rooms store
 * goes through `appendBatchWithHeads` (one call per tick, one transaction), so no hook inside the sync
 * path is needed for updates/s and persistence latency. Everything else passes through.
 */
export function meteredPadLog(log: PadLog, metrics: Metrics): PadLog {
  return {
    appendBatch: async (rows) => {
      const started = process.hrtime.bigint()
      const seqs = await log.appendBatch(rows)
      if (seqs.length > 0)
        metrics.updatesPersisted(seqs.length, Number(process.hrtime.bigint() - started) / 1e9)
      return seqs
    },
    appendBatchWithHeads: async (rows) => {
      const started = process.hrtime.bigint()
      const appended = await log.appendBatchWithHeads(rows)
      if (appended.seqs.length > 0)
        metrics.updatesPersisted(appended.seqs.length, Number(process.hrtime.bigint() - started) / 1e9)
      return appended
    },
    rowsAfter: (padId, afterSeq, limit) => log.rowsAfter(padId, afterSeq, limit),
    heads: (padIds) => log.heads(padIds),
    load: (padId) => log.load(padId),
    writeSnapshot: (padId, upto, state, at) => log.writeSnapshot(padId, upto, state, at),
    snapshotIfCurrent: (padId, upto, state, at) => log.snapshotIfCurrent(padId, upto, state, at),
    forgetHistory: (padId, state, at) => log.forgetHistory(padId, state, at),
    forgetHistoryIfCurrent: (padId, upto, state, at) => log.forgetHistoryIfCurrent(padId, upto, state, at),
    lastSeq: (padId) => log.lastSeq(padId),
    authors: (padId) => log.authors(padId),
    exists: (padId) => log.exists(padId),
    delete: (padId) => log.delete(padId),
    list: () => log.list(),
  }
}
