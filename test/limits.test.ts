/**
 * Each named limit (server/config.ts) holds, answers with its close code or HTTP status, and
 * hurts nobody else: honest clients on the same pad keep syncing.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as Y from 'yjs'
import { ConfigError, configFromEnv, DEFAULTS } from '../server/ops/config.ts'
import { docFromStored } from '../server/sync/pad-doc.ts'
import {
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeSyncStep1,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import { connectClient, rawSocket, sleep, startTestServer, upgradeStatus, waitFor } from './helpers.ts'

const awarenessOf = (clientId: number, clock: number, state: unknown) =>
  encodeAwareness(encodeAwarenessUpdate([{ clientId, clock, state: JSON.stringify(state) }]))

function insertUpdate(text: string, clientId = 1000 + Math.floor(Math.random() * 1e6)): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientId
  doc.getText('notes').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

describe('configuration', () => {
  test('a frame limit smaller than a whole pad plus margin is refused at start', () => {
    assert.throws(
      () =>
        configFromEnv({ MAX_PAD_BYTES: String(4 * 1024 * 1024), MAX_FRAME_BYTES: String(4 * 1024 * 1024) }),
      ConfigError,
    )
    const ok = configFromEnv({ MAX_PAD_BYTES: String(4 * 1024 * 1024) })
    assert.equal(ok.maxFrameBytes, 5 * 1024 * 1024)
    assert.throws(() => configFromEnv({ PORT: 'eighty' }), /PORT must be an integer/)
  })
})

describe('pad size', () => {
  test('the update that would pass MAX_PAD_BYTES is rejected whole with 4413; others keep editing', async () => {
    const server = await startTestServer({ maxPadBytes: 64 * 1024, maxFrameBytes: 2 * 1024 * 1024 })
    const honest = connectClient(server.wsUrl, 'full')
    await honest.synced()
    honest.text.insert(0, 'agenda\n')
    await waitFor('stored', () => server.store.lastSeq('full') > 0)
    const raw = await rawSocket(server.wsUrl, 'full')
    raw.ws.send(encodeSyncUpdate(insertUpdate('x'.repeat(80 * 1024))))
    await waitFor('closed', () => raw.closed !== null)
    assert.equal(raw.closed?.code, 4413)
    honest.text.insert(honest.text.length, 'still typing\n')
    const late = connectClient(server.wsUrl, 'full')
    await late.synced()
    await waitFor('late joiner sees honest text', () => late.text.toString() === 'agenda\nstill typing\n')
    assert.ok(!server.rooms.get('full')!.doc.getText('notes').toString().includes('xxxx'))
    for (const c of [honest, late]) c.destroy()
    await server.close()
  })
})

describe('message rate', () => {
  test('a flooding socket is slowed, then closed with 1008; an honest client is not', async () => {
    const server = await startTestServer({ messageRate: 50, messageBurst: 100, throttleCloseMs: 1000 })
    const honest = connectClient(server.wsUrl, 'flood')
    await honest.synced()
    const raw = await rawSocket(server.wsUrl, 'flood')
    const step1 = encodeSyncStep1(Y.encodeStateVector(new Y.Doc()))
    const deadline = Date.now() + 10_000
    for (let i = 0; i < 20_000 && raw.closed === null && Date.now() < deadline; i++) {
      raw.ws.send(step1)
      if (i % 200 === 0) await new Promise((r) => setImmediate(r))
    }
    await waitFor('flooder closed', () => raw.closed !== null, 15_000)
    assert.equal(raw.closed?.code, 1008)
    honest.text.insert(0, 'unaffected')
    const check = connectClient(server.wsUrl, 'flood')
    await check.synced()
    await waitFor('honest edit arrives', () => check.text.toString() === 'unaffected')
    assert.equal(honest.provider.wsconnected, true)
    for (const c of [honest, check]) c.destroy()
    await server.close()
  })

  test('a burst above the rate is slowed but kept, and every update it sent is stored', async () => {
    const server = await startTestServer({ messageRate: 200, messageBurst: 50, throttleCloseMs: 20_000 })
    const raw = await rawSocket(server.wsUrl, 'burst')
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 600; i++) doc.getText('notes').insert(i, 'a')
    for (const u of updates) raw.ws.send(encodeSyncUpdate(u))
    await waitFor('all stored', () => server.rooms.get('burst')?.doc.getText('notes').length === 600, 20_000)
    assert.equal(raw.closed, null)
    raw.ws.close()
    await server.close()
  })

  test('a burst whose sender closes its socket at once is still stored in full, and then frees its slot', async () => {
    const server = await startTestServer({
      messageRate: 200,
      messageBurst: 50,
      throttleCloseMs: 20_000,
      maxConnectionsPerIp: 2,
    })
    const reader = connectClient(server.wsUrl, 'burst-close')
    await reader.synced()
    const raw = await rawSocket(server.wsUrl, 'burst-close')
    raw.ws.send(awarenessOf(31337, 1, { user: { name: 'script' } }))
    await waitFor('sender present', () => reader.provider.awareness.getStates().has(31337))
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 600; i++) doc.getText('notes').insert(i, 'a')
    // A script typing far above the rate, then leaving (a tab closed right after a paste of keys).
    for (const u of updates) raw.ws.send(encodeSyncUpdate(u))
    raw.ws.close()
    await waitFor('sender closed', () => raw.closed !== null)
    // Gone from everyone's presence at once, while its edits are still being handled.
    await waitFor('sender no longer present', () => !reader.provider.awareness.getStates().has(31337))
    assert.ok(reader.text.length < 600, `presence outlived the drain (${reader.text.length} of 600 in)`)
    // At 200 frames/s the 600 take about 3 s; all of them arrive, none is dropped with the socket.
    await waitFor('every keystroke stored', () => reader.text.length === 600, 20_000)
    // Stored, not only applied: a restart-proof read of the log.
    await server.rooms.flush()
    assert.equal(docFromStored(server.store.load('burst-close')).getText('notes').length, 600)
    // Drained: the sender's address slot is free again (2 allowed: the reader holds one).
    assert.equal(await upgradeStatus(server.url, '/sync/burst-close'), 101)
    reader.destroy()
    await server.close()
  })
})

describe('connections per address', () => {
  test('past MAX_CONNECTIONS_PER_IP an upgrade gets 429; closing one frees a slot', async () => {
    const server = await startTestServer({ maxConnectionsPerIp: 3 })
    const sockets = await Promise.all([1, 2, 3].map(() => rawSocket(server.wsUrl, 'ip')))
    assert.equal(await upgradeStatus(server.url, '/sync/ip'), 429)
    sockets[0]!.ws.close()
    await waitFor('slot freed', () => sockets[0]!.closed !== null)
    // The server's side of the close may come a moment after the client's: try again until it has.
    let again: Awaited<ReturnType<typeof rawSocket>> | null = null
    for (let i = 0; i < 100 && again === null; i++) {
      again = await rawSocket(server.wsUrl, 'ip').catch(() => sleep(100).then(() => null))
    }
    assert.ok(again, 'the freed slot was never given')
    assert.equal(again.closed, null)
    for (const s of [...sockets, again]) s.ws.close()
    await server.close()
  })
})

describe('new pads per address', () => {
  test('past MAX_NEW_PADS_PER_IP_PER_MINUTE the first edit of a new pad is refused with 4429 and nothing is stored', async () => {
    const server = await startTestServer({ maxNewPadsPerIpPerMinute: 2 })
    for (const pad of ['new-1', 'new-2']) {
      const raw = await rawSocket(server.wsUrl, pad)
      raw.ws.send(encodeSyncUpdate(insertUpdate('hello')))
      await waitFor(`${pad} stored`, () => server.store.exists(pad))
      raw.ws.close()
    }
    // Opening a new pad, and the empty sync step 2 every stock client sends, create nothing.
    const looker = connectClient(server.wsUrl, 'new-3')
    await looker.synced()
    const third = await rawSocket(server.wsUrl, 'new-3')
    third.ws.send(encodeSyncUpdate(insertUpdate('hello')))
    await waitFor('refused', () => third.closed !== null)
    assert.equal(third.closed?.code, 4429)
    assert.match(third.closed?.reason ?? '', /too many new pads from your address/)
    assert.equal(server.store.exists('new-3'), false)
    assert.equal(looker.text.toString(), '', 'nobody saw the refused text')
    assert.equal(looker.provider.wsconnected, true, 'the looker was not refused')
    // Editing an existing pad is not "creating" one.
    const old = await rawSocket(server.wsUrl, 'new-1')
    old.ws.send(encodeSyncUpdate(insertUpdate(' again')))
    await waitFor('edit stored', () => (server.rooms.get('new-1')?.doc.getText('notes').length ?? 0) > 5)
    assert.equal(old.closed, null)
    old.ws.close()
    looker.destroy()
    await server.close()
  })

  test('one address writing into 500 new pad names is stopped at the default limit; a pad counts once', async () => {
    const server = await startTestServer()
    const limit = DEFAULTS.maxNewPadsPerIpPerMinute
    const outcomes: (number | 'stored')[] = []
    const BATCH = 25
    for (let start = 0; start < 500; start += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: BATCH }, (_, i) => rawSocket(server.wsUrl, `script-${start + i}`)),
      )
      for (const raw of batch) raw.ws.send(encodeSyncUpdate(insertUpdate('spam')))
      await waitFor('each stored or refused', () =>
        batch.every((raw, i) => raw.closed !== null || server.store.exists(`script-${start + i}`)),
      )
      for (const [i, raw] of batch.entries()) {
        outcomes.push(server.store.exists(`script-${start + i}`) ? 'stored' : (raw.closed?.code ?? 0))
        raw.ws.close()
      }
    }
    assert.equal(outcomes.filter((o) => o === 'stored').length, limit)
    assert.equal(outcomes.filter((o) => o === 4429).length, 500 - limit)
    // A second socket writing into a pad this address already created is not a new pad.
    const again = await rawSocket(server.wsUrl, 'script-0')
    again.ws.send(encodeSyncUpdate(insertUpdate(' more')))
    await waitFor('edit stored', () => (server.rooms.get('script-0')?.doc.getText('notes').length ?? 0) > 4)
    assert.equal(again.closed, null)
    again.ws.close()
    await server.close()
  })
})

describe('retry loops of a refused stock client', () => {
  /** Counts the connections a stock client makes; each one that ends is a 'connection-close'. */
  function counted(client: ReturnType<typeof connectClient>): { closes: number[]; stopped: boolean } {
    const seen = { closes: [] as number[], stopped: false }
    client.provider.on('connection-close', (event) => {
      seen.closes.push(event?.code ?? 0)
    })
    client.provider.on('closed', () => {
      seen.stopped = true
    })
    return seen
  }

  test('in 30 s: a refusal retrying cannot fix stops it at once; a retryable one backs off and then gets in', async () => {
    const WINDOW_MS = 30_000
    // y-websocket 3.1 waits min(100·2ⁿ, 2500) ms between attempts: a never-synced client makes at
    // most ~17 in 30 s. One that syncs and is then closed resets n and comes back every ~200 ms.
    const BACKED_OFF = 20
    // 1. Its first edit creates a pad past the per-address limit (it synced first, empty).
    const newPads = await startTestServer({ maxNewPadsPerIpPerMinute: 1 })
    const first = await rawSocket(newPads.wsUrl, 'made')
    first.ws.send(encodeSyncUpdate(insertUpdate('hello')))
    await waitFor('first pad stored', () => newPads.store.exists('made'))
    first.ws.close()
    const typist = connectClient(newPads.wsUrl, 'one-too-many')
    const typistSeen = counted(typist)
    await typist.synced()
    typist.text.insert(0, 'notes nobody may store yet')
    // 2. The address has no connection slot free (the limit frees up as others leave).
    const full = await startTestServer({ maxConnectionsPerIp: 1 })
    const holder = await rawSocket(full.wsUrl, 'busy')
    const waiter = connectClient(full.wsUrl, 'busy')
    const waiterSeen = counted(waiter)
    // 3. Authorisation takes too long (a slow authoriser; the next attempt may be answered).
    const slow = await startTestServer({ authDeadlineMs: 300 }, { authorize: () => new Promise(() => {}) })
    const patient = connectClient(slow.wsUrl, 'stalled')
    const patientSeen = counted(patient)
    try {
      await sleep(WINDOW_MS)
      assert.deepEqual(typistSeen.closes, [4429], 'refused once, and the stock client stopped')
      assert.equal(typistSeen.stopped, true)
      assert.equal(newPads.store.exists('one-too-many'), false)
      for (const [what, seen] of [
        ['no connection slot', waiterSeen],
        ['authorisation too slow', patientSeen],
      ] as const) {
        assert.ok(seen.closes.length >= 3, `${what}: retried (${seen.closes.length})`)
        assert.ok(seen.closes.length <= BACKED_OFF, `${what}: ${seen.closes.length} reconnects in 30 s`)
        assert.equal(seen.stopped, false, `${what}: still trying`)
      }
      assert.ok(patientSeen.closes.every((code) => code === 1013))
      // What ends the retryable loop: a free slot. The waiting client gets in on its own.
      holder.ws.close()
      await waiter.synced()
    } finally {
      for (const c of [typist, waiter, patient]) c.destroy()
      await Promise.all([newPads.close(), full.close(), slow.close()])
    }
  })
})

