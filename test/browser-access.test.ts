/**
 * Protected mode in a real browser (Debian's Chromium): an organiser shares an event's links; a
 * note-taker opens the edit link and types; a viewer opens the read-only link, follows live and
 * cannot type; the organiser replaces the edit link and the note-taker's open editor says plainly
 * that the link no longer works. Each person has their own BrowserContext (cookie jar).
 */
import assert from 'node:assert/strict'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import {
  eventually,
  launchChromium,
  type PageElement,
  type PageGlobals,
  personInTest,
} from './browser-setup.ts'
import { sleep, startTestServer, type TestServer } from './helpers.ts'

const ADMIN = 'organiser-browser-token'

let server: TestServer
let browser: Browser

before(async () => {
  server = await startTestServer({}, { adminToken: ADMIN })
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await server?.close()
})

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status}`)
  return (await res.json()) as T
}

const saveState = (page: Page) =>
  page
    .locator('#save-state')
    .evaluate((el: PageElement) => ({ state: el.dataset.state ?? '', text: el.textContent ?? '' }))

const editorText = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as PageGlobals).summitpad?.view.state.doc.toString() ?? '')

const serverText = (padId: string) => server.rooms.get(padId)?.doc.getText('notes').toString() ?? ''

const person = (t: TestContext, name: string) => personInTest(browser, t, name)

test('edit link, read-only link and a replaced link, as the people holding them see it', async (t) => {
  await admin('POST', '/api/events', { slug: 'kernel-summit', name: 'Kernel Summit' })
  const pad = await admin<{ id: string }>('POST', '/api/events/kernel-summit/pads', {
    title: 'Memory cgroup BoF',
    kind: 'bof',
  })
  const links = await admin<{ edit: string; read: string }>('GET', '/api/events/kernel-summit/links')

  // Without a link: a page that says what is needed, not an editor.
  const stranger = await person(t, 'Stranger')
  const refused = await stranger.page.goto(`${server.url}/p/${pad.id}`)
  assert.equal(refused?.status(), 401)
  assert.match((await stranger.page.locator('main').textContent()) ?? '', /link from the organisers/)

  // The note-taker opens the edit link: the address loses the token, the editor works.
  const ada = await person(t, 'Ada')
  await ada.page.goto(links.edit)
  assert.equal(new URL(ada.page.url()).search, '', 'the token left the address bar')
  await ada.page.getByRole('link', { name: 'Memory cgroup BoF' }).click()
  await ada.page.locator('.cm-content').waitFor()
  await ada.page.locator('.cm-content').click()
  await ada.page.keyboard.press('Control+End')
  await ada.page.keyboard.type('\nDECISION: keep the v1 interface\n')
  await eventually('Ada saved', async () => (await saveState(ada.page)).state === 'saved')
  assert.match(serverText(pad.id), /keep the v1 interface/)

  // The viewer opens the read-only link: follows live, marked as viewing, cannot type.
  const vic = await person(t, 'Vic')
  await vic.page.goto(links.read)
  await vic.page.getByRole('link', { name: 'Memory cgroup BoF' }).click()
  await vic.page.locator('.cm-content').waitFor()
  await eventually('Vic sees the notes', async () =>
    (await editorText(vic.page)).includes('keep the v1 interface'),
  )
  await eventually('Vic told read-only', async () => (await saveState(vic.page)).state === 'read-only')
  assert.equal((await saveState(vic.page)).text, 'Following live')
  assert.equal((await vic.page.locator('.pad-bar .badge').textContent()) ?? '', 'View only')
  assert.equal(await vic.page.locator('.cm-content').getAttribute('contenteditable'), 'false')
  await vic.page.locator('.cm-content').click()
  await vic.page.keyboard.type('graffiti')
  await ada.page.keyboard.type('ACTION(vic): review the patch\n')
  await eventually('Vic follows live', async () => (await editorText(vic.page)).includes('review the patch'))
  assert.ok(!(await editorText(vic.page)).includes('graffiti'))
  assert.ok(!serverText(pad.id).includes('graffiti'))
  assert.match((await vic.page.locator('#people-list').textContent()) ?? '', /Vic \(you\) · viewing/)
  await eventually('Ada sees Vic as a viewer', async () =>
    ((await ada.page.locator('#people-list').textContent()) ?? '').includes('Vic · viewing'),
  )

  // The viewer can read the history, without the buttons that would change the pad.
  const history = await vic.context.newPage()
  const historyErrors: string[] = []
  history.on('pageerror', (err) => historyErrors.push(err.message))
  await history.goto(`${server.url}/p/${pad.id}/history`)
  await eventually('the history shows the notes', async () =>
    ((await history.locator('#revision-text').textContent()) ?? '').includes('review the patch'),
  )
  assert.equal(await history.locator('#restore').isVisible(), false)
  assert.deepEqual(historyErrors, [])
  await history.close()

  // The organiser replaces the edit link: Ada's open editor is cut off and says so plainly.
  await admin('POST', '/api/events/kernel-summit/links/rotate', { link: 'edit' })
  await eventually('Ada cut off', async () => (await saveState(ada.page)).state === 'refused')
  assert.match((await saveState(ada.page)).text, /replaced by the organisers/)
  await sleep(1500)
  assert.equal((await saveState(ada.page)).state, 'refused', 'no reconnecting with a dead link')
  // The viewer's link still works.
  assert.equal((await saveState(vic.page)).state, 'read-only')
})
