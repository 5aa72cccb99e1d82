/**
 * The storage contract (storage-contract.ts) on every engine here: SQLite in a temp file, and the
 * in-memory store answering after random delays (seeded: the seed is printed). The in-memory engine
 * has a search store but no history log yet: its history part runs on SQLite only.
 */

import { createLogger } from '../server/ops/logger.ts'
import { MeetingsStore } from '../server/storage/meetings-store.ts'
import { MemorySearchStore } from '../server/storage/memory-search-store.ts'
import { openSqliteStorage } from '../server/storage/storage.ts'
import { seedFromEnv, slowMemoryPadLog, tempDir } from './helpers.ts'
import { describeStorageContract, type PadPlace } from './storage-contract.ts'

describeStorageContract('SQLite', async () => {
  const storage = openSqliteStorage({ dataDir: tempDir(), durability: 'normal', log: createLogger('silent') })
  const meetings = new MeetingsStore(storage.db)
  // Awaited: the meetings store is becoming promise-returning too.
  const place = async (padId: string, at: PadPlace) => {
    let eventPk: number | null = null
    if (at.event !== null) {
      eventPk = await meetings.eventPk(at.event)
      if (eventPk === null) {
        const fields = { slug: at.event, name: at.event, startsOn: null, endsOn: null, description: null }
        await meetings.createEvent({ ...fields, timezone: 'UTC' })
        eventPk = await meetings.eventPk(at.event)
      }
    }
    const none = { track: null, room: null, startsAt: null, endsAt: null, speakers: [], links: [] }
    await meetings.updatePad(padId, { ...none, title: at.title, kind: at.kind, cancelled: false }, eventPk)
  }
  return {
    log: storage.padLog,
    history: storage.history,
    search: { store: storage.search, place },
    close: () => storage.close(),
  }
})

const seed = seedFromEnv('CONTRACT_SEED')
console.log(`# storage contract, in memory: CONTRACT_SEED=${seed}`)
let stores = 0
describeStorageContract(
  'in memory, answering late',
  async () => {
    const log = slowMemoryPadLog(seed + stores++)
    const search = new MemorySearchStore(log)
    return {
      log,
      search: { store: search, place: async (padId: string, at: PadPlace) => search.place(padId, at) },
      close: () => {},
    }
  },
  { history: false, search: true },
)
