/**
 * The SearchStore interface (../search-store.ts) on PostgreSQL full-text search: the `pad_search`
 * table (schema.ts) holds a pad's title and body and a stored tsvector of them (configuration
 * `simple`: no stemming, any language; accents removed by `summitpad_unaccent`), GIN-indexed.
 * An entry hangs on its pad's row (a cascading key): deleting the pad deletes it.
 *
 * A query is every word as a prefix (`'word':*`, each quoted as a literal: no tsquery syntax gets
 * through), joined by `&`; the same unaccent is applied to the words, and `simple` lowercases
 * both sides. Best first by `ts_rank` (title words weigh more), then by pad id. Snippets are cut
 * by search-snippet.ts as SQLite's store cuts them: from the head of the body, or from a window
 * around the first occurrence further in (strpos), never from the whole body read for one hit.
 *
 * Limits (docs/postgres.md): a body is indexed up to PG_SEARCH_BODY_CHARS; a tsvector holds at
 * most 1 MB of distinct words and positions, and a body beyond that is indexed from its beginning
 * (the largest half, quarter... that fits). A NUL character, which PostgreSQL text cannot hold,
 * is indexed as a space.
 */
import type { PadKind } from '../../meetings/model.ts'
import { hasMatch, SNIPPET_SCAN_CHARS, SNIPPET_WINDOW_CHARS, snippetOf } from '../search-snippet.ts'
import type { SearchFilter, SearchHit, SearchQuery, SearchStore } from '../search-store.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

const READ = { isolation: 'repeatable read', readOnly: true } as const

/** SQLSTATE program_limit_exceeded: "string is too long for tsvector". */
const TOO_LONG_FOR_TSVECTOR = '54000'

/**
 * Characters of a pad's text indexed (and searched for snippets): to_tsvector over unaccent took
 * 0.5 s for 1 MiB, 3.8 s for 4 MiB and 28 s for 16 MiB here, close to the pool's query timeout and
 * a database core busy all along, on every re-index of a large pad. 2 MiB is a day and a half of
 * dense notes; SQLite indexes a whole pad (docs/postgres.md says so).
 */
export const PG_SEARCH_BODY_CHARS = 2 * 1024 * 1024

/** Halvings of a body too large for a tsvector before giving up (2 MiB → 8 KiB in 8). */
export const MAX_BODY_HALVINGS = 8

const withoutNul = (text: string) => text.replaceAll('\u0000', ' ')

interface HitRow {
  pk: number
  id: string
  title: string | null
  event: string | null
  kind: string | null
  head: string
  length: number
}

export class PgSearchStore implements SearchStore {
  private readonly pool: PgPool

  constructor(pool: PgPool) {
    this.pool = pool
  }

  async write(padId: string, title: string, body: string): Promise<void> {
    let text = withoutNul(body.slice(0, PG_SEARCH_BODY_CHARS))
    for (let halvings = 0; ; halvings++) {
      try {
        // One statement: nothing for a pad with no stored data (the SELECT finds no pk).
        await this.pool.query(
          `INSERT INTO pad_search (pad, title, body) SELECT pk, $2, $3 FROM pads WHERE id = $1
           ON CONFLICT (pad) DO UPDATE SET title = excluded.title, body = excluded.body`,
          [padId, withoutNul(title), text],
        )
        return
      } catch (err) {
        const tooLong = (err as { code?: string }).code === TOO_LONG_FOR_TSVECTOR
        if (!tooLong || halvings === MAX_BODY_HALVINGS) throw err
        text = text.slice(0, Math.floor(text.length / 2))
      }
    }
  }

  async remove(padId: string): Promise<void> {
    await this.pool.query('DELETE FROM pad_search WHERE pad = (SELECT pk FROM pads WHERE id = $1)', [padId])
  }

  query(query: SearchQuery, filter: SearchFilter, limit: number): Promise<SearchHit[]> {
    return inTransaction(
      this.pool,
      async (client) => {
        // The page of hits first; only their bodies' heads are read (not every match's).
        const { rows } = await client.query<HitRow>(
          `WITH q AS (
             SELECT to_tsquery('simple', string_agg(quote_literal(summitpad_unaccent(w)) || ':*', ' & ')) AS q
             FROM unnest($1::text[]) AS w
           ), hits AS (
             SELECT p.pk, p.id, p.title, e.slug AS event, p.kind, ts_rank(s.words, q.q) AS rank
             FROM q, pad_search s JOIN pads p ON p.pk = s.pad LEFT JOIN events e ON e.pk = p.event
             WHERE s.words @@ q.q
               AND ($2::text IS NULL OR e.slug = $2)
               AND ($3::text IS NULL OR p.kind = $3)
             ORDER BY rank DESC, p.id COLLATE "C" LIMIT $4
           )
           SELECT h.pk, h.id, h.title, h.event, h.kind, substr(s.body, 1, ${SNIPPET_SCAN_CHARS}) AS head,
                  length(s.body) AS length
           FROM hits h JOIN pad_search s ON s.pad = h.pk ORDER BY h.rank DESC, h.id COLLATE "C"`,
          [query.words, filter.event ?? null, filter.kind ?? null, limit],
        )
        const hits: SearchHit[] = []
        for (const row of rows)
          hits.push({
            padId: row.id,
            title: row.title,
            event: row.event,
            kind: row.kind as PadKind | null,
            snippet: await snippet(client, row, query.words),
          })
        return hits
      },
      READ,
    )
  }

  async missing(): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      'SELECT id FROM pads p WHERE NOT EXISTS (SELECT 1 FROM pad_search s WHERE s.pad = p.pk)',
    )
    return rows.map((r) => r.id)
  }

  /**
   * VACUUM FULL rewrites the table, its TOAST and its GIN index into new files and removes the
   * old ones: a plain VACUUM would leave the forgotten words as keys of the GIN index and the old
   * bytes in the table's pages. It holds the table's exclusive lock meanwhile (searches and
   * re-indexing wait: seconds for a conference's pads). What it cannot reach (the WAL until it is
   * recycled, archives, replicas, the old files' disk blocks) docs/postgres.md lists.
   */
  async scrub(): Promise<void> {
    await this.pool.query('VACUUM FULL pad_search')
  }
}

/** The hit's snippet, as SqliteSearchStore cuts it (search-snippet.ts). */
async function snippet(client: PgClient, row: HitRow, words: readonly string[]): Promise<string> {
  const { head, length } = row
  if (length <= SNIPPET_SCAN_CHARS || hasMatch(head, words))
    return snippetOf(head, words, { before: false, after: length > head.length })
  for (const word of words) {
    // Past the head: where the word first occurs (case folded by lower()), and the text around
    // it. Not word-aware, so the snippet may show no mark; it is still that pad's.
    const found = (
      await client.query<{ at: number; text: string | null }>(
        `SELECT strpos(lower(body), $2) AS at,
                substr(body, greatest(1, strpos(lower(body), $2) - ${SNIPPET_WINDOW_CHARS / 2}), ${SNIPPET_WINDOW_CHARS}) AS text
         FROM pad_search WHERE pad = $1`,
        [row.pk, word.toLowerCase()],
      )
    ).rows[0]
    if (found && found.at > 0 && found.text !== null) {
      const start = Math.max(1, found.at - SNIPPET_WINDOW_CHARS / 2)
      return snippetOf(found.text, words, {
        before: start > 1,
        after: start - 1 + found.text.length < length,
      })
    }
  }
  return snippetOf(head, words, { before: false, after: true })
}