describe('awareness', () => {
  test('a state over MAX_AWARENESS_STATE_BYTES closes the socket with 4431, and the stock client stops', async () => {
    const server = await startTestServer({ maxAwarenessStateBytes: 1024 })
    const raw = await rawSocket(server.wsUrl, 'aw')
    raw.ws.send(awarenessOf(7, 1, { user: { name: 'x'.repeat(2000) } }))
    await waitFor('closed', () => raw.closed !== null)
    assert.equal(raw.closed?.code, 4431)
    // A stock client re-sends its own state on every connection, after syncing (which resets its
    // backoff): it must stop, not come back every ~200 ms.
    const big = connectClient(server.wsUrl, 'aw', { name: 'y'.repeat(2000) })
    const closes: number[] = []
    big.provider.on('connection-close', (event) => {
      closes.push(event?.code ?? 0)
    })
    await waitFor('refused', () => closes.length > 0)
    await sleep(3000)
    assert.deepEqual(closes, [4431])
    big.destroy()
    await server.close()
  })

  test('introducing more client ids than allowed closes the socket; echoes of others do not count', async () => {
    const server = await startTestServer({ maxAwarenessClientsPerSocket: 4 })
    // Six stock clients in one pad: each re-sends every state it hears, and none is closed for it.
    const clients = ['A', 'B', 'C', 'D', 'E', 'F'].map((name) =>
      connectClient(server.wsUrl, 'crowd', { name }),
    )
    await Promise.all(clients.map((c) => c.synced()))
    await waitFor('everyone sees everyone', () =>
      clients.every((c) => c.provider.awareness.getStates().size === 6),
    )
    assert.ok(clients.every((c) => c.provider.wsconnected))
    const raw = await rawSocket(server.wsUrl, 'crowd')
    const entries = [1, 2, 3, 4, 5].map((id) => ({
      clientId: 9000 + id,
      clock: 1,
      state: JSON.stringify({ user: { name: `ghost ${id}` } }),
    }))
    raw.ws.send(encodeAwareness(encodeAwarenessUpdate(entries)))
    await waitFor('closed', () => raw.closed !== null)
    assert.equal(raw.closed?.code, 1008)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(clients[0]!.provider.awareness.getStates().size, 6, 'no ghost reached the others')
    for (const c of clients) c.destroy()
    await server.close()
  })

  test('a hostile colour or name never reaches another client', async () => {
    const server = await startTestServer()
    const victim = connectClient(server.wsUrl, 'style', { name: 'Victim' })
    await victim.synced()
    const raw = await rawSocket(server.wsUrl, 'style')
    raw.ws.send(
      awarenessOf(4242, 1, {
        user: {
          name: '<img src=x onerror=alert(1)>Mallory',
          color: 'red;background:url(//evil)',
          colorLight: 'x',
        },
      }),
    )
    await waitFor('state arrives', () => victim.provider.awareness.getStates().has(4242))
    const user = (victim.provider.awareness.getStates().get(4242) as { user: Record<string, unknown> }).user
    assert.equal(user.color, undefined)
    assert.equal(user.colorLight, undefined)
    assert.equal(typeof user.name, 'string')
    assert.ok(!String(user.name).includes('<'))
    raw.ws.close()
    victim.destroy()
    await server.close()
  })
})

