/**
 * The README's two proxies in a row, as run in production: attendees → nginx (TLS, the README's
 * ```nginx block) → HAProxy (the README's ```haproxy block) → the server, with TRUST_PROXY naming
 * the proxies' address. The per-address limits must count attendees, each from a loopback
 * address of its own (127.0.0.x), not the proxies; and an X-Forwarded-For an attendee writes
 * must not be believed (nginx appends the address it saw, HAProxy adds none when one came, and
 * the server takes the last entry, from its own proxy).
 */
import assert from 'node:assert/strict'
import https from 'node:https'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { freePort } from './free-port.ts'
import { type Balancer, ensureHaproxy, startBalancer } from './haproxy.ts'
import { startTestServer, type TestServer, waitFor } from './helpers.ts'
import { ensureNginx, startNginx } from './nginx.ts'

/** Both proxies run on this machine and connect from 127.0.0.1; attendees use 127.0.0.2 and up. */
const PROXIES = '127.0.0.1'
/** What an attendee claims to be (TEST-NET-2: never contacted, only written into a header). */
const FORGED = '198.51.100.7'
const HOST = 'notes.example.org'

before(() => {
  ensureHaproxy()
  ensureNginx()
})

describe('attendees → nginx → HAProxy → server: the per-address limits see attendees', () => {
  let server: TestServer
  let lb: Balancer
  let nginxPort = 0
  const open: WebSocket[] = []

  before(async () => {
    server = await startTestServer({
      trustProxy: [PROXIES],
      maxConnectionsPerIp: 2,
      maxNewPadsPerIpPerMinute: 2,
    })
    const port = Number(new URL(server.url).port)
    // The README's three server lines all name this one server: routing is not what is tested here.
    lb = await startBalancer([port, port, port])
    await waitFor(
      'HAProxy to see the server up',
      async () => [...(await lb.serverStates('pads')).values()].every((s) => s === 'up'),
      30_000,
    )
    nginxPort = await freePort()
    await startNginx({
      https: `127.0.0.1:${nginxPort}`,
      http: `127.0.0.1:${await freePort()}`,
      upstreamPort: Number(new URL(lb.url).port),
    })
  })
  after(async () => {
    for (const ws of open) ws.terminate()
    await lb?.stop()
    await server?.close()
  })

  /** A socket through nginx from `from`; its upgrade status (101: kept open until the end). */
  const socketFrom = (from: string, padId: string, forwardedFor?: string) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${nginxPort}/sync/${padId}`, {
        localAddress: from,
        rejectUnauthorized: false,
        headers: { Host: HOST, ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}) },
      })
      ws.on('open', () => {
        open.push(ws)
        resolve(101)
      })
      ws.on('unexpected-response', (_req, res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.on('error', reject)
    })

  /** `POST /api/pads` through nginx from `from`: the answer's status. */
  const newPadFrom = (from: string, title: string, forwardedFor?: string) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ title, kind: 'bof' })
      const req = https.request({
        host: '127.0.0.1',
        port: nginxPort,
        localAddress: from,
        rejectUnauthorized: false,
        method: 'POST',
        path: '/api/pads',
        headers: {
          Host: HOST,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...(forwardedFor ? { 'X-Forwarded-For': forwardedFor } : {}),
        },
      })
      req.on('response', (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end(body)
    })

  test('sockets: each attendee has their own share; a forged X-Forwarded-For changes nothing', async () => {
    assert.equal(await socketFrom('127.0.0.2', 'hall-a-1'), 101)
    assert.equal(await socketFrom('127.0.0.2', 'hall-a-2', FORGED), 101)
    // Her third: refused, whatever she claims to be.
    assert.equal(await socketFrom('127.0.0.2', 'hall-a-3', FORGED), 429, 'the forged address is not believed')
    assert.equal(await socketFrom('127.0.0.2', 'hall-a-3'), 429)
    // Someone else in the hall is not counted with her (nor with the proxies).
    assert.equal(await socketFrom('127.0.0.3', 'hall-a-1'), 101)
    assert.equal(await socketFrom('127.0.0.3', 'hall-a-2'), 101)
  })

  test('new pads over HTTP: counted per attendee, not per proxy, and not by a claimed address', async () => {
    assert.equal(await newPadFrom('127.0.0.4', 'BoF: io_uring'), 201)
    assert.equal(await newPadFrom('127.0.0.4', 'BoF: eBPF', FORGED), 201)
    assert.equal(await newPadFrom('127.0.0.4', 'BoF: sched_ext', FORGED), 429)
    assert.equal(await newPadFrom('127.0.0.5', 'BoF: sched_ext'), 201)
  })
})
