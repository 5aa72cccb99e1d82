/**
 * The PadLog interface in memory, answering each call after a delay the caller chooses (e.g.
 * random, from a seeded PRNG): a stand-in for a networked engine, so that the sync path's
 * ordering is tested with the waits PostgreSQL will have, and a second engine for the storage
 * contract suite. A call takes effect when it resolves, all at once; calls may resolve in
 * another order than they were made. Nothing survives the process.
 */
import type { WriterHash } from '../sync/writer-key.ts'
import type { HistoryLog, HistoryRow, StoredCheckpoint } from './history-log.ts'
import type {
  AppendedBatch,
  AuthorSummary,
  LoadedLog,
  LogRow,
  LogTail,
  PadLog,
  PadSummary,
  StoredPad,
} from './pad-log.ts'
import { NEWEST_KEPT, thinned } from './snapshot-policy.ts'

interface MemoryRow {
  seq: number
  at: number
  conn: string
  author: string | null
  data: Uint8Array
}

interface MemorySnapshot {
  id: number
  upto: number
  at: number
  data: Uint8Array
}

interface MemoryPad {
  createdAt: number
  updatedAt: number
  rows: MemoryRow[]
  snapshots: MemorySnapshot[]
  writers: Map<number, WriterHash>
  checkpoints: StoredCheckpoint[]
  closedAt: number | null
}

export interface MemoryPadLogOptions {
  /** Milliseconds before each call takes effect and resolves (0 when absent). */
  delayMs?: () => number
}

/** A private copy: the caller may reuse its buffer, and a stored blob must come back byte-exact. */
const copy = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes)

export class MemoryPadLog implements PadLog {
  private readonly pads = new Map<string, MemoryPad>()
  private readonly options: MemoryPadLogOptions
  /** Like SQLite's AUTOINCREMENT: shared by every pad, never reused. */
  private nextSeq = 1
  private nextSnapshotId = 1

  constructor(options: MemoryPadLogOptions = {}) {
    this.options = options
  }

  /** Runs `effect` after the delay; its result or its error as the promise's. */
  private later<T>(effect: () => T): Promise<T> {
    const ms = this.options.delayMs?.() ?? 0
    return new Promise<T>((resolve, reject) => {
      setTimeout(() => {
        try {
          resolve(effect())
        } catch (err) {
          reject(err)
        }
      }, ms)
    })
  }

  async appendBatch(rows: readonly LogRow[]): Promise<number[]> {
    return (await this.appendBatchWithHeads(rows)).seqs
  }

  appendBatchWithHeads(rows: readonly LogRow[]): Promise<AppendedBatch> {
    // Refused whole, as a database refuses a row breaking its schema (and the batch with it).
    const bad = rows.find((row) => !isLogRow(row))
    if (bad) return Promise.reject(new Error(`invalid log row for pad ${JSON.stringify(bad.padId)}`))
    // The caller's rows as they were when it called, as an engine sending them would have them.
    const batch = rows.map((row) => ({ ...row, data: copy(row.data), claims: row.claims && [...row.claims] }))
    return this.later(() => {
      const seqs: number[] = []
      const headsBefore = new Map<string, number>()
      for (const row of batch) {
        let pad = this.pads.get(row.padId)
        if (!headsBefore.has(row.padId)) headsBefore.set(row.padId, pad ? covered(pad) : 0)
        if (!pad) {
          pad = {
            createdAt: row.at,
            updatedAt: row.at,
            rows: [],
            snapshots: [],
            writers: new Map(),
            checkpoints: [],
            closedAt: null,
          }
          this.pads.set(row.padId, pad)
        }
        const seq = this.nextSeq++
        pad.rows.push({ seq, at: row.at, conn: row.conn, author: row.author, data: row.data })
        pad.updatedAt = Math.max(pad.updatedAt, row.at)
        if (row.claims && row.writer)
          for (const client of row.claims) if (!pad.writers.has(client)) pad.writers.set(client, row.writer)
        seqs.push(seq)
      }
      return { seqs, headsBefore }
    })
  }

  rowsAfter(padId: string, afterSeq: number, limit: number): Promise<LogTail | null> {
    return this.later(() => {
      const pad = this.pads.get(padId)
      if (!pad) return { rows: [], writers: new Map() }
      // See PadLog.rowsAfter: the oldest snapshot is after `afterSeq`, and no row up to it is left.
      const oldest = pad.snapshots.reduce((min, s) => Math.min(min, s.upto), Number.POSITIVE_INFINITY)
      const forgotten =
        pad.snapshots.length > 0 && oldest > afterSeq && !pad.rows.some((r) => r.seq <= oldest)
      if (forgotten) return null
      const rows = pad.rows.filter((r) => r.seq > afterSeq).slice(0, limit)
      return {
        rows: rows.map((r) => ({ seq: r.seq, data: copy(r.data) })),
        writers: new Map(pad.writers),
      }
    })
  }

