/**
 * Access control (issue 8), against a real protected server: every route class with no, wrong,
 * read-only, edit and admin credentials (and another event's link); shared links in a browser's
 * cookie; websocket refusals as 4401/4403 that stop the stock client; read-only sockets that can
 * change nothing; rotation cutting off live sockets; cross-site sockets and requests refused.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, describe, test } from 'node:test'
import * as Y from 'yjs'
import { adminTokenProblem } from '../server/access/access.ts'
import { matchRoute, ROUTES, type RouteClass } from '../server/http/route-classes.ts'
import { decodeMessage, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '../shared/protocol.ts'
import {
  type Client,
  connectClient,
  rawSocket,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'
import { queryRows } from './stored-rows.ts'

const ADMIN = 'organiser-secret-token-for-tests'

interface Links {
  edit: string
  read: string
}

type Cred = 'none' | 'wrong' | 'readA' | 'editA' | 'editB' | 'admin'
const CREDS: readonly Cred[] = ['none', 'wrong', 'readA', 'editA', 'editB', 'admin']

let server: TestServer
let linksA: Links
let linksB: Links
/** Pads: two in event A, one in B, one unfiled; created through the API by the organiser. */
const pads = { a: '', a2: '', doomed: '', b: '', unfiled: '' }

const tokenOf = (url: string) => new URL(url).searchParams.get('token')!

function tokenFor(cred: Cred): string | null {
  switch (cred) {
    case 'none':
      return null
    case 'wrong':
      return 'x'.repeat(27)
    case 'readA':
      return linksA.read
    case 'editA':
      return linksA.edit
    case 'editB':
      return linksB.edit
    case 'admin':
      return ADMIN
  }
}

async function call(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.authorization = `Bearer ${options.token}`
  let body: string | undefined
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  return fetch(`${server.url}${path}`, { method, headers, body, redirect: 'manual' })
}

async function json<T>(res: Response): Promise<T> {
  assert.ok(res.ok, `HTTP ${res.status}: ${await res.clone().text()}`)
  return (await res.json()) as T
}

before(async () => {
  server = await startTestServer({}, { adminToken: ADMIN })
  const admin = { token: ADMIN }
  for (const slug of ['event-a', 'event-b', 'event-c']) {
    await json(await call('POST', '/api/events', { ...admin, body: { slug, name: slug.toUpperCase() } }))
  }
  const links = async (slug: string) => {
    const urls = await json<Links>(await call('GET', `/api/events/${slug}/links`, admin))
    return { edit: tokenOf(urls.edit), read: tokenOf(urls.read) }
  }
  linksA = await links('event-a')
  linksB = await links('event-b')
  const pad = async (path: string, title: string) =>
    (await json<{ id: string }>(await call('POST', path, { ...admin, body: { title, kind: 'bof' } }))).id
  pads.a = await pad('/api/events/event-a/pads', 'Memory cgroup BoF')
  pads.a2 = await pad('/api/events/event-a/pads', 'Containers mini-summit')
  pads.doomed = await pad('/api/events/event-a/pads', 'Cancelled talk')
  pads.b = await pad('/api/events/event-b/pads', 'Kernel talk')
  pads.unfiled = await pad('/api/pads', 'Hallway meeting')
})

after(async () => {
  await server.close()
})

