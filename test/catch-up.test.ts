/**
 * Two servers holding one pad at once (issue 25: a failover, a balancer reload, a returning
 * server, a forced split), on one PostgreSQL database of this file's own PostgreSQL (postgres.ts):
 * each catches up on the rows the other stored, so the clients of both converge, and no snapshot
 * either writes hides a row of the other's. Real y-websocket clients straight to each server.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as Y from 'yjs'
import type { PadLog } from '../server/storage/pad-log.ts'
import { openPgStorage, type PgStorage } from '../server/storage/postgres/open.ts'
import { docFromStored } from '../server/sync/pad-doc.ts'
import {
  apiCall,
  type Client,
  connectClient,
  seedFromEnv,
  sleep,
  slowMemoryPadLog,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let postgres: TestPostgres
before(async () => {
  postgres = await testPostgres()
  console.log(`# PostgreSQL started in ${postgres.startMs} ms on port ${postgres.port}`)
})
after(() => postgres.stop())

/** Generous: two servers, six clients and PostgreSQL share a noisy 2-core machine. */
const CONVERGE_MS = 60_000

/** A server on the database at `url`, with a storage of its own (its own pool), as another process has. */
async function serverOn(
  url: string,
  options: { snapshotEvery?: number; spy?: (log: PadLog) => PadLog } = {},
) {
  const storage = await openPgStorage({ connectionString: url })
  return startTestServer(options.snapshotEvery ? { snapshotEvery: options.snapshotEvery } : {}, {
    storage,
    ...(options.spy ? { padLog: options.spy } : {}),
  })
}

/** Each client appends its own tokens, one every `everyMs`; resolves with every token typed. */
async function typeTokens(clients: Client[], perClient: number, everyMs: number): Promise<string[]> {
  const typed: string[] = []
  await Promise.all(
    clients.map(async (client, c) => {
      for (let i = 0; i < perClient; i++) {
        const token = `<c${c}t${i}>`
        // Where the text is now (the start, or after a line): tokens of the two servers interleave.
        const at = i % 3 === 0 ? 0 : client.text.length
        client.text.insert(at, token)
        typed.push(token)
        await sleep(everyMs)
      }
    }),
  )
  return typed
}

/** Every client shows the same text holding every token. */
function converged(clients: Client[], tokens: string[]): boolean {
  const text = clients[0]!.text.toString()
  return clients.every((c) => c.text.toString() === text) && tokens.every((t) => text.includes(t))
}

async function storedText(storage: PgStorage, padId: string): Promise<string> {
  const doc = docFromStored(await storage.padLog.load(padId))
  const text = doc.getText('notes').toString()
  doc.destroy()
  return text
}

async function closeAll(clients: Client[], servers: TestServer[]): Promise<void> {
  for (const client of clients) client.destroy()
  await Promise.all(servers.map((server) => server.close()))
}

test('a forced split: clients typing on two servers into one pad converge, with every token, and the database holds that text', async () => {
  const url = await postgres.freshDatabase()
  const [a, b] = [await serverOn(url), await serverOn(url)]
  const pad = 'split-pad'
  const clients = [a, a, a, b, b, b].map((server) => connectClient(server.wsUrl, pad))
  try {
    await Promise.all(clients.map((c) => c.synced()))
    const tokens = await typeTokens(clients, 20, 100)
    await waitFor(
      'every client to show every token, the same text',
      () => converged(clients, tokens),
      CONVERGE_MS,
    )
    const fresh = await openPgStorage({ connectionString: url })
    try {
      assert.equal(
        await storedText(fresh, pad),
        clients[0]!.text.toString(),
        'a fresh load equals what everyone sees',
      )
    } finally {
      await fresh.close()
    }
  } finally {
    await closeAll(clients, [a, b])
  }
})

