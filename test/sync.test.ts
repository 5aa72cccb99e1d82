import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as Y from 'yjs'
import {
  decodeMessage,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeSyncStep1,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import {
  connectClient,
  rawSocket,
  startTestServer,
  type TestServer,
  upgradeStatus,
  waitFor,
} from './helpers.ts'

describe('sync with the stock y-websocket client', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
  })
  after(() => server.close())

  test('two clients converge after concurrent edits; a late joiner gets everything', async () => {
    const a = connectClient(server.wsUrl, 'converge')
    const b = connectClient(server.wsUrl, 'converge')
    await Promise.all([a.synced(), b.synced()])
    a.text.insert(0, 'Agenda: cgroups v2\n')
    b.text.insert(0, 'Attendees: Tejun, Johannes\n')
    a.text.insert(a.text.length, 'Decision: ship it\n')
    await waitFor('convergence', () => a.text.toString() === b.text.toString() && a.text.length > 40)
    assert.match(a.text.toString(), /Agenda: cgroups v2/)
    assert.match(a.text.toString(), /Attendees: Tejun, Johannes/)

    const late = connectClient(server.wsUrl, 'converge')
    await late.synced()
    await waitFor('late joiner', () => late.text.toString() === a.text.toString())
    for (const c of [a, b, late]) c.destroy()
  })

  test('awareness appears for others and disappears when a socket is cut without a goodbye', async () => {
    const a = connectClient(server.wsUrl, 'presence', { name: 'Ada' })
    const b = connectClient(server.wsUrl, 'presence', { name: 'Linus' })
    await Promise.all([a.synced(), b.synced()])
    const names = (c: typeof a) =>
      [...c.provider.awareness.getStates().values()]
        .map((s) => (s as { user?: { name: string } }).user?.name)
        .sort()
    await waitFor('both see each other', () => names(a).length === 2 && names(b).length === 2)
    assert.deepEqual(names(a), ['Ada', 'Linus'])
    // terminate(): the TCP connection dies with no close frame and no awareness removal from the client.
    ;(b.provider.ws as unknown as { terminate(): void }).terminate()
    b.provider.shouldConnect = false
    await waitFor('Linus gone for Ada', () => names(a).length === 1, 30_000)
    assert.deepEqual(names(a), ['Ada'])
    a.destroy()
    b.destroy()
  })

  test('a keystroke reaches the others before the cursor move that came with it', async () => {
    // An editor sends its update and its new cursor together; the update waits for its commit,
    // and must not then queue behind the cursor's relay to everyone in the room.
    const typist = await rawSocket(server.wsUrl, 'order')
    const watcher = await rawSocket(server.wsUrl, 'order')
    for (const raw of [typist, watcher]) raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    const kindsOf = (raw: typeof typist) =>
      raw.received.map((f) => decodeMessage(f)).flatMap((m) => (m.ok ? [m.value.type] : []))
    // Served = answered with the pad (step 2), not only greeted with the server's step 1.
    await waitFor('both served', () => [typist, watcher].every((raw) => kindsOf(raw).includes('sync-step2')))
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    const kinds = () => kindsOf(watcher)
    for (let i = 0; i < 5; i++) {
      const seen = kinds().length
      doc.getText('notes').insert(i, 'x')
      typist.ws.send(encodeSyncUpdate(updates.at(-1)!))
      typist.ws.send(
        encodeAwareness(
          encodeAwarenessUpdate([
            { clientId: doc.clientID, clock: i + 1, state: JSON.stringify({ cursor: i }) },
          ]),
        ),
      )
      await waitFor('both relayed', () => kinds().length >= seen + 2)
      assert.deepEqual(kinds().slice(seen, seen + 2), ['sync-update', 'awareness'], `keystroke ${i}`)
    }
    typist.ws.close()
    watcher.ws.close()
  })

  test('pad ids are validated at upgrade: 400 and nothing stored', async () => {
    assert.equal(await upgradeStatus(server.url, '/sync/ok-pad_1.2'), 101)
    for (const bad of [
      'a%2Fb',
      'x'.repeat(101),
      'x'.repeat(10_000),
      'semi;colon',
      '%00',
      'sp%20ace',
      '../x',
      '',
      'a/b',
    ]) {
      assert.equal(await upgradeStatus(server.url, `/sync/${bad}`), 400, bad)
    }
    assert.equal(await upgradeStatus(server.url, '/elsewhere/x'), 404)
    assert.equal(await server.storage.padLog.exists('ok-pad_1.2'), false)
  })

  test('a pad is stored only with its first update', async () => {
    const idle = connectClient(server.wsUrl, 'idle-visitor')
    await idle.synced()
    assert.equal(await server.storage.padLog.exists('idle-visitor'), false)
    idle.text.insert(0, 'x')
    await waitFor('stored', () => server.storage.padLog.exists('idle-visitor'))
    idle.destroy()
  })

  test('log rows record the connection and its user name', async () => {
    const a = connectClient(server.wsUrl, 'authors', { name: 'Ada' })
    await a.synced()
    await waitFor('awareness reached server', () => (server.rooms.get('authors')?.people().length ?? 0) === 1)
    a.text.insert(0, 'hello')
    await waitFor('stored', async () => (await server.storage.padLog.lastSeq('authors')) > 0)
    const rows = await server.storage.history.rows('authors')
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.author, 'Ada')
    assert.match(rows[0]!.conn, /^[0-9a-f]{12}$/)
    a.destroy()
  })

  test('healthz answers with a JSON status', async () => {
    const res = await fetch(`${server.url}/healthz`)
    assert.equal(res.status, 200)
    const body = (await res.json()) as { status: string }
    assert.equal(body.status, 'ok')
    const missing = await fetch(`${server.url}/nope`)
    assert.equal(missing.status, 404)
    assert.deepEqual(Object.keys(((await missing.json()) as { error: object }).error).sort(), [
      'code',
      'message',
    ])
  })
})