describe('links', () => {
  test('each event has its own edit and read-only secrets of at least 128 bits', () => {
    const all = [linksA.edit, linksA.read, linksB.edit, linksB.read]
    assert.equal(new Set(all).size, 4)
    for (const token of all) assert.ok(Buffer.from(token, 'base64url').length * 8 >= 128, token)
  })

  test('opening a shared link keeps it in an HttpOnly SameSite cookie and drops it from the address', async () => {
    const res = await call('GET', `/e/event-a?token=${linksA.edit}`)
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), '/e/event-a')
    const cookie = res.headers.get('set-cookie') ?? ''
    assert.match(cookie, /^summitpad_tokens=[^;]+;/)
    assert.match(cookie, /HttpOnly/)
    assert.match(cookie, /SameSite=Lax/)
    const jar = cookie.split(';')[0]!
    const page = await call('GET', '/e/event-a', { headers: { cookie: jar } })
    assert.equal(page.status, 200)
    const html = await page.text()
    assert.match(html, /Memory cgroup BoF/)
    assert.match(html, /New pad/, 'an edit link may add a pad')
    assert.doesNotMatch(html, /Links to share/, 'only the organiser sees the links')
    // The same browser then reaches the pad and its API with the cookie alone.
    assert.equal((await call('GET', `/p/${pads.a}`, { headers: { cookie: jar } })).status, 200)
    assert.equal(
      (await call('GET', `/api/pads/${pads.a}/export?format=txt`, { headers: { cookie: jar } })).status,
      200,
    )
    // ...but not event B's.
    assert.equal((await call('GET', `/p/${pads.b}`, { headers: { cookie: jar } })).status, 403)
  })

  test('a made-up link gets a 401 page and no cookie; the organiser sees both links on the event page', async () => {
    const bad = await call('GET', '/e/event-a?token=not-a-real-link', { headers: { accept: 'text/html' } })
    assert.equal(bad.status, 401)
    assert.equal(bad.headers.get('set-cookie'), null)
    const refusal = await bad.text()
    assert.match(refusal, /link from the organisers/)
    assert.doesNotMatch(refusal, /admin token/, 'an attendee is not told about the admin token')
    const organiser = await (await call('GET', '/e/event-a', { token: ADMIN })).text()
    assert.match(organiser, /Links to share/)
    assert.ok(organiser.includes(linksA.edit) && organiser.includes(linksA.read))
    const viewer = await (await call('GET', '/e/event-a', { token: linksA.read })).text()
    assert.match(viewer, /read-only link/)
    assert.doesNotMatch(viewer, /New pad|Import the schedule/)
    assert.ok(!viewer.includes(linksA.edit), 'a viewer never sees the edit link')
  })

  test('the organiser opens /?token=<ADMIN_TOKEN> once; the browser is then recognised everywhere', async () => {
    const res = await call('GET', `/?token=${ADMIN}`)
    assert.equal(res.status, 303)
    assert.equal(res.headers.get('location'), '/')
    const jar = (res.headers.get('set-cookie') ?? '').split(';')[0]!
    const home = await (await call('GET', '/', { headers: { cookie: jar } })).text()
    assert.match(home, /EVENT-A/)
    assert.match(home, /EVENT-B/)
    assert.match(home, /Create an event/)
    // An event link on the front page is not kept: it opens nothing there.
    assert.equal((await call('GET', `/?token=${linksA.edit}`)).status, 200)
  })

  test('the QR code carries the read-only link unless someone who may edit asks for the edit link', async () => {
    // The code carries a short link (/q/<code>) that leads to the pad with the event link's token.
    const qrUrl = async (path: string, token: string) => {
      const short =
        (await (await call('GET', path, { token })).text()).match(/class="url">([^<]*)/)?.[1] ?? ''
      assert.match(short, /\/q\/[0-9a-z]{20}$/)
      const hop = await fetch(short, { redirect: 'manual' })
      return new URL(hop.headers.get('location') ?? '', short).href
    }
    assert.equal(tokenOf(await qrUrl(`/p/${pads.a}/qr`, ADMIN)), linksA.read)
    assert.equal(tokenOf(await qrUrl(`/p/${pads.a}/qr?link=edit`, ADMIN)), linksA.edit)
    assert.equal(tokenOf(await qrUrl(`/p/${pads.a}/qr?link=edit`, linksA.edit)), linksA.edit)
    assert.equal(
      tokenOf(await qrUrl(`/p/${pads.a}/qr?link=edit`, linksA.read)),
      linksA.read,
      'a viewer never sees the edit link',
    )
  })

  test('pages that depend on a link are never cached; a token in an API query string works like a bearer token', async () => {
    const page = await call('GET', '/e/event-a', { token: ADMIN })
    assert.equal(page.headers.get('cache-control'), 'private, no-store')
    const search = await fetch(`${server.url}/api/search?q=cgroup&event=event-a&token=${linksA.read}`)
    assert.equal(search.status, 200, await search.clone().text())
  })

  test('only the organiser chooses a new pad’s id; an edit link gets a generated one', async () => {
    const body = { title: 'Claimed', kind: 'talk', id: 'organisers-next-pad' }
    const byLink = await call('POST', '/api/events/event-a/pads', { token: linksA.edit, body })
    assert.equal(byLink.status, 403)
    assert.equal(await server.storage.padLog.exists('organisers-next-pad'), false)
    const { id, ...unnamed } = body
    assert.equal(id, 'organisers-next-pad')
    assert.equal(
      (await call('POST', '/api/events/event-a/pads', { token: linksA.edit, body: unnamed })).status,
      201,
    )
    assert.equal((await call('POST', '/api/events/event-a/pads', { token: ADMIN, body })).status, 201)
  })

  test('ADMIN_TOKEN must be usable as a bearer token: long enough, printable, no spaces', () => {
    assert.match(adminTokenProblem('short') ?? '', /at least 16/)
    assert.match(adminTokenProblem('has spaces in the middle') ?? '', /printable/)
    assert.match(adminTokenProblem('x'.repeat(300)) ?? '', /at most 256/)
    assert.equal(adminTokenProblem('Zq7k2VbWn9xP4tR8mL3sY6cD'), null)
  })

  test('the front page of a protected server lists only the events your links open', async () => {
    const stranger = await (await call('GET', '/')).text()
    assert.match(stranger, /protected/)
    assert.doesNotMatch(stranger, /EVENT-A|EVENT-B|Hallway meeting/)
    const mine = await (
      await call('GET', '/', { headers: { cookie: `summitpad_tokens=${linksA.read}` } })
    ).text()
    assert.match(mine, /EVENT-A/)
    assert.doesNotMatch(mine, /EVENT-B/)
  })
})

