/**
 * What the PostgreSQL search store does beyond the storage contract, where PostgreSQL's own limits
 * show: text PostgreSQL cannot hold (NUL), bodies past PG_SEARCH_BODY_CHARS or past a tsvector's
 * 1 MB, and `scrub` leaving no copy of a forgotten word in the table's or its index's files.
 * Also the bundle's refusals: backups name PostgreSQL's own tools.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { Unsupported } from '../server/lib/domain-errors.ts'
import { openPgStorage, type PgStorage } from '../server/storage/postgres/open.ts'
import { PG_SEARCH_BODY_CHARS } from '../server/storage/postgres/search-store.ts'
import { parseSearchQuery } from '../server/storage/search-store.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

async function withStorage(body: (s: PgStorage) => Promise<void>): Promise<void> {
  const storage = await openPgStorage({ connectionString: await server.freshDatabase() })
  try {
    await body(storage)
  } finally {
    await storage.close()
  }
}

const stored = (s: PgStorage, padId: string) =>
  s.padLog.appendBatch([{ padId, at: 1, conn: 'c', author: null, data: new Uint8Array([1]) }])

const found = async (s: PgStorage, input: string) =>
  (await s.search.query(parseSearchQuery(input)!, {}, 10)).map((h) => h.padId)

test('a NUL in a pad is indexed as a space; a body past PG_SEARCH_BODY_CHARS is indexed from its beginning', () =>
  withStorage(async (s) => {
    await stored(s, 'nul')
    await s.search.write('nul', 'Has\u0000nul', 'before\u0000after')
    assert.deepEqual(await found(s, 'after'), ['nul'])
    assert.deepEqual(await found(s, 'has nul'), ['nul'])
    await stored(s, 'long')
    const filler = 'notes '.repeat(Math.ceil(PG_SEARCH_BODY_CHARS / 6))
    await s.search.write('long', 'Long', `opening ${filler} closing`)
    assert.deepEqual(await found(s, 'opening'), ['long'])
    assert.deepEqual(await found(s, 'closing'), [], 'past the limit: not indexed')
  }))

test('a body whose distinct words exceed a tsvector (1 MB) is still indexed, from its beginning', () =>
  withStorage(async (s) => {
    await stored(s, 'wordy')
    // 150,000 distinct words: well over 1 MB of lexemes and positions.
    const words = Array.from({ length: 150_000 }, (_, i) => `w${i.toString(36)}q`)
    await s.search.write('wordy', 'Wordy', `firstword ${words.join(' ')}`)
    assert.deepEqual(await found(s, 'firstword'), ['wordy'])
  }))

test('scrub leaves no copy of a rewritten word in the search table, its TOAST or its index files', () =>
  withStorage(async (s) => {
    const secret = 'hunter2secretpassphrase'
    await stored(s, 'p')
    await s.search.write('p', 'P', `the password is ${secret} ok`)
    await s.search.write('p', 'P', 'the password was removed')
    await s.search.scrub()
    assert.deepEqual(await found(s, secret), [])
    assert.deepEqual(await found(s, 'removed'), ['p'])
    // The files as PostgreSQL wrote them (CHECKPOINT: every dirty page on disk).
    await s.pool.query('CHECKPOINT')
    const dir = (await s.pool.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!
      .data_directory
    const { rows } = await s.pool.query<{ file: string | null }>(
      `SELECT pg_relation_filepath(c.oid) AS file FROM pg_class c
       WHERE c.oid IN ('pad_search'::regclass, 'pad_search_words'::regclass, 'pad_search_pkey'::regclass)
          OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'pad_search'::regclass)
          OR c.oid = (SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.reltoastrelid = i.indrelid
                      WHERE t.oid = 'pad_search'::regclass)`,
    )
    assert.ok(rows.length >= 4, 'table, TOAST table and index, search index')
    for (const { file } of rows) {
      const bytes = fs.readFileSync(path.join(dir, file!))
      assert.equal(bytes.includes(secret), false, `${file} holds the forgotten word`)
    }
  }))

test('the PostgreSQL bundle refuses backups naming pg_dump and point-in-time recovery; scrubForgotten and health answer', () =>
  withStorage(async (s) => {
    assert.equal(s.engine, 'postgres')
    for (const attempt of [s.backups.take(), s.backups.copyTo('/tmp/never-written.sqlite')])
      await assert.rejects(attempt, (err) => {
        assert.ok(err instanceof Unsupported)
        assert.equal(err.code, 'backup_unsupported')
        assert.match(err.message, /pg_dump/)
        assert.match(err.message, /point-in-time recovery/)
        return true
      })
    await s.backups.idle()
    await stored(s, 'f')
    await s.padLog.forgetHistory('f', new Uint8Array([7]))
    assert.equal(await s.scrubForgotten(), true)
    assert.deepEqual((await s.health()).ok, true)
  }))
