/**
 * When the search index is brought up to date: a commit only marks the pad stale; the text is
 * re-indexed after a quiet moment, one pad per event-loop turn, and a search first indexes whatever
 * is still stale. The same policy on every engine: the index itself is a SearchStore
 * (search-store.ts), which only stores and finds entries.
 */
import type { Logger } from '../ops/logger.ts'
import {
  parseSearchQuery,
  SEARCH_LIMIT,
  type SearchFilter,
  type SearchHit,
  type SearchStore,
} from './search-store.ts'

export { SEARCH_LIMIT, type SearchFilter, type SearchHit } from './search-store.ts'

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

/** Where a pad's current text and title come from (the live room or the pad log; the meetings store). */
export interface SearchSource {
  text(padId: string): Promise<string | null> | string | null
  title(padId: string): Promise<string | null> | string | null
}

export class SearchIndex {
  private readonly store: SearchStore
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
  /** The background re-index under way: a search waits for it, as for the stale pads. */
  private current: Promise<void> = Promise.resolve()

  constructor(
    store: SearchStore,
    source: SearchSource,
    log: Logger,
    timing: SearchTiming = { quietMs: SEARCH_QUIET_MS, maxWaitMs: SEARCH_MAX_WAIT_MS },
  ) {
    this.store = store
    this.source = source
    this.log = log
    this.timing = timing
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
  async flush(): Promise<void> {
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
    // Chained: a second search at the same time waits for these pads too, not only for its own.
    await this.after(async () => {
      for (const id of ids) await this.reindexLogged(id)
    })
  }

  /** Runs `work` after every re-index already under way; later ones wait for it in turn. */
  private after(work: () => Promise<void>): Promise<void> {
    this.current = this.current.then(work)
    return this.current
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
    void this.after(() => this.reindexLogged(id)).then(() => {
      if (this.queued.size > 0 && this.draining === null) {
        this.draining = setImmediate(() => this.drainOne())
        this.draining.unref()
      }
    })
  }

  /**
   * Indexes pads that have none yet (e.g. after upgrading from a version without search), in the
   * background: a search waits for it. Resolves with how many there were (0 when listing failed).
   */
  indexMissing(): Promise<number> {
    const run = this.current.then(async () => {
      const ids = await this.store.missing()
      // One pad at a time: a pad that fails (its data, a full disk) leaves the others indexed.
      for (const id of ids) await this.reindexLogged(id)
      return ids.length
    })
    const done = run.catch((err: unknown) => {
      this.log.error({ err }, 'could not list the pads missing from the search index')
      return 0
    })
    this.current = done.then(() => {})
    return done
  }

  /** At most `limit` pads matching every word of `input` (none for no word), stale pads indexed first. */
  async search(input: string, filter: SearchFilter = {}, limit = SEARCH_LIMIT): Promise<SearchHit[]> {
    const query = parseSearchQuery(input)
    if (query === null) return []
    await this.flush()
    return this.store.query(query, filter, limit)
  }

  /**
   * Re-indexes a pad now and has the engine scrub what it no longer indexes: the old text must
   * leave no trace (for "forget history").
   */
  async purge(padId: string): Promise<void> {
    this.dirty.delete(padId)
    this.queued.delete(padId)
    let failed: unknown = null
    await this.after(async () => {
      try {
        await this.reindex(padId)
        await this.store.scrub()
      } catch (err) {
        failed = err
      }
    })
    // The caller hears of it (the forgotten text may still be in the index); the chain goes on.
    if (failed !== null) throw failed
  }

  /** A pad that fails stays out of date in the index until its next change; a search still works. */
  private async reindexLogged(padId: string): Promise<void> {
    try {
      await this.reindex(padId)
    } catch (err) {
      this.log.error({ pad: padId, err }, 'could not index pad')
    }
  }

  private async reindex(padId: string): Promise<void> {
    let text: string | null
    try {
      text = await this.source.text(padId)
    } catch (err) {
      // A pad whose stored data cannot be rebuilt stays out of the index; it must not stop the
      // server from starting (this runs at startup) or the other pads from being indexed.
      this.log.error({ pad: padId, err }, 'could not index pad')
      await this.store.remove(padId)
      return
    }
    if (text === null) return this.store.remove(padId)
    await this.store.write(padId, (await this.source.title(padId)) ?? padId, text)
  }
}
