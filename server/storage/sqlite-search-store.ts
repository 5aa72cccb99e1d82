/**
 * The SearchStore interface on SQLite FTS5: the `pad_search` table (db.ts, tokenizer unicode61
 * with diacritics removed), keyed by the pad's rowid, so deleting a pad row deletes its entry
 * (a trigger). Each call is one transaction, run at once (settled.ts).
 */
import type { PadKind } from '../meetings/model.ts'
import type { Db } from './db.ts'
import { hasMatch, SNIPPET_SCAN_CHARS, SNIPPET_WINDOW_CHARS, snippetOf } from './search-snippet.ts'
import type { SearchFilter, SearchHit, SearchQuery, SearchStore } from './search-store.ts'
import { settled } from './settled.ts'

/** FTS5's query for the words: every word must appear, as a prefix (quoted: no FTS5 syntax). */
export function ftsQuery(query: SearchQuery): string {
  return query.words.map((w) => `"${w}"*`).join(' ')
}

export class SqliteSearchStore implements SearchStore {
  private readonly db: Db
  private readonly s

  constructor(db: Db) {
    this.db = db
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

  write(padId: string, title: string, body: string): Promise<void> {
    // IMMEDIATE: it reads the pad, then writes its rows, and another process (the CLI beside the
    // server) may commit in between; a deferred transaction would then fail at once with
    // "database is locked" instead of waiting its turn.
    return settled(() =>
      this.db
        .transaction(() => {
          const pad = this.s.padPk.get(padId)
          if (!pad) return
          this.s.remove.run(pad.pk)
          this.s.insert.run(pad.pk, title, body)
        })
        .immediate(),
    )
  }

  remove(padId: string): Promise<void> {
    return settled(() => {
      const pad = this.s.padPk.get(padId)
      if (pad) this.s.remove.run(pad.pk)
    })
  }

  query(query: SearchQuery, filter: SearchFilter, limit: number): Promise<SearchHit[]> {
    return settled(() =>
      this.db.transaction(() =>
        this.s.search
          .all({ q: ftsQuery(query), event: filter.event ?? null, kind: filter.kind ?? null, limit })
          .map((r) => ({
            padId: r.id,
            title: r.title,
            event: r.event,
            kind: r.kind as PadKind | null,
            snippet: this.snippet(r.pk, query.words),
          })),
      )(),
    )
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

  missing(): Promise<string[]> {
    return settled(() => this.s.unindexed.all().map((r) => r.id))
  }

  /**
   * FTS5 'optimize' rewrites the whole index: a delete in FTS5 only adds a tombstone, and the old
   * segments keep every word the pad ever held until they merge. With secure_delete on (schema 5),
   * the pages they free are zeroed.
   */
  scrub(): Promise<void> {
    return settled(() => void this.s.optimize.run())
  }
}
