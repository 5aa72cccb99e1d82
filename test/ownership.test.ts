/**
 * Edits and presence belong to their writer; only text in the notes; slow readers bounded
 * (issue 21). Real server on port 0, real SQLite, stock y-websocket clients (with a `writer`
 * key in their params, as the editor sends it) and raw sockets for what a script would send.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import * as Y from 'yjs'
import { DB_FILE_NAME } from '../server/storage/db.ts'
import { CLOSE_BAD_WRITER_KEY, CLOSE_NOT_TEXT, CLOSE_NOT_YOUR_EDITS } from '../server/sync/close-codes.ts'
import {
  decodeAwarenessUpdate,
  decodeMessage,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import {
  apiCall,
  type Client,
  connectClient,
  type RawSocket,
  rawSocket,
  sleep,
  startTestServer,
  type TestServer,
  tempDir,
  waitFor,
} from './helpers.ts'

const servers = new Set<TestServer>()
const clients = new Set<Client>()
const raws = new Set<RawSocket>()
after(async () => {
  for (const c of clients) destroy(c)
  for (const r of raws) r.ws.terminate()
  for (const s of servers) await s.close()
})

async function start(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const server = await startTestServer(...args)
  servers.add(server)
  return server
}

async function stop(server: TestServer): Promise<void> {
  servers.delete(server)
  await server.close()
}

/** Stock client teardown that survives Yjs having changed its client id under it. */
function destroy(c: Client): void {
  for (const step of [
    () => {
      c.provider.shouldConnect = false
    },
    () => c.provider.destroy(),
    () => c.doc.destroy(),
  ]) {
    try {
      step()
    } catch {
      // the next step still runs
    }
  }
  clients.delete(c)
}

const newKey = () => randomBytes(32).toString('base64url')

/** A stock client; with `key`, it sends it as the editor does. */
function client(server: TestServer, pad: string, key: string | null, name: string, doc?: Y.Doc): Client {
  const c = connectClient(server.wsUrl, pad, {
    name,
    ...(doc ? { doc } : {}),
    ...(key ? { params: { writer: key } } : {}),
  })
  clients.add(c)
  return c
}

async function raw(server: TestServer, pad: string, query?: string): Promise<RawSocket> {
  const r = await rawSocket(server.wsUrl, pad, query ? { query } : {})
  raws.add(r)
  return r
}

const roomText = (server: TestServer, pad: string) =>
  server.rooms.get(pad)?.doc.getText('notes').toString() ?? ''

function storedText(server: TestServer, pad: string): string {
  void server.rooms.flush()
  const doc = new Y.Doc()
  const stored = server.store.load(pad)
  if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
  for (const row of stored?.updates ?? []) Y.applyUpdate(doc, row.data)
  return doc.getText('notes').toString()
}

/**
 * An update that writes `text` under `victim`'s client id at its next clock as the server knows
 * it: what someone squatting a colleague's id sends.
 */
function squat(server: TestServer, pad: string, victim: number, text: string): Uint8Array {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(server.rooms.get(pad)!.doc))
  doc.clientID = victim
  const before = Y.encodeStateVector(doc)
  doc.getText('notes').insert(0, text)
  return Y.encodeStateAsUpdate(doc, before)
}

const closedWith = (r: RawSocket, code: number) =>
  waitFor(`socket closed with ${code}`, () => r.closed?.code === code)

/** Whether the server's doc covers all of `c`'s own clocks (its edits are stored, or queued to be). */
const serverCovers = (server: TestServer, pad: string, c: Client) =>
  Y.getState(server.rooms.get(pad)!.doc.store, c.doc.clientID) === Y.getState(c.doc.store, c.doc.clientID)