// ------------------------------------------------------------------ route classes

interface Sample {
  method: string
  path: string
  body?: unknown
  /** Expected class; checked against the table too. */
  class: RouteClass
  /** About the whole site (or an unfiled pad / another event): an event link gets 403 even for read. */
  siteWide?: true
}

/**
 * One request per table row. Destructive admin rows aim at event C or a throwaway pad, so the
 * samples can run in any order; edit rows change nothing harmful.
 */
function samples(): Sample[] {
  const A = pads.a
  return [
    { method: 'GET', path: '/healthz', class: 'public' },
    { method: 'GET', path: '/livez', class: 'public' },
    { method: 'GET', path: '/metrics', class: 'public' },
    { method: 'GET', path: '/assets/site.css', class: 'public' },
    { method: 'GET', path: '/favicon.ico', class: 'public' },
    { method: 'GET', path: '/sw.js', class: 'public' },
    { method: 'GET', path: '/', class: 'public' },
    { method: 'GET', path: '/api/templates/bof', class: 'public' },
    { method: 'GET', path: '/search?q=cgroup&event=event-a', class: 'read' },
    { method: 'GET', path: '/e/event-a', class: 'read' },
    { method: 'GET', path: '/e/event-a/outcomes', class: 'read' },
    { method: 'GET', path: `/p/${A}`, class: 'read' },
    { method: 'GET', path: `/p/${A}/series`, class: 'read' },
    { method: 'GET', path: `/p/${A}/history`, class: 'read' },
    { method: 'GET', path: `/p/${A}/qr`, class: 'read' },
    // The code is the credential: anyone reaches the handler, which refuses an unknown code (404).
    { method: 'GET', path: `/q/${'0'.repeat(20)}`, class: 'public' },
    { method: 'GET', path: '/api/events', class: 'admin' },
    { method: 'POST', path: '/api/events', class: 'admin', body: { slug: 'made-by-sample', name: 'x' } },
    { method: 'GET', path: '/api/events/event-a', class: 'read' },
    { method: 'PATCH', path: '/api/events/event-c', class: 'admin', body: { name: 'EVENT-C' } },
    { method: 'DELETE', path: '/api/events/made-by-sample', class: 'admin' },
    { method: 'GET', path: '/api/events/event-a/pads', class: 'read' },
    {
      method: 'POST',
      path: '/api/events/event-a/pads',
      class: 'edit',
      body: { title: 'Hallway', kind: 'meeting' },
    },
    { method: 'POST', path: '/api/events/event-c/import', class: 'admin', body: [] },
    { method: 'GET', path: '/api/events/event-a/presence', class: 'read' },
    { method: 'GET', path: '/api/events/event-a/templates/bof', class: 'read' },
    { method: 'PUT', path: '/api/events/event-c/templates/bof', class: 'admin', body: { body: '# BoF\n' } },
    { method: 'DELETE', path: '/api/events/event-c/templates/bof', class: 'admin' },
    { method: 'GET', path: '/api/events/event-a/export', class: 'read' },
    { method: 'GET', path: '/api/events/event-a/outcomes', class: 'read' },
    { method: 'GET', path: '/api/events/event-c/links', class: 'admin' },
    { method: 'POST', path: '/api/events/event-c/links/rotate', class: 'admin', body: { link: 'read' } },
    { method: 'GET', path: '/api/pads?event=event-a', class: 'read' },
    { method: 'GET', path: '/api/pads', class: 'read', siteWide: true },
    { method: 'POST', path: '/api/pads', class: 'admin', body: { title: 'Unfiled', kind: 'meeting' } },
    // Edit class; the body is not a Yjs update, so an allowed request stops at 415 and creates nothing.
    { method: 'POST', path: '/api/pads/import?title=x&event=event-a', class: 'edit', body: {} },
    { method: 'POST', path: '/api/pads/import?title=x', class: 'edit', body: {}, siteWide: true },
    { method: 'GET', path: `/api/pads/${A}`, class: 'read' },
    { method: 'PATCH', path: `/api/pads/${A}`, class: 'admin', body: { room: 'Hall B' } },
    { method: 'DELETE', path: `/api/pads/${pads.doomed}`, class: 'admin' },
    { method: 'GET', path: `/api/pads/${A}/presence`, class: 'read' },
    { method: 'GET', path: `/api/pads/${A}/export?format=md`, class: 'read' },
    { method: 'POST', path: `/api/pads/${pads.a2}/forget-history`, class: 'admin' },
    { method: 'GET', path: `/api/pads/${A}/history`, class: 'read' },
    { method: 'GET', path: `/api/pads/${A}/revisions/0`, class: 'read' },
    { method: 'GET', path: `/api/pads/${A}/revision?at=2026-01-01T00:00:00Z`, class: 'read' },
    { method: 'GET', path: `/api/pads/${A}/diff?from=0&to=0`, class: 'read' },
    { method: 'POST', path: `/api/pads/${A}/restore`, class: 'edit', body: { seq: 'not a number' } },
    { method: 'POST', path: `/api/pads/${A}/checkpoints`, class: 'edit', body: { name: 'Before lunch' } },
    { method: 'POST', path: `/api/pads/${pads.a2}/close`, class: 'edit', body: {} },
    { method: 'POST', path: `/api/pads/${pads.a2}/reopen`, class: 'edit', body: {} },
    { method: 'GET', path: `/api/pads/${A}/series`, class: 'read' },
    { method: 'GET', path: `/api/pads/${A}/series/view`, class: 'read' },
    { method: 'PUT', path: `/api/pads/${A}/continues`, class: 'edit', body: { continues: null } },
    { method: 'POST', path: `/api/pads/${A}/next`, class: 'edit', body: {} },
    { method: 'GET', path: `/api/pads/${A}/materials`, class: 'read' },
    { method: 'GET', path: '/api/events/event-a/feed', class: 'read' },
    { method: 'GET', path: '/api/events/event-a/now', class: 'read' },
    { method: 'GET', path: '/e/event-a/now', class: 'read' },
    {
      method: 'POST',
      path: `/api/pads/${A}/materials`,
      class: 'edit',
      body: { kind: 'slides', url: 'https://example.org/slides.pdf' },
    },
    { method: 'DELETE', path: `/api/pads/${A}/materials?url=https://example.org/none`, class: 'edit' },
    { method: 'GET', path: '/api/search?q=cgroup&event=event-a', class: 'read' },
    { method: 'GET', path: '/api/search?q=cgroup', class: 'read', siteWide: true },
    { method: 'POST', path: '/api/admin/backup', class: 'operator' },
  ]
}

