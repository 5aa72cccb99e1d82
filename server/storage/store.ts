/**
 * The pad store: a pad's update log and its snapshots in SQLite. Bytes in, bytes out; it knows
 * nothing of Yjs. Statements are prepared once; every write is one synchronous transaction.
 * The server reaches it through the PadLog interface (sqlite-pad-log.ts); this synchronous class
 * is the SQLite engine's own (the CLI, tests and benchmarks of the file use it directly).
 *
 * A pad row exists only once its first update is stored, so an idle connection to a random name
 * leaves nothing behind. Loading = the newest snapshot + the log rows after it.
 */
import type Database from 'better-sqlite3'
import type { Statement } from 'better-sqlite3'
import type { WriterHash } from '../sync/writer-key.ts'
import type { Db } from './db.ts'
import type {
  AppendedBatch,
  AuthorSummary,
  LoadedLog,
  LogRow,
  LogTail,
  PadSummary,
  StoredPad,
} from './pad-log.ts'
import { NEWEST_KEPT, type SnapshotMeta, thinned } from './snapshot-policy.ts'

export type { AuthorSummary, LogRow, PadSummary, StoredPad } from './pad-log.ts'

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * A pad's `updated_at` is raised at most this often while people type (it is shown to the
 * minute and orders lists): one more page in every commit otherwise, on the path of every keystroke.
 */
const TOUCH_EVERY_MS = 1000

/** A pad this store has appended to: its row's key, and the `updated_at` last written. */
interface WrittenPad {
  pk: number
  touchedAt: number
}

export class PadStore {
  private readonly upsertPad
  private readonly insertUpdate
  private readonly selectPadPk
  private readonly selectLatestSnapshot
  private readonly selectUpdatesAfter
  private readonly insertSnapshot
  private readonly insertSnapshotIfCurrent
  private readonly selectLastSeq
  private readonly deletePadRow
  private readonly selectPads
  private readonly appendTx
  private readonly touchPad
  private readonly selectAuthors
  private readonly deleteUpdatesOf
  private readonly deleteSnapshotsOf
  /** Prepared on first use: a store can be opened on a database older than the writers table. */
  private writerStatements: {
    insert: Database.Statement<[number, number, Buffer]>
    select: Database.Statement<[string, number], { key: Buffer }>
    all: Database.Statement<[string], { client: number; key: Buffer }>
  } | null = null
  private readonly selectSnapshotMetas
  /** Prepared on first use: checkpoints came with schema 4, and a store may open an older file. */
  private selectCheckpointSeqs: Statement<[number], { seq: number }> | null = null
  private readonly deleteSnapshot
  private readonly selectHead
  private readonly selectRowsAfter
  private readonly selectForgottenAfter
  private readonly db: Db
  /**
   * Pads appended to since this store was opened, so a commit is one INSERT, not an upsert of the
   * pad row too. Each insert checks that the key still names the pad (see `insertUpdate`): pad rows
   * also go with their event, in transactions that roll back, or in another process.
   */
  private readonly written = new Map<string, WrittenPad>()