describe('edits belong to their writer', () => {
  test('offline squat: while B is offline, A writes under B’s id at B’s next clocks; B’s offline lines survive everywhere', async () => {
    const server = await start()
    const pad = 'own-offline-squat'
    const b = client(server, pad, newKey(), 'B')
    const c = client(server, pad, null, 'C')
    await Promise.all([b.synced(), c.synced()])
    b.text.insert(0, 'B online.\n')
    await waitFor('B’s line everywhere', () => c.text.toString() === 'B online.\n')
    const bId = b.doc.clientID
    b.provider.disconnect()
    b.text.insert(b.text.length, 'B typed this offline.\n')

    // A, with a key of its own and then without one: a live update is refused with a 44xx code.
    for (const query of [`writer=${newKey()}`, undefined]) {
      const a = await raw(server, pad, query)
      a.ws.send(encodeSyncUpdate(squat(server, pad, bId, 'SQUAT ')))
      await closedWith(a, CLOSE_NOT_YOUR_EDITS)
    }
    // The same as a sync step 2: dropped, the rest of it kept, the sender left connected.
    const a2 = await raw(server, pad, `writer=${newKey()}`)
    a2.ws.send(encodeSyncStep2(squat(server, pad, bId, 'SQUAT ')))
    await sleep(300)
    assert.equal(a2.closed, null)
    assert.doesNotMatch(roomText(server, pad), /SQUAT/)

    b.provider.connect()
    const want = 'B online.\nB typed this offline.\n'
    await waitFor('B’s offline line reaches the server and C', () => c.text.toString() === want)
    await waitFor('B has saved', () => b.provider.synced && serverCovers(server, pad, b))
    assert.equal(b.text.toString(), want)
    assert.equal(b.doc.clientID, bId, 'Yjs moved B to a new id: it saw its own id in someone else’s edits')
    assert.equal(storedText(server, pad), want)
  })

  test('in flight: A writes at B’s next clock before B’s keystroke arrives; B’s keystroke is kept', async () => {
    const server = await start()
    const pad = 'own-in-flight'
    const key = newKey()
    const observer = client(server, pad, null, 'O')
    await observer.synced()
    // B as the wire sees it: its own doc and id, frames sent by hand so A can get in between.
    const bDoc = new Y.Doc()
    const b = await raw(server, pad, `writer=${key}`)
    const state = (clock: number) =>
      encodeAwareness(
        encodeAwarenessUpdate([{ clientId: bDoc.clientID, clock, state: '{"user":{"name":"B"}}' }]),
      )
    b.ws.send(state(1))
    await waitFor('B present', () =>
      server.rooms
        .get(pad)!
        .people()
        .some((p) => p.clientId === bDoc.clientID),
    )

    // B's very first keystroke is still on its way: the id is new to the pad, but it is B's.
    const a1 = await raw(server, pad)
    a1.ws.send(encodeSyncUpdate(squat(server, pad, bDoc.clientID, 'SQUAT1 ')))
    await closedWith(a1, CLOSE_NOT_YOUR_EDITS)
    const typed: Uint8Array[] = []
    bDoc.on('update', (u: Uint8Array) => typed.push(u))
    bDoc.getText('notes').insert(0, 'first ')
    b.ws.send(encodeSyncUpdate(typed.at(-1)!))
    await waitFor('B’s first keystroke', () => observer.text.toString() === 'first ')

    // Later keystrokes: A's squat at B's next clock lands just before B's own.
    const a2 = await raw(server, pad, `writer=${newKey()}`)
    a2.ws.send(encodeSyncUpdate(squat(server, pad, bDoc.clientID, 'SQUAT2 ')))
    bDoc.getText('notes').insert(6, 'second')
    b.ws.send(encodeSyncUpdate(typed.at(-1)!))
    await closedWith(a2, CLOSE_NOT_YOUR_EDITS)
    await waitFor('B’s second keystroke', () => observer.text.toString() === 'first second')
    assert.equal(b.closed, null)
    assert.equal(storedText(server, pad), 'first second')
  })

  test('ownership is kept in storage: after a restart the squat is still refused', async () => {
    const dataDir = tempDir()
    const first = await start({ dataDir })
    const pad = 'own-restart'
    const b = client(first, pad, newKey(), 'B')
    await b.synced()
    b.text.insert(0, 'mine')
    await waitFor('stored', () => serverCovers(first, pad, b))
    const bId = b.doc.clientID
    destroy(b)
    await stop(first)
    const second = await start({ dataDir })
    const observer = client(second, pad, null, 'O')
    await waitFor('loaded', () => observer.text.toString() === 'mine')
    const a = await raw(second, pad)
    a.ws.send(encodeSyncUpdate(squat(second, pad, bId, 'SQUAT ')))
    await closedWith(a, CLOSE_NOT_YOUR_EDITS)
    assert.equal(roomText(second, pad), 'mine')
  })

  test('reload with offline edits: a new page (new client id) delivers the old id’s edits with the same key', async () => {
    const server = await start()
    const pad = 'own-reload'
    const key = newKey()
    const other = client(server, pad, null, 'O')
    const page1 = client(server, pad, key, 'B')
    await Promise.all([other.synced(), page1.synced()])
    page1.text.insert(0, 'online. ')
    await waitFor('online line', () => other.text.toString() === 'online. ')
    page1.provider.disconnect()
    page1.text.insert(page1.text.length, 'offline.')
    // The browser's copy (IndexedDB) survives the reload; the new page has a new Y.Doc.
    const kept = Y.encodeStateAsUpdate(page1.doc)
    destroy(page1)
    const doc2 = new Y.Doc()
    Y.applyUpdate(doc2, kept)
    // Someone else's browser with the same copy (another key) cannot deliver them...
    const stranger = client(
      server,
      pad,
      newKey(),
      'S',
      (() => {
        const d = new Y.Doc()
        Y.applyUpdate(d, kept)
        return d
      })(),
    )
    await stranger.synced()
    await sleep(300)
    assert.equal(roomText(server, pad), 'online. ')
    destroy(stranger)
    // ...this browser's next page does.
    const page2 = client(server, pad, key, 'B', doc2)
    await waitFor('offline line delivered', () => other.text.toString() === 'online. offline.')
    await waitFor('page 2 saved', () => page2.provider.synced)
    assert.equal(storedText(server, pad), 'online. offline.')
  })

  test('reload with edits that never reached the server: a brand-new id arriving in a step 2 is accepted', async () => {
    const server = await start()
    const pad = 'own-reload-new'
    const key = newKey()
    const other = client(server, pad, null, 'O')
    await other.synced()
    const doc1 = new Y.Doc()
    doc1.getText('notes').insert(0, 'typed before ever connecting')
    const doc2 = new Y.Doc()
    Y.applyUpdate(doc2, Y.encodeStateAsUpdate(doc1))
    client(server, pad, key, 'B', doc2)
    await waitFor('delivered', () => other.text.toString() === 'typed before ever connecting')
  })

  test('two tabs share the key: tab 2 delivers tab 1’s offline edits (heard over the BroadcastChannel)', async () => {
    const server = await start()
    const pad = 'own-two-tabs'
    const key = newKey()
    const other = client(server, pad, null, 'O')
    const tab1 = client(server, pad, key, 'B')
    const tab2 = client(server, pad, key, 'B')
    await Promise.all([other.synced(), tab1.synced(), tab2.synced()])
    tab1.text.insert(0, 'tab one. ')
    await waitFor('tab 1 online', () => other.text.toString() === 'tab one. ')
    tab1.provider.disconnect()
    tab2.provider.disconnect()
    // Offline: tab 1 types; tab 2 hears it as a remote change (not re-sent as its own update).
    tab1.doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== tab2.provider) Y.applyUpdate(tab2.doc, u, tab2.provider)
    })
    tab1.text.insert(tab1.text.length, 'tab one offline. ')
    tab2.text.insert(tab2.text.length, 'tab two offline.')
    tab2.provider.connect()
    const want = 'tab one. tab one offline. tab two offline.'
    await waitFor('tab 2 delivers both', () => other.text.toString() === want)
    tab1.provider.connect()
    await waitFor('tab 1 back', () => tab1.provider.synced && tab1.text.toString() === want)
    assert.equal(storedText(server, pad), want)
  })

  test('a stock bot: keyless, it reconnects and types as before; with a key, it is protected', async () => {
    const server = await start()
    const pad = 'own-bot'
    const keyless = client(server, pad, null, 'bot')
    const keyed = client(server, pad, newKey(), 'bot2')
    await Promise.all([keyless.synced(), keyed.synced()])
    keyless.text.insert(0, 'k1 ')
    keyed.text.insert(0, 'p1 ')
    await waitFor('both', () => roomText(server, pad).length === 6)
    for (const bot of [keyless, keyed]) {
      bot.provider.disconnect()
      bot.text.insert(0, bot === keyless ? 'k2 ' : 'p2 ')
      bot.provider.connect()
    }
    await waitFor(
      'after reconnecting',
      () => /k2/.test(roomText(server, pad)) && /p2/.test(roomText(server, pad)),
    )
    // The keyed bot's id is refused to others; the keyless one's stays open, as it always was.
    const a = await raw(server, pad)
    a.ws.send(encodeSyncUpdate(squat(server, pad, keyed.doc.clientID, 'SQUAT ')))
    await closedWith(a, CLOSE_NOT_YOUR_EDITS)
    const b = await raw(server, pad)
    b.ws.send(encodeSyncUpdate(squat(server, pad, keyless.doc.clientID, 'OPEN ')))
    await waitFor('keyless id written by another', () => /OPEN/.test(roomText(server, pad)))
    assert.equal(b.closed, null)
  })

  test('restore from a backup: clients re-send others’ edits the backup lacks; nobody is refused, nothing is lost', async () => {
    const dataDir = tempDir()
    let server = await start({ dataDir })
    const pad = 'own-restore'
    const a = client(server, pad, newKey(), 'A')
    const b = client(server, pad, newKey(), 'B')
    const closes: number[] = []
    for (const c of [a, b]) c.provider.on('connection-close', (e) => e && closes.push(e.code))
    await Promise.all([a.synced(), b.synced()])
    a.text.insert(0, '[a1]')
    b.text.insert(0, '[b1]')
    await waitFor(
      'both lines',
      () => a.text.length === 8 && b.text.length === 8 && roomText(server, pad).length === 8,
    )
    await server.rooms.flush()
    const backup = path.join(tempDir(), 'backup.sqlite')
    server.db.exec(`VACUUM INTO '${backup}'`)
    a.text.insert(a.text.length, '[a2]')
    b.text.insert(0, '[b2]')
    await waitFor('after the backup', () => a.text.toString() === b.text.toString() && a.text.length === 16)
    const want = a.text.toString()

    // Restore: stop, put the backup in place, start on the same port (the clients reconnect).
    const port = new URL(server.url).port
    await stop(server)
    b.provider.disconnect()
    for (const suffix of ['', '-wal', '-shm'])
      fs.rmSync(path.join(dataDir, DB_FILE_NAME + suffix), { force: true })
    fs.copyFileSync(backup, path.join(dataDir, DB_FILE_NAME))
    server = await start({ dataDir, port: Number(port) })
    // A comes back first: its step 2 holds B's [b2], which only B may write. A is not refused.
    await waitFor('A back', () => a.provider.synced && /\[a2\]/.test(roomText(server, pad)))
    assert.doesNotMatch(roomText(server, pad), /\[b2\]/)
    b.provider.connect()
    await waitFor('B back: everything is there', () => roomText(server, pad) === want, 15_000)
    assert.equal(storedText(server, pad), want)
    assert.deepEqual(
      closes.filter((code) => code >= 4400 && code < 4500),
      [],
      'a client was refused for good',
    )
  })

  test('a malformed writer key is refused with 4400 before the pad is touched', async () => {
    const server = await start()
    const r = await raw(server, 'own-bad-key', 'writer=short')
    await closedWith(r, CLOSE_BAD_WRITER_KEY)
    assert.equal(server.store.exists('own-bad-key'), false)
  })
})

