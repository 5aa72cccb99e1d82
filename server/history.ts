/**
 * A pad's history, from its update log and snapshots: a readable timeline, the text at any
 * revision (nearest snapshot at or before it, then only the rows after: fast on 50,000-update
 * pads), diffs, restore as a new change, named checkpoints, and closing a session (read-only).
 */
import * as Y from 'yjs'
import {
  type Checkpoint,
  type DiffLine,
  RESTORE_CONN_PREFIX,
  RESTORE_KEY,
  type RestoreNotice,
  type Revision,
  restoreConn,
  SERVER_MAP,
  type Timeline,
  type TimelineStep,
} from '../shared/history.ts'
import type { Db } from './db.ts'
import { HttpError } from './http-errors.ts'
import { LOAD_ORIGIN } from './pad-doc.ts'
import type { Rooms } from './rooms.ts'
import { NOTES_TEXT } from './templates.ts'

/**
 * A pause in typing this long ends a step of the timeline: people stop to listen, and the slider
 * lands on what was written before. Keystroke-sized steps (two typists interleaving made 775 steps
 * in two minutes) are one click away instead ("one change" buttons, prevSeq / nextSeq).
 */
export const STEP_PAUSE_MS = 20_000
/** A step covers at most this much continuous typing: an hour-long meeting is about 60 positions. */
export const STEP_MAX_MS = 60_000
/** How the log names someone who typed without giving a name. */
export const NAMELESS = 'someone without a name'

const iso = (ms: number) => new Date(ms).toISOString()

/** Who a log row is credited to: its author; the server's own rows (templates) are "Summitpad". */
const authorOf = (row: { author: string | null; conn: string }) =>
  row.author ?? (row.conn === 'server' ? 'Summitpad' : null)

export class History {
  private readonly rooms: Rooms
  private readonly s