  constructor(db: Db) {
    this.db = db
    this.upsertPad = db.prepare<[string, number, number], { pk: number }>(
      `INSERT INTO pads (id, created_at, updated_at) VALUES (?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET updated_at = max(updated_at, excluded.updated_at) RETURNING pk`,
    )
    // Only into the pad row that still has this id: a key kept in `written` may have been freed
    // (the pad deleted, here or by its event's deletion) and handed to another pad since.
    this.insertUpdate = db.prepare<[number, string, string | null, Buffer, number, string]>(
      'INSERT INTO updates (pad, at, conn, author, data) SELECT pk, ?, ?, ?, ? FROM pads WHERE pk = ? AND id = ?',
    )
    this.selectPadPk = db.prepare<[string], { pk: number }>('SELECT pk FROM pads WHERE id = ?')
    this.selectLatestSnapshot = db.prepare<[number], { upto: number; data: Buffer }>(
      'SELECT upto, data FROM snapshots WHERE pad = ? ORDER BY upto DESC, id DESC LIMIT 1',
    )
    this.selectUpdatesAfter = db.prepare<[number, number], { seq: number; data: Buffer }>(
      'SELECT seq, data FROM updates WHERE pad = ? AND seq > ? ORDER BY seq',
    )
    // A snapshot made from a read (no room, no lock held meanwhile) goes in only if the row it
    // ends at is still this pad's and nothing newer covers it: not over a "forget history" that
    // ran in between, nor into a pad deleted and made again under the same id.
    this.insertSnapshotIfCurrent = db.prepare<{ padId: string; upto: number; at: number; data: Buffer }>(
      `INSERT INTO snapshots (pad, upto, at, data)
       SELECT p.pk, @upto, @at, @data FROM pads p
       WHERE p.id = @padId
         AND EXISTS (SELECT 1 FROM updates u WHERE u.pad = p.pk AND u.seq = @upto)
         AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.pad = p.pk AND s.upto >= @upto)`,
    )
    this.insertSnapshot = db.prepare<[number, number, number, Buffer]>(
      'INSERT INTO snapshots (pad, upto, at, data) VALUES (?, ?, ?, ?)',
    )
    this.selectLastSeq = db.prepare<[number], { seq: number | null }>(
      'SELECT max(seq) AS seq FROM updates WHERE pad = ?',
    )
    this.deletePadRow = db.prepare<[string]>('DELETE FROM pads WHERE id = ?')
    this.selectPads = db.prepare<[], PadSummary>(
      `SELECT p.id, p.created_at AS createdAt, p.updated_at AS updatedAt,
              (SELECT count(*) FROM updates u WHERE u.pad = p.pk) AS updateCount,
              (SELECT coalesce(sum(length(u.data)), 0) FROM updates u WHERE u.pad = p.pk)
                + (SELECT coalesce(sum(length(s.data)), 0) FROM snapshots s WHERE s.pad = p.pk) AS bytes
       FROM pads p ORDER BY p.updated_at DESC`,
    )
    this.selectAuthors = db.prepare<[number], AuthorSummary>(
      `SELECT author AS name, count(*) AS edits, min(at) AS firstAt, max(at) AS lastAt
       FROM updates WHERE pad = ? AND conn <> 'server' AND conn NOT LIKE 'restore:%' GROUP BY author ORDER BY min(at)`,
    )
    this.deleteUpdatesOf = db.prepare<[number]>('DELETE FROM updates WHERE pad = ?')
    this.deleteSnapshotsOf = db.prepare<[number]>('DELETE FROM snapshots WHERE pad = ?')
    this.selectSnapshotMetas = db.prepare<[number], SnapshotMeta>(
      'SELECT id, upto, at FROM snapshots WHERE pad = ?',
    )
    this.deleteSnapshot = db.prepare<[number]>('DELETE FROM snapshots WHERE id = ?')
    this.selectHead = db.prepare<[number, number], { head: number }>(
      `SELECT max(coalesce((SELECT max(seq) FROM updates WHERE pad = ?), 0),
                  coalesce((SELECT max(upto) FROM snapshots WHERE pad = ?), 0)) AS head`,
    )
    this.selectRowsAfter = db.prepare<[number, number, number], { seq: number; data: Buffer }>(
      'SELECT seq, data FROM updates WHERE pad = ? AND seq > ? ORDER BY seq LIMIT ?',
    )
    // See PadLog.rowsAfter: the oldest snapshot is after the seq, and no row up to it is left.
    this.selectForgottenAfter = db.prepare<{ pk: number; after: number }, { forgotten: number }>(
      `SELECT o.oldest > @after AND NOT EXISTS (SELECT 1 FROM updates WHERE pad = @pk AND seq <= o.oldest) AS forgotten
       FROM (SELECT coalesce(min(upto), 0) AS oldest FROM snapshots WHERE pad = @pk) o`,
    )
    this.touchPad = db.prepare<[number, number]>(
      'UPDATE pads SET updated_at = max(updated_at, ?) WHERE pk = ?',
    )
    this.appendTx = db.transaction(
      (
        rows: readonly LogRow[],
        pads: Map<string, WrittenPad & { lastAt: number }>,
        headsBefore: Map<string, number> | null,
      ): number[] => {
        const seqs: number[] = []
        const upsert = (row: LogRow) => this.upsertPad.get(row.padId, row.at, row.at)!.pk
        const insert = (pk: number, row: LogRow) =>
          this.insertUpdate.run(row.at, row.conn, row.author, asBuffer(row.data), pk, row.padId)
        for (const row of rows) {
          let pad = pads.get(row.padId)
          if (pad === undefined) {
            const known = this.written.get(row.padId)
            pad = known
              ? { ...known, lastAt: row.at }
              : { pk: upsert(row), touchedAt: row.at, lastAt: row.at }
            pads.set(row.padId, pad)
            headsBefore?.set(row.padId, this.head(pad.pk))
          }
          pad.lastAt = Math.max(pad.lastAt, row.at)
          let inserted = insert(pad.pk, row)
          if (inserted.changes === 0) {
            // The kept key no longer names this pad: find (or make) its row, as for a new pad.
            pad.pk = upsert(row)
            pad.touchedAt = row.at
            headsBefore?.set(row.padId, this.head(pad.pk))
            inserted = insert(pad.pk, row)
          }
          seqs.push(Number(inserted.lastInsertRowid))
          if (row.claims && row.writer) {
            const key = Buffer.from(row.writer, 'hex')
            for (const client of row.claims) this.writers().insert.run(pad.pk, client, key)
          }
        }
        for (const pad of pads.values()) {
          if (pad.lastAt - pad.touchedAt < TOUCH_EVERY_MS) continue
          this.touchPad.run(pad.lastAt, pad.pk)
          pad.touchedAt = pad.lastAt
        }
        return seqs
      },
    )
  }

