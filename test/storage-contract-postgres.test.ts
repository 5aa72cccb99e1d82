/**
 * The storage contract (storage-contract.ts) on PostgreSQL, unchanged: PgPadLog and PgHistoryLog (search comes with
 * the PostgreSQL search store) on a database of
 * its own per test, in this file's own PostgreSQL server (postgres.ts).
 */
import { after, before } from 'node:test'
import { openPostgres } from '../server/storage/postgres/open.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'
import { describeStorageContract } from './storage-contract.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

describeStorageContract(
  'PostgreSQL',
  async () => {
    const storage = await openPostgres({ connectionString: await server.freshDatabase() })
    return { log: storage.padLog, history: storage.historyLog, close: () => storage.close() }
  },
  // The search part runs once the PostgreSQL engine has its search store.
  { history: true, search: false },
)