describe('restarts', () => {
  test('a graceful shutdown closes clients with 1012, they reconnect, and nothing is lost', async () => {
    const first = await startTestServer()
    const a = connectClient(first.wsUrl, 'restart')
    await a.synced()
    a.text.insert(0, 'before restart\n')
    await waitFor('stored', async () => (await first.storage.padLog.lastSeq('restart')) > 0)
    const codes: number[] = []
    a.provider.on('connection-close', (event) => {
      if (event) codes.push(event.code)
    })
    await first.close()
    await waitFor('close event', () => codes.length > 0)
    assert.equal(codes[0], 1012)
    // Edits made while the server is down reach it after the restart (the client resends on sync).
    a.text.insert(a.text.length, 'while down\n')
    const second = await startTestServer({ dataDir: first.dataDir, port: first.port })
    await waitFor(
      'server has offline edit',
      () => {
        const room = second.rooms.get('restart')
        return room?.doc.getText('notes').toString() === 'before restart\nwhile down\n'
      },
      15_000,
    )
    a.destroy()
    const fresh = connectClient(second.wsUrl, 'restart')
    await fresh.synced()
    assert.equal(fresh.text.toString(), 'before restart\nwhile down\n')
    fresh.destroy()
    await second.close()
  })

  test('a pad with 50,000 updates in its log loads and syncs', async () => {
    const server = await startTestServer()
    // Write the log directly: 50,000 one-character inserts, as typing would produce them.
    const doc = new Y.Doc()
    const text = doc.getText('notes')
    const rows: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => rows.push(u))
    for (let i = 0; i < 50_000; i++)
      text.insert(i % 7 === 0 ? 0 : text.length, String.fromCharCode(97 + (i % 26)))
    const expected = text.toString()
    for (let i = 0; i < rows.length; i += 5000) {
      await server.storage.padLog.appendBatch(
        rows
          .slice(i, i + 5000)
          .map((data) => ({ padId: 'big', at: Date.now(), conn: 'bench', author: null, data })),
      )
    }
    const c = connectClient(server.wsUrl, 'big')
    await c.synced()
    await waitFor('content', () => c.text.length === 50_000, 60_000)
    assert.equal(c.text.toString(), expected)
    c.destroy()
    await server.close()
  })
})

describe('keepalive', () => {
  test('a lone client stays connected past 30 s', { timeout: 60_000 }, async () => {
    const server = await startTestServer()
    const c = connectClient(server.wsUrl, 'lonely', { name: 'Solo' })
    await c.synced()
    let closes = 0
    c.provider.on('connection-close', () => {
      closes++
    })
    await new Promise((resolve) => setTimeout(resolve, 36_000))
    assert.equal(closes, 0, 'the client reconnected: it heard nothing for 30 s')
    assert.equal(c.provider.wsconnected, true)
    c.destroy()
    await server.close()
  })
})
