/**
 * The storage contract: what every engine must do, as one suite any engine runs unchanged
 * (`describeStorageContract('SQLite', makeStore)`): the pad log, and — when the engine gives them —
 * the history log and the search store. It talks only through the interfaces and awaits every
 * call, so an engine that answers late (over a network) is held to the same rules.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { PadKind } from '../server/meetings/model.ts'
import type { HistoryLog } from '../server/storage/history-log.ts'
import type { MeetingsRepo } from '../server/storage/meetings-store.ts'
import type { LogRow, PadLog } from '../server/storage/pad-log.ts'
import { parseSearchQuery, type SearchStore } from '../server/storage/search-store.ts'

/** A pad's facts as the meetings store holds them (what search filters and hits read). */
export interface PadPlace {
  title: string | null
  /** The event's slug (made when new), or null: unfiled. */
  event: string | null
  kind: PadKind | null
}

/** `place` for an engine with a meetings repo: files the pad there (its event made when missing). */
export function placeThrough(meetings: MeetingsRepo): (padId: string, at: PadPlace) => Promise<void> {
  return async (padId, at) => {
    if (at.event !== null && (await meetings.event(at.event)) === null) {
      const fields = { slug: at.event, name: at.event, startsOn: null, endsOn: null, description: null }
      await meetings.createEvent({ ...fields, timezone: 'UTC' })
    }
    const none = { track: null, room: null, startsAt: null, endsAt: null, speakers: [], links: [] }
    await meetings.updatePad(padId, { ...none, title: at.title, kind: at.kind, cancelled: false }, at.event)
  }
}

export interface ContractStore {
  log: PadLog
  /** The engine's history log over the same pads; its part of the contract runs when given. */
  history?: HistoryLog
  /** The engine's search store over the same pads, and how to file a pad (the meetings' part). */
  search?: { store: SearchStore; place(padId: string, place: PadPlace): Promise<void> }
  /** Frees what the store holds (a file, a connection). */
  close(): Promise<void> | void
}

/** 16 MiB: a snapshot of the largest pad the server allows (MAX_PAD_BYTES) with room to spare. */
const LARGEST_BLOB_BYTES = 16 * 1024 * 1024

const row = (padId: string, data: Uint8Array, extra: Partial<LogRow> = {}): LogRow => ({
  padId,
  at: Date.now(),
  conn: 'c1',
  author: 'Ann',
  data,
  ...extra,
})

const bytes = (...values: number[]) => new Uint8Array(values)

