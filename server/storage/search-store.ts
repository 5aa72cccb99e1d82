/**
 * What the search needs of storage: one entry per pad (a title and a body of text), found by the
 * words a person typed. A promise-returning interface, as PadLog (pad-log.ts): SQLite's FTS5 is
 * behind it (sqlite-search-store.ts), a plain scan in memory (memory-search-store.ts), and the
 * next engine (PostgreSQL) will be. When a pad is re-indexed is not the engine's business: that
 * policy (a quiet second, a longest wait, a search first indexing what is stale) is SearchIndex's
 * (search-index.ts), the same on every engine.
 *
 * What every engine must do (the storage contract, test/storage-contract.ts, holds it to this):
 * - A query is the words of `parseSearchQuery` (below), never raw input. A pad matches when EVERY
 *   word starts a word of its title or body ("writ" finds "writeback"), compared case-folded and
 *   without diacritics ("muller" finds "Müller", "Müller" finds "muller"). Words are split as
 *   `queryWords` splits them (letters, digits, underscore); anything else separates words.
 * - `filter.event` keeps pads of the event with that slug, `filter.kind` pads of that kind (the
 *   pad's facts as the meetings store holds them now, not as they were when indexed).
 * - At most `limit` hits, the best matches first (the engine's own ranking).
 * - A hit's snippet is HTML cut by search-snippet.ts (`snippetOf`) from a window of the body
 *   around the first match: never the whole body of a large pad read for one hit.
 * - An entry goes with its pad: `write` for a pad with no stored data does nothing, and deleting
 *   the pad (PadLog.delete, or its event's deletion) removes its entry.
 * - `scrub` leaves no trace of text no longer indexed in the engine's files (a secret pasted by
 *   mistake and then forgotten): FTS5 rewrites its segments; PostgreSQL would VACUUM the table.
 */
import type { PadKind } from '../meetings/model.ts'

/** Results per query: a page of hits, not the whole database. */
export const SEARCH_LIMIT = 50

/** Words of a query taken: more narrow nothing down, and each costs the engine a lookup. */
export const MAX_QUERY_WORDS = 12

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

/** A query as every engine receives it: at least one word, at most MAX_QUERY_WORDS. */
export interface SearchQuery {
  /** As typed (case and accents kept: the snippet marks what the person typed). */
  words: readonly string[]
}

/** The words of what a person typed: letters, digits and underscores; at most MAX_QUERY_WORDS. */
export function queryWords(input: string): string[] {
  return (input.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, MAX_QUERY_WORDS)
}

/** The query to give an engine, or null when the input holds no word (nothing to search). */
export function parseSearchQuery(input: string): SearchQuery | null {
  const words = queryWords(input)
  return words.length ? { words } : null
}

/** A word compared as every engine compares: case-folded, without diacritics ("Müller" -> "muller"). */
export function foldWord(word: string): string {
  return word
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
}

export interface SearchStore {
  /** Replaces the pad's entry; does nothing when the pad has no stored data. */
  write(padId: string, title: string, body: string): Promise<void>
  /** Removes the pad's entry (a pad whose text cannot be rebuilt, or that is empty). */
  remove(padId: string): Promise<void>
  /** The best `limit` matches of `query` among the pads `filter` keeps, best first. */
  query(query: SearchQuery, filter: SearchFilter, limit: number): Promise<SearchHit[]>
  /** Pads with stored data and no entry (e.g. after upgrading from a version without search). */
  missing(): Promise<string[]>
  /** Leaves no trace of text no longer indexed in the engine's files ("forget history"). */
  scrub(): Promise<void>
}
