/**
 * What PostgreSQL must guarantee for meetings that one SQLite file gave for free: two servers on
 * one database. A pad created with its first row by one server while another server's typist is
 * already on it (the pad's page appeared, they typed at once) keeps its per-pad order: the
 * server's first row is the pad's first row, and every reader sees the pad's rows in commit
 * order (a row never appears below one already seen). And two servers importing a schedule into
 * one event at once: one applies, the other finds its basis stale (SQLite's IMMEDIATE transaction
 * gave that; here the event's row lock).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { openPgStorage, type PgStorage } from '../server/storage/postgres/open.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

/** Pads created one after another, each raced by the other server's typist. */
const PADS = 25
/** Rows each server types into a pad once it exists. */
const ROWS = 6
/** Loads of a pad by a third server while the two write, at most. */
const MAX_READS = 60
/** Generous: a pad's whole race, on a busy machine. */
const RACE_DEADLINE_MS = 20_000

const fields = {
  title: 'BoF',
  kind: 'bof' as const,
  track: null,
  room: null,
  startsAt: null,
  endsAt: null,
  speakers: [],
  links: [],
  cancelled: false,
}
const TEMPLATE = '# BoF\n'

/** Server `who` types ROWS rows into `padId` once it exists; resolves with their seqs. */
async function typist(storage: PgStorage, padId: string, who: number): Promise<number[]> {
  const deadline = Date.now() + RACE_DEADLINE_MS
  while (!(await storage.meetings.padExists(padId)))
    if (Date.now() > deadline) throw new Error(`${padId} never appeared`)
  const seqs: number[] = []
  for (let i = 0; i < ROWS; i++) {
    const row = { padId, at: Date.now(), conn: `typist-${who}`, author: null, data: new Uint8Array([who, i]) }
    seqs.push(...(await storage.padLog.appendBatch([row])))
  }
  return seqs
}

/** Loads the pad until `done`: its seqs at each load, as they came back (null: no pad yet). */
async function reader(storage: PgStorage, padId: string, done: () => boolean): Promise<(number[] | null)[]> {
  const reads: (number[] | null)[] = []
  while (!done() && reads.length < MAX_READS)
    reads.push((await storage.padLog.load(padId))?.updates.map((u) => u.seq) ?? null)
  return reads
}

test('a pad created with its first row by one server while another types into it: the first row stays first, and readers see its rows in commit order', async () => {
  const url = await server.freshDatabase()
  const [a, b, c] = [
    await openPgStorage({ connectionString: url }),
    await openPgStorage({ connectionString: url }),
    await openPgStorage({ connectionString: url }),
  ]
  try {
    await a.meetings.createEvent({
      slug: 'lpc',
      name: 'LPC',
      startsOn: null,
      endsOn: null,
      timezone: 'UTC',
      description: null,
    })
    for (let n = 0; n < PADS; n++) {
      const padId = `bof-${n}`
      // Server B's typist, waiting for the pad; server C reading it all along.
      let writing = true
      const typedOnB = typist(b, padId, 2)
      const reads = reader(c, padId, () => !writing)
      const first = await a.meetings.createPad({
        id: padId,
        event: 'lpc',
        fields,
        sourceUid: null,
        template: TEMPLATE,
        firstRow: { at: Date.now(), data: new Uint8Array([1, 0]) },
      })
      // And a typist on server A too.
      const [onA, onB] = await Promise.all([typist(a, padId, 1), typedOnB]).finally(() => {
        writing = false
      })
      const stored = (await c.padLog.load(padId))!
      const seqs = stored.updates.map((u) => u.seq)
      assert.equal(seqs[0], first, `${padId}: the server's first row is the pad's first row`)
      assert.deepEqual([...stored.updates[0]!.data], [1, 0])
      assert.deepEqual(await c.meetings.startingText(padId), { text: TEMPLATE })
      assert.equal(seqs.length, 1 + 2 * ROWS)
      for (const [who, mine] of [
        [1, onA],
        [2, onB],
      ] as const)
        assert.deepEqual(
          stored.updates.filter((u) => u.data[0] === who && u.seq !== first).map((u) => u.seq),
          mine,
          `${padId}: server ${who}'s rows in the order it wrote them`,
        )
      for (const seen of await reads) {
        if (seen === null) continue
        assert.ok(seen.length > 0, `${padId}: never a pad without its first row`)
        assert.deepEqual(seen, seqs.slice(0, seen.length), `${padId}: a read is a prefix of the final log`)
      }
    }
  } finally {
    await Promise.all([a.close(), b.close(), c.close()])
  }
})

/** Rounds of two servers importing into one event at once. */
const IMPORT_ROUNDS = 10

test('two servers importing a schedule into one event at once: one import applies, the other finds its basis stale and writes nothing', async () => {
  const url = await server.freshDatabase()
  const [a, b] = [
    await openPgStorage({ connectionString: url }),
    await openPgStorage({ connectionString: url }),
  ]
  try {
    for (let round = 0; round < IMPORT_ROUNDS; round++) {
      const slug = `conf-${round}`
      await a.meetings.createEvent({
        slug,
        name: slug,
        startsOn: null,
        endsOn: null,
        timezone: 'UTC',
        description: null,
      })
      // Both plans made from the same reading: the event has no pads yet.
      const plan = (who: string) => ({
        create: [1, 2, 3].map((i) => ({
          id: `${slug}-${who}-${i}`,
          event: slug,
          fields,
          sourceUid: `${who}-${i}`,
          template: TEMPLATE,
          firstRow: { at: Date.now(), data: new Uint8Array([i]) },
        })),
        update: [],
        basis: [],
      })
      const results = await Promise.all([
        a.meetings.applySchedule(slug, plan('a')),
        b.meetings.applySchedule(slug, plan('b')),
      ])
      const applied = results.filter((r) => r !== 'stale')
      assert.equal(applied.length, 1, `${slug}: exactly one import applies (${JSON.stringify(results)})`)
      const winner = results[0] === 'stale' ? 'b' : 'a'
      assert.deepEqual(
        (await a.meetings.padsOfEvent(slug)).map((p) => p.id).sort(),
        [1, 2, 3].map((i) => `${slug}-${winner}-${i}`),
        `${slug}: only the applied import's pads`,
      )
    }
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})
