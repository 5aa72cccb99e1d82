/**
 * The "now" page in Debian's Chromium: a session starts (it appears, and someone typing in it is
 * seen live) and another ends (it goes), without a reload; the test sets the schedule, never the
 * clock, and waits with generous deadlines. A protected event's page opens with the viewer's
 * link, and neither it, its JSON nor its sockets carry an edit or organiser secret.
 */
import assert from 'node:assert/strict'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { PadInfo } from '../server/meetings/model.ts'
import { eventually, launchChromium, personInTest } from './browser-setup.ts'
import { apiCall, connectClient, okJson, startTestServer, type TestServer } from './helpers.ts'

const MIN = 60_000
const iso = (ms: number) => new Date(ms).toISOString()

let browser: Browser
before(async () => {
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
})

const shown = (page: Page, padId: string) => page.locator(`[data-now="${padId}"]`)
const notesOf = (page: Page, padId: string) => shown(page, padId).locator('.now-notes').textContent()

/** Types a line into a pad with the stock client, as someone in the room would. */
async function typeInto(
  server: TestServer,
  padId: string,
  line: string,
  params: Record<string, string> = {},
) {
  const client = connectClient(server.wsUrl, padId, { params })
  await client.synced()
  client.text.insert(client.text.length, `${line}\n`)
  return client
}

test('a session starts (its notes follow live) and another ends, without a reload', async (t: TestContext) => {
  const server = await startTestServer()
  t.after(() => server.close())
  okJson(
    await apiCall(server, 'POST', '/api/events', { slug: 'lpc', name: 'LPC', timezone: 'Europe/Prague' }),
    201,
  )
  const newPad = async (title: string, room: string, startsAt: number, endsAt: number) =>
    okJson<PadInfo>(
      await apiCall(server, 'POST', '/api/events/lpc/pads', {
        title,
        kind: 'bof',
        room,
        startsAt: iso(startsAt),
        endsAt: iso(endsAt),
      }),
      201,
    )
  // Under way, with notes already; and one starting in a few seconds, in another room.
  const ending = await newPad('Memory cgroup BoF', 'Hall A', Date.now() - 30 * MIN, Date.now() + 60 * MIN)
  const startsAt = Date.now() + 12_000
  const starting = await newPad('Scheduler BoF', 'Hall B', startsAt, startsAt + 60 * MIN)
  const scribe = await typeInto(server, ending.id, 'DECISION: keep the v1 interface')
  t.after(() => scribe.destroy())

  const viewer = await personInTest(browser, t, 'Viewer')
  const sockets: string[] = []
  viewer.page.on('websocket', (ws) => sockets.push(ws.url()))
  // From the event page, by its link.
  await viewer.page.goto(`${server.url}/e/lpc`)
  await viewer.page.getByRole('link', { name: 'Happening now' }).click()
  await shown(viewer.page, ending.id).waitFor()
  await eventually('the notes of the session under way', async () =>
    /keep the v1 interface/.test((await notesOf(viewer.page, ending.id)) ?? ''),
  )
  // Only meaningful while the second session has not started yet (a slow start may miss it).
  if (Date.now() < startsAt - 2000) assert.equal(await shown(viewer.page, starting.id).count(), 0)
  await viewer.page.evaluate(() => Object.assign(globalThis, { notReloaded: true }))
  // The first session ends two seconds after the second starts: the page learns it when it asks
  // at the second's start (or at its bounded interval, if this change comes later than that).
  okJson(await apiCall(server, 'PATCH', `/api/pads/${ending.id}`, { endsAt: iso(startsAt + 2000) }))

  await eventually(
    'the second session appears when it starts',
    async () => (await shown(viewer.page, starting.id).count()) === 1,
    60_000,
  )
  const typist = await typeInto(server, starting.id, 'ACTION(peter): post the RFC')
  t.after(() => typist.destroy())
  await eventually('what is typed in it is seen live', async () =>
    /post the RFC/.test((await notesOf(viewer.page, starting.id)) ?? ''),
  )
  await eventually(
    'the first session goes when it ends',
    async () => (await shown(viewer.page, ending.id).count()) === 0,
    60_000,
  )
  assert.equal(
    await viewer.page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded),
    true,
    'no reload',
  )
  assert.match((await viewer.page.locator('#now-status').textContent()) ?? '', /1 session under way/)
  // Every socket the page opened asked to be read-only.
  assert.ok(sockets.length >= 2)
  for (const url of sockets) assert.match(url, /[?&]view=only(&|$)/, url)
})