  constructor(db: Db, rooms: Rooms) {
    this.rooms = rooms
    this.s = {
      pad: db.prepare<[string], { pk: number; closed_at: number | null }>(
        'SELECT pk, closed_at FROM pads WHERE id = ?',
      ),
      rows: db.prepare<
        [number],
        { seq: number; at: number; conn: string; author: string | null; bytes: number }
      >('SELECT seq, at, conn, author, length(data) AS bytes FROM updates WHERE pad = ? ORDER BY seq'),
      // Only the rows between two revisions: a one-change diff on a 50,000-row pad reads one row.
      rowsAuthors: db.prepare<[number, number, number], { conn: string; author: string | null }>(
        'SELECT conn, author FROM updates WHERE pad = ? AND seq > ? AND seq <= ? ORDER BY seq',
      ),
      rowAt: db.prepare<[number, number], { at: number }>('SELECT at FROM updates WHERE pad = ? AND seq = ?'),
      seqAtTime: db.prepare<[number, number], { seq: number }>(
        'SELECT max(seq) AS seq FROM updates WHERE pad = ? AND at <= ?',
      ),
      snapshotAtOrBefore: db.prepare<[number, number], { upto: number; data: Buffer }>(
        'SELECT upto, data FROM snapshots WHERE pad = ? AND upto <= ? ORDER BY upto DESC, id DESC LIMIT 1',
      ),
      oldestSnapshot: db.prepare<[number], { upto: number }>(
        'SELECT min(upto) AS upto FROM snapshots WHERE pad = ?',
      ),
      firstRow: db.prepare<[number], { seq: number | null }>(
        'SELECT min(seq) AS seq FROM updates WHERE pad = ?',
      ),
      lastRow: db.prepare<[number], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM updates WHERE pad = ?',
      ),
      rowsBetween: db.prepare<[number, number, number], { data: Buffer }>(
        'SELECT data FROM updates WHERE pad = ? AND seq > ? AND seq <= ? ORDER BY seq',
      ),
      prevRow: db.prepare<[number, number], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM updates WHERE pad = ? AND seq < ?',
      ),
      nextRow: db.prepare<[number, number], { seq: number | null }>(
        'SELECT min(seq) AS seq FROM updates WHERE pad = ? AND seq > ?',
      ),
      checkpoints: db.prepare<[number], { seq: number; name: string; at: number }>(
        'SELECT seq, name, at FROM checkpoints WHERE pad = ? ORDER BY seq, id',
      ),
      addCheckpoint: db.prepare<[number, number, string, number]>(
        'INSERT INTO checkpoints (pad, seq, name, at) VALUES (?, ?, ?, ?)',
      ),
      setClosed: db.prepare<[number | null, number]>('UPDATE pads SET closed_at = ? WHERE pk = ?'),
    }
  }

  timeline(padId: string): Timeline {
    const pad = this.pad(padId)
    const steps: TimelineStep[] = []
    // The last row's time and kind, kept as numbers: 50,000 rows, no date parsing per row.
    let lastAt = 0
    let lastAlone = false
    for (const row of this.s.rows.iterate(pad.pk)) {
      const last = steps.at(-1)
      // A restore is a step of its own, credited to whoever asked for it.
      const restoredSeq = row.conn.startsWith(RESTORE_CONN_PREFIX)
        ? Number(row.conn.slice(RESTORE_CONN_PREFIX.length))
        : undefined
      const who = authorOf(row) ?? NAMELESS
      // The template (the server's own rows) is a step of its own too.
      const alone = restoredSeq !== undefined || row.conn === 'server'
      if (
        last &&
        !alone &&
        !lastAlone &&
        row.at - lastAt < STEP_PAUSE_MS &&
        row.at - Date.parse(last.startAt) < STEP_MAX_MS
      ) {
        last.seq = row.seq
        last.edits++
        last.bytes += row.bytes
        if (!last.authors.includes(who)) last.authors.push(who)
      } else {
        if (last) last.endAt = iso(lastAt)
        steps.push({
          seq: row.seq,
          firstSeq: row.seq,
          startAt: iso(row.at),
          endAt: iso(row.at),
          authors: [who],
          edits: 1,
          bytes: row.bytes,
          ...(restoredSeq === undefined ? {} : { restoredSeq }),
        })
      }
      lastAt = row.at
      lastAlone = alone
    }
    const lastStep = steps.at(-1)
    if (lastStep) lastStep.endAt = iso(lastAt)
    const { first, last } = this.bounds(pad.pk)
    return {
      padId,
      firstSeq: first,
      lastSeq: last,
      steps,
      checkpoints: this.s.checkpoints.all(pad.pk).map((c) => ({ seq: c.seq, name: c.name, at: iso(c.at) })),
      closedAt: pad.closed_at === null ? null : iso(pad.closed_at),
    }
  }

  /** The pad's text just after log row `seq` (clamped to what history still holds). */
  revision(padId: string, seq: number): Revision {
    const pad = this.pad(padId)
    const { first, last } = this.bounds(pad.pk)
    const at = Math.min(Math.max(seq, first), last)
    const doc = this.docAt(pad.pk, at)
    const text = doc.getText(NOTES_TEXT).toString()
    doc.destroy()
    const row = this.s.rowAt.get(pad.pk, at)
    return {
      seq: at,
      at: row ? iso(row.at) : null,
      text,
      prevSeq: at > first ? (this.s.prevRow.get(pad.pk, at)?.seq ?? first) : null,
      nextSeq: this.s.nextRow.get(pad.pk, at)?.seq ?? null,
    }
  }

  /** The revision current at a moment: the last row written at or before `ms`. */
  seqAtTime(padId: string, ms: number): number {
    const pad = this.pad(padId)
    return this.s.seqAtTime.get(pad.pk, ms)?.seq ?? this.bounds(pad.pk).first
  }

  /** A line diff between two revisions, bounded (see MAX_DIFF_LINES), with who changed it. */
  diff(
    padId: string,
    fromSeq: number,
    toSeq: number,
  ): { from: RevisionRef; to: RevisionRef; authors: string[] } & LineDiff {
    const from = this.revision(padId, fromSeq)
    const to = this.revision(padId, toSeq)
    const pad = this.pad(padId)
    const authors = new Set<string>()
    for (const row of this.s.rowsAuthors.iterate(
      pad.pk,
      Math.min(from.seq, to.seq),
      Math.max(from.seq, to.seq),
    ))
      authors.add(authorOf(row) ?? NAMELESS)
    // The two texts are not repeated here (GET /revisions/<seq> has them): the answer stays bounded.
    const ref = (r: Revision): RevisionRef => ({ seq: r.seq, at: r.at })
    return { from: ref(from), to: ref(to), authors: [...authors], ...lineDiff(from.text, to.text) }
  }

  /**
   * Brings the text of revision `seq` back as a new change on top of the current one: nothing
   * after it is lost from history, and everyone editing sees the result live, with who restored
   * which version (SERVER_MAP). `changed` is false when that version is the current text.
   */
  restore(padId: string, seq: number, by: string | null): { seq: number; text: string; changed: boolean } {
    const old = this.revision(padId, seq)
    const room = this.rooms.open(padId)
    const ytext = room.doc.getText(NOTES_TEXT)
    const current = ytext.toString()
    // Edit only the middle that differs, so cursors and concurrent typing elsewhere survive.
    let start = 0
    while (start < current.length && start < old.text.length && current[start] === old.text[start]) start++
    let endCur = current.length
    let endOld = old.text.length
    while (endCur > start && endOld > start && current[endCur - 1] === old.text[endOld - 1]) {
      endCur--
      endOld--
    }
    if (endCur === start && endOld === start) return { seq: old.seq, text: current, changed: false }
    const notice: RestoreNotice = { by, seq: old.seq, versionAt: old.at, at: iso(Date.now()) }
    // One transaction, so one log row: the text and the notice arrive together everywhere.
    room.doc.transact(
      () => {
        if (endCur > start) ytext.delete(start, endCur - start)
        if (endOld > start) ytext.insert(start, old.text.slice(start, endOld))
        room.doc.getMap(SERVER_MAP).set(RESTORE_KEY, notice)
      },
      { id: restoreConn(old.seq), author: by },
    )
    this.rooms.flush()
    return { seq: old.seq, text: ytext.toString(), changed: true }
  }

  addCheckpoint(padId: string, name: string): Checkpoint {
    this.rooms.flush()
    const pad = this.pad(padId)
    const seq = this.bounds(pad.pk).last
    const at = Date.now()
    this.s.addCheckpoint.run(pad.pk, seq, name, at)
    return { seq, name, at: iso(at) }
  }

  isClosed(padId: string): boolean {
    return (this.s.pad.get(padId)?.closed_at ?? null) !== null
  }

  /** Ends the session: a checkpoint, then read-only for everyone until reopened. */
  close(padId: string, name = 'end of session'): Checkpoint {
    const checkpoint = this.addCheckpoint(padId, name)
    this.s.setClosed.run(Date.now(), this.pad(padId).pk)
    this.rooms.get(padId)?.setReadOnly(true)
    return checkpoint
  }

  reopen(padId: string): void {
    this.s.setClosed.run(null, this.pad(padId).pk)
    this.rooms.get(padId)?.setReadOnly(false)
  }

  private pad(padId: string): { pk: number; closed_at: number | null } {
    const pad = this.s.pad.get(padId)
    if (!pad) throw new HttpError(404, 'not_found', `no stored pad "${padId}"`)
    return pad
  }

  private bounds(pk: number): { first: number; last: number } {
    const firstRow = this.s.firstRow.get(pk)?.seq ?? null
    const lastRow = this.s.lastRow.get(pk)?.seq ?? null
    const oldestSnapshot = this.s.oldestSnapshot.get(pk)?.upto ?? null
    // After "forget history" the oldest thing left is a snapshot covering everything before it.
    const first =
      oldestSnapshot !== null && (firstRow === null || oldestSnapshot < firstRow)
        ? oldestSnapshot
        : (firstRow ?? 0)
    return { first, last: Math.max(lastRow ?? 0, oldestSnapshot ?? 0) }
  }

  private docAt(pk: number, seq: number): Y.Doc {
    const doc = new Y.Doc()
    const snapshot = this.s.snapshotAtOrBefore.get(pk, seq)
    Y.transact(
      doc,
      () => {
        if (snapshot) Y.applyUpdate(doc, snapshot.data, LOAD_ORIGIN)
        for (const row of this.s.rowsBetween.iterate(pk, snapshot?.upto ?? 0, seq))
          Y.applyUpdate(doc, row.data, LOAD_ORIGIN)
      },
      LOAD_ORIGIN,
    )
    return doc
  }
}