  heads(padIds: readonly string[]): Promise<Map<string, number>> {
    return this.later(() => {
      const heads = new Map<string, number>()
      for (const padId of padIds) {
        const pad = this.pads.get(padId)
        if (pad) heads.set(padId, covered(pad))
      }
      return heads
    })
  }

  load(padId: string): Promise<LoadedLog | null> {
    return this.later(() => {
      const pad = this.pads.get(padId)
      if (!pad) return null
      const snapshot = newest(pad)
      const upto = snapshot?.upto ?? 0
      return {
        snapshot: snapshot ? copy(snapshot.data) : null,
        snapshotUpto: upto,
        updates: pad.rows.filter((r) => r.seq > upto).map((r) => ({ seq: r.seq, data: copy(r.data) })),
        writers: new Map(pad.writers),
      }
    })
  }

  writeSnapshot(padId: string, upto: number, state: Uint8Array, at = Date.now()): Promise<void> {
    const data = copy(state)
    return this.later(() => {
      const pad = this.pads.get(padId)
      if (!pad) throw new Error(`cannot snapshot pad "${padId}": it has no stored updates`)
      this.addSnapshot(pad, upto, at, data)
    })
  }

  snapshotIfCurrent(padId: string, upto: number, state: Uint8Array, at = Date.now()): Promise<boolean> {
    const data = copy(state)
    return this.later(() => {
      const pad = this.pads.get(padId)
      if (!pad?.rows.some((r) => r.seq === upto) || pad.snapshots.some((s) => s.upto >= upto)) return false
      this.addSnapshot(pad, upto, at, data)
      return true
    })
  }

  private addSnapshot(pad: MemoryPad, upto: number, at: number, data: Uint8Array): void {
    pad.snapshots.push({ id: this.nextSnapshotId++, upto, at, data })
    if (pad.snapshots.length <= NEWEST_KEPT + 1) return
    const doomed = new Set(
      thinned(
        pad.snapshots,
        pad.checkpoints.map((c) => c.seq),
        at,
      ),
    )
    pad.snapshots = pad.snapshots.filter((s) => !doomed.has(s.id))
  }

  forgetHistory(padId: string, state: Uint8Array, at = Date.now()): Promise<void> {
    const data = copy(state)
    return this.later(() => {
      const pad = this.pads.get(padId)
      if (!pad) throw new Error(`pad "${padId}" has no stored data`)
      this.replaceHistory(pad, data, at)
    })
  }

  forgetHistoryIfCurrent(padId: string, upto: number, state: Uint8Array, at = Date.now()): Promise<boolean> {
    const data = copy(state)
    return this.later(() => {
      const pad = this.pads.get(padId)
      if (!pad || covered(pad) !== upto) return false
      this.replaceHistory(pad, data, at)
      return true
    })
  }

  private replaceHistory(pad: MemoryPad, data: Uint8Array, at: number): void {
    const upto = covered(pad)
    pad.rows = []
    pad.snapshots = [{ id: this.nextSnapshotId++, upto, at, data }]
  }

