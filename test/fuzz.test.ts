/**
 * Seeded convergence fuzz: several stock y-websocket clients type into one pad while some of them
 * drop off and come back; in the end every client, the server's doc and a restarted server agree.
 * Each run prints its seed; replay one with FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as Y from 'yjs'
import { docFromStored } from '../server/sync/pad-doc.ts'
import {
  type Client,
  connectClient,
  prng,
  seedFromEnv,
  sleep,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'

const STEPS = 300
const SEEDS_PER_RUN = 3

const seeds = process.env.FUZZ_SEED
  ? [seedFromEnv('FUZZ_SEED')]
  : Array.from({ length: SEEDS_PER_RUN }, () => seedFromEnv('FUZZ_SEED'))

const WORDS = ['kernel', 'cgroup', 'BPF', 'io_uring', 'Rust', 'ABI', 'TODO:', 'ack', 'NAK', 'é', 'Ω', '\n']

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/** The whole pad as the server holds it (null while the pad is not loaded). */
function serverDoc(server: TestServer, padId: string): Y.Doc | null {
  return server.rooms.get(padId)?.doc ?? null
}

function converged(server: TestServer, padId: string, clients: Client[]): boolean {
  const doc = serverDoc(server, padId)
  if (!doc) return false
  const sv = Y.encodeStateVector(doc)
  const text = doc.getText('notes').toString()
  return clients.every(
    (c) =>
      c.provider.wsconnected &&
      c.provider.synced &&
      sameBytes(Y.encodeStateVector(c.doc), sv) &&
      c.text.toString() === text,
  )
}

function randomEdit(client: Client, rand: () => number, step: number): void {
  const text = client.text
  if (text.length > 0 && rand() < 0.3) {
    const at = Math.floor(rand() * text.length)
    text.delete(at, Math.min(1 + Math.floor(rand() * 12), text.length - at))
    return
  }
  const word = WORDS[Math.floor(rand() * WORDS.length)]!
  const at = Math.floor(rand() * (text.length + 1))
  if (rand() < 0.1) {
    // Several edits in one transaction, as a paste or an autocomplete makes them.
    client.doc.transact(() => {
      text.insert(at, `${word}#${step} `)
      if (text.length > 4) text.delete(Math.floor(rand() * (text.length - 2)), 2)
    })
  } else {
    text.insert(at, `${word} `)
  }
}

async function fuzz(seed: number, log: (message: string) => void): Promise<void> {
  const rand = prng(seed)
  // A small SNAPSHOT_EVERY: snapshots are written mid-run and the restart loads snapshot + tail.
  const server = await startTestServer({ snapshotEvery: 10 + Math.floor(rand() * 40) })
  const padId = `fuzz-${seed}`
  const clients = Array.from({ length: 4 + Math.floor(rand() * 2) }, (_, i) =>
    connectClient(server.wsUrl, padId, { name: `fuzzer ${i}` }),
  )
  let restarted: TestServer | null = null
  try {
    await Promise.all(clients.map((c) => c.synced()))
    // Closes the server initiated (a refused frame, an internal error): a user would see a reconnect.
    const serverCloses: string[] = []
    for (const [i, c] of clients.entries()) {
      c.provider.on('connection-close', (event) => {
        if (event) serverCloses.push(`client ${i}: ${event.code} ${event.reason}`)
      })
    }
    let disconnects = 0
    let offlineEdits = 0
    let unloads = 0
    for (let step = 0; step < STEPS; step++) {
      const client = clients[Math.floor(rand() * clients.length)]!
      const roll = rand()
      if (roll < 0.008) {
        // Everyone drops off (the hall Wi-Fi died) and keeps typing; the pad unloads meanwhile.
        for (const c of clients) c.provider.disconnect()
        for (const c of clients) randomEdit(c, rand, step)
        offlineEdits += clients.length
        await waitFor('pad to unload', () => !server.rooms.get(padId), 30_000)
        unloads++
        for (const c of clients) if (rand() < 0.7) c.provider.connect()
      } else if (roll < 0.06) {
        if (client.provider.shouldConnect) {
          client.provider.disconnect()
          disconnects++
        }
      } else if (roll < 0.12) {
        client.provider.connect()
      } else {
        if (!client.provider.wsconnected) offlineEdits++
        randomEdit(client, rand, step)
      }
      // Let frames cross the network between some steps, so edits interleave with syncs.
      const pause = rand()
      if (pause < 0.25) await sleep(Math.floor(rand() * 8))
      else if (pause < 0.5) await new Promise((resolve) => setImmediate(resolve))
    }
    log(
      `seed ${seed}: ${clients.length} clients, ${disconnects} disconnects, ${unloads} unloads, ` +
        `${offlineEdits} edits made offline`,
    )

    for (const c of clients) c.provider.connect()
    await waitFor('all clients and the server to converge', () => converged(server, padId, clients), 30_000)
    assert.deepEqual(serverCloses, [], 'the server closed sockets of clients that did nothing wrong')
    assert.deepEqual(
      server.logLines.filter((line) => Number(line.level) >= 40),
      [],
      'the server logged warnings or errors',
    )

    const doc = serverDoc(server, padId)!
    const expected = doc.getText('notes').toString()
    assert.equal(doc.store.pendingStructs, null, 'server doc has structs waiting for dependencies')
    assert.equal(doc.store.pendingDs, null, 'server doc has deletions waiting for dependencies')
    const serverSnapshot = Y.snapshot(doc)
    for (const c of clients) {
      assert.equal(c.text.toString(), expected)
      assert.ok(
        Y.equalSnapshots(Y.snapshot(c.doc), serverSnapshot),
        'client and server deleted different things',
      )
      // Every edit this client made, offline ones included, reached the server.
      assert.equal(Y.getState(doc.store, c.doc.clientID), Y.getState(c.doc.store, c.doc.clientID))
      assert.equal(c.doc.store.pendingStructs, null)
    }

    // History: the log alone, without any snapshot, rebuilds the same pad.
    const rows = server.db
      .prepare(
        'SELECT u.seq, u.data FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? ORDER BY u.seq',
      )
      .all(padId) as { seq: number; data: Buffer }[]
    const fromLog = docFromStored({
      snapshot: null,
      snapshotUpto: 0,
      updates: rows.map((r) => ({ seq: r.seq, data: new Uint8Array(r.data) })),
    })
    assert.equal(fromLog.getText('notes').toString(), expected)

    for (const c of clients) c.destroy()
    clients.length = 0
    await server.close()

    restarted = await startTestServer({ dataDir: server.dataDir })
    const fresh = connectClient(restarted.wsUrl, padId)
    clients.push(fresh)
    await fresh.synced()
    assert.equal(fresh.text.toString(), expected)
    assert.ok(
      Y.equalSnapshots(Y.snapshot(fresh.doc), serverSnapshot),
      'restarted pad differs in its deletions',
    )
  } finally {
    for (const c of clients) c.destroy()
    await server.close()
    await restarted?.close()
  }
}

for (const seed of seeds) {
  test(`clients converge under random edits, disconnects and reconnects (seed ${seed})`, {
    timeout: 60_000,
  }, async (t) => {
    t.diagnostic(`FUZZ_SEED=${seed}`)
    console.log(`fuzz: FUZZ_SEED=${seed}`)
    await fuzz(seed, (message) => t.diagnostic(message))
  })
}