/** A revision named in a diff answer (its text is at GET /revisions/<seq>). */
export interface RevisionRef {
  seq: number
  at: string | null
}

/**
 * A diff answer is bounded whatever the pads hold: at most this many lines (changed lines with a
 * few unchanged ones around them, as in a unified diff), each cut at MAX_DIFF_LINE_CHARS, then
 * only the counts. A 2 MB pad rewritten would otherwise answer with every line of both texts
 * (50 MB of JSON, 430 MiB of memory); the history page shows the first 200 changes anyway.
 */
export const MAX_DIFF_LINES = 2000
export const MAX_DIFF_LINE_CHARS = 2000
/** Unchanged lines kept before and after each change. */
const DIFF_CONTEXT = 3
/** Past this many cells the line-by-line alignment costs too much (memory n*m*4 bytes): shown as replaced. */
const MAX_ALIGNMENT_CELLS = 4_000_000

export interface LineDiff {
  lines: DiffLine[]
  added: number
  removed: number
  unchanged: number
  /** Lines were left out (past MAX_DIFF_LINES); the counts still cover everything. */
  truncated: boolean
}

/** Collects a diff's lines within the bounds above, counting everything. */
class DiffCollector implements LineDiff {
  lines: DiffLine[] = []
  added = 0
  removed = 0
  unchanged = 0
  truncated = false
  /** The last unchanged lines, shown if a change follows. */
  private before: string[] = []
  /** Unchanged lines still to show after the last change. */
  private after = 0

