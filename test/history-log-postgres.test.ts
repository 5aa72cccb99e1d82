/**
 * PgHistoryLog answers as SqliteHistoryLog does: the same writes go to both engines (SQLite in a
 * temp file, PostgreSQL in this file's own server), then every HistoryLog read is asked of both,
 * at every revision and around it, before and after snapshots, checkpoints, closing, "forget
 * history" and a delete. History (server/history/history.ts) reads pads only through these.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { openDb } from '../server/storage/db.ts'
import type { HistoryLog } from '../server/storage/history-log.ts'
import { SqliteHistoryLog } from '../server/storage/history-log.ts'
import type { LogRow, PadLog } from '../server/storage/pad-log.ts'
import { openPostgres } from '../server/storage/postgres/open.ts'
import { SqlitePadLog } from '../server/storage/sqlite-pad-log.ts'
import { PadStore } from '../server/storage/store.ts'
import { tempDir } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

interface Engine {
  pads: PadLog
  history: HistoryLog
}

const row = (padId: string, at: number, conn: string, author: string | null, ...data: number[]): LogRow => ({
  padId,
  at,
  conn,
  author,
  data: new Uint8Array(data),
})

/** Everything HistoryLog tells of `padId`, probed at every seq up to `maxSeq` + 1 and beyond. */
async function everything(log: HistoryLog, padId: string, maxSeq: number) {
  const plain = (state: Awaited<ReturnType<HistoryLog['stateAt']>>) => ({
    snapshot: state.snapshot && [...state.snapshot],
    snapshotUpto: state.snapshotUpto,
    updates: state.updates.map((u) => [u.seq, ...u.data]),
  })
  const seqs = Array.from({ length: maxSeq + 3 }, (_, i) => i)
  return {
    padState: await log.padState(padId),
    rows: await log.rows(padId),
    bounds: await log.bounds(padId),
    checkpoints: await log.checkpoints(padId),
    rowTime: await Promise.all(seqs.map((s) => log.rowTime(padId, s))),
    seqAtTime: await Promise.all(
      [0, 999, 1000, 1500, 2000, 2500, 9000, 99_999].map((ms) => log.seqAtTime(padId, ms)),
    ),
    neighbours: await Promise.all(seqs.map((s) => log.neighbours(padId, s))),
    credits: await Promise.all(seqs.map((s) => log.creditsBetween(padId, Math.max(0, s - 3), s))),
    stateAt: await Promise.all(seqs.map(async (s) => plain(await log.stateAt(padId, s)))),
  }
}

test('PgHistoryLog answers every history read as SqliteHistoryLog does', async () => {
  const db = openDb(tempDir(), 'normal')
  const pg = await openPostgres({ connectionString: await server.freshDatabase() })
  const engines: Engine[] = [
    { pads: new SqlitePadLog(new PadStore(db)), history: new SqliteHistoryLog(db) },
    { pads: pg.padLog, history: pg.historyLog },
  ]
  /** Runs `write` on both engines, in turn, and checks they answered the same. */
  const both = async <T>(write: (e: Engine) => Promise<T>): Promise<T> => {
    const [a, b] = [await write(engines[0]!), await write(engines[1]!)]
    assert.deepEqual(b, a)
    return a
  }
  const compare = async (padId: string, step: string) => {
    const maxSeq = await engines[0]!.pads.lastSeq(padId)
    const [sqlite, postgres] = await Promise.all(engines.map((e) => everything(e.history, padId, maxSeq + 2)))
    assert.deepEqual(postgres, sqlite, `${step}: ${padId}`)
  }
  try {
    await both((e) =>
      e.pads.appendBatch([
        row('a', 1000, 'server', null, 1),
        row('b', 1000, 'c2', 'Bo', 50),
        row('a', 1100, 'c1', 'Ann', 2),
      ]),
    )
    await both((e) => e.pads.appendBatch([row('a', 1500, 'c1', 'Ann', 3), row('a', 1600, 'c2', null, 4)]))
    await both((e) => e.pads.writeSnapshot('a', 4, new Uint8Array([9, 4]), 1700))
    await both((e) => e.history.addCheckpoint('a', 'before the break', 1800))
    await both((e) =>
      e.pads.appendBatch([
        row('a', 2000, 'restore:3', 'Ann', 5),
        row('b', 2100, 'c2', 'Bo', 51),
        row('a', 2500, 'c3', 'Cy', 6),
      ]),
    )
    await both((e) => e.history.addCheckpoint('a', 'after', 2600))
    for (const pad of ['a', 'b', 'never']) await compare(pad, 'after appends and a snapshot')

    await both((e) => e.history.setClosed('a', 3000))
    await compare('a', 'closed')
    await both((e) => e.history.setClosed('a', null))
    await compare('a', 'reopened')

    await both((e) => e.pads.forgetHistory('a', new Uint8Array([42]), 4000))
    await compare('a', 'after forget-history')
    await both((e) => e.pads.appendBatch([row('a', 5000, 'c1', 'Ann', 7)]))
    await both((e) => e.pads.snapshotIfCurrent('a', 10, new Uint8Array([43]), 5100))
    await compare('a', 'after forget-history and a new row')

    await both((e) => e.pads.delete('b'))
    await compare('b', 'deleted')
    await assert.rejects(engines[1]!.history.addCheckpoint('b', 'gone', 6000))
  } finally {
    db.close()
    await pg.close()
  }
})
