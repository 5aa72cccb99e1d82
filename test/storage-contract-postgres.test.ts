/**
 * The storage contract (storage-contract.ts) on PostgreSQL, unchanged: the log, the history and
 * the search store of `openPgStorage`, on a database of its own per test, in this file's own
 * PostgreSQL server (postgres.ts). Pads are filed for search through the PostgreSQL meetings repo,
 * as storage-contract.test.ts files them on SQLite.
 */
import { after, before } from 'node:test'
import { openPgStorage } from '../server/storage/postgres/open.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'
import { describeStorageContract, placeThrough } from './storage-contract.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

describeStorageContract('PostgreSQL', async () => {
  const storage = await openPgStorage({ connectionString: await server.freshDatabase() })
  return {
    log: storage.padLog,
    history: storage.history,
    search: { store: storage.search, place: placeThrough(storage.meetings) },
    close: () => storage.close(),
  }
})
