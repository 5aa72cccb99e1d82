/**
 * The meetings storage contract (meetings-contract.ts) on PostgreSQL, unchanged: the repos of
 * `openPgStorage` on a database of their own per test, in this file's own PostgreSQL server.
 */
import { after, before } from 'node:test'
import { openPgStorage } from '../server/storage/postgres/open.ts'
import { describeMeetingsContract } from './meetings-contract.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

describeMeetingsContract('PostgreSQL', async () => {
  const storage = await openPgStorage({ connectionString: await server.freshDatabase() })
  return {
    meetings: storage.meetings,
    links: storage.links,
    series: storage.series,
    materials: storage.materials,
    log: storage.padLog,
    close: () => storage.close(),
  }
})