/** What each credential should get on each class: 'ok' (past the guard), 401 or 403. */
function expected(sample: Sample, cred: Cred): 'ok' | 401 | 403 {
  if (sample.class === 'public') return 'ok'
  if (cred === 'none' || cred === 'wrong') return 401
  if (cred === 'admin') return 'ok'
  if (sample.class === 'admin' || sample.class === 'operator' || sample.siteWide) return 403
  if (cred === 'editB') return 403
  if (cred === 'readA') return sample.class === 'read' ? 'ok' : 403
  return 'ok' // editA on read or edit
}

describe('route classes', () => {
  test('every row of the table has a sample here, and every sample matches the row it claims', () => {
    const covered = new Set<unknown>()
    for (const sample of samples()) {
      const match = matchRoute(sample.method, new URL(sample.path, 'http://x').pathname)
      assert.ok(match, `${sample.method} ${sample.path} matches no row`)
      assert.equal(match.rule.class, sample.class, `${sample.method} ${sample.path}`)
      covered.add(match.rule)
    }
    const missing = ROUTES.filter((rule) => !covered.has(rule)).map((r) => `${r.method} ${r.path}`)
    assert.deepEqual(missing, [], 'rows without a sample')
  })

  test('README lists every row of the table with its class', () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const missing = ROUTES.filter((r) => !readme.includes(`| \`${r.method} ${r.path}\` | ${r.class} |`))
    assert.deepEqual(
      missing.map((r) => `${r.method} ${r.path}`),
      [],
    )
  })

  test('a route not in the table is unreachable (404), whatever the credentials', async () => {
    for (const token of [null, ADMIN]) {
      assert.equal((await call('GET', '/api/not-a-route', { token })).status, 404)
      assert.equal((await call('POST', '/api/pads/x/not-a-route', { token, body: {} })).status, 404)
    }
  })

  test('no, wrong, read-only, edit, other-event and admin credentials on every route', async () => {
    const failures: string[] = []
    // Refusals first (they change nothing), then the allowed requests, admin last.
    for (const pass of ['refused', 'allowed'] as const) {
      for (const cred of CREDS) {
        for (const sample of samples()) {
          const want = expected(sample, cred)
          if ((want === 'ok') !== (pass === 'allowed')) continue
          const res = await call(sample.method, sample.path, { token: tokenFor(cred), body: sample.body })
          const got = res.status === 401 || res.status === 403 ? res.status : 'ok'
          if (got !== want)
            failures.push(
              `${cred} ${sample.method} ${sample.path}: want ${want}, got ${res.status} ${await res.text()}`,
            )
          else await res.arrayBuffer()
          if (got === 401) {
            assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/)
          }
        }
      }
    }
    assert.deepEqual(failures, [])
  })

  test('an unfiled pad needs the admin token; a link for event A never opens B or unfiled pads', async () => {
    for (const token of [linksA.edit, linksA.read]) {
      assert.equal((await call('GET', `/api/pads/${pads.unfiled}`, { token })).status, 403)
      assert.equal((await call('GET', `/api/pads/${pads.b}/export`, { token })).status, 403)
      assert.equal((await call('GET', '/api/events/event-b', { token })).status, 403)
    }
    assert.equal((await call('GET', `/api/pads/${pads.unfiled}`, { token: ADMIN })).status, 200)
  })
})

