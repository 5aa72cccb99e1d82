/**
 * Full-text search over every pad's current text (SQLite FTS5). Kept up to date off the hot
 * path: a commit only marks the pad stale; the text is re-indexed after a quiet moment, one pad
 * per event-loop turn, and a search first indexes whatever is still stale.
 */
import type { PadKind } from '../meetings/model.ts'
import type { Logger } from '../ops/logger.ts'
import type { Db } from './db.ts'
import { hasMatch, SNIPPET_SCAN_CHARS, SNIPPET_WINDOW_CHARS, snippetOf } from './search-snippet.ts'

/** Stale pads are re-indexed once no pad has changed for this long... */
export const SEARCH_QUIET_MS = 1000
/**
 * ...or, while people keep typing, this long after the change that made them stale. Re-indexing
 * costs the pad's whole text every time (milliseconds for a long meeting's minutes, on the thread
 * that relays every keystroke), so once a second would grow with the meeting. A search indexes
 * stale pads first: its results never lag, whatever these are.
 */
export const SEARCH_MAX_WAIT_MS = 10_000

export interface SearchTiming {
  quietMs: number
  maxWaitMs: number
}

/** Results per query: a page of hits, not the whole database. */
export const SEARCH_LIMIT = 50

export interface SearchHit {
  padId: string
  title: string | null
  event: string | null
  kind: PadKind | null
  /** HTML: the pad's text around the match, escaped, with matches in <mark>. */
  snippet: string
}

export interface SearchFilter {
  event?: string
  kind?: PadKind
}

/** Where a pad's current text and title come from. */
export interface SearchSource {
  text(padId: string): string | null
  title(padId: string): string | null
}

/** The words of a query: FTS5 matches each as a prefix; at most 12. */
export function queryWords(input: string): string[] {
  return (input.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 12)
}

/** Turns what a person typed into an FTS5 query: every word must appear, as a prefix. */
export function ftsQuery(input: string): string | null {
  const words = queryWords(input)
  if (!words.length) return null
  return words.map((w) => `"${w}"*`).join(' ')
}

export class SearchIndex {
  private readonly db: Db
  private readonly source: SearchSource
  private readonly log: Logger
  private readonly timing: SearchTiming
  /** Changed since the quiet-moment timer was started. */
  private readonly dirty = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  /** When the timer was started: it is pushed back on each change, but never past this + maxWaitMs. */
  private staleSince = 0
  /** Being re-indexed in the background, one pad per event-loop turn. */
  private readonly queued = new Set<string>()
  private draining: NodeJS.Immediate | null = null
  private readonly s

  constructor(
    db: Db,
    source: SearchSource,
    log: Logger,
    timing: SearchTiming = { quietMs: SEARCH_QUIET_MS, maxWaitMs: SEARCH_MAX_WAIT_MS },
  ) {
    this.db = db
    this.source = source
    this.log = log
    this.timing = timing
    this.s = {
      padPk: db.prepare<[string], { pk: number }>('SELECT pk FROM pads WHERE id = ?'),
      remove: db.prepare<[number]>('DELETE FROM pad_search WHERE rowid = ?'),
      optimize: db.prepare("INSERT INTO pad_search (pad_search) VALUES ('optimize')"),
      insert: db.prepare<[number, string, string]>(
        'INSERT INTO pad_search (rowid, title, body) VALUES (?, ?, ?)',
      ),
      unindexed: db.prepare<[], { id: string }>(
        'SELECT id FROM pads WHERE pk NOT IN (SELECT rowid FROM pad_search)',
      ),
      search: db.prepare<
        { q: string; event: string | null; kind: string | null; limit: number },
        { pk: number; id: string; title: string | null; event: string | null; kind: string | null }
      >(
        // Not FTS5's snippet(): it is quadratic in the matches of a pad (search-snippet.ts). The
        // text is read afterwards, for the hits on the page only (a sort keeps every row's columns).
        `SELECT p.pk, p.id, p.title, e.slug AS event, p.kind
         FROM pad_search JOIN pads p ON p.pk = pad_search.rowid LEFT JOIN events e ON e.pk = p.event
         WHERE pad_search MATCH @q
           AND (@event IS NULL OR e.slug = @event)
           AND (@kind IS NULL OR p.kind = @kind)
         ORDER BY rank LIMIT @limit`,
      ),
      head: db.prepare<[number], { head: string; length: number }>(
        `SELECT substr(body, 1, ${SNIPPET_SCAN_CHARS}) AS head, length(body) AS length FROM pad_search WHERE rowid = ?`,
      ),
      // Past the head: where the word first occurs (ASCII case folded, as lower() does), and the
      // text around it. Not word-aware, so the snippet may show no mark; it is still that pad's.
      around: db.prepare<{ word: string; pk: number }, { at: number; text: string | null; length: number }>(
        `SELECT instr(lower(body), @word) AS at, length(body) AS length,
                substr(body, max(1, instr(lower(body), @word) - ${SNIPPET_WINDOW_CHARS / 2}), ${SNIPPET_WINDOW_CHARS}) AS text
         FROM pad_search WHERE rowid = @pk`,
      ),
    }
  }

