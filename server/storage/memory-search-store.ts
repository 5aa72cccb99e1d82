/**
 * The SearchStore interface in memory: a plain scan of every entry per query, for tests and as the
 * contract suite's second engine (the rules an engine must keep are in search-store.ts). Which pads
 * exist is asked of the pad log; a pad's title, event and kind are whatever `place` last said (the meetings
 * store's part on a real engine). Nothing survives the process.
 */
import type { PadKind } from '../meetings/model.ts'
import type { PadLog } from './pad-log.ts'
import { SNIPPET_SCAN_CHARS, snippetOf } from './search-snippet.ts'
import {
  foldWord,
  type SearchFilter,
  type SearchHit,
  type SearchQuery,
  type SearchStore,
} from './search-store.ts'

interface Entry {
  title: string
  body: string
  /** The folded words of title and body, for prefix matching. */
  words: string[]
}

/** A pad's facts as the meetings store holds them: a hit shows its title, a filter reads the rest. */
export interface Place {
  title: string | null
  event: string | null
  kind: PadKind | null
}

const wordsOf = (text: string): string[] => (text.match(/[\p{L}\p{N}_]+/gu) ?? []).map(foldWord)

export class MemorySearchStore implements SearchStore {
  private readonly entries = new Map<string, Entry>()
  private readonly places = new Map<string, Place>()
  private readonly log: PadLog

  constructor(log: PadLog) {
    this.log = log
  }

  /** Files the pad under an event with a kind (what a filter reads). */
  place(padId: string, place: Place): void {
    this.places.set(padId, place)
  }

  async write(padId: string, title: string, body: string): Promise<void> {
    if (!(await this.log.exists(padId))) return
    this.entries.set(padId, { title, body, words: [...wordsOf(title), ...wordsOf(body)] })
  }

  async remove(padId: string): Promise<void> {
    this.entries.delete(padId)
  }

  async query(query: SearchQuery, filter: SearchFilter, limit: number): Promise<SearchHit[]> {
    const wanted = query.words.map(foldWord)
    const found: { padId: string; entry: Entry; score: number }[] = []
    for (const [padId, entry] of this.entries) {
      // The entry goes with its pad: a pad deleted since is not found (and its entry dropped).
      if (!(await this.log.exists(padId))) {
        this.entries.delete(padId)
        continue
      }
      const place = this.places.get(padId)
      if (filter.event !== undefined && place?.event !== filter.event) continue
      if (filter.kind !== undefined && place?.kind !== filter.kind) continue
      let score = 0
      for (const w of wanted) {
        const n = entry.words.filter((word) => word.startsWith(w)).length
        if (n === 0) {
          score = 0
          break
        }
        score += n
      }
      if (score > 0) found.push({ padId, entry, score })
    }
    found.sort((a, b) => b.score - a.score || a.padId.localeCompare(b.padId))
    return found.slice(0, limit).map(({ padId, entry }) => {
      const place = this.places.get(padId)
      const head = entry.body.slice(0, SNIPPET_SCAN_CHARS)
      return {
        padId,
        title: place?.title ?? null,
        event: place?.event ?? null,
        kind: place?.kind ?? null,
        snippet: snippetOf(head, query.words, { before: false, after: entry.body.length > head.length }),
      }
    })
  }

  async missing(): Promise<string[]> {
    return (await this.log.list()).map((p) => p.id).filter((id) => !this.entries.has(id))
  }

  /** Nothing is kept of a removed entry. */
  async scrub(): Promise<void> {}
}