// ------------------------------------------------------------------ websocket

/** Close codes the stock client saw, for checking that it gave up. */
function closesOf(client: Client): number[] {
  const codes: number[] = []
  client.provider.on('connection-close', (event) => {
    if (event) codes.push(event.code)
  })
  return codes
}

async function refusedWith(padId: string, params: Record<string, string>, code: number): Promise<void> {
  const client = connectClient(server.wsUrl, padId, { params })
  const closes = closesOf(client)
  try {
    await waitFor(`refusal ${code} on ${padId}`, () => closes.length > 0)
    // The stock client gives up on 44xx: one close, no reconnect.
    await new Promise((r) => setTimeout(r, 1500))
    assert.deepEqual(closes, [code], `${padId} ${JSON.stringify(params)}`)
    assert.equal(client.provider.shouldConnect, false)
  } finally {
    client.destroy()
  }
}

describe('websocket access', () => {
  test('no token or a made-up one: 4401; a link of another event or on an unfiled pad: 4403; the stock client stops', async () => {
    await refusedWith(pads.a, {}, 4401)
    await refusedWith(pads.a, { token: 'made-up' }, 4401)
    await refusedWith(pads.b, { token: linksA.edit }, 4403)
    await refusedWith(pads.unfiled, { token: linksA.edit }, 4403)
    // A refused socket never loads or creates a pad.
    await refusedWith('never-created', { token: linksA.edit }, 4403)
    assert.equal(await server.storage.padLog.exists('never-created'), false)
    assert.equal(server.rooms.get('never-created'), undefined)
  })

  test('the edit link and the admin token edit; the admin token opens unfiled pads', async () => {
    const editor = connectClient(server.wsUrl, pads.a, { params: { token: linksA.edit } })
    const admin = connectClient(server.wsUrl, pads.unfiled, { params: { token: ADMIN } })
    try {
      await editor.synced()
      await admin.synced()
      editor.text.insert(0, 'Decided: ship it\n')
      await waitFor(
        'stored',
        () => server.rooms.get(pads.a)?.doc.getText('notes').toString().includes('ship it') === true,
      )
    } finally {
      editor.destroy()
      admin.destroy()
    }
  })

  test('a read-only socket gets the pad and live changes; 1,000 updates and a step 2 from it leave the stored pad byte-identical', async () => {
    const editor = connectClient(server.wsUrl, pads.a, { params: { token: linksA.edit }, name: 'Ana' })
    await editor.synced()
    editor.text.insert(editor.text.length, 'Notes so far\n')
    await waitFor(
      'stored',
      () => server.rooms.get(pads.a)?.doc.getText('notes').toString().includes('Notes so far') === true,
    )
    await server.rooms.flush()
    // Every stored row and snapshot of the pad, bytes and all (no interface reads older snapshots).
    const stored = async () => {
      const rows = await queryRows(
        server,
        `SELECT 'u' AS t, seq AS n, data FROM updates WHERE pad = (SELECT pk FROM pads WHERE id = ?)
         UNION ALL SELECT 's', upto, data FROM snapshots WHERE pad = (SELECT pk FROM pads WHERE id = ?) ORDER BY 1, 2`,
        [pads.a, pads.a],
      )
      return rows.map((r) => `${r.t}${r.n}:${(r.data as Buffer).toString('hex')}`)
    }
    const before = await stored()

    const raw = await rawSocket(server.wsUrl, pads.a, { query: `token=${linksA.read}` })
    raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    const frames = () =>
      raw.received
        .map((f) => decodeMessage(f))
        .filter((m) => m.ok)
        .map((m) => m.value)
    // In the room first: before it joins, a socket may only queue a few frames (1008 past them),
    // and joining waits for the link check and the pad's load, a round trip on PostgreSQL.
    await waitFor('the answer to the first step 1', () => frames().some((m) => m.type === 'sync-step2'))
    const attacker = new Y.Doc()
    const updates: Uint8Array[] = []
    attacker.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 1000; i++) attacker.getText('notes').insert(0, 'x')
    for (const update of updates) raw.ws.send(encodeSyncUpdate(update))
    raw.ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(attacker)))
    // Frames are handled in order: the answer to this step 1 means all of the above was handled.
    raw.ws.send(encodeSyncStep1(Y.encodeStateVector(attacker)))
    await waitFor(
      'answers to both step 1s',
      () => frames().filter((m) => m.type === 'sync-step2').length >= 2,
    )
    // Live changes still reach it.
    editor.text.insert(0, 'LIVE ')
    await waitFor('the live update', () => frames().some((m) => m.type === 'sync-update'))
    await server.rooms.flush()
    assert.equal(raw.closed, null, 'a viewer is not thrown out, only ignored')
    const told = frames().filter((m) => m.type === 'auth-denied')
    assert.equal(told.length, 1, 'told once')
    assert.deepEqual(told[0], { type: 'auth-denied', reason: 'read-only' })
    const text = server.rooms.get(pads.a)!.doc.getText('notes').toString()
    assert.ok(!text.includes('x'), 'nothing of the viewer reached the pad')
    const afterRows = await stored()
    // Byte-identical apart from the editor's own "LIVE " row.
    assert.deepEqual(afterRows.slice(0, before.length), before)
    assert.equal(afterRows.length, before.length + 1)
    raw.ws.close()
    editor.destroy()
  })

  test('a read-only stock client follows live, its typing is never stored, and it shows as a viewer', async () => {
    const editor = connectClient(server.wsUrl, pads.a2, { params: { token: linksA.edit }, name: 'Ana' })
    const viewer = connectClient(server.wsUrl, pads.a2, { params: { token: linksA.read } })
    viewer.provider.awareness.setLocalStateField('user', { name: 'Vic', color: 'red;background:url(//evil)' })
    try {
      await editor.synced()
      await viewer.synced()
      editor.text.insert(0, 'Agenda\n')
      await waitFor('viewer sees it', () => viewer.text.toString().startsWith('Agenda\n'))
      const agreed = editor.text.toString()
      viewer.text.insert(0, 'graffiti ')
      await waitFor('the viewer as seen by the editor', () =>
        [...editor.provider.awareness.getStates().values()].some(
          (s) => (s as { user?: { name?: string } }).user?.name === 'Vic',
        ),
      )
      const vic = [...editor.provider.awareness.getStates().values()].find(
        (s) => (s as { user?: { name?: string } }).user?.name === 'Vic',
      ) as { user: { viewer?: boolean; color?: string } }
      assert.equal(vic.user.viewer, true, 'marked a viewer by the server')
      assert.equal(vic.user.color, undefined, 'a hostile colour never reaches another client')
      // Editors are never marked, whatever they claim.
      editor.provider.awareness.setLocalStateField('user', { name: 'Ana', viewer: true })
      await new Promise((r) => setTimeout(r, 300))
      await server.rooms.flush()
      assert.equal(server.rooms.get(pads.a2)!.doc.getText('notes').toString(), agreed)
      assert.equal(editor.text.toString(), agreed, 'the editor never received the viewer’s text')
      assert.ok(viewer.text.toString().startsWith('graffiti '), 'the viewer keeps its own copy')
    } finally {
      editor.destroy()
      viewer.destroy()
    }
  })

  test('rotating the edit link cuts off live sockets that used it; read links and new links keep working', async () => {
    const old = connectClient(server.wsUrl, pads.b, { params: { token: linksB.edit } })
    const reader = connectClient(server.wsUrl, pads.b, { params: { token: linksB.read } })
    const closes = closesOf(old)
    await old.synced()
    await reader.synced()
    const urls = await json<Links>(
      await call('POST', '/api/events/event-b/links/rotate', { token: ADMIN, body: { link: 'edit' } }),
    )
    const fresh = tokenOf(urls.edit)
    assert.notEqual(fresh, linksB.edit)
    assert.equal(tokenOf(urls.read), linksB.read, 'the read link is untouched')
    await waitFor('the old link cut off', () => closes.length > 0)
    await new Promise((r) => setTimeout(r, 1500))
    assert.deepEqual(closes, [4401])
    assert.equal(reader.provider.wsconnected, true, 'the read-only socket stays')
    old.destroy()
    reader.destroy()
    await refusedWith(pads.b, { token: linksB.edit }, 4401)
    assert.equal((await call('GET', `/api/pads/${pads.b}`, { token: linksB.edit })).status, 401)
    const renewed = connectClient(server.wsUrl, pads.b, { params: { token: fresh } })
    await renewed.synced()
    renewed.destroy()
    linksB = { ...linksB, edit: fresh }
  })

  test('a client that ignores the close after a rotation gets nothing more stored', async () => {
    const urls = await json<Links>(await call('GET', '/api/events/event-b/links', { token: ADMIN }))
    const raw = await rawSocket(server.wsUrl, pads.b, { query: `token=${tokenOf(urls.edit)}` })
    raw.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    await waitFor('served', () => raw.received.length > 0)
    // Stop reading: the close frame never reaches this client, which keeps writing.
    ;(raw.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    await json(
      await call('POST', '/api/events/event-b/links/rotate', { token: ADMIN, body: { link: 'edit' } }),
    )
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(server.rooms.get(pads.b)!.doc))
    updates.length = 0
    doc.getText('notes').insert(0, 'AFTER-ROTATION ')
    for (const update of updates) raw.ws.send(encodeSyncUpdate(update))
    await new Promise((r) => setTimeout(r, 500))
    await server.rooms.flush()
    assert.ok(!(server.rooms.get(pads.b)?.doc.getText('notes').toString() ?? '').includes('AFTER-ROTATION'))
    assert.ok(
      !(await server.storage.padLog.load(pads.b))!.updates.some((row) =>
        Buffer.from(row.data).includes('AFTER-ROTATION'),
      ),
    )
    raw.ws.terminate()
    const fresh = await json<Links>(await call('GET', '/api/events/event-b/links', { token: ADMIN }))
    linksB = { ...linksB, edit: tokenOf(fresh.edit) }
  })

  test('a read-only socket without a name still shows as a viewer', async () => {
    const editor = connectClient(server.wsUrl, pads.a, { params: { token: linksA.edit } })
    const viewer = connectClient(server.wsUrl, pads.a, { params: { token: linksA.read } })
    try {
      viewer.provider.awareness.setLocalState({ cursor: null })
      await editor.synced()
      await viewer.synced()
      await waitFor('the viewer’s presence', () =>
        [...editor.provider.awareness.getStates().entries()].some(
          ([id, s]) =>
            id === viewer.doc.clientID && (s as { user?: { viewer?: boolean } }).user?.viewer === true,
        ),
      )
    } finally {
      editor.destroy()
      viewer.destroy()
    }
  })

  test('moving a pad to another event cuts off sockets that came in with the old event’s link', async () => {
    const id = (
      await json<{ id: string }>(
        await call('POST', '/api/events/event-a/pads', {
          token: ADMIN,
          body: { title: 'Moves', kind: 'talk' },
        }),
      )
    ).id
    const client = connectClient(server.wsUrl, id, { params: { token: linksA.edit } })
    const closes = closesOf(client)
    await client.synced()
    await json(await call('PATCH', `/api/pads/${id}`, { token: ADMIN, body: { event: 'event-b' } }))
    await waitFor('cut off', () => closes.length > 0)
    assert.deepEqual(closes, [4403])
    client.destroy()
  })
})

