/**
 * The storage contract (storage-contract.ts) on every engine here: SQLite in a temp file, and the
 * in-memory store answering after random delays (seeded: the seed is printed).
 */
import { openDb } from '../server/storage/db.ts'
import { SqlitePadLog } from '../server/storage/sqlite-pad-log.ts'
import { PadStore } from '../server/storage/store.ts'
import { seedFromEnv, slowMemoryPadLog, tempDir } from './helpers.ts'
import { describeStorageContract } from './storage-contract.ts'

describeStorageContract('SQLite', async () => {
  const db = openDb(tempDir(), 'normal')
  return { log: new SqlitePadLog(new PadStore(db)), close: () => void db.close() }
})

const seed = seedFromEnv('CONTRACT_SEED')
console.log(`# storage contract, in memory: CONTRACT_SEED=${seed}`)
let stores = 0
describeStorageContract('in memory, answering late', async () => ({
  log: slowMemoryPadLog(seed + stores++),
  close: () => {},
}))