test('a returning server: a reader on server A sees what people type on server B, without reconnecting', async () => {
  const url = await postgres.freshDatabase()
  const a = await serverOn(url)
  const pad = 'returning'
  const reader = connectClient(a.wsUrl, pad)
  const clients: Client[] = [reader]
  let b: TestServer | null = null
  try {
    await reader.synced()
    reader.text.insert(0, 'agenda: ')
    await waitFor('the first line stored', async () => (await a.storage.padLog.lastSeq(pad)) > 0)
    const socket = reader.provider.ws
    b = await serverOn(url)
    const writers = [connectClient(b.wsUrl, pad), connectClient(b.wsUrl, pad)]
    clients.push(...writers)
    await Promise.all(writers.map((c) => c.synced()))
    assert.equal(writers[0]!.text.toString(), 'agenda: ', 'B loads what A stored')
    const tokens = await typeTokens(writers, 10, 50)
    await waitFor(
      "A's reader to show B's edits",
      () => converged(clients, [...tokens, 'agenda: ']),
      CONVERGE_MS,
    )
    assert.equal(reader.provider.ws, socket, 'the same socket: no reconnect')
    // B's writers see A's reader's edits too (A commits: B catches up at its next poll).
    reader.text.insert(reader.text.length, ' [from A]')
    await waitFor("B's writers to show A's edit", () => converged(clients, [' [from A]']), CONVERGE_MS)
    const metrics = await (await fetch(`${a.url}/metrics`)).text()
    const caughtUp = Number(/^summitpad_catch_up_rows_total (\d+)/m.exec(metrics)?.[1])
    assert.ok(caughtUp >= tokens.length, `A read back B's rows (${caughtUp})`)
  } finally {
    await closeAll(clients, b ? [a, b] : [a])
  }
})

test('snapshots during a split never hide a row of the other server: each one is the log up to its row, and a cold load has every token', async () => {
  const url = await postgres.freshDatabase()
  /** Every snapshot the rooms stored: the row it names and the text it holds. */
  const snapshots: { upto: number; text: string }[] = []
  const spy = (log: PadLog): PadLog =>
    Object.assign(Object.create(log) as PadLog, {
      snapshotIfCurrent: async (padId: string, upto: number, state: Uint8Array, at?: number) => {
        const stored = await log.snapshotIfCurrent(padId, upto, state, at)
        if (stored) {
          const doc = new Y.Doc()
          Y.applyUpdate(doc, state)
          snapshots.push({ upto, text: doc.getText('notes').toString() })
          doc.destroy()
        }
        return stored
      },
    })
  // A snapshot every few rows: dozens of them while both servers write.
  const [a, b] = [
    await serverOn(url, { snapshotEvery: 3, spy }),
    await serverOn(url, { snapshotEvery: 3, spy }),
  ]
  const pad = 'split-snapshots'
  const clients = [a, a, b, b].map((server) => connectClient(server.wsUrl, pad))
  let tokens: string[] = []
  try {
    await Promise.all(clients.map((c) => c.synced()))
    tokens = await typeTokens(clients, 25, 60)
    await waitFor(
      'every client to show every token, the same text',
      () => converged(clients, tokens),
      CONVERGE_MS,
    )
  } finally {
    await closeAll(clients, [a, b])
  }
  const fresh = await openPgStorage({ connectionString: url })
  try {
    const text = await storedText(fresh, pad)
    for (const token of tokens) assert.ok(text.includes(token), `${token} survives a cold load`)
    // The log itself is whole (no history was forgotten): replaying it up to a snapshot's row
    // gives what that snapshot must hold.
    const rows = (await fresh.padLog.rowsAfter(pad, 0, 100_000))!.rows
    console.log(`# ${snapshots.length} snapshots written during the split`)
    assert.ok(snapshots.length >= 2, `snapshots were written during the split (${snapshots.length})`)
    for (const snapshot of snapshots) {
      const replayed = docFromStored({
        snapshot: null,
        snapshotUpto: 0,
        updates: rows.filter((r) => r.seq <= snapshot.upto),
      })
      assert.equal(
        snapshot.text,
        replayed.getText('notes').toString(),
        `the snapshot at row ${snapshot.upto}`,
      )
      replayed.destroy()
    }
  } finally {
    await fresh.close()
  }
})

