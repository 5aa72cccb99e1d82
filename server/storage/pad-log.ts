/**
 * What the sync path needs of storage: a pad's update log and its snapshots, as an interface
 * whose every call returns a promise. SQLite (sqlite-pad-log.ts) answers at once; the next engine
 * (PostgreSQL, over the network) will not, and rooms.ts / room.ts / tick-flusher.ts are written
 * for that: at most one append in flight, nothing sent before the append of what it contains
 * has resolved. Bytes in, bytes out: nothing here knows Yjs, and no engine type leaks through.
 *
 * Every multi-step change is one operation of the interface, atomic in the engine (an append of
 * several pads' rows, "forget history", a snapshot written only if still current): a caller never
 * holds a transaction open across an await.
 */
import type { WriterHash } from '../sync/writer-key.ts'

export interface LogRow {
  padId: string
  at: number
  /** The connection the update came from ("server" for updates the server writes itself). */
  conn: string
  /** That connection's user name from awareness, when known. */
  author: string | null
  data: Uint8Array
  /**
   * Yjs client ids this update writes first, claimed for `writer` (a writer key's hash) in the
   * same transaction (see writer-check.ts). The first claim of an id stands.
   */
  claims?: readonly number[]
  writer?: WriterHash | null
}

export interface StoredPad {
  /** Newest snapshot, or null when the pad has none yet. */
  snapshot: Uint8Array | null
  /** Seq of the last log row the snapshot includes (0 when none). */
  snapshotUpto: number
  /** Log rows after the snapshot, oldest first. */
  updates: { seq: number; data: Uint8Array }[]
}

/** A pad as a room loads it: its stored state and who claimed which Yjs client ids, read together. */
export interface LoadedLog extends StoredPad {
  /** Claimed Yjs client id -> the writer key's hash it was first written with. */
  writers: ReadonlyMap<number, WriterHash>
}

/** What `appendBatchWithHeads` resolves with. */
export interface AppendedBatch {
  /** The rows' seqs, as `appendBatch` resolves with. */
  seqs: number[]
  /**
   * For each pad of the batch, its head (see `heads`) just before the batch, read under the same
   * lock that orders its seqs: when a caller had every row of the pad up to it, it now has every
   * row up to its own last one; when not, another writer's rows came in between.
   */
  headsBefore: ReadonlyMap<string, number>
}

/** A pad's rows after a seq, and its writer claims, read together (`rowsAfter`). */
export interface LogTail {
  /** Rows with a seq after the one asked for, oldest first, each with every row before it. */
  rows: { seq: number; data: Uint8Array }[]
  /**
   * Every claim of the pad, when there are rows (claims are not stored per row: a row's claims
   * commit with it, so a read seeing the row sees them).
   */
  writers: ReadonlyMap<number, WriterHash>
}

export interface AuthorSummary {
  /** Null for edits of connections that never announced a name (and for the server's own). */
  name: string | null
  edits: number
  firstAt: number
  lastAt: number
}

export interface PadSummary {
  id: string
  createdAt: number
  updatedAt: number
  updateCount: number
  bytes: number
}

export interface PadLog {
  /**
   * Appends rows (of any pads) atomically: all are stored, in order, or none (the promise
   * rejects). Resolves with their seqs, increasing, never reused. A pad exists from its first row.
   */
  appendBatch(rows: readonly LogRow[]): Promise<number[]>
  /** `appendBatch`, also telling each pad's head before the batch (what the rooms commit with). */
  appendBatchWithHeads(rows: readonly LogRow[]): Promise<AppendedBatch>
  /**
   * Up to `limit` of the pad's rows with a seq above `afterSeq`, oldest first, with its writer
   * claims, in one consistent read: what another server stored that a room holding the pad has
   * not applied. Seqs are drawn from one counter for all pads, so a pad's are not consecutive,
   * but they follow its commit order: no row committed after this read can have a seq below the
   * newest one returned. Null when some rows after `afterSeq` are no longer in the log ("forget
   * history" folded them into a snapshot since): `load` the pad instead. Rows go only that way,
   * which leaves its snapshot the oldest (snapshot-policy.ts keeps the oldest) with no row at or
   * before it; every other snapshot names a row that stays. A pad never stored has no rows.
   */
  rowsAfter(padId: string, afterSeq: number, limit: number): Promise<LogTail | null>
  /**
   * Each pad's head, in one read for many pads: the seq of its newest revision (its newest row,
   * or the snapshot covering everything when history was forgotten since); 0 or absent when none.
   */
  heads(padIds: readonly string[]): Promise<Map<string, number>>
  /** The newest snapshot and the rows after it, plus the pad's writer claims; null when never stored. */
  load(padId: string): Promise<LoadedLog | null>
  /** Stores a snapshot of the pad up to and including row `upto` (the pad must exist). */
  writeSnapshot(padId: string, upto: number, state: Uint8Array, at?: number): Promise<void>
  /**
   * Like `writeSnapshot`, for a state rebuilt outside any room: stored only while row `upto` is
   * still the pad's and no snapshot covers it yet (not over a "forget history" that ran in
   * between, nor into a pad deleted and made again). Resolves with whether it was stored.
   */
  snapshotIfCurrent(padId: string, upto: number, state: Uint8Array, at?: number): Promise<boolean>
  /**
   * Keeps only `state` as the pad's snapshot, covering every row so far, and drops its log and
   * every older snapshot, atomically. Rejects when the pad has no stored data.
   */
  forgetHistory(padId: string, state: Uint8Array, at?: number): Promise<void>
  /**
   * Like `forgetHistory`, for a state rebuilt outside any room (the CLI beside a running server):
   * done only while `upto` is still the pad's newest revision (its last row, or the snapshot
   * covering everything when it has no rows), so no row committed in between is dropped unseen.
   * Resolves with whether it was done (false also when the pad has no stored data).
   */
  forgetHistoryIfCurrent(padId: string, upto: number, state: Uint8Array, at?: number): Promise<boolean>
  /** Seq of the pad's newest row (0 when none). */
  lastSeq(padId: string): Promise<number>
  /** Who wrote the pad: one entry per author name, oldest first; the server's rows are not counted. */
  authors(padId: string): Promise<AuthorSummary[]>
  exists(padId: string): Promise<boolean>
  /** Removes the pad, its log, snapshots and claims. Resolves with whether it existed. */
  delete(padId: string): Promise<boolean>
  /** Every stored pad, most recently updated first. */
  list(): Promise<PadSummary[]>
}
