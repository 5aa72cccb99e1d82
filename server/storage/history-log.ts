/**
 * What the history (server/history/history.ts) reads and writes of a pad's log: row metadata for
 * the timeline, the stored state at a revision, checkpoints, the closed flag. A promise-returning
 * interface, as PadLog (pad-log.ts), with SQLite behind it (SqliteHistoryLog, below); every
 * multi-statement read or write is one operation, run in one transaction.
 */
import type { Db } from './db.ts'
import type { StoredPad } from './pad-log.ts'
import { settled } from './settled.ts'

/** A log row without its bytes (the timeline needs who and when, and how much). */
export interface HistoryRow {
  seq: number
  at: number
  conn: string
  author: string | null
  bytes: number
}

export interface StoredCheckpoint {
  seq: number
  name: string
  at: number
}

export interface HistoryLog {
  /** Null when the pad was never stored; else when it was closed (null: open). */
  padState(padId: string): Promise<{ closedAt: number | null } | null>
  /** The pad's rows, oldest first. */
  rows(padId: string): Promise<HistoryRow[]>
  /** When row `seq` was written (null when the pad holds no such row). */
  rowTime(padId: string, seq: number): Promise<number | null>
  /** The last row written at or before `ms` (null when none). */
  seqAtTime(padId: string, ms: number): Promise<number | null>
  /** The rows just before and after revision `seq` (null where there is none): "one change" back or on. */
  neighbours(padId: string, seq: number): Promise<{ prev: number | null; next: number | null }>
  /** Who wrote the rows after `after` up to `upto`, in order: a one-change diff reads one row. */
  creditsBetween(
    padId: string,
    after: number,
    upto: number,
  ): Promise<{ conn: string; author: string | null }[]>
  /**
   * The oldest and newest revision history still holds: after "forget history" the oldest is
   * the snapshot covering everything before it.
   */
  bounds(padId: string): Promise<{ first: number; last: number }>
  /** The newest snapshot at or before revision `seq` and the rows after it up to `seq`, in one read. */
  stateAt(padId: string, seq: number): Promise<StoredPad>
  checkpoints(padId: string): Promise<StoredCheckpoint[]>
  /** Names the pad's newest revision, atomically with reading it; resolves with that revision. */
  addCheckpoint(padId: string, name: string, at: number): Promise<number>
  /** Marks the pad closed at `at`, or open (null). */
  setClosed(padId: string, at: number | null): Promise<void>
}

export class SqliteHistoryLog implements HistoryLog {
  private readonly db: Db
  private readonly s

