/**
 * DNS rebinding (server/host-check.ts): a page that pointed its own name at this server is refused
 * by that name — pages, API, the operator's local-only endpoints and websocket upgrades — while the
 * names people really use (an IP address, localhost, ALLOWED_HOSTS) keep working. Real requests
 * with the Host header a browser would send, and real Chromium resolving a foreign name to
 * 127.0.0.1.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { describe, test } from 'node:test'
import { hostName } from '../server/access/host-check.ts'
import { proxyTrust } from '../server/access/trusted-proxies.ts'
import { ConfigError, configFromEnv } from '../server/ops/config.ts'
import { launchChromium } from './browser-setup.ts'
import { connectClient, startTestServer, type TestServer, upgradeStatus } from './helpers.ts'

interface Reply {
  status: number
  body: string
}

/** A request to the test server sent to `host` (as a browser sends it after resolving that name). */
function requestAs(
  server: TestServer,
  host: string,
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const { port } = new URL(server.url)
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, headers: { host, ...headers } },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** A websocket upgrade sent to `host` from a page there: the HTTP status it got (101 = accepted). */
function upgradeAs(
  server: TestServer,
  host: string,
  padId: string,
  extraHeaders: Record<string, string> = {},
): Promise<number> {
  return upgradeStatus(server.url, `/sync/${padId}`, {
    Host: host,
    Origin: `http://${host}`,
    ...extraHeaders,
  })
}