  same(text: string): void {
    this.unchanged++
    if (this.after > 0) {
      this.after--
      this.emit('same', text)
      return
    }
    this.before.push(text)
    if (this.before.length > DIFF_CONTEXT) this.before.shift()
  }

  change(op: 'add' | 'del', text: string): void {
    if (op === 'add') this.added++
    else this.removed++
    for (const line of this.before) this.emit('same', line)
    this.before = []
    this.emit(op, text)
    this.after = DIFF_CONTEXT
  }

  private emit(op: DiffLine['op'], text: string): void {
    if (this.lines.length >= MAX_DIFF_LINES) {
      this.truncated = true
      return
    }
    this.lines.push({
      op,
      text: text.length > MAX_DIFF_LINE_CHARS ? `${text.slice(0, MAX_DIFF_LINE_CHARS)}…` : text,
    })
  }

  result(): LineDiff {
    const { lines, added, removed, unchanged, truncated } = this
    return { lines, added, removed, unchanged, truncated }
  }
}

/** Line diff (longest common subsequence; minutes are hundreds of lines, not millions). */
export function lineDiff(a: string, b: string): LineDiff {
  const x = a.split('\n')
  const y = b.split('\n')
  // Trim the common head and tail first: most revisions change a few lines in the middle.
  let head = 0
  while (head < x.length && head < y.length && x[head] === y[head]) head++
  let tail = 0
  while (
    tail < x.length - head &&
    tail < y.length - head &&
    x[x.length - 1 - tail] === y[y.length - 1 - tail]
  )
    tail++
  const out = new DiffCollector()
  for (let i = 0; i < head; i++) out.same(x[i]!)
  const xs = x.slice(head, x.length - tail)
  const ys = y.slice(head, y.length - tail)
  const n = xs.length
  const m = ys.length
  if (n * m > MAX_ALIGNMENT_CELLS) {
    for (const text of xs) out.change('del', text)
    for (const text of ys) out.change('add', text)
  } else {
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i]![j] = xs[i] === ys[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
      }
    }
    let i = 0
    let j = 0
    while (i < n && j < m) {
      if (xs[i] === ys[j]) {
        out.same(xs[i]!)
        i++
        j++
      } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
        out.change('del', xs[i++]!)
      } else {
        out.change('add', ys[j++]!)
      }
    }
    while (i < n) out.change('del', xs[i++]!)
    while (j < m) out.change('add', ys[j++]!)
  }
  for (let i = x.length - tail; i < x.length; i++) out.same(x[i]!)
  return out.result()
}
