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
} from '../../shared/history.ts'
import { NotFound } from '../lib/domain-errors.ts'
import { refusedWrite } from '../lib/refused-write.ts'
import { NOTES_TEXT } from '../meetings/templates.ts'
import type { ControlEvent } from '../storage/control-events.ts'
import type { HistoryLog } from '../storage/history-log.ts'
import { admitStoredRead } from '../sync/item-budget.ts'
import { docFromStored, LOAD_ORIGIN } from '../sync/pad-doc.ts'
import { SERVER_ORIGIN } from '../sync/peer.ts'
import type { Rooms } from '../sync/rooms.ts'

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
  private readonly log: HistoryLog
  private readonly announce: (events: readonly ControlEvent[]) => Promise<void>

  /**
   * `announce` tells the other servers holding the pad that its session was closed or reopened
   * (storage/control-events.ts); nothing to tell when absent (a lone process).
   */
  constructor(
    log: HistoryLog,
    rooms: Rooms,
    announce: (events: readonly ControlEvent[]) => Promise<void> = async () => {},
  ) {
    this.rooms = rooms
    this.log = log
    this.announce = announce
  }

  async timeline(padId: string): Promise<Timeline> {
    const pad = await this.pad(padId)
    const steps: TimelineStep[] = []
    // The last row's time and kind, kept as numbers: 50,000 rows, no date parsing per row.
    let lastAt = 0
    let lastAlone = false
    for (const row of await this.log.rows(padId)) {
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
    const { first, last } = await this.log.bounds(padId)
    return {
      padId,
      firstSeq: first,
      lastSeq: last,
      steps,
      checkpoints: (await this.log.checkpoints(padId)).map((c) => ({
        seq: c.seq,
        name: c.name,
        at: iso(c.at),
      })),
      closedAt: pad.closedAt === null ? null : iso(pad.closedAt),
    }
  }

  /** The pad's text just after log row `seq` (clamped to what history still holds). */
  async revision(padId: string, seq: number): Promise<Revision> {
    await this.pad(padId)
    const { first, last } = await this.log.bounds(padId)
    const at = Math.min(Math.max(seq, first), last)
    // The one rebuild path (pad-doc.ts): a stored state with missing dependencies is refused.
    const stored = await this.log.stateAt(padId, at)
    // Counted by the walk before anything is applied: the apply is what costs seconds.
    admitStoredRead(stored, 'this revision')
    const doc = docFromStored(stored)
    const text = doc.getText(NOTES_TEXT).toString()
    doc.destroy()
    const rowAt = await this.log.rowTime(padId, at)
    const { prev, next } = await this.log.neighbours(padId, at)
    return {
      seq: at,
      at: rowAt === null ? null : iso(rowAt),
      text,
      prevSeq: at > first ? (prev ?? first) : null,
      nextSeq: next,
    }
  }

  /** The revision current at a moment: the last row written at or before `ms`. */
  async seqAtTime(padId: string, ms: number): Promise<number> {
    await this.pad(padId)
    return (await this.log.seqAtTime(padId, ms)) ?? (await this.log.bounds(padId)).first
  }

  /** A line diff between two revisions, bounded (see MAX_DIFF_LINES), with who changed it. */
  async diff(
    padId: string,
    fromSeq: number,
    toSeq: number,
  ): Promise<{ from: RevisionRef; to: RevisionRef; authors: string[] } & LineDiff> {
    const from = await this.revision(padId, fromSeq)
    const to = await this.revision(padId, toSeq)
    const authors = new Set<string>()
    for (const row of await this.log.creditsBetween(
      padId,
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
  async restore(
    padId: string,
    seq: number,
    by: string | null,
  ): Promise<{ seq: number; text: string; changed: boolean }> {
    const old = await this.revision(padId, seq)
    const room = await this.rooms.open(padId)
    const closed = room.serverWriteRefusal()
    if (closed) throw refusedWrite(closed)
    // The change is made on a copy (as the server's own client id) and goes in through the room's
    // checks, like anyone's edit: a restore may not pass the pad's size or item budget either.
    const scratch = new Y.Doc()
    scratch.clientID = room.doc.clientID
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(room.doc), LOAD_ORIGIN)
    const before = Y.encodeStateVector(scratch)
    const ytext = scratch.getText(NOTES_TEXT)
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
    scratch.transact(() => {
      if (endCur > start) ytext.delete(start, endCur - start)
      if (endOld > start) ytext.insert(start, old.text.slice(start, endOld))
      scratch.getMap(SERVER_MAP).set(RESTORE_KEY, notice)
    }, SERVER_ORIGIN)
    const change = Y.encodeStateAsUpdate(scratch, before)
    scratch.destroy()
    // Logged as the restore (its own step in the timeline), credited to who asked.
    const result = await room.applyServerUpdate(change, { id: restoreConn(old.seq), author: by })
    if (!result.ok) throw refusedWrite(result)
    return { seq: old.seq, text: room.doc.getText(NOTES_TEXT).toString(), changed: true }
  }

  async addCheckpoint(padId: string, name: string): Promise<Checkpoint> {
    await this.rooms.flush()
    await this.pad(padId)
    const at = Date.now()
    const seq = await this.log.addCheckpoint(padId, name, at)
    return { seq, name, at: iso(at) }
  }

  async isClosed(padId: string): Promise<boolean> {
    return ((await this.log.padState(padId))?.closedAt ?? null) !== null
  }

  /** Ends the session: a checkpoint, then read-only for everyone until reopened. */
  async close(padId: string, name = 'end of session'): Promise<Checkpoint> {
    const checkpoint = await this.addCheckpoint(padId, name)
    await this.log.setClosed(padId, Date.now())
    this.rooms.get(padId)?.setReadOnly(true)
    await this.announce([{ type: 'session-changed', padId }])
    return checkpoint
  }

  async reopen(padId: string): Promise<void> {
    await this.pad(padId)
    await this.log.setClosed(padId, null)
    this.rooms.get(padId)?.setReadOnly(false)
    await this.announce([{ type: 'session-changed', padId }])
  }

  private async pad(padId: string): Promise<{ closedAt: number | null }> {
    const pad = await this.log.padState(padId)
    if (!pad) throw new NotFound(`no stored pad "${padId}"`)
    return pad
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