  /** Appends rows (of any pads) in one transaction; returns their seqs, in order. */
  append(rows: readonly LogRow[]): number[] {
    return this.appendWithHeads(rows, null).seqs
  }

  /** `append`, also reading each pad's head before the batch (PadLog.appendBatchWithHeads). */
  appendWithHeads(
    rows: readonly LogRow[],
    headsBefore: Map<string, number> | null = new Map(),
  ): AppendedBatch {
    const heads = headsBefore ?? new Map<string, number>()
    if (rows.length === 0) return { seqs: [], headsBefore: heads }
    const pads = new Map<string, WrittenPad & { lastAt: number }>()
    const seqs = this.appendTx(rows, pads, headsBefore)
    for (const [padId, { pk, touchedAt }] of pads) this.written.set(padId, { pk, touchedAt })
    return { seqs, headsBefore: heads }
  }

  /** The pad's newest revision: its newest row, or the snapshot covering everything (0: none). */
  private head(pk: number): number {
    return this.selectHead.get(pk, pk)?.head ?? 0
  }

  /** Each stored pad's head (PadLog.heads). */
  heads(padIds: readonly string[]): Map<string, number> {
    return this.db.transaction(() => {
      const heads = new Map<string, number>()
      for (const padId of padIds) {
        const pad = this.selectPadPk.get(padId)
        if (pad) heads.set(padId, this.head(pad.pk))
      }
      return heads
    })()
  }

  /** The pad's rows after `afterSeq` and its claims, or null when some were forgotten (PadLog.rowsAfter). */
  rowsAfter(padId: string, afterSeq: number, limit: number): LogTail | null {
    return this.db.transaction((): LogTail | null => {
      const pad = this.selectPadPk.get(padId)
      if (!pad) return { rows: [], writers: new Map() }
      if (this.selectForgottenAfter.get({ pk: pad.pk, after: afterSeq })?.forgotten) return null
      const rows = this.selectRowsAfter
        .all(pad.pk, afterSeq, limit)
        .map((r) => ({ seq: r.seq, data: new Uint8Array(r.data) }))
      const writers = new Map<number, WriterHash>()
      for (const row of this.writers().all.all(padId)) writers.set(row.client, row.key.toString('hex'))
      return { rows, writers }
    })()
  }

  /** Null when the pad was never stored. */
  load(padId: string): StoredPad | null {
    const pad = this.selectPadPk.get(padId)
    if (!pad) return null
    return this.db.transaction(() => {
      const snapshot = this.selectLatestSnapshot.get(pad.pk)
      const upto = snapshot?.upto ?? 0
      return {
        snapshot: snapshot ? new Uint8Array(snapshot.data) : null,
        snapshotUpto: upto,
        updates: this.selectUpdatesAfter
          .all(pad.pk, upto)
          .map((r) => ({ seq: r.seq, data: new Uint8Array(r.data) })),
      }
    })()
  }

  /** `load` plus the pad's writer claims, read in one transaction (what a room starts from). */
  loadWithWriters(padId: string): LoadedLog | null {
    return this.db.transaction((): LoadedLog | null => {
      const stored = this.load(padId)
      if (!stored) return null
      const writers = new Map<number, WriterHash>()
      for (const row of this.writers().all.all(padId)) writers.set(row.client, row.key.toString('hex'))
      return { ...stored, writers }
    })()
  }

  /** Stores a snapshot holding the pad's state up to and including log row `upto`. */
  writeSnapshot(padId: string, upto: number, state: Uint8Array, at = Date.now()): void {
    const pad = this.selectPadPk.get(padId)
    if (!pad) throw new Error(`cannot snapshot pad "${padId}": it has no stored updates`)
    this.db.transaction(() => {
      this.insertSnapshot.run(pad.pk, upto, at, asBuffer(state))
      this.thin(pad.pk, at)
    })()
  }

