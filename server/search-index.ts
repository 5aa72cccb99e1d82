/**
 * Full-text search over every pad's current text (SQLite FTS5). Kept up to date off the hot
 * path: a commit only marks the pad dirty; the text is re-indexed after a quiet moment.
 */
import type { PadKind } from '../shared/meetings.ts'
import type { Db } from './db.ts'
import { escapeHtml } from './html.ts'
import type { Logger } from './logger.ts'

/** Index a pad this long after its last change: search lags typing by a second, typing never waits. */
export const SEARCH_DEBOUNCE_MS = 1000
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

// Private-use characters mark the match in FTS5's snippet, so the text can be escaped first.
const MARK_START = '\uE000'
const MARK_END = '\uE001'

/** Turns what a person typed into an FTS5 query: every word must appear, as a prefix. */
export function ftsQuery(input: string): string | null {
  const words = input.match(/[\p{L}\p{N}_]+/gu)
  if (!words?.length) return null
  return words
    .slice(0, 12)
    .map((w) => `"${w}"*`)
    .join(' ')
}

export class SearchIndex {
  private readonly db: Db
  private readonly source: SearchSource
  private readonly log: Logger
  private readonly dirty = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private readonly s

  constructor(db: Db, source: SearchSource, log: Logger) {
    this.db = db
    this.source = source
    this.log = log
    this.s = {
      padPk: db.prepare<[string], { pk: number }>('SELECT pk FROM pads WHERE id = ?'),
      remove: db.prepare<[number]>('DELETE FROM pad_search WHERE rowid = ?'),
      insert: db.prepare<[number, string, string]>(
        'INSERT INTO pad_search (rowid, title, body) VALUES (?, ?, ?)',
      ),
      unindexed: db.prepare<[], { id: string }>(
        'SELECT id FROM pads WHERE pk NOT IN (SELECT rowid FROM pad_search)',
      ),
      search: db.prepare<
        { q: string; event: string | null; kind: string | null; limit: number },
        { id: string; title: string | null; event: string | null; kind: string | null; snippet: string }
      >(
        `SELECT p.id, p.title, e.slug AS event, p.kind,
                snippet(pad_search, 1, '${MARK_START}', '${MARK_END}', '…', 16) AS snippet
         FROM pad_search JOIN pads p ON p.pk = pad_search.rowid LEFT JOIN events e ON e.pk = p.event
         WHERE pad_search MATCH @q
           AND (@event IS NULL OR e.slug = @event)
           AND (@kind IS NULL OR p.kind = @kind)
         ORDER BY rank LIMIT @limit`,
      ),
    }
  }

  markDirty(padId: string): void {
    this.dirty.add(padId)
    if (this.timer) return
    this.timer = setTimeout(() => this.flush(), SEARCH_DEBOUNCE_MS)
    this.timer.unref()
  }

  /** Re-indexes every dirty pad now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
    const ids = [...this.dirty]
    this.dirty.clear()
    this.db.transaction(() => {
      for (const id of ids) this.reindex(id)
    })()
  }

  /** Indexes pads that have none yet (e.g. after upgrading from a version without search). */
  indexMissing(): number {
    const ids = this.s.unindexed.all().map((r) => r.id)
    // One transaction per pad: a pad that fails (its data, a full disk) leaves the others indexed.
    for (const id of ids) {
      try {
        this.db.transaction(() => this.reindex(id))()
      } catch (err) {
        this.log.error({ pad: id, err }, 'could not index pad')
      }
    }
    return ids.length
  }

  search(input: string, filter: SearchFilter = {}, limit = SEARCH_LIMIT): SearchHit[] {
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
        snippet: escapeHtml(r.snippet).replaceAll(MARK_START, '<mark>').replaceAll(MARK_END, '</mark>'),
      }))
  }

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
