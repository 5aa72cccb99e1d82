/**
 * The storage contract (storage-contract.ts) on every engine here: SQLite in a temp file, and the
 * in-memory store answering after random delays (seeded: the seed is printed), each with its
 * history log and search store.
 */

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Unsupported } from '../server/lib/domain-errors.ts'
import { createLogger } from '../server/ops/logger.ts'
import { openSqliteStorage } from '../server/storage/storage.ts'
import { seedFromEnv, slowMemoryStorage, tempDir } from './helpers.ts'
import { describeStorageContract, type PadPlace, placeThrough } from './storage-contract.ts'

describeStorageContract('SQLite', async () => {
  const storage = openSqliteStorage({ dataDir: tempDir(), durability: 'normal', log: createLogger('silent') })
  return {
    log: storage.padLog,
    history: storage.history,
    search: { store: storage.search, place: placeThrough(storage.meetings) },
    close: () => storage.close(),
  }
})

const seed = seedFromEnv('CONTRACT_SEED')
console.log(`# storage contract, in memory: CONTRACT_SEED=${seed}`)
let stores = 0
describeStorageContract('in memory, answering late', async () => {
  const storage = slowMemoryStorage(seed + stores++)
  const place = async (padId: string, at: PadPlace) => storage.search.place(padId, at)
  return {
    log: storage.padLog,
    history: storage.history,
    search: { store: storage.search, place },
    close: () => storage.close(),
  }
})

test('an engine without online backups refuses them with an Unsupported error saying why (HTTP 501 and CLI exit 1: layers.test.ts)', async () => {
  const { backups } = slowMemoryStorage(seed)
  for (const attempt of [backups.take(), backups.copyTo('/tmp/never-written.sqlite')])
    await assert.rejects(attempt, (err) => {
      assert.ok(err instanceof Unsupported)
      assert.equal(err.code, 'backup_unsupported')
      assert.equal(err.message, 'backups: the in-memory store keeps nothing to back up')
      return true
    })
  await backups.idle()
})
