/**
 * A pad's history, from its update log and snapshots: a readable timeline, the text at any
 * revision (nearest snapshot at or before it, then only the rows after: fast on 50,000-update
 * pads), diffs, restore as a new change, named checkpoints, and closing a session (read-only).
 */
import * as Y from 'yjs'
import type { Checkpoint, DiffLine, Revision, Timeline, TimelineStep } from '../shared/history.ts'
import type { Db } from './db.ts'
import { HttpError } from './http-errors.ts'
import { LOAD_ORIGIN } from './pad-doc.ts'
import { SERVER_ORIGIN } from './peer.ts'
import type { Rooms } from './rooms.ts'
import { NOTES_TEXT } from './templates.ts'

/** Edits of one author closer together than this are one step of the timeline. */
export const STEP_GAP_MS = 60_000

const iso = (ms: number) => new Date(ms).toISOString()

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
    for (const row of this.s.rows.iterate(pad.pk)) {
      const last = steps.at(-1)
      // The server's own rows: templates, restores.
      const who = row.author ?? (row.conn === 'server' ? 'Summitpad' : null)
      if (last && last.author === who && row.at - Date.parse(last.endAt) < STEP_GAP_MS) {
        last.seq = row.seq
        last.endAt = iso(row.at)
        last.edits++
        last.bytes += row.bytes
      } else {
        steps.push({
          seq: row.seq,
          firstSeq: row.seq,
          startAt: iso(row.at),
          endAt: iso(row.at),
          author: who,
          edits: 1,
          bytes: row.bytes,
        })
      }
    }
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
    return { seq: at, at: row ? iso(row.at) : null, text }
  }

  /** The revision current at a moment: the last row written at or before `ms`. */
  seqAtTime(padId: string, ms: number): number {
    const pad = this.pad(padId)
    return this.s.seqAtTime.get(pad.pk, ms)?.seq ?? this.bounds(pad.pk).first
  }

  diff(
    padId: string,
    fromSeq: number,
    toSeq: number,
  ): { from: Revision; to: Revision; lines: DiffLine[]; authors: string[] } {
    const from = this.revision(padId, fromSeq)
    const to = this.revision(padId, toSeq)
    const pad = this.pad(padId)
    const authors = new Set<string>()
    for (const row of this.s.rows.iterate(pad.pk)) {
      if (row.seq > Math.min(from.seq, to.seq) && row.seq <= Math.max(from.seq, to.seq)) {
        authors.add(row.author ?? (row.conn === 'server' ? 'Summitpad' : 'someone without a name'))
      }
    }
    return { from, to, lines: lineDiff(from.text, to.text), authors: [...authors] }
  }

  /**
   * Brings the text of revision `seq` back as a new change on top of the current one: nothing
   * after it is lost from history, and everyone editing sees the result live.
   */
  restore(padId: string, seq: number): { seq: number; text: string } {
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
    room.doc.transact(() => {
      if (endCur > start) ytext.delete(start, endCur - start)
      if (endOld > start) ytext.insert(start, old.text.slice(start, endOld))
    }, SERVER_ORIGIN)
    this.rooms.flush()
    return { seq: old.seq, text: ytext.toString() }
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

/** Line diff (longest common subsequence; minutes are hundreds of lines, not millions). */
export function lineDiff(a: string, b: string): DiffLine[] {
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
  const xs = x.slice(head, x.length - tail)
  const ys = y.slice(head, y.length - tail)
  const n = xs.length
  const m = ys.length
  const out: DiffLine[] = x.slice(0, head).map((text) => ({ op: 'same', text }))
  if (n * m > 4_000_000) {
    // Too big to align line by line: show it as replaced.
    for (const text of xs) out.push({ op: 'del', text })
    for (const text of ys) out.push({ op: 'add', text })
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
        out.push({ op: 'same', text: xs[i]! })
        i++
        j++
      } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
        out.push({ op: 'del', text: xs[i++]! })
      } else {
        out.push({ op: 'add', text: ys[j++]! })
      }
    }
    while (i < n) out.push({ op: 'del', text: xs[i++]! })
    while (j < m) out.push({ op: 'add', text: ys[j++]! })
  }
  for (let k = x.length - tail; k < x.length; k++) out.push({ op: 'same', text: x[k]! })
  return out
}