// ------------------------------------------------------------------ cross-site

describe('cross-site protection', () => {
  const origin = () => server.url

  test('a socket from another site is refused with 4403, even with a valid link; same host and no Origin are accepted', async () => {
    const foreign = await rawSocket(server.wsUrl, pads.a, {
      query: `token=${linksA.edit}`,
      headers: { origin: 'http://evil.example' },
    })
    await waitFor('closed', () => foreign.closed !== null)
    assert.equal(foreign.closed?.code, 4403)
    const nullOrigin = await rawSocket(server.wsUrl, pads.a, {
      query: `token=${linksA.edit}`,
      headers: { origin: 'null' },
    })
    await waitFor('closed', () => nullOrigin.closed !== null)
    assert.equal(nullOrigin.closed?.code, 4403)
    for (const headers of [{ origin: origin() }, {}] as Record<string, string>[]) {
      const ok = await rawSocket(server.wsUrl, pads.a, { query: `token=${linksA.edit}`, headers })
      ok.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
      await waitFor('served', () => ok.received.length > 0)
      assert.equal(ok.closed, null)
      ok.ws.close()
    }
  })

  test('ALLOWED_ORIGINS admits a proxy’s public origin', async () => {
    const proxied = await startTestServer(
      { allowedOrigins: ['https://pads.example.org'] },
      { adminToken: ADMIN },
    )
    try {
      const ok = await rawSocket(proxied.wsUrl, 'behind-proxy', {
        query: `token=${ADMIN}`,
        headers: { origin: 'https://pads.example.org' },
      })
      ok.ws.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
      await waitFor('served', () => ok.received.length > 0)
      ok.ws.close()
      const other = await rawSocket(proxied.wsUrl, 'behind-proxy', {
        query: `token=${ADMIN}`,
        headers: { origin: 'https://other.example.org' },
      })
      await waitFor('closed', () => other.closed !== null)
      assert.equal(other.closed?.code, 4403)
    } finally {
      await proxied.close()
    }
  })

  test('CSRF: a state-changing request from another site is refused, even carrying the organiser’s cookie', async () => {
    const cookie = `summitpad_tokens=${encodeURIComponent(ADMIN)}`
    const body = { slug: 'csrf-attempt', name: 'x' }
    const foreign = await call('POST', '/api/events', {
      body,
      headers: { cookie, origin: 'http://evil.example' },
    })
    assert.equal(foreign.status, 403)
    assert.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'cross_site')
    const fetchMeta = await call('POST', '/api/events', {
      body,
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    })
    assert.equal(fetchMeta.status, 403)
    assert.equal(
      (await call('GET', '/api/events/csrf-attempt', { token: ADMIN })).status,
      404,
      'nothing was created',
    )
    const same = await call('POST', '/api/events', { body, headers: { cookie, origin: origin() } })
    assert.equal(same.status, 201, 'the organiser’s own page may')
  })

  test('security headers and a CSP on every page, without upgrade-insecure-requests or HSTS', async () => {
    for (const path of ['/', `/p/${pads.a}`, '/healthz', '/api/nope']) {
      const res = await call('GET', path, { token: ADMIN })
      const csp = res.headers.get('content-security-policy') ?? ''
      assert.match(csp, /default-src 'self'/, path)
      assert.match(csp, /script-src 'self'(;|$)/, path)
      assert.doesNotMatch(csp, /upgrade-insecure-requests/, path)
      assert.equal(res.headers.get('strict-transport-security'), null, path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.ok(res.headers.get('x-frame-options'), path)
      await res.arrayBuffer()
    }
  })

  test('JSON errors carry no stack trace or file path', async () => {
    const res = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: '{"slug": ',
    })
    assert.equal(res.status, 400)
    const text = await res.text()
    assert.deepEqual(JSON.parse(text), {
      error: { code: 'invalid_json', message: 'request body is not valid JSON' },
    })
    assert.doesNotMatch(text, /node_modules|\/work\/|at [A-Za-z.]+ \(/)
  })
})

describe('open mode', () => {
  test('without ADMIN_TOKEN anyone edits, as in Etherpad; the backup stays local-only', async () => {
    const open = await startTestServer()
    try {
      const created = await fetch(`${open.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ slug: 'summit', name: 'Summit' }),
      })
      assert.equal(created.status, 201)
      const client = connectClient(open.wsUrl, 'hallway')
      await client.synced()
      client.text.insert(0, 'hello')
      await waitFor('stored', () => open.rooms.get('hallway')?.doc.getText('notes').toString() === 'hello')
      client.destroy()
      const proxied = await fetch(`${open.url}/api/admin/backup`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '203.0.113.9' },
      })
      assert.equal(proxied.status, 403)
    } finally {
      await open.close()
    }
  })
})
