/**
 * Persist-then-broadcast with a store that answers late: the rooms persist to a MemoryPadLog
 * whose every call waits a random few milliseconds (seeded: the seed is printed), as a networked
 * engine would. What each test asserts is what a user would notice if the ordering broke: text
 * shown to someone that a crash would then lose, replies out of order, two rooms for one pad,
 * a pad that no longer loads.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as Y from 'yjs'
import { DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import type { LogRow, PadLog } from '../server/storage/pad-log.ts'
import { docFromStored } from '../server/sync/pad-doc.ts'
import { Rooms } from '../server/sync/rooms.ts'
import {
  decodeMessage,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncUpdate,
  type Message,
} from '../shared/protocol.ts'
import {
  connectClient,
  prng,
  rawSocket,
  seedFromEnv,
  slowMemoryPadLog,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'

const SEED = seedFromEnv('ASYNC_STORE_SEED')
/** How long the failing commit (or the slow forget) takes: longer than a few keystrokes take. */
const SLOW_WRITE_MS = 100
console.log(`# async store: ASYNC_STORE_SEED=${SEED}`)

/**
 * What the store holds, as the test sees it: every row of every append that succeeded, per pad,
 * recorded when the append resolves (before the server hears of it), and the most appends ever
 * in flight at once.
 */
interface Watched {
  log: PadLog
  rows: Map<string, Uint8Array[]>
  maxInFlight: number
  /** Rows of one pad, stored, that did not rebuild: a batch stored without one it depends on. */
  brokenAfter: string[]
}

function watched(inner: PadLog): Watched {
  const w: Watched = { log: inner, rows: new Map(), maxInFlight: 0, brokenAfter: [] }
  let inFlight = 0
  w.log = Object.assign(Object.create(inner) as PadLog, {
    // What the rooms commit through.
    appendBatchWithHeads: async (batch: readonly LogRow[]) => {
      inFlight++
      w.maxInFlight = Math.max(w.maxInFlight, inFlight)
      try {
        const appended = await inner.appendBatchWithHeads(batch)
        for (const row of batch) {
          const rows = w.rows.get(row.padId) ?? []
          rows.push(row.data)
          w.rows.set(row.padId, rows)
          try {
            docFromStored({
              snapshot: null,
              snapshotUpto: 0,
              updates: rows.map((data, seq) => ({ seq, data })),
            })
          } catch {
            w.brokenAfter.push(row.padId)
          }
        }
        return appended
      } finally {
        inFlight--
      }
    },
  })
  return w
}

/** The doc the stored rows of `padId` rebuild. */
function storedDoc(w: Watched, padId: string): Y.Doc {
  const doc = new Y.Doc()
  for (const data of w.rows.get(padId) ?? []) Y.applyUpdate(doc, data)
  return doc
}

/** Whether every struct `update` carries is already stored (its state vector within the store's). */
function onlyStored(update: Uint8Array, stored: Y.Doc): boolean {
  const carried = Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update))
  for (const [client, clock] of carried) if (clock > Y.getState(stored.store, client)) return false
  return true
}

async function serverOn(w: Watched): Promise<TestServer> {
  return startTestServer({}, { padLog: () => w.log })
}