  markDirty(padId: string): void {
    this.dirty.add(padId)
    const now = Date.now()
    if (this.timer === null) {
      this.staleSince = now
      this.timer = setTimeout(() => this.startDrain(), this.timing.quietMs)
      this.timer.unref()
    } else if (now + this.timing.quietMs <= this.staleSince + this.timing.maxWaitMs) {
      this.timer.refresh()
    }
  }

  /** Re-indexes every stale pad now (a search, a shutdown). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
    if (this.draining) {
      clearImmediate(this.draining)
      this.draining = null
    }
    const ids = new Set([...this.queued, ...this.dirty])
    this.queued.clear()
    this.dirty.clear()
    this.db
      .transaction(() => {
        for (const id of ids) this.reindex(id)
      })
      .immediate()
  }

  private startDrain(): void {
    this.timer = null
    for (const id of this.dirty) this.queued.add(id)
    this.dirty.clear()
    if (this.draining === null) this.drainOne()
  }

  /** One pad per turn: with many pads stale at once, keystrokes of every room still go on in between. */
  private drainOne(): void {
    this.draining = null
    const next = this.queued.values().next()
    if (next.done) return
    const id = next.value
    this.queued.delete(id)
    try {
      this.db.transaction(() => this.reindex(id)).immediate()
    } catch (err) {
      // The pad stays out of date in the index until its next change; a search still works.
      this.log.error({ pad: id, err }, 'could not index pad')
    }
    if (this.queued.size > 0) {
      this.draining = setImmediate(() => this.drainOne())
      this.draining.unref()
    }
  }

  /** Indexes pads that have none yet (e.g. after upgrading from a version without search). */
  indexMissing(): number {
    const ids = this.s.unindexed.all().map((r) => r.id)
    // One transaction per pad: a pad that fails (its data, a full disk) leaves the others indexed.
    for (const id of ids) {
      try {
        this.db.transaction(() => this.reindex(id)).immediate()
      } catch (err) {
        this.log.error({ pad: id, err }, 'could not index pad')
      }
    }
    return ids.length
  }

  search(input: string, filter: SearchFilter = {}, limit = SEARCH_LIMIT): SearchHit[] {
    const words = queryWords(input)
    const q = ftsQuery(input)
    if (q === null) return []
    this.flush()
    return this.s.search
      .all({ q, event: filter.event ?? null, kind: filter.kind ?? null, limit })
      .map((r) => ({
        padId: r.id,
        title: r.title,
        event: r.event,
        kind: r.kind as PadKind | null,
        snippet: this.snippet(r.pk, words),
      }))
  }

  private snippet(pk: number, words: readonly string[]): string {
    const { head = '', length = 0 } = this.s.head.get(pk) ?? {}
    if (length <= SNIPPET_SCAN_CHARS || hasMatch(head, words)) {
      return snippetOf(head, words, { before: false, after: length > head.length })
    }
    for (const word of words) {
      const found = this.s.around.get({ word: word.toLowerCase(), pk })
      if (found && found.at > 0 && found.text !== null) {
        const start = Math.max(1, found.at - SNIPPET_WINDOW_CHARS / 2)
        return snippetOf(found.text, words, {
          before: start > 1,
          after: start - 1 + found.text.length < found.length,
        })
      }
    }
    return snippetOf(head, words, { before: false, after: true })
  }

  /**
   * Re-indexes a pad now and rewrites the whole index (FTS5 'optimize'): a delete in FTS5 only
   * adds a tombstone, and the old segments keep every word the pad ever held until they merge.
   * With secure_delete on, the pages they free are zeroed. For "forget history".
   */
  purge(padId: string): void {
    this.dirty.delete(padId)
    this.queued.delete(padId)
    this.reindex(padId)
    this.s.optimize.run()
  }

  /**
   * Call inside an IMMEDIATE transaction: it reads the pad, then writes its rows, and another
   * process (the CLI beside the server) may commit in between; a deferred transaction would then
   * fail at once with "database is locked" instead of waiting its turn.
   */
  private reindex(padId: string): void {
    const pad = this.s.padPk.get(padId)
    if (!pad) return
    this.s.remove.run(pad.pk)
    let text: string | null
    try {
      text = this.source.text(padId)
    } catch (err) {
      // A pad whose stored data cannot be rebuilt stays out of the index; it must not stop the
      // server from starting (this runs at startup) or the other pads from being indexed.
      this.log.error({ pad: padId, err }, 'could not index pad')
      return
    }
    if (text !== null) this.s.insert.run(pad.pk, this.source.title(padId) ?? padId, text)
  }
}
