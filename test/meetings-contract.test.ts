/**
 * The meetings storage contract (meetings-contract.ts) on SQLite in a temp file. Another engine
 * (PostgreSQL) runs the same suite with its own `makeRepos`.
 */
import { openDb } from '../server/storage/db.ts'
import { SqliteLinksRepo } from '../server/storage/links-store.ts'
import { SqliteMaterialsRepo } from '../server/storage/materials-store.ts'
import { SqliteMeetingsRepo } from '../server/storage/meetings-store.ts'
import { SqliteSeriesRepo } from '../server/storage/series-store.ts'
import { SqlitePadLog } from '../server/storage/sqlite-pad-log.ts'
import { PadStore } from '../server/storage/store.ts'
import { tempDir } from './helpers.ts'
import { describeMeetingsContract } from './meetings-contract.ts'

describeMeetingsContract('SQLite', async () => {
  const db = openDb(tempDir(), 'normal')
  const store = new PadStore(db)
  return {
    meetings: new SqliteMeetingsRepo(db, store),
    links: new SqliteLinksRepo(db),
    series: new SqliteSeriesRepo(db),
    materials: new SqliteMaterialsRepo(db),
    log: new SqlitePadLog(store),
    close: () => void db.close(),
  }
})