/** The awareness states the server relays to a raw socket, newest last, per client id. */
function heardStates(r: RawSocket): Map<number, string> {
  const states = new Map<number, string>()
  for (const frame of r.received) {
    const m = decodeMessage(frame)
    if (!m.ok || m.value.type !== 'awareness') continue
    const entries = decodeAwarenessUpdate(m.value.update)
    if (entries.ok) for (const e of entries.value) states.set(e.clientId, e.state)
  }
  return states
}

const aw = (clientId: number, clock: number, state: unknown) =>
  encodeAwareness(encodeAwarenessUpdate([{ clientId, clock, state: JSON.stringify(state) }]))

describe('presence belongs to its socket', () => {
  const viewerAuth = {
    authorize: ({ req }: { req: { url?: string } }) =>
      req.url?.includes('viewer=1') ? { ok: true as const, readOnly: true } : { ok: true as const },
  }

  test('a viewer cannot rewrite, remove or re-introduce an editor’s presence; an editor cannot strip a viewer’s flag', async () => {
    const server = await start({}, viewerAuth)
    const pad = 'own-presence'
    const editor = await raw(server, pad)
    const viewer = await raw(server, pad, 'viewer=1')
    const watcher = await raw(server, pad)
    editor.ws.send(aw(101, 1, { user: { name: 'Editor', color: '#112233' } }))
    viewer.ws.send(aw(202, 1, { user: { name: 'Viewer' } }))
    await waitFor('both present', () => heardStates(watcher).has(101) && heardStates(watcher).has(202))
    assert.match(heardStates(watcher).get(202)!, /"viewer":true/)

    viewer.ws.send(aw(101, 5, { user: { name: 'Editor', viewer: true } }))
    viewer.ws.send(encodeAwareness(encodeAwarenessUpdate([{ clientId: 101, clock: 6, state: 'null' }])))
    viewer.ws.send(aw(101, 2 ** 40, { user: { name: 'Hijacked' } }))
    editor.ws.send(aw(202, 9, { user: { name: 'Viewer' } }))
    editor.ws.send(aw(101, 2, { user: { name: 'Editor again', color: '#112233' } }))
    await waitFor('the editor’s own update', () => /Editor again/.test(heardStates(watcher).get(101) ?? ''))
    const states = heardStates(watcher)
    assert.doesNotMatch(states.get(101)!, /viewer|Hijacked/)
    assert.match(states.get(202)!, /"viewer":true/)
    assert.equal(editor.closed, null, 'stock clients echo others’ states: never closed for it')
    assert.equal(viewer.closed, null)
    assert.deepEqual(
      server.rooms
        .get(pad)!
        .people()
        .map((p) => p.name)
        .sort(),
      ['Editor again', 'Viewer'],
    )
  })

  test('while a writer reconnects, nobody else can take her id’s presence', async () => {
    const server = await start()
    const pad = 'own-presence-reconnect'
    const b = client(server, pad, newKey(), 'B')
    const watcher = await raw(server, pad)
    await b.synced()
    b.text.insert(0, 'mine')
    await waitFor('stored', () => serverCovers(server, pad, b))
    const id = b.doc.clientID
    b.provider.disconnect()
    await waitFor('B’s presence removed', () => heardStates(watcher).get(id) === 'null')
    const thief = await raw(server, pad, `writer=${newKey()}`)
    thief.ws.send(aw(id, 2 ** 40, { user: { name: 'Thief' } }))
    await sleep(300)
    assert.equal(heardStates(watcher).get(id), 'null')
    b.provider.connect()
    await waitFor('B present again', () => /"name":"B"/.test(heardStates(watcher).get(id) ?? ''))
    b.provider.awareness.setLocalStateField('user', { name: 'B renamed', color: '#3366cc' })
    await waitFor('B’s own update shown', () => /B renamed/.test(heardStates(watcher).get(id) ?? ''))
    assert.equal(thief.closed, null)
  })

  test('a cursor that does not decode is dropped, a real one relayed', async () => {
    const server = await start()
    const pad = 'own-cursor'
    const sender = await raw(server, pad)
    const watcher = client(server, pad, null, 'W')
    await watcher.synced()
    const good = {
      anchor: { type: null, tname: 'notes', item: null, assoc: 0 },
      head: { item: { client: 5, clock: 3 } },
    }
    const bad = [
      { anchor: 'x', head: 'y' },
      { anchor: { item: { client: 'a', clock: 1 } }, head: { item: null, tname: 'notes' } },
      { anchor: { item: { client: 1, clock: 1.5 } }, head: { tname: 'notes' } },
      { anchor: { tname: 'other' }, head: { tname: 'notes' } },
      { anchor: { type: { client: 1, clock: 1 }, tname: null, item: null }, head: { tname: 'notes' } },
      [1, 2],
    ]
    let clock = 1
    for (const cursor of bad) {
      sender.ws.send(aw(303, clock++, { user: { name: 'S' }, cursor }))
      await waitFor('relayed', () => watcher.provider.awareness.getStates().get(303)?.user?.name === 'S')
      // Yjs' own decoder, as every editor's remote-cursor code calls it, must not see it.
      assert.equal(watcher.provider.awareness.getStates().get(303)?.cursor, undefined, JSON.stringify(cursor))
      sender.ws.send(aw(303, clock++, { user: { name: 'reset' } }))
      await waitFor('reset', () => watcher.provider.awareness.getStates().get(303)?.user?.name === 'reset')
    }
    sender.ws.send(aw(303, clock++, { user: { name: 'S' }, cursor: good }))
    await waitFor(
      'good cursor relayed',
      () => watcher.provider.awareness.getStates().get(303)?.cursor !== undefined,
    )
    assert.deepEqual(watcher.provider.awareness.getStates().get(303)?.cursor, good)
    assert.equal(sender.closed, null)
  })
})