/**
 * Two servers whose rooms share one in-memory pad log answering late (seeded), with a client on
 * each: no poll runs (each server's own storage is SQLite), so they hear of each other's rows only
 * at their own commits.
 */
async function twoOnMemoryLog(pad: string) {
  const seed = seedFromEnv('CATCH_UP_SEED')
  console.log(`# CATCH_UP_SEED=${seed}`)
  const shared = slowMemoryPadLog(seed)
  const servers = [
    await startTestServer({}, { padLog: () => shared }),
    await startTestServer({}, { padLog: () => shared }),
  ]
  const [onA, onB] = servers.map((server) => connectClient(server.wsUrl, pad)) as [Client, Client]
  return { shared, servers, onA, onB }
}

test('at its own commit a server applies what another stored in between (two servers on one in-memory log answering late: no poll)', async () => {
  const pad = 'own-commits'
  const { shared, servers, onA, onB } = await twoOnMemoryLog(pad)
  try {
    await Promise.all([onA.synced(), onB.synced()])
    onB.text.insert(0, 'from B. ')
    await waitFor("B's line stored", async () => (await shared.lastSeq(pad)) > 0)
    // A's own commit comes after B's row: A reads it back and sends it to its client.
    onA.text.insert(0, 'from A. ')
    await waitFor("A's client to show B's line", () => onA.text.toString().includes('from B. '), CONVERGE_MS)
    onB.text.insert(onB.text.length, 'and B again.')
    await waitFor("B's client to show A's line", () => onB.text.toString().includes('from A. '), CONVERGE_MS)
    const stored = docFromStored(await shared.load(pad))
    assert.equal(stored.getText('notes').toString(), onB.text.toString())
    stored.destroy()
  } finally {
    await closeAll([onA, onB], servers)
  }
})

test("history forgotten on another server: the rows it folded into a snapshot still reach this server's clients, and nothing is lost", async () => {
  const pad = 'forgotten-elsewhere'
  const { shared, servers, onA, onB } = await twoOnMemoryLog(pad)
  try {
    await Promise.all([onA.synced(), onB.synced()])
    onA.text.insert(0, 'A first. ')
    await waitFor("A's line stored", async () => (await shared.lastSeq(pad)) > 0)
    // B's commit comes after A's row: B reads it back.
    onB.text.insert(onB.text.length, 'B typed this, then forgot the history. ')
    await waitFor("B's client to get A's line", () => onB.text.toString().includes('A first. '), CONVERGE_MS)
    const forgot = await apiCall(servers[1]!, 'POST', `/api/pads/${pad}/forget-history`)
    assert.equal(forgot.status, 200, forgot.text)
    // B's line is in the log only as the snapshot now: A's next commit finds it, reads the pad whole.
    onA.text.insert(onA.text.length, 'A again. ')
    await waitFor(
      "A's client to show B's line",
      () => onA.text.toString().includes('then forgot'),
      CONVERGE_MS,
    )
    onB.text.insert(onB.text.length, 'B at the end.')
    await waitFor(
      "B's client to show A's last line",
      () => onB.text.toString().includes('A again. '),
      CONVERGE_MS,
    )
    // Nothing polls here: A hears of B's last row at its own next commit, which is the pad's last.
    onA.text.insert(onA.text.length, ' A done.')
    await waitFor(
      "A's client to show B's last line",
      () => onA.text.toString().includes('B at the end.'),
      CONVERGE_MS,
    )
    const stored = docFromStored(await shared.load(pad))
    assert.equal(stored.getText('notes').toString(), onA.text.toString(), 'a cold load has it all')
    stored.destroy()
  } finally {
    await closeAll([onA, onB], servers)
  }
})
