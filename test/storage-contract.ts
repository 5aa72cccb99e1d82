/**
 * The storage contract: what every PadLog engine must do, as one suite any engine runs unchanged
 * (`describeStorageContract('SQLite', makeStore)`). It talks only through the interface and
 * awaits every call, so an engine that answers late (over a network) is held to the same rules.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { LogRow, PadLog } from '../server/storage/pad-log.ts'

export interface ContractStore {
  log: PadLog
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

export function describeStorageContract(engine: string, makeStore: () => Promise<ContractStore>): void {
  /** Runs `body` on a fresh store, closed afterwards whatever happens. */
  const withStore = (body: (log: PadLog) => Promise<void>) => async () => {
    const store = await makeStore()
    try {
      await body(store.log)
    } finally {
      await store.close()
    }
  }

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
  })
}