describe('only text in notes', () => {
  const attempts: [string, (text: Y.Text, doc: Y.Doc) => void][] = [
    ['an embed', (t) => t.insertEmbed(t.length, { image: 'x.png' })],
    ['formatting', (t) => t.format(0, 2, { bold: true })],
    ['text with attributes', (t) => t.insert(0, 'bold', { bold: true })],
    ['a nested type', (t) => t.insertEmbed(0, new Y.Map())],
    ['a map entry', (t) => t.setAttribute('k', 'v')],
    // Editors trust what the server's map says (who restored what): nobody else may add to it.
    [
      'a forged restore notice',
      (_t, doc) => doc.getMap('summitpad').set('restore', { by: 'Mallory', seq: 1, versionAt: null, at: '' }),
    ],
  ]
  for (const [what, edit] of attempts) {
    test(`${what} in notes is refused whole (4415), others unaffected`, async () => {
      const server = await start()
      const pad = `own-notes-${what.replace(/\W+/g, '-')}`
      const honest = client(server, pad, null, 'H')
      await honest.synced()
      honest.text.insert(0, 'hello world')
      await waitFor('honest text', () => roomText(server, pad) === 'hello world')
      const attacker = client(server, pad, null, 'A')
      const closes: number[] = []
      attacker.provider.on('connection-close', (e) => e && closes.push(e.code))
      await attacker.synced()
      // One transaction: some plain text with the forbidden content, so "whole" is tested.
      attacker.doc.transact(() => {
        attacker.text.insert(attacker.text.length, ' PLAIN')
        edit(attacker.text, attacker.doc)
      })
      await waitFor('attacker refused', () => closes.includes(CLOSE_NOT_TEXT))
      honest.text.insert(honest.text.length, '!')
      await waitFor('honest still typing', () => roomText(server, pad) === 'hello world!')
      const room = server.rooms.get(pad)!.doc.getText('notes')
      assert.equal(room.length, room.toString().length)
      assert.equal(storedText(server, pad), 'hello world!')
      assert.equal(honest.text.toString(), 'hello world!')
    })
  }

  test('other shared types are kept as before; a pad already stored with an embed still loads and exports', async () => {
    const server = await start()
    const pad = 'own-notes-legacy'
    const bot = client(server, pad, null, 'bot')
    await bot.synced()
    bot.doc.getMap('meta').set('agenda', { items: 3 })
    bot.doc.getArray('votes').push([new Y.Map()])
    await waitFor(
      'other types stored',
      () => server.rooms.get(pad)!.doc.getMap('meta').get('agenda') !== undefined,
    )
    destroy(bot)

    // A pad written before this rule: an embed in notes, straight into the store.
    const legacy = new Y.Doc()
    legacy.getText('notes').insert(0, 'old minutes')
    legacy.getText('notes').insertEmbed(3, { image: 'x.png' })
    server.store.append([
      { padId: 'own-legacy', at: Date.now(), conn: 'old', author: null, data: Y.encodeStateAsUpdate(legacy) },
    ])
    const reader = client(
      server,
      'own-legacy',
      null,
      'R',
      (() => {
        const d = new Y.Doc()
        Y.applyUpdate(d, Y.encodeStateAsUpdate(legacy))
        return d
      })(),
    )
    const closes: number[] = []
    reader.provider.on('connection-close', (e) => e && closes.push(e.code))
    await reader.synced()
    reader.text.insert(0, 'new ')
    await waitFor('new text on the old pad', () => roomText(server, 'own-legacy').startsWith('new old'))
    assert.deepEqual(closes, [], 're-sending stored content was refused')
    const exported = await apiCall(server, 'GET', '/api/pads/own-legacy/export?format=md')
    assert.equal(exported.status, 200)
    assert.match(exported.text, /new old/)
  })
})