describe('an asynchronous store', () => {
  test('typists converge; one commit in flight; nothing reaches anyone before it is stored', async () => {
    const w = watched(slowMemoryPadLog(SEED))
    const server = await serverOn(w)
    const random = prng(SEED + 1)
    const pad = 'slow-store'
    try {
      // A listener that checks every frame with content against what the store held when it came.
      const listener = await rawSocket(server.wsUrl, pad)
      const leaks: string[] = []
      let frames = 0
      listener.ws.on('message', (data: Buffer) => {
        const decoded = decodeMessage(new Uint8Array(data))
        if (!decoded.ok) return
        const m: Message = decoded.value
        if (m.type !== 'sync-step2' && m.type !== 'sync-update') return
        frames++
        if (!onlyStored(m.update, storedDoc(w, pad))) leaks.push(m.type)
      })
      listener.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
      const typists = Array.from({ length: 4 }, (_, i) => connectClient(server.wsUrl, pad, { name: `t${i}` }))
      await Promise.all(typists.map((t) => t.synced()))
      const deadline = Date.now() + 20_000
      for (let round = 0; round < 40 && Date.now() < deadline; round++) {
        for (const [i, t] of typists.entries()) {
          t.text.insert(Math.floor(random() * (t.text.length + 1)), `${i}:${round} `)
        }
        // Save checks and late joiners: step 2s asked for while commits are in flight.
        if (round % 5 === 0) listener.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
        if (round % 10 === 0) {
          const late = connectClient(server.wsUrl, pad)
          await late.synced()
          late.destroy()
        }
        await new Promise((resolve) => setTimeout(resolve, random() * 10))
      }
      const text = () => typists[0]!.text.toString()
      await waitFor('typists to converge', () => typists.every((t) => t.text.toString() === text()), 30_000)
      await waitFor(
        'everything stored',
        () => storedDoc(w, pad).getText('notes').toString() === text(),
        30_000,
      )
      assert.ok(frames > 10, `the listener got ${frames} frames with content`)
      assert.deepEqual(leaks, [], 'frames carrying content the store did not hold yet')
      assert.equal(w.maxInFlight, 1, 'appends in flight at once')
      assert.deepEqual(w.brokenAfter, [])
      for (const t of typists) t.destroy()
      listener.ws.close()
    } finally {
      await server.close()
    }
  })

  test("a connection's later frames wait while the answer to its step 1 waits for a commit", async () => {
    const w = watched(slowMemoryPadLog(SEED + 2))
    const server = await serverOn(w)
    try {
      const raw = await rawSocket(server.wsUrl, 'in-order')
      const doc = new Y.Doc()
      doc.getText('notes').insert(0, 'typed before the step 1')
      // One burst: an edit (its commit takes a while), a step 1 (answered after that commit),
      // and a presence query (answered at once if nothing held it back).
      raw.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)))
      raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
      raw.ws.send(encodeQueryAwareness())
      const types = () =>
        raw.received.flatMap((f) => {
          const m = decodeMessage(f)
          return m.ok ? [m.value] : []
        })
      await waitFor('both answers', () => types().some((m) => m.type === 'awareness'), 30_000)
      const answers = types().filter((m) => m.type === 'sync-step2' || m.type === 'awareness')
      assert.deepEqual(
        answers.map((m) => m.type),
        ['sync-step2', 'awareness'],
      )
      const step2 = answers[0] as Extract<Message, { type: 'sync-step2' }>
      const seen = new Y.Doc()
      Y.applyUpdate(seen, step2.update)
      assert.equal(
        seen.getText('notes').toString(),
        'typed before the step 1',
        'the step 2 acknowledges the edit',
      )
      assert.ok(onlyStored(step2.update, storedDoc(w, 'in-order')))
      raw.ws.close()
    } finally {
      await server.close()
    }
  })

  test('a cursor move reaches the others after the keystroke that came with it', async () => {
    const w = watched(slowMemoryPadLog(SEED + 5))
    const server = await serverOn(w)
    try {
      const typist = await rawSocket(server.wsUrl, 'cursor-after-key')
      const watcher = await rawSocket(server.wsUrl, 'cursor-after-key')
      const kindsOf = (raw: typeof typist) =>
        raw.received.flatMap((f) => {
          const m = decodeMessage(f)
          return m.ok ? [m.value.type] : []
        })
      for (const raw of [typist, watcher]) raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
      await waitFor(
        'both served',
        () => [typist, watcher].every((raw) => kindsOf(raw).includes('sync-step2')),
        30_000,
      )
      const doc = new Y.Doc()
      const updates: Uint8Array[] = []
      doc.on('update', (u: Uint8Array) => updates.push(u))
      for (let i = 0; i < 5; i++) {
        const seen = kindsOf(watcher).length
        // As an editor sends them: the keystroke, then at once the cursor that moved with it.
        doc.getText('notes').insert(i, 'x')
        typist.ws.send(encodeSyncUpdate(updates.at(-1)!))
        typist.ws.send(
          encodeAwareness(
            encodeAwarenessUpdate([
              { clientId: doc.clientID, clock: i + 1, state: JSON.stringify({ cursor: i }) },
            ]),
          ),
        )
        await waitFor('both relayed', () => kindsOf(watcher).length >= seen + 2, 30_000)
        // A cursor first would point at text the watcher does not have yet.
        assert.deepEqual(
          kindsOf(watcher).slice(seen, seen + 2),
          ['sync-update', 'awareness'],
          `keystroke ${i}`,
        )
      }
      typist.ws.close()
      watcher.ws.close()
    } finally {
      await server.close()
    }
  })

  test('everyone who opens a pad while it loads joins the same room', async () => {
    const w = watched(slowMemoryPadLog(SEED + 3))
    const server = await serverOn(w)
    const pad = 'one-room'
    try {
      // Stored first, then unloaded: the next opens find it only in the store.
      const first = connectClient(server.wsUrl, pad)
      await first.synced()
      first.text.insert(0, 'stored ')
      await waitFor('stored', () => (w.rows.get(pad)?.length ?? 0) > 0, 30_000)
      first.destroy()
      await waitFor('unloaded', () => server.rooms.get(pad) === undefined, 30_000)
      const clients = Array.from({ length: 8 }, () => connectClient(server.wsUrl, pad))
      await Promise.all(clients.map((c) => c.synced()))
      for (const [i, c] of clients.entries()) c.text.insert(c.text.length, `c${i} `)
      await waitFor(
        'every client to see every edit',
        () => clients.every((c) => clients.every((_, i) => c.text.toString().includes(`c${i} `))),
        30_000,
      )
      assert.equal(server.rooms.loadedCount, 1)
      for (const c of clients) c.destroy()
    } finally {
      await server.close()
    }
  })

  test('a failed commit discards the batch after it: the stored rows always load', async () => {
    let failures = 0
    const marker = Buffer.from('FAILS-ONCE')
    const inner = slowMemoryPadLog(SEED + 4)
    // The first append holding the marker fails, late: the rows typed after it are queued by then.
    const failing: PadLog = Object.assign(Object.create(inner) as PadLog, {
      appendBatchWithHeads: async (rows: readonly LogRow[]) => {
        if (failures > 0 || !rows.some((r) => Buffer.from(r.data).includes(marker)))
          return inner.appendBatchWithHeads(rows)
        failures++
        await new Promise((resolve) => setTimeout(resolve, SLOW_WRITE_MS))
        throw new Error('disk on fire')
      },
    })
    const w = watched(failing)
    const server = await serverOn(w)
    const pad = 'fails-once'
    try {
      const client = connectClient(server.wsUrl, pad)
      await client.synced()
      client.text.insert(0, 'FAILS-ONCE')
      // Typed while that commit is in flight: depends on it, so must never be stored without it.
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, SLOW_WRITE_MS / 10))
        client.text.insert(client.text.length, ` then ${i}`)
      }
      // The room is dropped; the stock client reconnects and sends everything again.
      await waitFor('the failure', () => failures === 1, 30_000)
      const text = client.text.toString()
      await waitFor(
        'everything stored after the reconnect',
        () => storedDoc(w, pad).getText('notes').toString() === text,
        30_000,
      )
      assert.deepEqual(w.brokenAfter, [], 'stored rows that do not load')
      client.destroy()
    } finally {
      await server.close()
    }
  })

  test('forget-history while someone types keeps every edit in the stored state', async () => {
    const inner = slowMemoryPadLog(SEED + 5)
    // A slow forget: appends that ran beside it would land first, and be dropped with the log.
    const log: PadLog = Object.assign(Object.create(inner) as PadLog, {
      forgetHistory: async (padId: string, state: Uint8Array) => {
        await new Promise((resolve) => setTimeout(resolve, SLOW_WRITE_MS))
        return inner.forgetHistory(padId, state)
      },
    })
    const rooms = new Rooms({
      store: log,
      log: createLogger('silent'),
      snapshotEvery: DEFAULTS.snapshotEvery,
      unloadDelayMs: 60_000,
      limits: DEFAULTS,
    })
    const room = await rooms.open('forget')
    const typist = new Y.Doc()
    const text = typist.getText('notes')
    typist.on('update', (update: Uint8Array) => void room.receiveUpdate({ id: 'typist' }, update))
    const typeFor = async (n: number) => {
      for (let i = 0; i < n; i++) {
        text.insert(text.length, `${i} `)
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
    await typeFor(20)
    // Typing goes on while the forget runs: those rows are committed around it.
    await Promise.all([room.forgetHistory(), typeFor(30)])
    await rooms.flush()
    const stored = docFromStored(await log.load('forget'))
    assert.equal(stored.getText('notes').toString(), text.toString())
    await rooms.closeAll(1000, 'done')
  })
})
