/**
 * The series and materials controls in Debian's Chromium, as the people using them notice them:
 * "Start the next meeting" opens the new meeting with the open action items carried over, and
 * the two pages name each other (Continues / Continued in); a refused event is said in the form;
 * an editor adds a material on the event page (a non-web address is refused in plain words) and
 * removes it; a viewer sees the materials but none of these controls.
 */
import assert from 'node:assert/strict'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import type { PadInfo } from '../server/meetings/model.ts'
import { eventually, launchChromium, type PageGlobals, personInTest, waitForEditor } from './browser-setup.ts'
import { apiCall, connectClient, okJson, startTestServer, type TestServer } from './helpers.ts'

let browser: Browser
before(async () => {
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
})

const editorText = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as PageGlobals).summitpad?.view.state.doc.toString() ?? '')

async function write(server: TestServer, padId: string, text: string, params: Record<string, string> = {}) {
  const client = connectClient(server.wsUrl, padId, { params })
  try {
    await client.synced()
    client.text.insert(client.text.length, text)
    await eventually('the notes stored', async () =>
      ((await server.minutes.text(padId)) ?? '').includes(text.trim()),
    )
  } finally {
    client.destroy()
  }
}

test('start the next meeting from the pad page: carried over, and each page names the other', async (t: TestContext) => {
  const server = await startTestServer()
  t.after(() => server.close())
  for (const [slug, name] of [
    ['lpc-2026', 'LPC 2026'],
    ['lsfmm-2027', 'LSFMM 2027'],
  ])
    okJson(await apiCall(server, 'POST', '/api/events', { slug, name }), 201)
  const first = okJson<PadInfo>(
    await apiCall(server, 'POST', '/api/events/lpc-2026/pads', { title: 'Memory cgroup BoF', kind: 'bof' }),
    201,
  )
  await write(
    server,
    first.id,
    '\n- [ ] @alice post the v3 series\n- [x] @bob review v2\nDECISION: keep the v1 interface\n',
  )

  const { page } = await personInTest(browser, t, 'Ada')
  await page.goto(`${server.url}/p/${first.id}`)
  await waitForEditor(page)
  const form = page.locator('form.next-meeting')
  assert.equal(await form.getByLabel('Event').inputValue(), 'lpc-2026', 'the same event by default')

  // An event that does not exist: said in the form; the page stays.
  await form.getByLabel('Event').fill('no-such-event')
  await form.getByRole('button', { name: 'Start the next meeting' }).click()
  await eventually('the refusal shown', async () =>
    /no-such-event/.test((await form.locator('.message').textContent()) ?? ''),
  )
  assert.equal(new URL(page.url()).pathname, `/p/${first.id}`)

  await form.getByLabel('Event').fill('lsfmm-2027')
  await form.getByRole('button', { name: 'Start the next meeting' }).click()
  await page.waitForURL((url) => url.pathname !== `/p/${first.id}`)
  await waitForEditor(page)
  const nextId = new URL(page.url()).pathname.slice('/p/'.length)
  const carried = await editorText(page)
  assert.match(carried, /post the v3 series/, 'the open item is carried over')
  assert.doesNotMatch(carried, /review v2/, 'the done one is not')
  assert.match(carried, /keep the v1 interface/, 'the decision as context')
  const continues = page.locator('nav.series [data-series="continues"]')
  assert.equal(await continues.textContent(), 'Memory cgroup BoF')
  assert.match((await page.locator('.crumb').textContent()) ?? '', /LSFMM 2027/)

  // Back to the first meeting: it names its continuation, and offers no second one.
  await continues.click()
  await waitForEditor(page)
  const continuedIn = page.locator('nav.series [data-series="continued-in"]')
  assert.equal(await continuedIn.getAttribute('href'), `/p/${nextId}`)
  assert.equal(await page.locator('form.next-meeting').count(), 0)
  await page.getByRole('link', { name: 'The whole series' }).click()
  assert.equal(await page.locator('.series-meetings > li').count(), 2)
})

test('materials on the event page: an editor adds and removes one; a viewer sees them without controls', async (t: TestContext) => {
  const ADMIN = 'series-browser-admin-token-01'
  const server = await startTestServer({}, { adminToken: ADMIN })
  t.after(() => server.close())
  const auth = { authorization: `Bearer ${ADMIN}` }
  okJson(await apiCall(server, 'POST', '/api/events', { slug: 'lpc', name: 'LPC' }, undefined, auth), 201)
  const pad = okJson<PadInfo>(
    await apiCall(
      server,
      'POST',
      '/api/events/lpc/pads',
      { title: 'Scheduler talk', kind: 'talk' },
      undefined,
      auth,
    ),
    201,
  )
  const links = okJson<{ edit: string; read: string }>(
    await apiCall(server, 'GET', '/api/events/lpc/links', undefined, undefined, auth),
  )

  const editor = await personInTest(browser, t, 'Editor')
  const page = editor.page
  await page.goto(links.edit)
  await page.getByText('Add a material (slides, paper, recording…)').click()
  const form = page.locator('#add-material')
  await form.getByLabel('Session').selectOption(pad.id)
  await form.getByLabel('Kind').selectOption('slides')
  await form.getByLabel('Title').fill('Slides (PDF)')
  // Not a web address: refused, the rule named.
  await form.getByLabel('Address').fill('javascript:alert(1)')
  await form.getByRole('button', { name: 'Add' }).click()
  await eventually('the refusal shown', async () =>
    /http:\/\/ or https:\/\//.test((await form.locator('.message').textContent()) ?? ''),
  )
  await form.getByLabel('Address').fill('https://example.org/sched.pdf')
  await form.getByRole('button', { name: 'Add' }).click()
  const session = page.locator(`li.session[data-pad="${pad.id}"]`)
  const material = session.locator('.materials li', { hasText: 'Slides (PDF)' })
  await material.waitFor()
  assert.match((await material.textContent()) ?? '', /Slides:/)
  assert.equal(await material.getByRole('link').getAttribute('href'), 'https://example.org/sched.pdf')

  // The viewer: the material, on the event page and the pad page; no way to change it, no next meeting.
  const viewer = await personInTest(browser, t, 'Viewer')
  await viewer.page.goto(links.read)
  const seen = viewer.page.locator(`li.session[data-pad="${pad.id}"] .materials li`, {
    hasText: 'Slides (PDF)',
  })
  await seen.waitFor()
  assert.equal(await viewer.page.locator('[data-remove-material]').count(), 0)
  assert.equal(await viewer.page.locator('#add-material').count(), 0)
  await viewer.page.goto(`${server.url}/p/${pad.id}`)
  await waitForEditor(viewer.page)
  assert.equal(
    await viewer.page.locator('.pad-facts a', { hasText: 'Slides (PDF)' }).getAttribute('href'),
    'https://example.org/sched.pdf',
  )
  assert.equal(await viewer.page.locator('form.next-meeting').count(), 0)

  // The editor removes it: gone from the page at once, and for good.
  await material.getByRole('button', { name: 'Remove this material' }).click()
  await eventually('the material gone from the page', async () => (await material.count()) === 0)
  await page.reload()
  await session.waitFor()
  assert.equal(await session.locator('.materials li', { hasText: 'Slides (PDF)' }).count(), 0)
  const stored = okJson<{ materials: unknown[] }>(
    await apiCall(server, 'GET', `/api/pads/${pad.id}/materials`, undefined, undefined, auth),
  )
  assert.deepEqual(stored.materials, [])
})