describe('dead sockets', () => {
  test('a half-open socket that stops answering pings is closed', async () => {
    const server = await startTestServer({ pingIntervalMs: 1000 })
    const raw = await rawSocket(server.wsUrl, 'sleepy')
    // The laptop lid closes: this end stops reading, so pings go unanswered.
    ;(raw.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    await waitFor(
      'server dropped it',
      () => server.rooms.get('sleepy') === undefined || server.rooms.get('sleepy')!.peerCount === 0,
      8000,
    )
    raw.ws.terminate()
    await server.close()
  })
})

describe('before authorisation', () => {
  const slowGrant = (ms: number) => () =>
    new Promise<{ ok: true }>((resolve) => setTimeout(() => resolve({ ok: true }), ms))

  test('frames sent while authorisation is pending are kept, in order, and handled once it is granted', async () => {
    // Granted when the test says so, not after a delay a busy machine could outrun.
    let grant: () => void = () => {}
    const granted = new Promise<{ ok: true }>((resolve) => {
      grant = () => resolve({ ok: true })
    })
    const server = await startTestServer({}, { authorize: () => granted })
    const raw = await rawSocket(server.wsUrl, 'waiting')
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (const word of ['one ', 'two ', 'three'])
      doc.getText('notes').insert(doc.getText('notes').length, word)
    for (const u of updates) raw.ws.send(encodeSyncUpdate(u))
    await sleep(100)
    assert.equal(server.rooms.get('waiting'), undefined, 'the pad is not loaded before authorisation')
    grant()
    await waitFor(
      'stored after the grant',
      () => server.rooms.get('waiting')?.doc.getText('notes').toString() === 'one two three',
    )
    assert.equal(raw.closed, null)
    raw.ws.close()
    await server.close()
  })

  test('more than MAX_PREAUTH_MESSAGES queued frames close the socket with 1008; nothing is loaded', async () => {
    const server = await startTestServer({ maxPreAuthMessages: 8 }, { authorize: slowGrant(2000) })
    const raw = await rawSocket(server.wsUrl, 'impatient')
    for (let i = 0; i < 20; i++) raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    await waitFor('closed', () => raw.closed !== null)
    assert.equal(raw.closed?.code, 1008)
    assert.equal(server.rooms.get('impatient'), undefined)
    assert.equal(server.store.exists('impatient'), false)
    await server.close()
  })

  test('a socket not authorised within AUTH_DEADLINE_MS is closed with 1013 (retryable)', async () => {
    const never = () => new Promise<{ ok: true }>(() => {})
    const server = await startTestServer({ authDeadlineMs: 300 }, { authorize: never })
    const raw = await rawSocket(server.wsUrl, 'stalled')
    await waitFor('closed', () => raw.closed !== null, 30_000)
    assert.equal(raw.closed?.code, 1013)
    assert.equal(server.rooms.get('stalled'), undefined)
    await server.close()
  })

  test('a refusal closes with its 44xx code before the pad is loaded, and the stock client stops', async () => {
    const server = await startTestServer(
      {},
      { authorize: () => ({ ok: false, code: 4403, reason: 'forbidden' }) },
    )
    const client = connectClient(server.wsUrl, 'forbidden')
    const closes: number[] = []
    client.provider.on('connection-close', (event) => {
      if (event) closes.push(event.code)
    })
    await waitFor('refused', () => closes.length > 0)
    await new Promise((r) => setTimeout(r, 1500))
    assert.deepEqual(closes, [4403], 'the stock client did not try again')
    assert.equal(server.rooms.get('forbidden'), undefined)
    assert.equal(server.store.exists('forbidden'), false)
    client.destroy()
    await server.close()
  })
})
