/**
 * Control events across servers (issue 25): two servers on one PostgreSQL database, a change made
 * through server A's HTTP API, its effect seen by a stock y-websocket client connected to server B
 * for that pad — a deleted pad (closed 4410, not served again), a closed session (read-only), a
 * reopened one (reconnected writable), a rotated link and a moved pad (the old link's socket cut
 * off). Then the catch-up: B's way to the database cut (a TCP relay the test controls) while A
 * makes the changes, so B's LISTEN misses them, then restored: B applies them after reconnecting.
 * A malformed NOTIFY on the channel disturbs nobody.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { createLogger } from '../server/ops/logger.ts'
import { CONTROL_CHANNEL } from '../server/storage/postgres/control-channel.ts'
import { openPgStorage, type PgStorage } from '../server/storage/postgres/open.ts'
import {
  CLOSE_FORBIDDEN,
  CLOSE_PAD_DELETED,
  CLOSE_REOPENED,
  CLOSE_UNAUTHORIZED,
} from '../server/sync/close-codes.ts'
import { decodeMessage } from '../shared/protocol.ts'
import {
  apiCall,
  type Client,
  connectClient,
  okJson,
  rawSocket,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

const ADMIN = 'organiser-secret-for-control-events'
const admin = { authorization: `Bearer ${ADMIN}` }
/** Generous: a busy 2-core machine, and B's listener backing off up to 5 s while cut. */
const DEADLINE_MS = 30_000

let postgres: TestPostgres
let url: string
let proxy: TcpProxy
let a: TestServer
let b: TestServer
/** What B's storage logged (warnings and errors), as JSON objects. */
const bStorageLog: Record<string, unknown>[] = []

before(async () => {
  postgres = await testPostgres()
  url = await postgres.freshDatabase()
  proxy = await startTcpProxy(postgres.port)
  a = await startTestServer(
    {},
    { adminToken: ADMIN, storage: await openPgStorage({ connectionString: url }) },
  )
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) bStorageLog.push(JSON.parse(line))
      done()
    },
  })
  // B reaches the database only through the relay, so that a test can cut B alone off it.
  const viaProxy = new URL(url)
  viaProxy.port = String(proxy.port)
  b = await startTestServer(
    {},
    {
      adminToken: ADMIN,
      storage: await openPgStorage({
        connectionString: viaProxy.toString(),
        log: createLogger('warn', sink),
      }),
    },
  )
})

after(async () => {
  await b?.close()
  await a?.close()
  await proxy?.close()
  await postgres?.stop()
})

const call = (server: TestServer, method: string, path: string, body?: unknown) =>
  apiCall(server, method, path, body, 'application/json', admin)

let events = 0
/** A new event with one pad (its template stored), and the event's links' tokens. */
async function eventWithPad(): Promise<{ slug: string; padId: string; edit: string; read: string }> {
  const slug = `ev-${++events}`
  okJson(await call(a, 'POST', '/api/events', { slug, name: slug }), 201)
  const pad = okJson<{ id: string }>(
    await call(a, 'POST', `/api/events/${slug}/pads`, { title: `Talk ${events}`, kind: 'talk' }),
    201,
  )
  const links = okJson<{ edit: string; read: string }>(await call(a, 'GET', `/api/events/${slug}/links`))
  const token = (link: string) => new URL(link).searchParams.get('token')!
  return { slug, padId: pad.id, edit: token(links.edit), read: token(links.read) }
}

/** A stock client on `server` with `token`, and the close codes it receives. */
async function editorOn(server: TestServer, padId: string, token: string) {
  const client = connectClient(server.wsUrl, padId, { params: { token } })
  const closes: number[] = []
  client.provider.on('connection-close', (event) => {
    if (event) closes.push(event.code)
  })
  await client.synced()
  return { client, closes }
}

/** Waits for `closes` to hold `code`; the stock client then stops (44xx) or reconnects (41xx). */
async function closedWith(closes: number[], code: number, what: string): Promise<void> {
  await waitFor(what, () => closes.includes(code), DEADLINE_MS)
  assert.deepEqual(closes, [code], what)
}