test("protected: the viewer's link opens the page; no edit or organiser secret in it, its JSON or its sockets", async (t: TestContext) => {
  const ADMIN = 'now-browser-admin-token-0123'
  const server = await startTestServer({}, { adminToken: ADMIN })
  t.after(() => server.close())
  const auth = { authorization: `Bearer ${ADMIN}` }
  okJson(
    await apiCall(server, 'POST', '/api/events', { slug: 'closed', name: 'Closed door' }, undefined, auth),
    201,
  )
  const pad = okJson<PadInfo>(
    await apiCall(
      server,
      'POST',
      '/api/events/closed/pads',
      {
        title: 'Secret BoF',
        kind: 'bof',
        startsAt: iso(Date.now() - 5 * MIN),
        endsAt: iso(Date.now() + 60 * MIN),
      },
      undefined,
      auth,
    ),
    201,
  )
  const links = okJson<{ edit: string; read: string }>(
    await apiCall(server, 'GET', '/api/events/closed/links', undefined, undefined, auth),
  )
  const secret = (url: string) => new URL(url).searchParams.get('token')!
  const [edit, read] = [secret(links.edit), secret(links.read)]

  for (const [who, link, forbidden] of [
    ['viewer', read, [edit, ADMIN]],
    ['note-taker', edit, [edit, read, ADMIN]],
  ] as const) {
    const person = await personInTest(browser, t, who)
    const seen: string[] = []
    person.page.on('websocket', (ws) => seen.push(`socket ${ws.url()}`))
    person.page.on('response', (res) => {
      // The link itself is the first address; everything after it is what the page asked for.
      if (res.url().includes(`token=${link}`)) return
      seen.push(`request ${res.url()}`)
      void res.text().then(
        (body) => seen.push(`body of ${res.url()}: ${body}`),
        () => {},
      )
    })
    await person.page.goto(`${server.url}/e/closed/now?token=${link}`)
    assert.equal(new URL(person.page.url()).search, '', 'the token left the address bar')
    await shown(person.page, pad.id).waitFor()
    const typist = await typeInto(server, pad.id, `Typed for the ${who}`, { token: edit })
    t.after(() => typist.destroy())
    await eventually(`the ${who} follows live`, async () =>
      new RegExp(`Typed for the ${who}`).test((await notesOf(person.page, pad.id)) ?? ''),
    )
    const html = await person.page.content()
    for (const s of forbidden) {
      assert.ok(!html.includes(s), `no secret in the ${who}'s page`)
      for (const line of seen) assert.ok(!line.includes(s), `no secret in: ${line.slice(0, 200)}`)
    }
    assert.ok(
      seen.some((l) => l.startsWith('socket ') && l.includes('view=only')),
      `${who}: a read-only socket`,
    )
    assert.ok(
      seen.some((l) => l.includes('/api/events/closed/now')),
      `${who}: the JSON was read`,
    )
  }
})

test('ten sessions at once, ten people typing: every line seen live on one page', async (t: TestContext) => {
  const server = await startTestServer()
  t.after(() => server.close())
  okJson(await apiCall(server, 'POST', '/api/events', { slug: 'fosdem', name: 'FOSDEM' }), 201)
  const pads: PadInfo[] = []
  for (let i = 0; i < 10; i++)
    pads.push(
      okJson<PadInfo>(
        await apiCall(server, 'POST', '/api/events/fosdem/pads', {
          // One title is markup, to be shown as the text it is.
          title: i === 0 ? 'Devroom 0 <img src=x onerror="globalThis.pwned=1"> & co' : `Devroom ${i}`,
          kind: 'talk',
          room: `Room ${String(i).padStart(2, '0')}`,
          startsAt: iso(Date.now() - 5 * MIN),
          endsAt: iso(Date.now() + 60 * MIN),
        }),
        201,
      ),
    )
  const viewer = await personInTest(browser, t, 'Viewer')
  await viewer.page.goto(`${server.url}/e/fosdem/now`)
  await eventually('all ten shown', async () => (await viewer.page.locator('[data-now]').count()) === 10)
  assert.deepEqual(
    await viewer.page.locator('[data-now] h2').allTextContents(),
    pads.map((p) => p.title),
    'by room',
  )
  assert.equal(await viewer.page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined)
  const typists = await Promise.all(pads.map((p, i) => typeInto(server, p.id, `first line in room ${i}`)))
  t.after(() => {
    for (const c of typists) c.destroy()
  })
  for (let round = 0; round < 5; round++)
    for (const [i, c] of typists.entries()) c.text.insert(c.text.length, `round ${round} in room ${i}\n`)
  for (const [i, p] of pads.entries())
    await eventually(`room ${i}'s notes`, async () => {
      const text = (await notesOf(viewer.page, p.id)) ?? ''
      return text.includes(`first line in room ${i}`) && text.includes(`round 4 in room ${i}`)
    })
})