/** Bytes that are not all the same, so a truncated or shifted copy cannot pass for the original. */
function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = 2463534242
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export function describeStorageContract(
  engine: string,
  makeStore: () => Promise<ContractStore>,
  /** Which optional parts this engine has (their tests are defined only then). */
  parts: { history: boolean; search: boolean } = { history: true, search: true },
): void {
  /** Runs `body` on a fresh store, closed afterwards whatever happens. */
  const withEngine = (body: (store: ContractStore) => Promise<void>) => async () => {
    const store = await makeStore()
    try {
      await body(store)
    } finally {
      await store.close()
    }
  }
  const withStore = (body: (log: PadLog) => Promise<void>) => withEngine((store) => body(store.log))
  const withHistory = (body: (log: PadLog, history: HistoryLog) => Promise<void>) =>
    withEngine((store) => body(store.log, store.history!))
  const withSearch = (body: (log: PadLog, search: NonNullable<ContractStore['search']>) => Promise<void>) =>
    withEngine((store) => body(store.log, store.search!))

  describe(`storage contract: ${engine}`, () => {
    test(
      'a pad exists from its first row; seqs increase and stay in order per pad under two concurrent writers',
      withStore(async (log) => {
        assert.equal(await log.exists('a'), false)
        assert.equal(await log.load('a'), null)
        assert.equal(await log.lastSeq('a'), 0)
        assert.deepEqual(await log.appendBatch([]), [])
        const writer = async (name: string) => {
          const seqs: number[] = []
          for (let i = 0; i < 20; i++) {
            const [seq] = await log.appendBatch([
              row('shared', bytes(name === 'x' ? 1 : 2, i), { conn: name }),
            ])
            seqs.push(seq!)
          }
          return seqs
        }
        const [xs, ys] = await Promise.all([writer('x'), writer('y')])
        for (const seqs of [xs, ys]) for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!)
        const loaded = (await log.load('shared'))!
        assert.equal(loaded.updates.length, 40)
        const seqs = loaded.updates.map((u) => u.seq)
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          'rows load in seq order',
        )
        // Each writer's rows come back in the order it wrote them.
        for (const [tag, mine] of [
          [1, xs],
          [2, ys],
        ] as const) {
          const rows = loaded.updates.filter((u) => u.data[0] === tag)
          assert.deepEqual(
            rows.map((u) => u.data[1]),
            Array.from({ length: 20 }, (_, i) => i),
          )
          assert.deepEqual(
            rows.map((u) => u.seq),
            mine,
          )
        }
        assert.equal(await log.lastSeq('shared'), Math.max(...xs, ...ys))
        assert.equal(await log.exists('shared'), true)
      }),
    )

    test(
      "heads and rows after a seq: what a server holding a pad reads of another's rows",
      withStore(async (log) => {
        const first = await log.appendBatchWithHeads([
          row('p', bytes(1)),
          row('q', bytes(9)),
          row('p', bytes(2)),
        ])
        assert.deepEqual([...first.headsBefore].sort(), [
          ['p', 0],
          ['q', 0],
        ])
        const [p1, q1, p2] = first.seqs
        // Another writer's rows of `p`, with claims, after a row of another pad.
        await log.appendBatch([row('q', bytes(8))])
        const second = await log.appendBatchWithHeads([
          row('p', bytes(3), { claims: [41], writer: 'dd'.repeat(32) }),
          row('p', bytes(4)),
        ])
        const [p3, p4] = second.seqs
        assert.deepEqual([...second.headsBefore], [['p', p2]], "p's newest row before the batch")
        const all = (await log.rowsAfter('p', 0, 100))!
        assert.deepEqual(
          all.rows.map((r) => [r.seq, ...r.data]),
          [
            [p1, 1],
            [p2, 2],
            [p3, 3],
            [p4, 4],
          ],
        )
        assert.deepEqual([...all.writers], [[41, 'dd'.repeat(32)]])
        assert.deepEqual(
          (await log.rowsAfter('p', p1!, 2))!.rows.map((r) => r.seq),
          [p2, p3],
          'a page: the next rows in seq order',
        )
        assert.deepEqual((await log.rowsAfter('p', p4!, 100))!.rows, [])
        assert.deepEqual((await log.rowsAfter('never-stored', 0, 100))!.rows, [])
        const heads = await log.heads(['p', 'q', 'never-stored'])
        assert.equal(heads.get('p'), p4)
        assert.ok(heads.get('q')! > q1!)
        assert.equal(heads.get('never-stored') ?? 0, 0)
        assert.deepEqual(await log.heads([]), new Map())

        // A snapshot drops no row: the rows after any seq are still there.
        await log.writeSnapshot('p', p3!, bytes(33))
        assert.equal((await log.rowsAfter('p', 0, 100))!.rows.length, 4)
        assert.deepEqual(
          (await log.rowsAfter('p', p1!, 100))!.rows.map((r) => r.seq),
          [p2, p3, p4],
        )
        assert.equal((await log.heads(['p'])).get('p'), p4)
        // "Forget history" folds every row into a snapshot: rows after an older seq are gone.
        await log.forgetHistory('p', bytes(44))
        assert.equal(await log.rowsAfter('p', p2!, 100), null, 'rows were forgotten')
        assert.equal(await log.rowsAfter('p', 0, 100), null)
        assert.equal((await log.heads(['p'])).get('p'), p4, 'the head is the snapshot covering everything')
        assert.deepEqual((await log.rowsAfter('p', p4!, 100))!.rows, [])
        const third = await log.appendBatchWithHeads([row('p', bytes(5))])
        // Still forgotten after later rows and snapshots: the oldest snapshot says so.
        await log.writeSnapshot('p', third.seqs[0]!, bytes(55))
        assert.equal(await log.rowsAfter('p', p2!, 100), null)
        assert.deepEqual([...third.headsBefore], [['p', p4]])
        assert.deepEqual(
          (await log.rowsAfter('p', p4!, 100))!.rows.map((r) => [r.seq, ...r.data]),
          [[third.seqs[0], 5]],
        )
      }),
    )

    test(
      'rows after a seq never skip a row, read while two writers append to the pad',
      withStore(async (log) => {
        const ROWS_EACH = 25
        let done = 0
        const writer = async (tag: number) => {
          for (let i = 0; i < ROWS_EACH; i++) await log.appendBatch([row('race', bytes(tag, i))])
          done++
        }
        // A reader catching up as a server holding the pad does: from the newest seq it has.
        const seen: { seq: number; data: number[] }[] = []
        const reader = async () => {
          for (let round = 0; round < 5000 && seen.length < 2 * ROWS_EACH; round++) {
            // Both writers done before this read: an empty answer then means there is no more.
            const finished = done === 2
            const tail = (await log.rowsAfter('race', seen.at(-1)?.seq ?? 0, 7))!
            for (const r of tail.rows) seen.push({ seq: r.seq, data: [...r.data] })
            if (finished && tail.rows.length === 0) break
            await new Promise((resolve) => setImmediate(resolve))
          }
        }
        await Promise.all([writer(1), writer(2), reader()])
        const stored = (await log.load('race'))!.updates
        assert.equal(stored.length, 2 * ROWS_EACH)
        assert.deepEqual(
          seen.map((r) => r.seq),
          stored.map((u) => u.seq),
          'every row, once, in seq order',
        )
        assert.deepEqual(
          seen.map((r) => r.data),
          stored.map((u) => [...u.data]),
        )
      }),
    )

    test(
      'a batch is atomic: one bad row stores nothing of it, and the next batch goes in whole',
      withStore(async (log) => {
        await log.appendBatch([row('kept', bytes(1))])
        const bad = { ...row('kept', bytes(3)), conn: null as unknown as string }
        await assert.rejects(log.appendBatch([row('kept', bytes(2)), row('fresh', bytes(9)), bad]))
        assert.equal((await log.load('kept'))!.updates.length, 1)
        assert.equal(await log.exists('fresh'), false)
        const seqs = await log.appendBatch([row('fresh', bytes(4)), row('kept', bytes(5))])
        assert.equal(seqs.length, 2)
        assert.deepEqual(
          (await log.load('fresh'))!.updates.map((u) => [...u.data]),
          [[4]],
        )
      }),
    )

    test(
      'load gives the snapshot covering the most rows and only the rows after it',
      withStore(async (log) => {
        const seqs = await log.appendBatch([1, 2, 3, 4].map((b) => row('p', bytes(b))))
        await log.writeSnapshot('p', seqs[1]!, bytes(12))
        let loaded = (await log.load('p'))!
        assert.deepEqual([...loaded.snapshot!], [12])
        assert.equal(loaded.snapshotUpto, seqs[1])
        assert.deepEqual(
          loaded.updates.map((u) => u.seq),
          seqs.slice(2),
        )
        // Written later but covering less: the one covering more still wins.
        await log.writeSnapshot('p', seqs[3]!, bytes(34))
        await log.writeSnapshot('p', seqs[0]!, bytes(1))
        loaded = (await log.load('p'))!
        assert.deepEqual([...loaded.snapshot!], [34])
        assert.equal(loaded.snapshotUpto, seqs[3])
        assert.deepEqual(loaded.updates, [])
        await assert.rejects(log.writeSnapshot('never-stored', 1, bytes(1)))
      }),
    )

    test(
      'snapshot-if-current: stored while current; refused when covered, after forget-history, after delete-and-recreate',
      withStore(async (log) => {
        const seqs = await log.appendBatch([row('p', bytes(1)), row('p', bytes(2))])
        assert.equal(await log.snapshotIfCurrent('p', seqs[1]!, bytes(9)), true)
        assert.equal(await log.snapshotIfCurrent('p', seqs[1]!, bytes(8)), false, 'already covered')
        assert.equal(await log.snapshotIfCurrent('p', seqs[0]!, bytes(7)), false, 'older than a snapshot')
        const [later] = await log.appendBatch([row('p', bytes(3))])
        await log.forgetHistory('p', bytes(42))
        assert.equal(await log.snapshotIfCurrent('p', later!, bytes(6)), false, 'after forget-history')
        const forgotten = (await log.load('p'))!
        assert.deepEqual([...forgotten.snapshot!], [42])
        assert.deepEqual(forgotten.updates, [])

        const [old] = await log.appendBatch([row('q', bytes(1))])
        assert.equal(await log.delete('q'), true)
        await log.appendBatch([row('q', bytes(5))])
        assert.equal(await log.snapshotIfCurrent('q', old!, bytes(6)), false, 'after delete-and-recreate')
        assert.equal((await log.load('q'))!.snapshot, null)
        assert.equal(await log.snapshotIfCurrent('never-stored', 1, bytes(1)), false)
      }),
    )

    test(
      'forget-history keeps the given state as the only snapshot, and new rows load after it',
      withStore(async (log) => {
        await log.appendBatch([1, 2, 3].map((b) => row('p', bytes(b))))
        await log.writeSnapshot('p', (await log.lastSeq('p')) - 1, bytes(12))
        await log.forgetHistory('p', bytes(123))
        const [next] = await log.appendBatch([row('p', bytes(4))])
        const loaded = (await log.load('p'))!
        assert.deepEqual([...loaded.snapshot!], [123])
        assert.deepEqual(
          loaded.updates.map((u) => [u.seq, ...u.data]),
          [[next, 4]],
        )
        assert.ok(loaded.snapshotUpto < next!)
        await assert.rejects(log.forgetHistory('never-stored', bytes(1)))
      }),
    )

    test(
      'forget-history-if-current: done only while the revision read is still the newest',
      withStore(async (log) => {
        const seqs = await log.appendBatch([row('p', bytes(1)), row('p', bytes(2))])
        assert.equal(await log.forgetHistoryIfCurrent('p', seqs[0]!, bytes(10)), false, 'a row came after it')
        assert.equal((await log.load('p'))!.updates.length, 2, 'nothing was dropped')
        assert.equal(await log.forgetHistoryIfCurrent('p', seqs[1]!, bytes(12)), true)
        const forgotten = (await log.load('p'))!
        assert.deepEqual([...forgotten.snapshot!], [12])
        assert.deepEqual(forgotten.updates, [])
        // With no rows left, the newest revision is the snapshot covering everything.
        assert.equal(await log.forgetHistoryIfCurrent('p', forgotten.snapshotUpto, bytes(13)), true)
        assert.deepEqual([...(await log.load('p'))!.snapshot!], [13])
        assert.equal(await log.forgetHistoryIfCurrent('never-stored', 0, bytes(1)), false)
      }),
    )

    test(
      'blobs from 0 B to 16 MiB come back byte-exact, as rows and as snapshots',
      withStore(async (log) => {
        const sizes = [0, 1, 255, 65_536, 1_000_003, LARGEST_BLOB_BYTES]
        const blobs = sizes.map(pattern)
        // A view into a larger buffer: only its own bytes are stored.
        const inner = pattern(300).subarray(10, 20)
        const seqs = await log.appendBatch([...blobs, inner].map((b) => row('big', b)))
        const loaded = (await log.load('big'))!
        assert.equal(loaded.updates.length, sizes.length + 1)
        for (const [i, blob] of [...blobs, inner].entries())
          assert.ok(
            Buffer.from(loaded.updates[i]!.data).equals(Buffer.from(blob)),
            `row of ${blob.byteLength} B`,
          )
        await log.writeSnapshot('big', seqs.at(-1)!, blobs.at(-1)!)
        const snap = (await log.load('big'))!.snapshot!
        assert.ok(Buffer.from(snap).equals(Buffer.from(blobs.at(-1)!)), 'snapshot of 16 MiB')
        // The caller's buffer is the caller's: changing it later changes nothing stored.
        const mine = bytes(1, 2, 3)
        await log.appendBatch([row('mine', mine)])
        mine[0] = 99
        assert.deepEqual([...(await log.load('mine'))!.updates[0]!.data], [1, 2, 3])
      }),
    )

    test(
      'writer claims: the first claim of a client id stands; they load with the pad',
      withStore(async (log) => {
        await log.appendBatch([row('w', bytes(1), { claims: [7, 8], writer: 'aa'.repeat(32) })])
        await log.appendBatch([row('w', bytes(2), { claims: [8, 9], writer: 'bb'.repeat(32) })])
        const loaded = (await log.load('w'))!
        assert.deepEqual(
          [...loaded.writers].sort((a, b) => a[0] - b[0]),
          [
            [7, 'aa'.repeat(32)],
            [8, 'aa'.repeat(32)],
            [9, 'bb'.repeat(32)],
          ],
        )
      }),
    )

    test(
      'authors: one entry per name, oldest first, the server not counted',
      withStore(async (log) => {
        await log.appendBatch([
          row('a', bytes(1), { conn: 'server', author: null, at: 1000 }),
          row('a', bytes(2), { author: 'Bo', at: 2000 }),
          row('a', bytes(3), { author: 'Ann', at: 3000 }),
          row('a', bytes(4), { author: 'Bo', at: 4000 }),
          row('a', bytes(5), { author: null, conn: 'c9', at: 5000 }),
        ])
        assert.deepEqual(await log.authors('a'), [
          { name: 'Bo', edits: 2, firstAt: 2000, lastAt: 4000 },
          { name: 'Ann', edits: 1, firstAt: 3000, lastAt: 3000 },
          { name: null, edits: 1, firstAt: 5000, lastAt: 5000 },
        ])
        assert.deepEqual(await log.authors('nobody'), [])
      }),
    )

    test(
      'delete removes the pad, its rows, snapshots and claims, and nothing of other pads',
      withStore(async (log) => {
        const [seq] = await log.appendBatch([
          row('doomed', bytes(1), { claims: [5], writer: 'cc'.repeat(32) }),
          row('other', bytes(2)),
        ])
        await log.writeSnapshot('doomed', seq!, bytes(11))
        assert.equal(await log.delete('doomed'), true)
        assert.equal(await log.delete('doomed'), false)
        assert.equal(await log.exists('doomed'), false)
        assert.equal(await log.load('doomed'), null)
        assert.deepEqual(await log.authors('doomed'), [])
        await log.appendBatch([row('doomed', bytes(3))])
        const again = (await log.load('doomed'))!
        assert.equal(again.snapshot, null)
        assert.equal(again.updates.length, 1)
        assert.equal(again.writers.size, 0)
        assert.equal((await log.load('other'))!.updates.length, 1)
        const seqAfter = await log.lastSeq('doomed')
        assert.ok(seqAfter > seq!, 'a seq is never reused')
      }),
    )

    test(
      'list summarises every pad, most recently updated first',
      withStore(async (log) => {
        await log.appendBatch([row('old', bytes(1, 2), { at: 1000 })])
        await log.appendBatch([row('new', bytes(1), { at: 5000 }), row('new', bytes(2, 3, 4), { at: 6000 })])
        const list = await log.list()
        assert.deepEqual(
          list.map((p) => [p.id, p.updateCount, p.bytes]),
          [
            ['new', 2, 4],
            ['old', 1, 2],
          ],
        )
      }),
    )

    if (parts.history)
      describe('history log', () => {
        test(
          'timeline: each row with who, when and its size; a time finds its row; a revision its neighbours and credits',
          withHistory(async (log, history) => {
            const [a, elsewhere, b, c] = await log.appendBatch([
              row('h', bytes(1), { at: 1000, conn: 'c1', author: 'Ann' }),
              row('other', bytes(9), { at: 1500 }),
              row('h', bytes(2, 2), { at: 2000, conn: 'c2', author: 'Bo' }),
              row('h', bytes(3, 3, 3), { at: 3000, conn: 'c1', author: 'Ann' }),
            ])
            assert.deepEqual(
              (await history.rows('h')).map((r) => ({ ...r })),
              [
                { seq: a, at: 1000, conn: 'c1', author: 'Ann', bytes: 1 },
                { seq: b, at: 2000, conn: 'c2', author: 'Bo', bytes: 2 },
                { seq: c, at: 3000, conn: 'c1', author: 'Ann', bytes: 3 },
              ],
            )
            assert.equal(await history.rowTime('h', b!), 2000)
            assert.equal(await history.rowTime('h', elsewhere!), null, "another pad's row")
            assert.equal(await history.seqAtTime('h', 2500), b)
            assert.equal(await history.seqAtTime('h', 999), null)
            assert.deepEqual(await history.neighbours('h', b!), { prev: a, next: c })
            assert.deepEqual(await history.neighbours('h', a!), { prev: null, next: b })
            assert.deepEqual(
              (await history.creditsBetween('h', a!, c!)).map((r) => ({ ...r })),
              [
                { conn: 'c2', author: 'Bo' },
                { conn: 'c1', author: 'Ann' },
              ],
            )
            assert.deepEqual(await history.bounds('h'), { first: a, last: c })
            assert.equal(await history.padState('never-stored'), null)
            assert.deepEqual(await history.rows('never-stored'), [])
          }),
        )

        test(
          'diff: the state at a revision is the snapshot at or before it and the rows up to it; after forget-history, the snapshot',
          withHistory(async (log, history) => {
            const seqs = await log.appendBatch([1, 2, 3, 4].map((b) => row('d', bytes(b))))
            await log.writeSnapshot('d', seqs[1]!, bytes(12))
            const at = async (seq: number) => {
              const state = await history.stateAt('d', seq)
              return {
                snapshot: state.snapshot && [...state.snapshot],
                upto: state.snapshotUpto,
                rows: state.updates.map((u) => [u.seq, ...u.data]),
              }
            }
            assert.deepEqual(await at(seqs[0]!), { snapshot: null, upto: 0, rows: [[seqs[0], 1]] })
            assert.deepEqual(await at(seqs[2]!), { snapshot: [12], upto: seqs[1], rows: [[seqs[2], 3]] })
            assert.deepEqual(await at(seqs[3]!), {
              snapshot: [12],
              upto: seqs[1],
              rows: [
                [seqs[2], 3],
                [seqs[3], 4],
              ],
            })
            await log.forgetHistory('d', bytes(99))
            assert.deepEqual(await history.rows('d'), [])
            assert.deepEqual(await history.bounds('d'), { first: seqs[3], last: seqs[3] })
            assert.deepEqual(await at(seqs[3]!), { snapshot: [99], upto: seqs[3], rows: [] })
          }),
        )

        test(
          'checkpoints name the newest revision; a pad closes and reopens; both go with the pad',
          withHistory(async (log, history) => {
            await log.appendBatch([row('k', bytes(1))])
            const [last] = await log.appendBatch([row('k', bytes(2))])
            assert.deepEqual(await history.padState('k'), { closedAt: null })
            assert.equal(await history.addCheckpoint('k', 'start', 5000), last)
            assert.deepEqual(
              (await history.checkpoints('k')).map((c) => ({ ...c })),
              [{ seq: last, name: 'start', at: 5000 }],
            )
            await history.setClosed('k', 6000)
            assert.deepEqual(await history.padState('k'), { closedAt: 6000 })
            await history.setClosed('k', null)
            assert.deepEqual(await history.padState('k'), { closedAt: null })
            await assert.rejects(history.addCheckpoint('never-stored', 'x', 1))
            await log.delete('k')
            await log.appendBatch([row('k', bytes(3))])
            assert.deepEqual(await history.checkpoints('k'), [])
          }),
        )
      })

    if (parts.search)
      describe('search store', () => {
        const idsOf = async (
          search: SearchStore,
          input: string,
          filter: { event?: string; kind?: PadKind } = {},
          limit = 50,
        ) => (await search.query(parseSearchQuery(input)!, filter, limit)).map((h) => h.padId).sort()

        test(
          'every word must start a word of the title or the text, in any case',
          withSearch(async (log, { store }) => {
            await log.appendBatch([row('kernel', bytes(1)), row('mm', bytes(1))])
            await store.write('kernel', 'Kernel BoF', 'Folios and writeback were discussed.')
            await store.write('mm', 'Memory MC', 'Writeback throttling; folio sizes')
            assert.deepEqual(await idsOf(store, 'writ'), ['kernel', 'mm'], 'a prefix')
            assert.deepEqual(await idsOf(store, 'WRITEBACK folios'), ['kernel'], 'every word, any case')
            assert.deepEqual(await idsOf(store, 'kernel'), ['kernel'], 'the title')
            assert.deepEqual(await idsOf(store, 'iteback'), [], 'not from inside a word')
            assert.deepEqual(await idsOf(store, 'writeback zebra'), [])
            assert.equal(parseSearchQuery(' "*" (-) '), null, 'no word: nothing to ask an engine')
            // Quotes and operators are not query syntax: only the words count.
            assert.deepEqual(await idsOf(store, '"writeback" -folio* ('), ['kernel', 'mm'])
          }),
        )

        test(
          'diacritics do not count, on either side',
          withSearch(async (log, { store }) => {
            await log.appendBatch([row('a', bytes(1)), row('b', bytes(1))])
            await store.write('a', 'Müller BoF', 'Café talk with Jürgen')
            await store.write('b', 'plain', 'muller and cafe')
            assert.deepEqual(await idsOf(store, 'muller'), ['a', 'b'])
            assert.deepEqual(await idsOf(store, 'Müller'), ['a', 'b'])
            assert.deepEqual(await idsOf(store, 'CAFÉ'), ['a', 'b'])
            assert.deepEqual(await idsOf(store, 'jurg'), ['a'])
          }),
        )

        test(
          'filters by event and kind, at most the limit, hits with title, event, kind and a marked snippet',
          withSearch(async (log, { store, place }) => {
            const pads = ['k1', 'k2', 'k3', 'k4']
            await log.appendBatch(pads.map((id) => row(id, bytes(1))))
            await place('k1', { title: 'K1', event: 'lpc', kind: 'bof' })
            await place('k2', { title: 'K2', event: 'lpc', kind: 'talk' })
            await place('k3', { title: 'K3', event: 'kvm', kind: 'bof' })
            for (const id of pads) await store.write(id, id, `${id}: scheduler <notes> & more`)
            assert.deepEqual(await idsOf(store, 'scheduler'), pads)
            assert.deepEqual(await idsOf(store, 'scheduler', { event: 'lpc' }), ['k1', 'k2'])
            assert.deepEqual(await idsOf(store, 'scheduler', { kind: 'bof' }), ['k1', 'k3'])
            assert.deepEqual(await idsOf(store, 'scheduler', { event: 'lpc', kind: 'bof' }), ['k1'])
            assert.deepEqual(await idsOf(store, 'scheduler', { event: 'nowhere' }), [])
            assert.equal((await idsOf(store, 'scheduler', {}, 2)).length, 2)
            const [hit] = await store.query(parseSearchQuery('sched')!, { event: 'kvm' }, 10)
            assert.deepEqual(hit, {
              padId: 'k3',
              title: 'K3',
              event: 'kvm',
              kind: 'bof',
              snippet: 'k3: <mark>scheduler</mark> &lt;notes&gt; &amp; more',
            })
          }),
        )

        test(
          'an entry goes with its pad; missing lists pads without one; a rewrite replaces the old text',
          withSearch(async (log, { store }) => {
            await store.write('ghost', 'Ghost', 'boo')
            assert.deepEqual(await idsOf(store, 'boo'), [], 'no entry for a pad never stored')
            await log.appendBatch([row('p1', bytes(1)), row('p2', bytes(1))])
            assert.deepEqual((await store.missing()).sort(), ['p1', 'p2'])
            await store.write('p1', 'P1', 'first draft')
            assert.deepEqual(await store.missing(), ['p2'])
            await store.write('p2', 'P2', 'secret')
            assert.deepEqual(await idsOf(store, 'secret'), ['p2'])
            await store.remove('p2')
            assert.deepEqual(await idsOf(store, 'secret'), [])
            await store.write('p2', 'P2', 'secret')
            await log.delete('p2')
            assert.deepEqual(await idsOf(store, 'secret'), [], 'deleting the pad deletes its entry')
            await store.write('p1', 'P1', 'second draft')
            await store.scrub()
            assert.deepEqual(await idsOf(store, 'first'), [])
            assert.deepEqual(await idsOf(store, 'second'), ['p1'])
          }),
        )
      })
  })
}