/** A new pad's id (open mode), for pages that need one (the QR code's). */
async function newPad(server: TestServer): Promise<string> {
  const res = await fetch(`${server.url}/api/pads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'BoF', kind: 'bof' }),
  })
  assert.equal(res.status, 201)
  return ((await res.json()) as { id: string }).id
}

const backupsIn = (server: TestServer) => {
  const dir = path.join(server.dataDir, 'backups')
  return fs.existsSync(dir) ? fs.readdirSync(dir).length : 0
}

describe('host names (DNS rebinding)', () => {
  test('a request sent to a foreign name is refused with 421, even from this machine to an operator endpoint', async () => {
    const server = await startTestServer()
    try {
      const { port } = new URL(server.url)
      const rebound = `rebound.example:${port}`
      // What a rebound page's script would do in open mode: it is on this machine, same origin.
      const backup = await requestAs(server, rebound, 'POST', '/api/admin/backup', {
        origin: `http://${rebound}`,
      })
      assert.equal(backup.status, 421)
      assert.deepEqual(JSON.parse(backup.body), {
        error: {
          code: 'unknown_host',
          message:
            'this server does not answer to the name "rebound.example"; if that is its name, add it to ALLOWED_HOSTS',
        },
      })
      assert.equal(backupsIn(server), 0)
      const events = await requestAs(server, rebound, 'GET', '/api/events')
      assert.equal(events.status, 421)
      const created = await requestAs(server, rebound, 'POST', '/api/events', {
        origin: `http://${rebound}`,
        'content-type': 'application/json',
      })
      assert.equal(created.status, 421)
      assert.equal(await upgradeAs(server, rebound, 'secret-notes'), 421)
      // Names that only look local.
      for (const host of [`localhost.rebound.example:${port}`, `127.0.0.1.rebound.example:${port}`]) {
        assert.equal((await requestAs(server, host, 'GET', '/api/events')).status, 421, host)
      }
      // The same requests by the names people use.
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LocalHost.:${port}`]) {
        assert.equal((await requestAs(server, host, 'GET', '/api/events')).status, 200, host)
        assert.equal(await upgradeAs(server, host, 'notes'), 101, host)
      }
      assert.equal((await requestAs(server, `127.0.0.1:${port}`, 'POST', '/api/admin/backup')).status, 201)
      assert.equal(backupsIn(server), 1)
      // The stock client by name.
      const client = connectClient(`ws://localhost:${port}/sync`, 'by-name')
      await client.synced()
      client.destroy()
    } finally {
      await server.close()
    }
  })

  test('ALLOWED_HOSTS names are answered; behind a proxy (TRUST_PROXY) the proxy decides, but only for what it forwarded', async () => {
    const lan = await startTestServer({ allowedHosts: ['ana-laptop.local'] })
    const proxied = await startTestServer({ trustProxy: true })
    try {
      const lanPort = new URL(lan.url).port
      assert.equal((await requestAs(lan, `ana-laptop.local:${lanPort}`, 'GET', '/')).status, 200)
      assert.equal(await upgradeAs(lan, `ana-laptop.local:${lanPort}`, 'bof'), 101)
      assert.equal((await requestAs(lan, `bob-laptop.local:${lanPort}`, 'GET', '/')).status, 421)
      // What nginx forwards (README): the browser's Host, and X-Forwarded-For.
      const forwarded = { 'x-forwarded-for': '198.51.100.7' }
      assert.equal((await requestAs(proxied, 'notes.example.org', 'GET', '/', forwarded)).status, 200)
      assert.equal(await upgradeAs(proxied, 'notes.example.org', 'bof', forwarded), 101)
      // A rebound page on the proxy's machine talking to the server directly, past the proxy.
      const direct = await requestAs(proxied, 'rebound.example:1234', 'POST', '/api/admin/backup', {
        origin: 'http://rebound.example:1234',
      })
      assert.equal(direct.status, 421)
      assert.equal(await upgradeAs(proxied, 'rebound.example:1234', 'bof'), 421)
      assert.equal(backupsIn(proxied), 0)
    } finally {
      await lan.close()
      await proxied.close()
    }
  })

  test('forwarded headers count only from a configured proxy (TRUST_PROXY is a list of proxies)', async () => {
    // The proxy is at 10.9.9.9; our requests come from 127.0.0.1, so they are not the proxy's.
    const server = await startTestServer({ trustProxy: ['10.9.9.9', '192.0.2.0/24'] })
    try {
      const forwarded = { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' }
      // A rebinding page that adds X-Forwarded-For still meets the Host check.
      assert.equal((await requestAs(server, 'rebound.example', 'GET', '/', forwarded)).status, 421)
      assert.equal(await upgradeAs(server, 'rebound.example', 'bof', forwarded), 421)
      // Its X-Forwarded-Proto is not believed either: links keep the scheme the request came with.
      const { port } = new URL(server.url)
      const pad = await newPad(server)
      const qr = await requestAs(server, `127.0.0.1:${port}`, 'GET', `/p/${pad}/qr`, forwarded)
      assert.equal(qr.status, 200)
      assert.match(qr.body, new RegExp(`http://127\\.0\\.0\\.1:${port}/p/${pad}`))
      assert.doesNotMatch(qr.body, /https:\/\/127/)
    } finally {
      await server.close()
    }
  })

  test('TRUST_PROXY: 1 means this machine (loopback); lists of addresses and CIDR ranges; anything else refused', () => {
    assert.equal(configFromEnv({ TRUST_PROXY: '1' }).trustProxy, true)
    assert.equal(configFromEnv({}).trustProxy, false)
    assert.deepEqual(configFromEnv({ TRUST_PROXY: '127.0.0.1, ::1 ,10.0.0.0/8' }).trustProxy, [
      '127.0.0.1',
      '::1',
      '10.0.0.0/8',
    ])
    for (const bad of ['proxy.lan', '10.0.0.0/33', '::1/129', '1.2.3.4/8/9', '10.0.0.0/x'])
      assert.throws(() => configFromEnv({ TRUST_PROXY: bad }), ConfigError, bad)
    const loopback = proxyTrust(true)
    for (const peer of ['127.0.0.1', '127.8.0.1', '::1', '::ffff:127.0.0.1'])
      assert.equal(loopback(peer), true, peer)
    for (const peer of ['10.0.0.1', '::2', undefined, 'junk'])
      assert.equal(loopback(peer), false, String(peer))
    const listed = proxyTrust(['10.0.0.0/8', 'fd00::/8'])
    assert.equal(listed('10.200.3.4'), true)
    assert.equal(listed('::ffff:10.1.1.1'), true)
    assert.equal(listed('fd12::1'), true)
    assert.equal(listed('11.0.0.1'), false)
    assert.equal(listed('127.0.0.1'), false)
    assert.equal(proxyTrust(false)('127.0.0.1'), false)
  })

  test('a Host value that is not a host name is refused, even from the proxy (it goes into links and QR codes)', async () => {
    const server = await startTestServer({ trustProxy: true })
    try {
      const forwarded = { 'x-forwarded-for': '198.51.100.7' }
      const qr = `/p/${await newPad(server)}/qr`
      for (const host of [
        'evil.com/.localhost',
        'evil.com\\.localhost',
        'a"b.localhost',
        'x.localhost:80/y',
        'localhost:1x',
      ]) {
        const direct = await requestAs(server, host, 'GET', qr)
        assert.equal(direct.status, 421, host)
        assert.doesNotMatch(direct.body, /evil\.com/, 'the bad name is not echoed')
        assert.equal(
          (await requestAs(server, host, 'GET', '/p/bof/qr', forwarded)).status,
          421,
          `${host} via proxy`,
        )
        assert.equal(await upgradeAs(server, host, 'bof'), 421, `${host} upgrade`)
      }
      for (const host of ['localhost', 'pads.localhost:1234', '[::1]:80', '127.0.0.1:8080']) {
        assert.equal((await requestAs(server, host, 'GET', qr)).status, 200, host)
      }
    } finally {
      await server.close()
    }
  })

  test('ALLOWED_HOSTS must be host names; Host headers are read as browsers send them', () => {
    assert.deepEqual(configFromEnv({ ALLOWED_HOSTS: ' pads.lan, Ana-Laptop.local. ' }).allowedHosts, [
      'pads.lan',
      'ana-laptop.local',
    ])
    for (const bad of ['http://pads.lan', 'pads.lan:1234', 'pads.lan/x', 'pads..lan', '-pads.lan']) {
      assert.throws(() => configFromEnv({ ALLOWED_HOSTS: bad }), ConfigError, bad)
    }
    assert.equal(hostName('[::1]:1234'), '::1')
    assert.equal(hostName('Pads.Example.org.:443'), 'pads.example.org')
    assert.equal(hostName('10.0.0.7'), '10.0.0.7')
  })

  test('in Chromium, a foreign name resolving to this server gets an error page; localhost gets the app', async () => {
    const server = await startTestServer()
    const browser = await launchChromium(['--host-resolver-rules=MAP rebound.example 127.0.0.1'])
    try {
      const { port } = new URL(server.url)
      const page = await browser.newPage()
      const refused = await page.goto(`http://rebound.example:${port}/`)
      assert.equal(refused?.status(), 421)
      assert.match(
        (await page.locator('main').textContent()) ?? '',
        /does not answer to the name "rebound\.example"/,
      )
      const home = await page.goto(`http://localhost:${port}/`)
      assert.equal(home?.status(), 200)
      assert.equal(await upgradeStatus(`http://localhost:${port}`, '/sync/x'), 101)
    } finally {
      await browser.close()
      await server.close()
    }
  })
})