  constructor(db: Db) {
    this.db = db
    this.s = {
      pad: db.prepare<[string], { pk: number; closed_at: number | null }>(
        'SELECT pk, closed_at FROM pads WHERE id = ?',
      ),
      rows: db.prepare<[string], HistoryRow>(
        `SELECT u.seq, u.at, u.conn, u.author, length(u.data) AS bytes
         FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? ORDER BY u.seq`,
      ),
      rowAt: db.prepare<[string, number], { at: number }>(
        'SELECT u.at FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? AND u.seq = ?',
      ),
      prevRow: db.prepare<[string, number], { seq: number | null }>(
        'SELECT max(u.seq) AS seq FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? AND u.seq < ?',
      ),
      nextRow: db.prepare<[string, number], { seq: number | null }>(
        'SELECT min(u.seq) AS seq FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? AND u.seq > ?',
      ),
      credits: db.prepare<[string, number, number], { conn: string; author: string | null }>(
        `SELECT u.conn, u.author FROM updates u JOIN pads p ON p.pk = u.pad
         WHERE p.id = ? AND u.seq > ? AND u.seq <= ? ORDER BY u.seq`,
      ),
      seqAtTime: db.prepare<[string, number], { seq: number | null }>(
        'SELECT max(u.seq) AS seq FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? AND u.at <= ?',
      ),
      snapshotAtOrBefore: db.prepare<[number, number], { upto: number; data: Buffer }>(
        'SELECT upto, data FROM snapshots WHERE pad = ? AND upto <= ? ORDER BY upto DESC, id DESC LIMIT 1',
      ),
      oldestSnapshot: db.prepare<[number], { upto: number | null }>(
        'SELECT min(upto) AS upto FROM snapshots WHERE pad = ?',
      ),
      firstRow: db.prepare<[number], { seq: number | null }>(
        'SELECT min(seq) AS seq FROM updates WHERE pad = ?',
      ),
      lastRow: db.prepare<[number], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM updates WHERE pad = ?',
      ),
      rowsBetween: db.prepare<[number, number, number], { seq: number; data: Buffer }>(
        'SELECT seq, data FROM updates WHERE pad = ? AND seq > ? AND seq <= ? ORDER BY seq',
      ),
      checkpoints: db.prepare<[string], StoredCheckpoint>(
        `SELECT c.seq, c.name, c.at FROM checkpoints c JOIN pads p ON p.pk = c.pad
         WHERE p.id = ? ORDER BY c.seq, c.id`,
      ),
      addCheckpoint: db.prepare<[number, number, string, number]>(
        'INSERT INTO checkpoints (pad, seq, name, at) VALUES (?, ?, ?, ?)',
      ),
      setClosed: db.prepare<[number | null, string]>('UPDATE pads SET closed_at = ? WHERE id = ?'),
    }
  }

  padState(padId: string) {
    return settled(() => {
      const pad = this.s.pad.get(padId)
      return pad ? { closedAt: pad.closed_at } : null
    })
  }

  rows(padId: string): Promise<HistoryRow[]> {
    return settled(() => this.s.rows.all(padId))
  }

  rowTime(padId: string, seq: number): Promise<number | null> {
    return settled(() => this.s.rowAt.get(padId, seq)?.at ?? null)
  }

  seqAtTime(padId: string, ms: number): Promise<number | null> {
    return settled(() => this.s.seqAtTime.get(padId, ms)?.seq ?? null)
  }

  neighbours(padId: string, seq: number): Promise<{ prev: number | null; next: number | null }> {
    return settled(() =>
      this.db.transaction(() => ({
        prev: this.s.prevRow.get(padId, seq)?.seq ?? null,
        next: this.s.nextRow.get(padId, seq)?.seq ?? null,
      }))(),
    )
  }

  creditsBetween(
    padId: string,
    after: number,
    upto: number,
  ): Promise<{ conn: string; author: string | null }[]> {
    return settled(() => this.s.credits.all(padId, after, upto))
  }

  bounds(padId: string): Promise<{ first: number; last: number }> {
    return settled(() => this.db.transaction(() => this.boundsOf(this.s.pad.get(padId)?.pk ?? -1))())
  }

  private boundsOf(pk: number): { first: number; last: number } {
    const firstRow = this.s.firstRow.get(pk)?.seq ?? null
    const lastRow = this.s.lastRow.get(pk)?.seq ?? null
    const oldestSnapshot = this.s.oldestSnapshot.get(pk)?.upto ?? null
    const first =
      oldestSnapshot !== null && (firstRow === null || oldestSnapshot < firstRow)
        ? oldestSnapshot
        : (firstRow ?? 0)
    return { first, last: Math.max(lastRow ?? 0, oldestSnapshot ?? 0) }
  }

  stateAt(padId: string, seq: number): Promise<StoredPad> {
    return settled(() =>
      this.db.transaction((): StoredPad => {
        const pk = this.s.pad.get(padId)?.pk ?? -1
        const snapshot = this.s.snapshotAtOrBefore.get(pk, seq)
        const upto = snapshot?.upto ?? 0
        return {
          snapshot: snapshot ? new Uint8Array(snapshot.data) : null,
          snapshotUpto: upto,
          updates: this.s.rowsBetween
            .all(pk, upto, seq)
            .map((r) => ({ seq: r.seq, data: new Uint8Array(r.data) })),
        }
      })(),
    )
  }

  checkpoints(padId: string): Promise<StoredCheckpoint[]> {
    return settled(() => this.s.checkpoints.all(padId))
  }

  addCheckpoint(padId: string, name: string, at: number): Promise<number> {
    return settled(() =>
      this.db.transaction(() => {
        const pad = this.s.pad.get(padId)
        if (!pad) throw new Error(`pad "${padId}" has no stored data`)
        const seq = this.boundsOf(pad.pk).last
        this.s.addCheckpoint.run(pad.pk, seq, name, at)
        return seq
      })(),
    )
  }

  setClosed(padId: string, at: number | null): Promise<void> {
    return settled(() => void this.s.setClosed.run(at, padId))
  }
}