  /** Drops the snapshots snapshot-policy.ts does not keep (the log still covers their revisions). */
  private thin(pk: number, now: number): void {
    const snapshots = this.selectSnapshotMetas.all(pk)
    if (snapshots.length <= NEWEST_KEPT + 1) return
    this.selectCheckpointSeqs ??= this.db.prepare<[number], { seq: number }>(
      'SELECT seq FROM checkpoints WHERE pad = ?',
    )
    const doomed = thinned(
      snapshots,
      this.selectCheckpointSeqs.all(pk).map((c) => c.seq),
      now,
    )
    for (const id of doomed) this.deleteSnapshot.run(id)
  }

  /**
   * Like `writeSnapshot`, for a state rebuilt outside any room: stored only while log row `upto` is
   * still the pad's and no snapshot covers it yet. Returns whether it was stored.
   */
  writeSnapshotIfCurrent(padId: string, upto: number, state: Uint8Array, at = Date.now()): boolean {
    return this.db.transaction(() => {
      const stored = this.insertSnapshotIfCurrent.run({ padId, upto, at, data: asBuffer(state) }).changes > 0
      const pad = stored ? this.selectPadPk.get(padId) : undefined
      if (pad) this.thin(pad.pk, at)
      return stored
    })()
  }

  /** The writer key's hash a Yjs client id of the pad was first written with; null when none. */
  writerOf(padId: string, client: number): WriterHash | null {
    return this.writers().select.get(padId, client)?.key.toString('hex') ?? null
  }

  private writers() {
    this.writerStatements ??= {
      // The first claim stands: a second server racing for the same id does not take it over.
      insert: this.db.prepare<[number, number, Buffer]>(
        'INSERT OR IGNORE INTO writers (pad, client, key_hash) VALUES (?, ?, ?)',
      ),
      select: this.db.prepare<[string, number], { key: Buffer }>(
        'SELECT w.key_hash AS key FROM writers w JOIN pads p ON p.pk = w.pad WHERE p.id = ? AND w.client = ?',
      ),
      all: this.db.prepare<[string], { client: number; key: Buffer }>(
        'SELECT w.client, w.key_hash AS key FROM writers w JOIN pads p ON p.pk = w.pad WHERE p.id = ?',
      ),
    }
    return this.writerStatements
  }

  lastSeq(padId: string): number {
    const pad = this.selectPadPk.get(padId)
    if (!pad) return 0
    return this.selectLastSeq.get(pad.pk)?.seq ?? 0
  }

  /** Who wrote the pad, from its log: one row per author name, oldest first (a restore wrote nothing new). */
  authors(padId: string): AuthorSummary[] {
    const pad = this.selectPadPk.get(padId)
    return pad ? this.selectAuthors.all(pad.pk) : []
  }

  /**
   * Keeps only `state` (the pad's current content) and drops its log and every older snapshot, in
   * one transaction: what was deleted from the pad is then gone from its history too.
   */
  forgetHistory(padId: string, state: Uint8Array, at = Date.now()): void {
    const pad = this.selectPadPk.get(padId)
    if (!pad) throw new Error(`pad "${padId}" has no stored data`)
    this.db.transaction(() => this.replaceHistory(pad.pk, state, at, null))()
  }

  /** `forgetHistory` only while `upto` is still the pad's newest revision; returns whether it was done. */
  forgetHistoryIfCurrent(padId: string, upto: number, state: Uint8Array, at = Date.now()): boolean {
    return this.db.transaction(() => {
      const pad = this.selectPadPk.get(padId)
      return pad ? this.replaceHistory(pad.pk, state, at, upto) : false
    })()
  }

  /** Call in a transaction. `ifUpto`: only when that is still the newest revision (null: always). */
  private replaceHistory(pk: number, state: Uint8Array, at: number, ifUpto: number | null): boolean {
    const upto = this.selectLastSeq.get(pk)?.seq ?? 0
    const covered = Math.max(upto, this.selectLatestSnapshot.get(pk)?.upto ?? 0)
    if (ifUpto !== null && covered !== ifUpto) return false
    this.deleteUpdatesOf.run(pk)
    this.deleteSnapshotsOf.run(pk)
    this.insertSnapshot.run(pk, covered, at, asBuffer(state))
    return true
  }

  exists(padId: string): boolean {
    return this.selectPadPk.get(padId) !== undefined
  }

  /** Removes the pad, its log and its snapshots. Returns whether it existed. */
  delete(padId: string): boolean {
    this.written.delete(padId)
    return this.deletePadRow.run(padId).changes > 0
  }

  list(): PadSummary[] {
    return this.selectPads.all()
  }
}
