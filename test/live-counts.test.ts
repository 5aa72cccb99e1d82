/**
 * Two servers on one PostgreSQL database (in this process, each with its own storage bundle as
 * two processes would have), with the pads spread over them as HAProxy's pad affinity spreads
 * them: the event page served by one counts the people on the other; a server that stops (closed,
 * or killed with -9) stops counting; one address's sockets and new pads are limited across both,
 * within the stated bound (two publish rounds of the other server's admissions; here none is
 * admitted meanwhile, so the cap is exact); with PostgreSQL down each falls back to its own count.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { textUpdate } from '../server/meetings/templates.ts'
import { LIVE_COUNTS_STALE_MS } from '../server/storage/live-counts.ts'
import { openPgStorage } from '../server/storage/postgres/open.ts'
import { CLOSE_TOO_MANY_NEW_PADS } from '../server/sync/close-codes.ts'
import { encodeSyncUpdate } from '../shared/protocol.ts'
import {
  apiCall,
  type Client,
  connectClient,
  okJson,
  type RawSocket,
  rawSocket,
  startTestServer,
  type TestServer,
  tempDir,
  upgradeStatus,
  waitFor,
} from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'
import { spawnServer } from './server-process.ts'

/** Generous: a publish round every 2 s, staleness 6 s, on a busy shared machine. */
const SEEN_MS = 30_000
const EVENT = 'lpc-2026'

let pg: TestPostgres
before(async () => {
  pg = await testPostgres()
})
after(async () => {
  await pg?.stop()
})

async function serverOn(
  url: string,
  overrides: Parameters<typeof startTestServer>[0] = {},
): Promise<TestServer> {
  return startTestServer(overrides, { storage: await openPgStorage({ connectionString: url }) })
}

type PresenceAnswer = { pads: Record<string, { count: number; people: string[] }> }

async function eventPresence(server: { url: string }): Promise<PresenceAnswer['pads']> {
  return okJson<PresenceAnswer>(await apiCall(server, 'GET', `/api/events/${EVENT}/presence`)).pads
}

async function createEventAndPad(server: { url: string }, padId: string): Promise<void> {
  const event = await apiCall(server, 'GET', `/api/events/${EVENT}`)
  if (event.status === 404)
    okJson(await apiCall(server, 'POST', '/api/events', { slug: EVENT, name: 'Linux Plumbers' }), 201)
  okJson(
    await apiCall(server, 'POST', `/api/events/${EVENT}/pads`, { id: padId, title: padId, kind: 'talk' }),
    201,
  )
}

/** The status of a websocket upgrade sent from `localAddress` (a loopback address of its own). */
function upgradeFrom(baseUrl: string, padId: string, localAddress = '127.0.0.1'): Promise<number> {
  return upgradeStatus(baseUrl, `/sync/${padId}`, {}, localAddress)
}