describe('slow readers', () => {
  test('a socket that stops reading in a busy pad is dropped past its bound and catches up on reconnect', async () => {
    // A small pad limit so the bound (MAX_PAD_BYTES + 1 MiB) is reached quickly.
    const maxPadBytes = 256 * 1024
    const server = await start({
      maxPadBytes,
      maxFrameBytes: maxPadBytes + 1024 * 1024,
      messageRate: 1000,
      messageBurst: 1000,
    })
    const pad = 'own-slow'
    const writer = client(server, pad, null, 'W')
    const watcher = client(server, pad, null, 'X')
    await Promise.all([writer.synced(), watcher.synced()])
    writer.text.insert(0, 'x'.repeat(100 * 1024))
    await waitFor('pad filled', () => roomText(server, pad).length === 100 * 1024)

    const slow = await raw(server, pad)
    // The TCP socket under it stops reading: the kernel buffers fill, then the server's.
    ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const asks = encodeSyncStep1(new Uint8Array([0]))
    const bound = maxPadBytes + 1024 * 1024
    let typed = 0
    const deadline = Date.now() + 60_000
    // Each ask is answered with the whole pad (100 KiB) and the writer keeps typing.
    while (server.rooms.get(pad)!.peerCount >= 3 && Date.now() < deadline && typed < 5000) {
      for (let i = 0; i < 20; i++) slow.ws.send(asks)
      writer.text.insert(typed % 100, `[${typed++}]`)
      await sleep(10)
    }
    await waitFor('slow socket dropped', () => server.rooms.get(pad)!.peerCount === 2, 30_000)
    assert.ok(
      server.logLines.some(
        (l) => l.msg === 'closing a client that reads too slowly' && (l.buffered as number) <= bound,
      ),
      'dropped at its bound',
    )
    // The others were never disturbed, and a reconnecting reader syncs normally.
    writer.text.insert(0, 'after ')
    await waitFor('watcher up to date', () => watcher.text.toString() === writer.text.toString())
    const back = client(server, pad, null, 'back')
    await back.synced()
    await waitFor('caught up', () => back.text.toString() === writer.text.toString())
  })
})