  /** The HistoryLog over the same pads (their timeline, states at a revision, checkpoints). */
  history(): HistoryLog {
    const pad = (padId: string) => this.pads.get(padId)
    const rowsOf = (padId: string) => pad(padId)?.rows ?? []
    const bounds = (padId: string) => {
      const p = pad(padId)
      const firstRow = p?.rows[0]?.seq ?? null
      const oldest =
        p?.snapshots.reduce<number | null>((min, s) => (min === null || s.upto < min ? s.upto : min), null) ??
        null
      const first = oldest !== null && (firstRow === null || oldest < firstRow) ? oldest : (firstRow ?? 0)
      return { first, last: Math.max(p?.rows.at(-1)?.seq ?? 0, oldest ?? 0) }
    }
    return {
      padState: (padId) => this.later(() => (pad(padId) ? { closedAt: pad(padId)!.closedAt } : null)),
      rows: (padId) =>
        this.later(() =>
          rowsOf(padId).map(
            (r): HistoryRow => ({
              seq: r.seq,
              at: r.at,
              conn: r.conn,
              author: r.author,
              bytes: r.data.byteLength,
            }),
          ),
        ),
      rowTime: (padId, seq) => this.later(() => rowsOf(padId).find((r) => r.seq === seq)?.at ?? null),
      seqAtTime: (padId, ms) => this.later(() => lastWhere(rowsOf(padId), (r) => r.at <= ms)?.seq ?? null),
      neighbours: (padId, seq) =>
        this.later(() => ({
          prev: lastWhere(rowsOf(padId), (r) => r.seq < seq)?.seq ?? null,
          next: rowsOf(padId).find((r) => r.seq > seq)?.seq ?? null,
        })),
      creditsBetween: (padId, after, upto) =>
        this.later(() =>
          rowsOf(padId)
            .filter((r) => r.seq > after && r.seq <= upto)
            .map((r) => ({ conn: r.conn, author: r.author })),
        ),
      bounds: (padId) => this.later(() => bounds(padId)),
      stateAt: (padId, seq) =>
        this.later((): StoredPad => {
          let snapshot: MemorySnapshot | undefined
          for (const s of pad(padId)?.snapshots ?? [])
            if (
              s.upto <= seq &&
              (!snapshot || s.upto > snapshot.upto || (s.upto === snapshot.upto && s.id > snapshot.id))
            )
              snapshot = s
          const upto = snapshot?.upto ?? 0
          return {
            snapshot: snapshot ? copy(snapshot.data) : null,
            snapshotUpto: upto,
            updates: rowsOf(padId)
              .filter((r) => r.seq > upto && r.seq <= seq)
              .map((r) => ({ seq: r.seq, data: copy(r.data) })),
          }
        }),
      checkpoints: (padId) =>
        this.later(() => [...(pad(padId)?.checkpoints ?? [])].sort((a, b) => a.seq - b.seq)),
      addCheckpoint: (padId, name, at) =>
        this.later(() => {
          const p = pad(padId)
          if (!p) throw new Error(`pad "${padId}" has no stored data`)
          const seq = bounds(padId).last
          p.checkpoints.push({ seq, name, at })
          return seq
        }),
      setClosed: (padId, at) =>
        this.later(() => {
          const p = pad(padId)
          if (p) p.closedAt = at
        }),
    }
  }

  lastSeq(padId: string): Promise<number> {
    return this.later(() => this.pads.get(padId)?.rows.at(-1)?.seq ?? 0)
  }

  authors(padId: string): Promise<AuthorSummary[]> {
    return this.later(() => {
      const byName = new Map<string | null, AuthorSummary>()
      for (const row of this.pads.get(padId)?.rows ?? []) {
        if (row.conn === 'server') continue
        const seen = byName.get(row.author)
        if (!seen) byName.set(row.author, { name: row.author, edits: 1, firstAt: row.at, lastAt: row.at })
        else {
          seen.edits++
          seen.firstAt = Math.min(seen.firstAt, row.at)
          seen.lastAt = Math.max(seen.lastAt, row.at)
        }
      }
      return [...byName.values()].sort((a, b) => a.firstAt - b.firstAt)
    })
  }

  exists(padId: string): Promise<boolean> {
    return this.later(() => this.pads.has(padId))
  }

  delete(padId: string): Promise<boolean> {
    return this.later(() => this.pads.delete(padId))
  }

  list(): Promise<PadSummary[]> {
    return this.later(() =>
      [...this.pads.entries()]
        .map(([id, pad]) => ({
          id,
          createdAt: pad.createdAt,
          updatedAt: pad.updatedAt,
          updateCount: pad.rows.length,
          bytes:
            pad.rows.reduce((n, r) => n + r.data.byteLength, 0) +
            pad.snapshots.reduce((n, s) => n + s.data.byteLength, 0),
        }))
        .sort((a, b) => b.updatedAt - a.updatedAt),
    )
  }
}

/** The last item of `items` that `test` accepts. */
function lastWhere<T>(items: readonly T[], test: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i]!)) return items[i]
  return undefined
}

/** What a database's columns would accept (NOT NULL, types). */
function isLogRow(row: LogRow): boolean {
  return (
    typeof row.padId === 'string' &&
    Number.isFinite(row.at) &&
    typeof row.conn === 'string' &&
    (row.author === null || typeof row.author === 'string') &&
    row.data instanceof Uint8Array
  )
}

/** The pad's newest revision: its last row, or the snapshot covering everything when it has none. */
function covered(pad: MemoryPad): number {
  return Math.max(pad.rows.at(-1)?.seq ?? 0, newest(pad)?.upto ?? 0)
}

/** The snapshot covering the most rows (the newest written among equals), as SQLite orders them. */
function newest(pad: MemoryPad): MemorySnapshot | undefined {
  let best: MemorySnapshot | undefined
  for (const s of pad.snapshots)
    if (!best || s.upto > best.upto || (s.upto === best.upto && s.id > best.id)) best = s
  return best
}