describe('live counts and per-address limits across two servers on one PostgreSQL', () => {
  const clients: Client[] = []
  const sockets: RawSocket[] = []
  const servers: TestServer[] = []
  after(async () => {
    for (const c of clients) c.destroy()
    for (const s of sockets) s.ws.terminate()
    for (const s of servers) await s.close()
  })
  const two = async (overrides: Parameters<typeof startTestServer>[0] = {}) => {
    const url = await pg.freshDatabase()
    const a = await serverOn(url, overrides)
    const b = await serverOn(url, overrides)
    servers.push(a, b)
    return { url, a, b }
  }

  test("the event page served by A counts the people on B's pad, and stops when B closes", async () => {
    const { a, b } = await two()
    await createEventAndPad(a, 'bof-sched-ext')
    for (const name of ['Ana', 'Bo', 'Chen']) {
      const client = connectClient(b.wsUrl, 'bof-sched-ext', { name })
      clients.push(client)
      await client.synced()
    }
    // B counts them itself at once; A once B has published.
    assert.equal((await eventPresence(b))['bof-sched-ext']?.count, 3)
    let pads: PresenceAnswer['pads'] = {}
    await waitFor(
      "A's event page to count B's three people",
      async () => {
        pads = await eventPresence(a)
        return pads['bof-sched-ext']?.count === 3
      },
      SEEN_MS,
    )
    assert.deepEqual([...(pads['bof-sched-ext']?.people ?? [])].sort(), ['Ana', 'Bo', 'Chen'])
    const one = okJson<{ count: number }>(await apiCall(a, 'GET', '/api/pads/bof-sched-ext/presence'))
    assert.equal(one.count, 3, "the pad's own presence answer on A counts them too")

    await b.close()
    // A graceful close withdraws B's numbers: gone at once, not after the staleness bound.
    assert.equal((await eventPresence(a))['bof-sched-ext']?.count, 0)
  })

  test('maxConnectionsPerIp caps one address across both servers', async () => {
    const max = 6
    const { a, b } = await two({ maxConnectionsPerIp: max })
    // A NAT'd room: four sockets (four pads) on A, two on B, all from 127.0.0.1.
    for (let i = 0; i < 4; i++) sockets.push(await rawSocket(a.wsUrl, `room-a-${i}`))
    for (let i = 0; i < 2; i++) sockets.push(await rawSocket(b.wsUrl, `room-b-${i}`))
    // Each server refuses a seventh once it has heard of the other's sockets (within two rounds;
    // an accepted probe closes at once, so probing adds nothing).
    for (const [name, server] of [
      ['B', b],
      ['A', a],
    ] as const) {
      await waitFor(
        `${name} to refuse a seventh socket from the address`,
        async () => (await upgradeFrom(server.url, 'room-probe')) === 429,
        SEEN_MS,
      )
    }
    // Per address: another attendee's socket still gets in on either server.
    assert.equal(await upgradeFrom(a.url, 'room-other', '127.0.0.2'), 101)
    assert.equal(await upgradeFrom(b.url, 'room-other', '127.0.0.2'), 101)
    // A socket closing frees a slot for the address, on the other server too.
    const closing = sockets.splice(0, 1)[0]!
    closing.ws.close()
    await waitFor(
      'B to admit the address again after one of its sockets on A closed',
      async () => (await upgradeFrom(b.url, 'room-probe')) === 101,
      SEEN_MS,
    )
  })

  test('new pads over HTTP: one count across both servers, exact even when asked at once', async () => {
    const max = 3
    const { a, b } = await two({ maxNewPadsPerIpPerMinute: max })
    okJson(await apiCall(a, 'POST', '/api/events', { slug: EVENT, name: 'Linux Plumbers' }), 201)
    // A script from one address, its requests spread over both servers (HAProxy's `backend any`).
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        apiCall(i % 2 ? b : a, 'POST', `/api/events/${EVENT}/pads`, { title: `BoF ${i}`, kind: 'bof' }),
      ),
    )
    const made = replies.filter((r) => r.status === 201)
    assert.equal(made.length, max, replies.map((r) => r.status).join(' '))
    for (const refused of replies.filter((r) => r.status !== 201)) assertTooMany(refused)
  })

  test('new pads by sockets: the other server counts them too', async () => {
    const { a, b } = await two({ maxNewPadsPerIpPerMinute: 2, maxConnectionsPerIp: 3 })
    // Two pads made by typing into them on A (their first content creates them).
    for (const padId of ['hallway-0', 'hallway-1']) {
      const typist = await rawSocket(a.wsUrl, padId)
      typist.ws.send(encodeSyncUpdate(textUpdate(`notes of ${padId}\n`)))
      await waitFor(
        `${padId} stored`,
        async () => (await apiCall(a, 'GET', `/api/pads/${padId}`)).status === 200,
      )
      typist.ws.close()
    }
    // HTTP asks the shared count itself: refused on B at once.
    assertTooMany(await apiCall(b, 'POST', '/api/pads', { title: 'BoF on B', kind: 'bof' }))
    // A socket's check reads what B last heard. Rounds are made visible by sockets: three held on
    // A (B refuses the address), then one closed (B admits it again): B has read a round since.
    const holds: RawSocket[] = []
    for (let i = 0; i < 3; i++) holds.push(await rawSocket(a.wsUrl, `hold-${i}`))
    sockets.push(...holds)
    await waitFor(
      'B to refuse the address a socket',
      async () => (await upgradeFrom(b.url, 'probe')) === 429,
      SEEN_MS,
    )
    holds[0]!.ws.close()
    await waitFor('B to admit it again', async () => (await upgradeFrom(b.url, 'probe')) === 101, SEEN_MS)
    const third = await rawSocket(b.wsUrl, 'hallway-2')
    sockets.push(third)
    third.ws.send(encodeSyncUpdate(textUpdate('notes of hallway-2\n')))
    await waitFor('the third new pad refused on B', () => third.closed !== null, SEEN_MS)
    assert.equal(third.closed?.code, CLOSE_TOO_MANY_NEW_PADS)
    assert.equal((await apiCall(b, 'GET', '/api/pads/hallway-2')).status, 404)
  })

  test('PostgreSQL down: each server falls back to its own count (fail open), and shares again once it is back', {
    timeout: 180_000,
  }, async () => {
    const { a, b } = await two({ maxConnectionsPerIp: 4 })
    for (let i = 0; i < 3; i++) sockets.push(await rawSocket(a.wsUrl, 'plenary'))
    sockets.push(await rawSocket(b.wsUrl, 'hallway'))
    await waitFor(
      'B to refuse a fifth socket',
      async () => (await upgradeFrom(b.url, 'hallway')) === 429,
      SEEN_MS,
    )
    await pg.stopServer('immediate')
    try {
      // 'hallway' is loaded on B: joining it needs no database, only the count decides.
      await waitFor(
        `B to count its own sockets only once the others' are ${LIVE_COUNTS_STALE_MS} ms old`,
        async () => (await upgradeFrom(b.url, 'hallway')) === 101,
        SEEN_MS,
      )
    } finally {
      await pg.startServer()
    }
    await waitFor(
      'B to count A again once PostgreSQL is back',
      async () => (await upgradeFrom(b.url, 'hallway')) === 429,
      60_000,
    )
  })

  test('a server killed with -9 stops being counted after the staleness bound', {
    timeout: 180_000,
  }, async () => {
    const url = await pg.freshDatabase()
    const a = await serverOn(url)
    servers.push(a)
    await createEventAndPad(a, 'kernel-rust')
    const b = await spawnServer(tempDir('summitpad-live-'), { DATABASE_URL: url })
    const on = (name: string) => {
      const client = connectClient(b.wsUrl, 'kernel-rust', { name })
      clients.push(client)
      return client
    }
    await Promise.all([on('Dara').synced(), on('Eli').synced()])
    await waitFor(
      "A's event page to count the two people on B",
      async () => (await eventPresence(a))['kernel-rust']?.count === 2,
      SEEN_MS,
    )
    b.proc.kill('SIGKILL')
    await b.exited
    // Their clients retry B's port, which nobody answers: they are nowhere now.
    await waitFor(
      `B's people to vanish from A's page (stale after ${LIVE_COUNTS_STALE_MS} ms)`,
      async () => (await eventPresence(a))['kernel-rust']?.count === 0,
      SEEN_MS,
    )
  })
})

function assertTooMany(reply: Awaited<ReturnType<typeof apiCall>>): void {
  assert.equal(reply.status, 429, reply.text)
  assert.equal((reply.json as { error: { code: string } }).error.code, 'too_many_new_pads')
}