const textOf = (client: Client) => client.text.toString()

describe('control events between two servers on one PostgreSQL', () => {
  test('a pad deleted through A: its socket on B is closed with 4410 and B does not serve it again', async () => {
    const { padId, edit } = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    try {
      assert.ok(textOf(client).length > 0, 'the template arrived')
      assert.equal((await call(a, 'DELETE', `/api/pads/${padId}`)).status, 204)
      await closedWith(closes, CLOSE_PAD_DELETED, 'the deletion reaching B')
      assert.equal(client.provider.shouldConnect, false, 'the stock client stops on 4410')
      assert.equal(b.rooms.get(padId), undefined, 'B holds the pad no more')
      assert.equal((await call(b, 'GET', `/api/pads/${padId}`)).status, 404)
    } finally {
      client.destroy()
    }
  })

  test("an event deleted through A: its pads' sockets on B are closed with 4410", async () => {
    const { slug, padId, edit } = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    try {
      okJson(await call(a, 'DELETE', `/api/events/${slug}`))
      await closedWith(closes, CLOSE_PAD_DELETED, 'the event deletion reaching B')
    } finally {
      client.destroy()
    }
  })

  test('a session closed through A is read-only on B; reopened, B’s client reconnects writable', async () => {
    const { padId, edit } = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    const raw = await rawSocket(b.wsUrl, padId, { query: `token=${edit}` })
    try {
      const toldReadOnly = () =>
        raw.received.some((frame) => {
          const message = decodeMessage(frame)
          return message.ok && message.value.type === 'auth-denied'
        })
      await waitFor('the raw socket joined', () => raw.received.length > 0, DEADLINE_MS)
      okJson(await call(a, 'POST', `/api/pads/${padId}/close`, {}))
      await waitFor('B telling its sockets the session is read-only', toldReadOnly, DEADLINE_MS)
      assert.equal(b.rooms.get(padId)?.isReadOnly, true)
      assert.equal(closes.length, 0, 'a closed session keeps its readers')

      okJson(await call(a, 'POST', `/api/pads/${padId}/reopen`, {}))
      await closedWith(closes, CLOSE_REOPENED, 'the reopening reaching B')
      await waitFor(
        'the client back',
        () => client.provider.synced && client.provider.wsconnected,
        DEADLINE_MS,
      )
      client.text.insert(0, 'AFTER-REOPEN ')
      // Written through B, read through A from the database.
      await waitFor(
        'the edit stored',
        async () =>
          (await call(a, 'GET', `/api/pads/${padId}/export?format=md`)).text.includes('AFTER-REOPEN'),
        DEADLINE_MS,
      )
    } finally {
      raw.ws.terminate()
      client.destroy()
    }
  })

  test('a link rotated through A: the socket opened with it on B is cut off (4401) and refused again', async () => {
    const { slug, padId, edit, read } = await eventWithPad()
    const old = await editorOn(b, padId, edit)
    const reader = await editorOn(b, padId, read)
    try {
      okJson(await call(a, 'POST', `/api/events/${slug}/links/rotate`, { link: 'edit' }))
      await closedWith(old.closes, CLOSE_UNAUTHORIZED, 'the rotation reaching B')
      assert.equal(reader.client.provider.wsconnected, true, 'the read link was not rotated')
      assert.deepEqual(reader.closes, [])
      const again = connectClient(b.wsUrl, padId, { params: { token: edit } })
      const closes: number[] = []
      again.provider.on('connection-close', (event) => event && closes.push(event.code))
      try {
        await closedWith(closes, CLOSE_UNAUTHORIZED, 'the old link refused by B')
      } finally {
        again.destroy()
      }
    } finally {
      old.client.destroy()
      reader.client.destroy()
    }
  })

  test('a pad moved to another event through A: the old event’s link socket on B is cut off (4403)', async () => {
    const { padId, edit } = await eventWithPad()
    const other = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    try {
      okJson(await call(a, 'PATCH', `/api/pads/${padId}`, { event: other.slug }))
      await closedWith(closes, CLOSE_FORBIDDEN, 'the move reaching B')
    } finally {
      client.destroy()
    }
  })

  test('B cut off from the database while A deletes, closes and rotates: B applies all of it once back', async () => {
    const deleted = await eventWithPad()
    const closed = await eventWithPad()
    const rotated = await eventWithPad()
    const onDeleted = await editorOn(b, deleted.padId, deleted.edit)
    const onClosed = await editorOn(b, closed.padId, closed.edit)
    const onRotated = await editorOn(b, rotated.padId, rotated.edit)
    try {
      proxy.cut()
      // B's listener is down (and stays down: the relay refuses it) while A changes everything.
      assert.equal((await call(a, 'DELETE', `/api/pads/${deleted.padId}`)).status, 204)
      okJson(await call(a, 'POST', `/api/pads/${closed.padId}/close`, {}))
      okJson(await call(a, 'POST', `/api/events/${rotated.slug}/links/rotate`, { link: 'edit' }))
      assert.equal(onDeleted.closes.length + onRotated.closes.length, 0, 'nothing reached B yet')
      assert.equal(b.rooms.get(closed.padId)?.isReadOnly, false, 'nothing reached B yet')
      proxy.restore()
      await closedWith(onDeleted.closes, CLOSE_PAD_DELETED, 'B catching up on the deletion')
      await closedWith(onRotated.closes, CLOSE_UNAUTHORIZED, 'B catching up on the rotation')
      await waitFor(
        'B catching up on the closed session',
        () => b.rooms.get(closed.padId)?.isReadOnly === true,
      )
      assert.deepEqual(onClosed.closes, [], 'the closed session keeps its readers')
    } finally {
      proxy.restore()
      onDeleted.client.destroy()
      onClosed.client.destroy()
      onRotated.client.destroy()
    }
  })

  test("B's listening connection terminated by the database: B listens again and gets the next event", async () => {
    const { padId, edit } = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    const control = (b.storage as PgStorage).control
    const psql = new pg.Client({ connectionString: url })
    await psql.connect()
    try {
      const before = control.listenerPid
      assert.ok(before)
      const { rows } = await psql.query('SELECT pg_terminate_backend($1) AS done', [before])
      assert.deepEqual(rows, [{ done: true }])
      await waitFor(
        'B listening again',
        () => control.listenerPid !== null && control.listenerPid !== before,
        DEADLINE_MS,
      )
      assert.equal((await call(a, 'DELETE', `/api/pads/${padId}`)).status, 204)
      await closedWith(closes, CLOSE_PAD_DELETED, 'the deletion reaching B')
    } finally {
      await psql.end()
      client.destroy()
    }
  })

  test('PostgreSQL restarted as a crash: both servers listen again and events flow', async () => {
    const { slug, padId, edit } = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    try {
      const before = (b.storage as PgStorage).control.listenerPid
      await postgres.restart('immediate')
      await waitFor(
        'B listening again',
        () => {
          const pid = (b.storage as PgStorage).control.listenerPid
          return pid !== null && pid !== before
        },
        DEADLINE_MS,
      )
      // A's pool may hand out a connection the restart killed: the first call can fail.
      await waitFor(
        'the rotation through A',
        async () =>
          (await call(a, 'POST', `/api/events/${slug}/links/rotate`, { link: 'edit' })).status === 200,
        DEADLINE_MS,
      )
      await waitFor('the rotation reaching B', () => closes.includes(CLOSE_UNAUTHORIZED), DEADLINE_MS)
      // B's socket may also have been closed by the restart itself (1011), never by anything else.
      assert.deepEqual(
        closes.filter((code) => code !== 1011),
        [CLOSE_UNAUTHORIZED],
      )
    } finally {
      client.destroy()
    }
  })

  test('a change whose notification was lost (its server died before NOTIFY) is applied by the periodic re-check', async () => {
    const c = await startTestServer(
      { logLevel: 'info' },
      { adminToken: ADMIN, storage: await openPgStorage({ connectionString: url, controlRecheckMs: 300 }) },
    )
    const deleted = await eventWithPad()
    const closed = await eventWithPad()
    const onDeleted = await editorOn(c, deleted.padId, deleted.edit)
    const onClosed = await editorOn(c, closed.padId, closed.edit)
    let passed = false
    try {
      // Committed straight through A's storage: what A did before dying, with no NOTIFY after it.
      assert.equal(await a.storage.meetings.deletePad(deleted.padId), true)
      await a.storage.history.setClosed(closed.padId, Date.now())
      await closedWith(onDeleted.closes, CLOSE_PAD_DELETED, 'C finding the deletion')
      await waitFor(
        'C finding the closed session',
        () => c.rooms.get(closed.padId)?.isReadOnly === true,
        DEADLINE_MS,
      )
      assert.deepEqual(onClosed.closes, [])
      passed = true
    } finally {
      if (!passed)
        console.log(JSON.stringify({ closes: [onDeleted.closes, onClosed.closes], log: c.logLines }))
      onDeleted.client.destroy()
      onClosed.client.destroy()
      await c.close()
    }
  })

  test('a listening connection that goes silent without a reset is found by the heartbeat and replaced', async () => {
    const relay = await startTcpProxy(postgres.port)
    const viaRelay = new URL(url)
    viaRelay.port = String(relay.port)
    const d = await startTestServer(
      {},
      {
        adminToken: ADMIN,
        storage: await openPgStorage({ connectionString: viaRelay.toString(), controlHeartbeatMs: 300 }),
      },
    )
    const control = (d.storage as PgStorage).control
    try {
      const before = control.listenerPid
      assert.ok(before)
      relay.freeze()
      await waitFor('the silent connection given up', () => control.listenerPid === null, DEADLINE_MS)
      relay.restore()
      await waitFor('D listening again', () => control.listenerPid !== null, DEADLINE_MS)
      assert.notEqual(control.listenerPid, before)
      // The pad is opened after D listens again: the event itself must arrive.
      const { padId, edit } = await eventWithPad()
      const { client, closes } = await editorOn(d, padId, edit)
      try {
        assert.equal((await call(a, 'DELETE', `/api/pads/${padId}`)).status, 204)
        await closedWith(closes, CLOSE_PAD_DELETED, 'the deletion reaching D')
      } finally {
        client.destroy()
      }
    } finally {
      await d.close()
      await relay.close()
    }
  })

  test('garbage on the channel is ignored: the servers go on, and the next real event still arrives', async () => {
    const { padId, edit } = await eventWithPad()
    const { client, closes } = await editorOn(b, padId, edit)
    const psql = new pg.Client({ connectionString: url })
    await psql.connect()
    try {
      for (const payload of [
        'garbage',
        '{"v":1}',
        JSON.stringify({ v: 1, from: 'someone', event: { type: 'pad-deleted', padId: '../../etc' } }),
        JSON.stringify({
          v: 1,
          from: 'someone',
          event: { type: 'link-rotated', eventPk: 'all', link: 'edit' },
        }),
        JSON.stringify({ v: 99, from: 'someone', event: { type: 'pad-deleted', padId } }),
        JSON.stringify({ v: 1, from: 'someone', event: { type: 'format-disk' } }),
        'x'.repeat(7_000),
      ])
        await psql.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, payload])
      client.text.insert(0, 'STILL-HERE ')
      await waitFor(
        'an edit through B stored',
        async () => (await call(a, 'GET', `/api/pads/${padId}/export?format=md`)).text.includes('STILL-HERE'),
        DEADLINE_MS,
      )
      assert.deepEqual(closes, [], 'nobody was disturbed')
      // NOTIFY from one session arrives in order: once this one is applied, the garbage was read.
      okJson(await call(a, 'POST', `/api/pads/${padId}/close`, {}))
      await waitFor(
        'the real event after the garbage',
        () => b.rooms.get(padId)?.isReadOnly === true,
        DEADLINE_MS,
      )
      assert.deepEqual(closes, [])
      const ignored = bStorageLog.filter((line) => String(line.msg).startsWith('ignored a message'))
      assert.equal(ignored.length, 7, 'each one logged')
    } finally {
      await psql.end()
      client.destroy()
    }
  })
})
