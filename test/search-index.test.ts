/**
 * When the search index re-indexes a pad: not once a second for as long as people type (each time
 * costs the pad's whole text, on the thread that relays keystrokes), but after a quiet moment or
 * a longest wait — and a search never sees stale text.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createLogger } from '../server/ops/logger.ts'
import { openDb } from '../server/storage/db.ts'
import { SearchIndex } from '../server/storage/search-index.ts'
import { SqliteSearchStore } from '../server/storage/sqlite-search-store.ts'
import { PadStore } from '../server/storage/store.ts'
import { tempDir, waitFor } from './helpers.ts'

/** A real database with stored pads, and pad texts the test can change, counting each re-index. */
function setup(padIds: readonly string[], timing: { quietMs: number; maxWaitMs: number }) {
  const db = openDb(tempDir(), 'normal')
  const store = new PadStore(db)
  store.append(
    padIds.map((padId) => ({ padId, at: Date.now(), conn: 'test', author: null, data: Uint8Array.of(0, 0) })),
  )
  const texts = new Map(padIds.map((id) => [id, 'agenda']))
  const reindexed = new Map(padIds.map((id) => [id, 0]))
  // Re-indexes within one event-loop turn: microtasks run between turns, not within one.
  const turns = { current: 0, most: 0 }
  const source = {
    text: (padId: string) => {
      reindexed.set(padId, reindexed.get(padId)! + 1)
      if (turns.current === 0) queueMicrotask(() => (turns.current = 0))
      turns.most = Math.max(turns.most, ++turns.current)
      return texts.get(padId) ?? null
    },
    title: (padId: string) => `Pad ${padId}`,
  }
  const search = new SearchIndex(new SqliteSearchStore(db), source, createLogger('silent'), timing)
  return { db, search, texts, reindexed, turns }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('search index upkeep', () => {
  test('a pad typed in without a pause is re-indexed once per longest wait, and once more when typing stops', async () => {
    const { db, search, texts, reindexed } = setup(['bof'], { quietMs: 400, maxWaitMs: 3000 })
    // 4 s of typing, a change every 25 ms: once per quiet period after the first change would be
    // ten times; once a second, four. A busy machine stretches the typing and may pause it: each
    // longest wait that passed, and each pause longer than the quiet period, allows one more.
    const started = Date.now()
    let last = started
    let pauses = 0
    for (let i = 0; i < 160; i++) {
      texts.set('bof', `agenda item${i}`)
      search.markDirty('bof')
      await sleep(25)
      if (Date.now() - last > 400) pauses++
      last = Date.now()
    }
    const elapsed = Date.now() - started
    const allowed = Math.ceil(elapsed / 3000) + pauses
    const whileTyping = reindexed.get('bof')!
    assert.ok(
      whileTyping >= 1 && whileTyping <= allowed,
      `re-indexed ${whileTyping} times in ${elapsed} ms of typing (at most ${allowed})`,
    )
    await waitFor('the re-index after typing stops', () => reindexed.get('bof')! > whileTyping, 30_000)
    assert.deepEqual(
      (await search.search('item159')).map((hit) => hit.padId),
      ['bof'],
    )
    db.close()
  })

  test('a search right after a change finds the new text, without waiting for the quiet moment', async () => {
    const { db, search, texts } = setup(['bof', 'kernel'], { quietMs: 60_000, maxWaitMs: 60_000 })
    texts.set('kernel', 'folios and writeback')
    search.markDirty('kernel')
    assert.deepEqual(
      (await search.search('writeback')).map((hit) => hit.padId),
      ['kernel'],
    )
    db.close()
  })

  test('two searches at once right after a change both find the new text', async () => {
    const { db, search, texts } = setup(['bof', 'kernel'], { quietMs: 60_000, maxWaitMs: 60_000 })
    texts.set('kernel', 'folios and writeback')
    search.markDirty('kernel')
    const [first, second] = await Promise.all([search.search('writeback'), search.search('folios')])
    assert.deepEqual(
      first.map((hit) => hit.padId),
      ['kernel'],
    )
    assert.deepEqual(
      second.map((hit) => hit.padId),
      ['kernel'],
      'the second search waited for the re-index the first one started',
    )
    db.close()
  })

  test('many stale pads are re-indexed one per event-loop turn, all of them in the end', async () => {
    const pads = Array.from({ length: 5 }, (_, i) => `room-${i}`)
    const { db, search, texts, reindexed, turns } = setup(pads, { quietMs: 20, maxWaitMs: 100 })
    for (const id of pads) {
      texts.set(id, `decision about ${id.replace('-', '')}`)
      search.markDirty(id)
    }
    await waitFor('every pad re-indexed', () => pads.every((id) => reindexed.get(id) === 1), 30_000)
    assert.equal(turns.most, 1, 'no two pads were re-indexed in the same event-loop turn')
    assert.deepEqual(
      (await search.search('room3')).map((hit) => hit.padId),
      ['room-3'],
    )
    db.close()
  })
})
