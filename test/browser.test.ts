/**
 * The pad editor in a real browser (Debian's Chromium through playwright-core) against a real
 * server on 127.0.0.1: what a note-taker sees — each other's text and named cursors, their own
 * undo, a "Saved" that is never shown before the server has the text, offline edits that survive
 * a closed tab, the live head count on the event page, the preview, and a phone-width layout.
 * Every person has their own BrowserContext: pages of one context would sync through
 * BroadcastChannel and hide what the server does.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, type TestContext, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import * as Y from 'yjs'
import { CLOSE_NOT_YOUR_EDITS } from '../server/sync/close-codes.ts'
import { docFromStored } from '../server/sync/pad-doc.ts'
import { encodeSyncUpdate } from '../shared/protocol.ts'
import {
  eventually,
  launchChromium,
  openPad,
  type PageElement,
  type PageGlobals,
  type Person,
  type PersonOptions,
  personInTest,
} from './browser-setup.ts'
import { rawSocket, sleep, startTestServer, type TestServer } from './helpers.ts'

let server: TestServer
let browser: Browser

before(async () => {
  server = await startTestServer()
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await server?.close()
})

// ---------------------------------------------------------------- a small language for the tests

/** A person in their own browser profile; closed when the test ends. */
const person = (t: { after(fn: () => Promise<void>): void }, name: string, options?: PersonOptions) =>
  personInTest(browser, t, name, options)

interface SaveState {
  state: string
  text: string
}

function saveState(page: Page): Promise<SaveState> {
  return page
    .locator('#save-state')
    .evaluate((el: PageElement) => ({ state: el.dataset.state ?? '', text: el.textContent ?? '' }))
}

/** The text in the person's editor, as they see it. */
function editorText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals
    // Empty while the page is still starting.
    return g.summitpad?.view.state.doc.toString() ?? ''
  })
}

/** The server's live text of a pad. */
function serverText(padId: string): string {
  return server.rooms.get(padId)?.doc.getText('notes').toString() ?? ''
}

/** The text the server has committed to SQLite. */
function storedText(padId: string): string {
  const doc = docFromStored(server.store.load(padId))
  const text = doc.getText('notes').toString()
  doc.destroy()
  return text
}

/** Puts the caret at the end of the notes and types there, like a person would. */
async function typeAtEnd(page: Page, text: string, delay = 0): Promise<void> {
  await page.locator('.cm-content').click()
  await page.keyboard.press('Control+End')
  await page.keyboard.type(text, { delay })
}

async function saved(p: Person, timeoutMs = 30_000): Promise<void> {
  await eventually(
    `${p.name} to see "Saved"`,
    async () => (await saveState(p.page)).state === 'saved',
    timeoutMs,
  )
  assert.equal((await saveState(p.page)).text, 'Saved')
}

/** Everyone's editor and the server show the same text. */
async function converged(padId: string, people: Person[], timeoutMs = 30_000): Promise<string> {
  let texts: string[] = []
  await eventually(
    `${people.map((p) => p.name).join(' and ')} to converge with the server`,
    async () => {
      texts = await Promise.all(people.map((p) => editorText(p.page)))
      return texts.every((t) => t === serverText(padId))
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}\nserver: ${JSON.stringify(serverText(padId))}\npages: ${JSON.stringify(texts)}`,
    )
  })
  return serverText(padId)
}

/**
 * Whether the server has already stored everything in this page's document: merging the page's
 * whole state into what SQLite holds changes nothing. (Stored, not merely in the room's memory:
 * that is what "Saved" promises.) The store only grows, so a "yes" read after the page's state
 * was taken is a "yes" for that moment too.
 */
function serverHolds(padId: string, pageState: Uint8Array): boolean {
  const stored = docFromStored(server.store.load(padId))
  const before = stored.getText('notes').toString()
  Y.applyUpdate(stored, pageState)
  const holds = stored.getText('notes').toString() === before
  stored.destroy()
  return holds
}

/**
 * Watches one page until stopped: every time it shows "Saved", the server must already hold all
 * the page has. It also counts the samples in which the server lacked something and the page
 * rightly did not say "Saved", so a test can check that the unsaved window really happened.
 */
function watchSavedIsTruthful(padId: string, page: Page) {
  const seen = { samples: 0, unsavedWhileServerLacked: 0, violations: [] as string[] }
  let running = true
  const loop = (async () => {
    while (running) {
      // The label and the document state are read in one go, so they belong to the same moment.
      const sample = await page
        .evaluate(() => {
          const g = globalThis as unknown as PageGlobals
          const el = g.document.querySelector('#save-state')!
          const update = Array.from(g.summitpad!.encodeState())
          return { state: el.dataset.state ?? '', text: el.textContent ?? '', update }
        })
        .catch(() => null)
      if (!sample) break
      seen.samples++
      const holds = serverHolds(padId, Uint8Array.from(sample.update))
      if (sample.state === 'saved' && !holds) {
        seen.violations.push(
          `"${sample.text}" while the server lacked some of it: ${JSON.stringify(serverText(padId))}`,
        )
      }
      if (sample.state !== 'saved' && !holds) seen.unsavedWhileServerLacked++
      await sleep(25)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return seen
    },
  }
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const data = res.status === 204 ? undefined : await res.json()
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${JSON.stringify(data)}`)
  return data as T
}

let padCounter = 0
const newPadId = (what: string) => `${what}-${process.pid}-${++padCounter}`

// ---------------------------------------------------------------- the tests

test('two people type at once and converge; each sees the other named; Ctrl-Z undoes only your own text', async (t: TestContext) => {
  const padId = newPadId('together')
  const ada = await person(t, 'Ada')
  const bob = await person(t, 'Bob')
  await Promise.all([openPad(ada.page, server.url, padId), openPad(bob.page, server.url, padId)])

  await typeAtEnd(bob.page, '# Agenda\n\n## Decisions\n')
  await converged(padId, [ada, bob])

  // Ada adds to the agenda line while Bob writes a decision below, at the same time.
  await ada.page.locator('.cm-content').click()
  await ada.page.keyboard.press('Control+Home')
  await ada.page.keyboard.press('End')
  await bob.page.locator('.cm-content').click()
  await bob.page.keyboard.press('Control+End')
  const adaText = ': sched_ext, memcg, io_uring'
  const bobText = '- ship the cgroup v2 knob in 6.19'
  await Promise.all([
    ada.page.keyboard.type(adaText, { delay: 15 }),
    bob.page.keyboard.type(bobText, { delay: 15 }),
  ])

  const text = await converged(padId, [ada, bob])
  assert.equal(text, `# Agenda${adaText}\n\n## Decisions\n${bobText}`)

  // Each sees the other's cursor, labelled with their name (and never their own).
  await eventually('named cursors', async () => {
    const [onAda, onBob] = await Promise.all([
      ada.page.locator('.cm-ySelectionInfo').allTextContents(),
      bob.page.locator('.cm-ySelectionInfo').allTextContents(),
    ])
    return onAda.join() === 'Bob' && onBob.join() === 'Ada'
  })
  // The labels are shown, not only on hover.
  const opacity = await ada.page
    .locator('.cm-ySelectionInfo')
    .evaluate((el: PageElement) => (globalThis as unknown as PageGlobals).getComputedStyle(el).opacity)
  assert.equal(opacity, '1')
  // …and both are in the "here now" list.
  assert.deepEqual(await ada.page.locator('#people-list li').allTextContents(), ['Ada (you)', 'Bob'])
  assert.equal(await bob.page.locator('#people-count').textContent(), '2')

  // Ctrl-Z on Ada's keyboard takes back Ada's words only; Bob's stay, on every screen.
  await ada.page.locator('.cm-content').focus()
  for (let i = 0; i < 5 && (await editorText(ada.page)).includes('io_uring'); i++) {
    await ada.page.keyboard.press('Control+z')
  }
  const undone = await converged(padId, [ada, bob])
  assert.equal(undone, `# Agenda\n\n## Decisions\n${bobText}`)
  // Redo brings them back. (With Shift held a real keyboard reports "Z", so press that.) A busy
  // machine can split Ada's typing into several undo steps, so redo as often as undo was needed.
  for (let i = 0; i < 5 && !(await editorText(ada.page)).includes('io_uring'); i++) {
    await ada.page.keyboard.press('Control+Shift+Z')
  }
  assert.equal(await converged(padId, [ada, bob]), text)
  await Promise.all([saved(ada), saved(bob)])
  assert.equal(storedText(padId), text)
})

test('offline: typing shows unsaved changes; back online it converges and shows "Saved"', async (t: TestContext) => {
  const padId = newPadId('offline')
  const ada = await person(t, 'Ada', { network: true })
  const bob = await person(t, 'Bob')
  await Promise.all([openPad(ada.page, server.url, padId), openPad(bob.page, server.url, padId)])
  await typeAtEnd(ada.page, 'Attendees: Ada, Bob\n')
  await converged(padId, [ada, bob])
  await saved(ada)

  const watch = watchSavedIsTruthful(padId, ada.page)
  await ada.network.cut()
  await eventually('Ada to see "Offline"', async () => (await saveState(ada.page)).state === 'offline')
  await typeAtEnd(ada.page, 'Typed on the train\n')
  await typeAtEnd(bob.page, 'Bob meanwhile\n')
  const offline = await saveState(ada.page)
  assert.equal(offline.state, 'offline')
  assert.equal(offline.text, 'Offline — unsaved changes')
  // It really is offline: the server and Bob never got it.
  await sleep(500)
  assert.ok(!serverText(padId).includes('train'))
  assert.ok(!(await editorText(bob.page)).includes('train'))

  await ada.network.restore()
  const text = await converged(padId, [ada, bob])
  assert.match(text, /Typed on the train\n/)
  assert.match(text, /Bob meanwhile\n/)
  await saved(ada)
  const seen = await watch.stop()
  assert.deepEqual(seen.violations, [])
  assert.equal(storedText(padId), text)
})

test('someone writes under your client id while you are offline: your lines survive and "Saved" tells the truth', async (t: TestContext) => {
  const padId = newPadId('squat')
  const ada = await person(t, 'Ada', { network: true })
  const bob = await person(t, 'Bob')
  await Promise.all([openPad(ada.page, server.url, padId), openPad(bob.page, server.url, padId)])
  await typeAtEnd(ada.page, 'Ada online\n')
  await converged(padId, [ada, bob])
  await saved(ada)
  const clientIdOf = (page: Page) =>
    page.evaluate(
      () => (globalThis as unknown as { summitpad: { doc: { clientID: number } } }).summitpad.doc.clientID,
    )
  const adaId = await clientIdOf(ada.page)
  // The editor sent its writer key (kept with its offline copy): Ada's id is hers in storage.
  assert.notEqual(server.store.writerOf(padId, adaId), null)

  const watch = watchSavedIsTruthful(padId, ada.page)
  await ada.network.cut()
  await eventually('Ada to see "Offline"', async () => (await saveState(ada.page)).state === 'offline')
  await typeAtEnd(ada.page, 'Ada on the train\n')
  // Anyone with the edit link: Ada's id is in everyone's presence, her next clock in the pad.
  const squatDoc = new Y.Doc()
  Y.applyUpdate(squatDoc, Y.encodeStateAsUpdate(server.rooms.get(padId)!.doc))
  squatDoc.clientID = adaId
  const before = Y.encodeStateVector(squatDoc)
  squatDoc.getText('notes').insert(0, 'SQUAT ')
  const squatter = await rawSocket(server.wsUrl, padId)
  t.after(() => squatter.ws.terminate())
  squatter.ws.send(encodeSyncUpdate(Y.encodeStateAsUpdate(squatDoc, before)))
  await eventually('the squatter refused', () => squatter.closed?.code === CLOSE_NOT_YOUR_EDITS)

  await ada.network.restore()
  const text = await converged(padId, [ada, bob], 15_000)
  assert.equal(text, 'Ada online\nAda on the train\n')
  await saved(ada, 15_000)
  const seen = await watch.stop()
  assert.deepEqual(seen.violations, [])
  assert.equal(await clientIdOf(ada.page), adaId, 'Yjs moved Ada to another id')
  assert.equal(storedText(padId), text)
})

test('frames lost on the way are healed, and "Saved" waits until the server has them', async (t: TestContext) => {
  const padId = newPadId('lossy')
  const ada = await person(t, 'Ada')
  const bob = await person(t, 'Bob')
  let dropping = false
  let dropped = 0
  await ada.page.routeWebSocket(/\/sync\//, (ws) => {
    const toServer = ws.connectToServer()
    ws.onMessage((m) => {
      // Sync updates (message 0, sync type 2) vanish; handshakes and save checks go through.
      if (dropping && typeof m !== 'string' && m[0] === 0 && m[1] === 2) {
        dropped++
        return
      }
      toServer.send(m)
    })
    toServer.onMessage((m) => ws.send(m))
  })
  await Promise.all([openPad(ada.page, server.url, padId), openPad(bob.page, server.url, padId)])
  await typeAtEnd(ada.page, 'Minutes\n')
  await converged(padId, [ada, bob])
  await saved(ada)

  const watch = watchSavedIsTruthful(padId, ada.page)
  dropping = true
  for (const line of ['lost line one\n', 'lost line two\n', 'lost line three\n']) {
    await typeAtEnd(ada.page, line)
    await sleep(700)
  }
  // A deletion, which no state vector shows: Ada deletes " three" with Backspace.
  await ada.page.keyboard.press('ArrowUp')
  await ada.page.keyboard.press('End')
  for (let i = 0; i < ' three'.length; i++) await ada.page.keyboard.press('Backspace')
  await sleep(700)
  dropping = false
  await typeAtEnd(ada.page, 'after the loss\n')

  const text = await converged(padId, [ada, bob])
  assert.equal(text, 'Minutes\nlost line one\nlost line two\nlost line\nafter the loss\n')
  await saved(ada)
  const seen = await watch.stop()
  assert.ok(dropped > 10, `only ${dropped} frames were dropped`)
  assert.deepEqual(seen.violations, [])
  // The test saw the window in which the server lacked the text, and "Saved" was not shown in it.
  assert.ok(seen.unsavedWhileServerLacked > 0, `no unsaved window seen in ${seen.samples} samples`)
  assert.equal(storedText(padId), text)
})

/** The notes this browser keeps for a pad in IndexedDB (y-indexeddb's log of updates), as text. */
async function keptInBrowser(page: Page, padId: string): Promise<string> {
  const updates = await page.evaluate(
    (name) =>
      new Promise<number[][]>((resolve, reject) => {
        const open = (globalThis as unknown as PageGlobals).indexedDB.open(name)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const all = db.transaction('updates').objectStore('updates').getAll()
          all.onerror = () => reject(all.error)
          all.onsuccess = () => {
            db.close()
            resolve(all.result.map((u) => Array.from(u)))
          }
        }
      }),
    `summitpad:${padId}`,
  )
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, Uint8Array.from(update))
  const text = doc.getText('notes').toString()
  doc.destroy()
  return text
}

/**
 * Ada and Bob open a pad and Ada writes "Notes"; then Ada's network goes, she writes a line, and
 * closes the tab before it could be sent. Returns the two of them and that line.
 */
async function writeOfflineThenCloseTab(t: TestContext, padId: string) {
  const ada = await person(t, 'Ada', { network: true })
  const bob = await person(t, 'Bob')
  await Promise.all([openPad(ada.page, server.url, padId), openPad(bob.page, server.url, padId)])
  await typeAtEnd(ada.page, 'Notes\n')
  await converged(padId, [ada, bob])
  // The page keeps an offline copy of itself once it has loaded; the page is stored together with
  // every file it can load or not at all, so once it is there the copy is complete. Opening it again
  // offline also needs the service worker, which installs on its own schedule.
  await eventually('the page to be kept for offline use, and a worker to serve it', () =>
    ada.page.evaluate(async () => {
      const g = globalThis as unknown as PageGlobals
      return (
        (await g.caches.match(g.location.pathname)) !== undefined &&
        Boolean(g.navigator?.serviceWorker?.controller)
      )
    }),
  )

  await ada.network.cut()
  await eventually('Ada to see "Offline"', async () => (await saveState(ada.page)).state === 'offline')
  const offlineLine = 'Written offline, then the laptop lid closed\n'
  await typeAtEnd(ada.page, offlineLine)
  assert.equal((await saveState(ada.page)).text, 'Offline — unsaved changes')
  // y-indexeddb writes each change in its own IndexedDB transaction, which can lag on a loaded
  // machine; a person closes the lid a moment after the last keystroke.
  await eventually('the offline line to be kept in IndexedDB', async () =>
    (await keptInBrowser(ada.page, padId)).endsWith(offlineLine),
  )
  await ada.page.close()
  await sleep(300)
  assert.ok(!serverText(padId).includes('lid'), 'the closing page got its frames through')
  return { ada, bob, offlineLine }
}

test('offline edits in a closed tab are delivered when the pad is opened again online', async (t: TestContext) => {
  const padId = newPadId('closed-tab')
  const { ada, bob, offlineLine } = await writeOfflineThenCloseTab(t, padId)

  // Back online, the pad opened again delivers them to Bob.
  await ada.network.restore()
  const again = await ada.context.newPage()
  await openPad(again, server.url, padId)
  const reopened = { ...ada, page: again }
  const text = await converged(padId, [reopened, bob])
  assert.equal(text, `Notes\n${offlineLine}`)
  await saved(reopened)
  assert.equal(storedText(padId), text)
})

test('offline edits in a closed tab: the pad opens again while still offline, shows them, and delivers them once online', async (t: TestContext) => {
  const padId = newPadId('reopen-offline')
  const { ada, bob, offlineLine } = await writeOfflineThenCloseTab(t, padId)

  // Still offline, the pad opens again: the service worker has the page, IndexedDB the text.
  const page = await ada.context.newPage()
  const log: string[] = []
  const errors: string[] = []
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`))
  page.on('requestfailed', (r) => log.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
  page.on('pageerror', (err) => errors.push(err.message))
  const response = await page.goto(`${server.url}/p/${padId}`)
  assert.ok(response?.fromServiceWorker(), 'the page was not served by the service worker')
  await eventually('the offline edits in the reopened page', async () =>
    (await editorText(page)).endsWith(offlineLine),
  ).catch(async (err: Error) => {
    const state = await saveState(page).catch(() => null)
    throw new Error(`${err.message}\nsave state: ${JSON.stringify(state)}\npage console:\n${log.join('\n')}`)
  })
  assert.equal(await editorText(page), `Notes\n${offlineLine}`)
  // Truthful: what came back from the browser's store is not known to be saved.
  const state = await saveState(page)
  assert.equal(state.state, 'offline')
  assert.equal(state.text, 'Offline — unsaved changes')
  assert.ok(!serverText(padId).includes('lid'))

  // Back online, this page delivers them to Bob, and only then says "Saved".
  await ada.network.restore()
  const reopened = { ...ada, page }
  const text = await converged(padId, [reopened, bob])
  assert.equal(text, `Notes\n${offlineLine}`)
  await saved(reopened)
  assert.equal(storedText(padId), text)
  assert.deepEqual(errors, [], 'the page opened offline threw')
})

test('from the event page to a pad: the live count changes as people come and go', async (t: TestContext) => {
  const slug = `lpc-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'Plumbers Conf', timezone: 'Europe/Prague' })
  const pad = await api<{ id: string }>('POST', `/api/events/${slug}/pads`, {
    title: 'Memory cgroup BoF',
    kind: 'bof',
  })
  const watcher = await person(t, 'Wanda')
  const ada = await person(t, 'Ada')
  await watcher.page.goto(`${server.url}/e/${slug}`)
  const live = watcher.page.locator(`[data-live="${pad.id}"]`)
  assert.equal((await live.textContent())?.trim(), '')

  await ada.page.goto(`${server.url}/e/${slug}`)
  await ada.page.getByRole('link', { name: 'Memory cgroup BoF' }).click()
  await ada.page.waitForURL(`**/p/${pad.id}`)
  await ada.page.locator('.cm-content').waitFor()
  assert.equal(await ada.page.locator('.pad-bar h1').textContent(), 'Memory cgroup BoF')
  await typeAtEnd(ada.page, '\nAda: first note from the BoF\n')
  await saved(ada)
  assert.match(serverText(pad.id), /first note from the BoF/)

  // The event page polls every 5 s.
  // The count includes a socket whose presence has not arrived yet; the name follows with it.
  await eventually(
    'the event page to count Ada, by name',
    async () => (await live.textContent()) === '● 1 here' && (await live.getAttribute('title')) === 'Ada',
    30_000,
  )

  await ada.page.close()
  await eventually('the event page to see Ada leave', async () => (await live.textContent()) === '', 30_000)
})

test('the schedule import previews what would change, writes only on Import, and says a missing session is kept', async (t: TestContext) => {
  const slug = `import-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'DemoCon', timezone: 'UTC' })
  const file = fileURLToPath(new URL('./fixtures/schedules/pretalx-democon.json', import.meta.url))
  const pads = async () => (await api<{ pads: { title: string }[] }>('GET', `/api/events/${slug}/pads`)).pads
  const olga = await person(t, 'Olga')
  const page = olga.page
  await page.goto(`${server.url}/e/${slug}`)
  await page.locator('#import').locator('xpath=..').locator('summary').click()
  await page.locator('#import input[name="file"]').setInputFiles(file)
  await page.getByRole('button', { name: 'Preview the import' }).click()
  const preview = page.locator('.import-preview')
  await preview.locator('[data-part="New pads"] h4').waitFor()
  assert.equal(await preview.locator('[data-part="New pads"] h4').textContent(), 'New pads: 36')
  assert.match(
    (await preview.locator('p').first().textContent()) ?? '',
    /36 sessions read \(frab\/pretalx schedule\.json\)/,
  )
  assert.equal((await pads()).length, 0, 'a preview writes nothing')

  await page.getByRole('button', { name: 'Import: create 36, update 0' }).click()
  await page.getByText(/^Created 36, updated 0/).waitFor()
  assert.equal((await pads()).length, 36)

  // The same schedule without its first session, pasted: the preview says what happens to its pad.
  await page.goto(`${server.url}/e/${slug}`)
  await page.locator('#import').locator('xpath=..').locator('summary').click()
  const changed = JSON.parse(fs.readFileSync(file, 'utf8'))
  const gray = changed.schedule.conference.days[0].rooms['Gray Room']
  const removed = gray.shift().title as string
  await page.locator('#import textarea[name="text"]').fill(JSON.stringify(changed))
  await page.getByRole('button', { name: 'Preview the import' }).click()
  const gone = preview.locator('[data-part="No longer in the schedule"]')
  await gone.waitFor()
  assert.equal(await gone.locator('h4').textContent(), 'No longer in the schedule: 1')
  assert.match((await gone.locator('p').textContent()) ?? '', /not deleted/)
  assert.equal(await gone.locator('li').textContent(), removed)
  assert.ok(await page.getByText('Nothing to import: every session is up to date.').isVisible())
  assert.equal((await pads()).length, 36, 'nothing is ever deleted')
})

test('the name is asked once and remembered; the preview renders Markdown but never raw HTML', async (t: TestContext) => {
  const padId = newPadId('name-preview')
  const grace = await person(t, 'Grace', { presetName: false })
  const alerts: string[] = []
  grace.page.on('dialog', (d) => {
    alerts.push(d.message())
    void d.dismiss()
  })
  await grace.page.goto(`${server.url}/p/${padId}`)
  const dialog = grace.page.getByRole('dialog', { name: 'Your name' })
  await dialog.waitFor()
  // The name field has the focus: Grace just types. An empty name is not accepted.
  await eventually('the name field to have the focus', () =>
    dialog.getByRole('textbox', { name: 'Name' }).evaluate((el) => el === el.ownerDocument.activeElement),
  )
  await grace.page.keyboard.press('Enter')
  assert.ok(await dialog.isVisible())
  await grace.page.keyboard.type('Grace')
  await grace.page.keyboard.press('Enter')
  await dialog.waitFor({ state: 'hidden' })
  assert.equal(await grace.page.locator('#name-button').textContent(), 'Grace')
  assert.deepEqual(await grace.page.locator('#people-list li').allTextContents(), ['Grace (you)'])

  await grace.page.reload()
  await grace.page.locator('.cm-content').waitFor()
  await sleep(300)
  assert.equal(await dialog.isVisible(), false)
  assert.equal(await grace.page.locator('#name-button').textContent(), 'Grace')

  await typeAtEnd(
    grace.page,
    '# Heading\n\nSome *emphasis* and <img src=x onerror=alert(1)> inline.\n\n<script>alert(2)</script>\n',
  )
  // On a laptop the preview is beside the editor from the start; the toggle hides and shows it.
  const toggle = grace.page.getByRole('button', { name: 'Preview' })
  const preview = grace.page.locator('#preview')
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true')
  assert.ok(await preview.isVisible())
  await toggle.focus()
  await grace.page.keyboard.press('Enter') // keyboard reachable
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false')
  assert.equal(await preview.isVisible(), false)
  await grace.page.keyboard.press('Enter')
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true')
  await preview.locator('h1').waitFor()
  assert.equal(await preview.locator('h1').textContent(), 'Heading')
  assert.equal(await preview.locator('em').textContent(), 'emphasis')
  assert.equal(await preview.locator('img, script').count(), 0)
  assert.match((await preview.textContent()) ?? '', /<img src=x onerror=alert\(1\)>/)
  await sleep(300)
  assert.deepEqual(alerts, [])
})

test('readable at 360 px wide: no horizontal scrolling, offline, with the preview, or closed by the server', async (t: TestContext) => {
  const padId = newPadId('phone')
  const ada = await person(t, 'Ada Lovelace-Byron, Countess of Lovelace', {
    viewport: { width: 360, height: 740 },
  })
  await openPad(ada.page, server.url, padId)
  const noHorizontalScroll = async (when: string) => {
    const width = await ada.page.evaluate(
      () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
    )
    assert.ok(width <= 360, `${when}: the page is ${width} px wide`)
  }
  await noHorizontalScroll('empty pad')
  await typeAtEnd(
    ada.page,
    '## Links\n\nhttps://lore.kernel.org/linux-mm/20250101000000.1234567-1-someone@example.org/T/#u\n\n' +
      '```\nperf record -g -e sched:sched_switch -- ./a-rather-long-benchmark --with --many --flags\n```\n\n' +
      '| option | default | meaning |\n| --- | --- | --- |\n| memory.high | max | throttle above |\n',
  )
  await noHorizontalScroll('long lines')
  await ada.context.setOffline(true)
  await typeAtEnd(ada.page, 'offline note\n')
  await eventually('Ada to see "Offline"', async () => (await saveState(ada.page)).state === 'offline')
  await noHorizontalScroll('offline with unsaved changes')
  await ada.page.getByRole('button', { name: 'Preview' }).click()
  await ada.page.locator('#preview h2').waitFor()
  assert.ok(await ada.page.locator('#preview').isVisible())
  await noHorizontalScroll('preview')
  await ada.context.setOffline(false)
  await saved(ada)

  // The pad is deleted while open: the server closes the socket for good, and the page says so
  // plainly instead of "Reconnecting" forever, and stops taking keystrokes that could not be saved.
  await api('DELETE', `/api/pads/${padId}`)
  await eventually('Ada to see the pad closed', async () => (await saveState(ada.page)).state === 'refused')
  assert.match((await saveState(ada.page)).text, /pad deleted/)
  await noHorizontalScroll('closed by the server')
  await ada.page.getByRole('button', { name: 'Preview' }).click()
  assert.equal(await ada.page.locator('.cm-content').getAttribute('contenteditable'), 'false')
})

/** Where the toolbar's items sit: the rows they make and where the notes start. */
async function barLayout(
  page: Page,
): Promise<{ rows: number; barHeight: number; notesTop: number; status: number }> {
  return page.evaluate(() => {
    type Box = { top: number; height: number; width: number }
    type El = { getBoundingClientRect(): Box; getClientRects(): { length: number }; children: ArrayLike<El> }
    const doc = (globalThis as unknown as { document: { querySelector(s: string): El } }).document
    const bar = doc.querySelector('.pad-bar')
    const tops = new Set<number>()
    for (const child of Array.from(bar.children)) {
      if (child.getClientRects().length === 0) continue
      const box = child.getBoundingClientRect()
      tops.add(Math.round(box.top + box.height / 2))
    }
    // Items of one row are centred on the same line (align-items: center); a few px of slack.
    const rows = [...tops].sort((a, b) => a - b).filter((top, i, all) => i === 0 || top - all[i - 1]! > 6)
    return {
      rows: rows.length,
      barHeight: bar.getBoundingClientRect().height,
      notesTop: doc.querySelector('.cm-content').getBoundingClientRect().top,
      status: doc.querySelector('#save-state').getBoundingClientRect().width,
    }
  })
}

test('the toolbar stays one row at 1280 px while offline or reconnecting: the notes do not move, the status keeps its width', async (t: TestContext) => {
  const slug = `bar-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'Linux Plumbers Conference 2026', timezone: 'UTC' })
  const pad = await api<{ id: string }>('POST', `/api/events/${slug}/pads`, {
    title: 'Containers and checkpoint/restore micro-conference',
    kind: 'bof',
  })
  const ada = await person(t, 'Ada Lovelace-Byron, Countess of Lovelace', { network: true })
  await openPad(ada.page, server.url, pad.id)
  await typeAtEnd(ada.page, 'Attendees: Ada\n')
  await saved(ada)
  const before = await barLayout(ada.page)
  assert.equal(before.rows, 1, 'the toolbar is one row when saved')

  // Every status the page shows, with the layout at that moment (some last only a few ms).
  await ada.page.evaluate(() => {
    type El = { getBoundingClientRect(): { height: number; top: number; width: number } }
    const g = globalThis as unknown as {
      document: { querySelector(s: string): El & PageElement }
      MutationObserver: new (cb: () => void) => { observe(el: unknown, o: object): void }
      shown: unknown[]
    }
    const status = g.document.querySelector('#save-state')
    g.shown = []
    new g.MutationObserver(() => {
      g.shown.push({
        state: status.dataset.state,
        text: status.textContent,
        barHeight: g.document.querySelector('.pad-bar').getBoundingClientRect().height,
        notesTop: g.document.querySelector('.cm-content').getBoundingClientRect().top,
        status: status.getBoundingClientRect().width,
      })
    }).observe(status, { childList: true, characterData: true, subtree: true, attributes: true })
  })
  await ada.network.cut()
  await eventually('Ada to see "Offline"', async () => (await saveState(ada.page)).state === 'offline')
  // Dozens of keystrokes: a count of them would mean nothing to anyone.
  await typeAtEnd(ada.page, 'Typed on the train, quite a long line of notes about checkpointing.\n', 5)
  assert.equal((await saveState(ada.page)).text, 'Offline — unsaved changes')
  assert.equal((await barLayout(ada.page)).rows, 1, 'offline: the toolbar wrapped')
  await ada.network.restore()
  await saved(ada)
  const shown = (await ada.page.evaluate(() => (globalThis as unknown as { shown: unknown[] }).shown)) as {
    state: string
    text: string
    barHeight: number
    notesTop: number
    status: number
  }[]
  assert.ok(
    shown.some((s) => s.text === 'Reconnecting — unsaved changes'),
    `never showed "Reconnecting": ${JSON.stringify(shown.map((s) => s.text))}`,
  )
  for (const s of shown) {
    const { barHeight, notesTop, status } = before
    assert.deepEqual(
      { barHeight: s.barHeight, notesTop: s.notesTop, status: s.status },
      { barHeight, notesTop, status },
      `"${s.text}" moved the toolbar or the notes`,
    )
  }
})

test('on a phone the toolbar takes two rows and a long address wraps in the preview', async (t: TestContext) => {
  const slug = `phonebar-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'Linux Plumbers Conference 2026', timezone: 'UTC' })
  const pad = await api<{ id: string }>('POST', `/api/events/${slug}/pads`, {
    title: 'Containers and checkpoint/restore micro-conference',
    kind: 'bof',
  })
  const ada = await person(t, 'Ada Lovelace-Byron', { viewport: { width: 360, height: 740 }, mobile: true })
  await openPad(ada.page, server.url, pad.id)
  assert.ok((await barLayout(ada.page)).rows <= 2, 'the toolbar takes more than two rows')
  await typeAtEnd(
    ada.page,
    '\nhttps://lore.kernel.org/linux-mm/20250101000000.1234567-1-someone@example.org/T/#u\n',
  )
  await saved(ada)
  await ada.page.getByRole('button', { name: 'Preview' }).click()
  await ada.page.locator('#preview a[href*="lore.kernel.org"]').waitFor()
  const preview = await ada.page
    .locator('#preview')
    .evaluate((el: { scrollWidth: number; clientWidth: number }) => ({
      scroll: el.scrollWidth,
      client: el.clientWidth,
    }))
  assert.ok(
    preview.scroll <= preview.client,
    `the preview scrolls sideways: ${preview.scroll} > ${preview.client}`,
  )
  assert.ok((await barLayout(ada.page)).rows <= 2, 'with the preview, the toolbar takes more than two rows')
})

test('a restore tells the open editor who brought back which version, is credited to them, and closing asks first', async (t: TestContext) => {
  const slug = `restore-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'DemoCon', timezone: 'UTC' })
  const pad = await api<{ id: string }>('POST', `/api/events/${slug}/pads`, {
    title: 'Tracing BoF',
    kind: 'bof',
  })
  const ada = await person(t, 'Ada')
  const bob = await person(t, 'Bob')
  await openPad(ada.page, server.url, pad.id)
  await typeAtEnd(ada.page, 'Ada: my notes on tracing\n')
  await saved(ada)

  const answers: boolean[] = []
  const asked: string[] = []
  bob.page.on('dialog', (dialog) => {
    asked.push(dialog.message())
    void (answers.shift() ? dialog.accept() : dialog.dismiss())
  })
  const history = bob.page
  await history.goto(`${server.url}/p/${pad.id}/history`)
  const label = history.locator('#step-label')
  await eventually('the history to show Ada', async () => /Ada/.test((await label.textContent()) ?? ''))
  // Back to the template, before Ada wrote.
  await history.locator('#slider').focus()
  await history.keyboard.press('Home')
  await eventually('the first step', async () => /^Step 1 of/.test((await label.textContent()) ?? ''))
  answers.push(true)
  await history.getByRole('button', { name: 'Restore this version' }).click()
  await history.getByText('Restored.', { exact: false }).waitFor()

  // Ada is told, in her editor, who did it and which version came back.
  const notice = ada.page.getByRole('alert')
  await notice.waitFor()
  assert.match((await notice.textContent()) ?? '', /Bob restored the version of \d/)
  assert.ok(!(await editorText(ada.page)).includes('my notes on tracing'))

  // The step is Bob's, and a second restore right after is a step of its own.
  const lastLabel = async () => (await label.textContent()) ?? ''
  await eventually('the restore step', async () => /Bob restored the version of/.test(await lastLabel()))
  const steps = Number(/of (\d+)/.exec(await lastLabel())![1])
  await history.locator('#slider').focus()
  await history.keyboard.press('ArrowLeft')
  await eventually("Ada's step", async () => /Ada/.test(await lastLabel()))
  answers.push(true)
  await history.getByRole('button', { name: 'Restore this version' }).click()
  await eventually('the second restore step', async () =>
    new RegExp(`^Step ${steps + 1} of ${steps + 1}: Bob restored`).test(await lastLabel()),
  )
  await eventually('Ada to have her notes back', async () =>
    (await editorText(ada.page)).includes('my notes on tracing'),
  )

  // Closing asks first; "no" leaves it open.
  answers.push(false)
  await history.getByRole('button', { name: 'Close the session' }).click()
  await eventually('the question', async () => asked.some((q) => /Close the session\?/.test(q)))
  assert.equal(await history.locator('#closed-note').isVisible(), false)
  answers.push(true)
  await history.getByRole('button', { name: 'Close the session' }).click()
  await history.locator('#closed-note').waitFor()
})

test("the time slider: two minutes of two people typing are a few steps, with times in the event's zone; one change is one click away", async (t: TestContext) => {
  const slug = `slider-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'Tokyo Summit', timezone: 'Asia/Tokyo' })
  const pad = await api<{ id: string }>('POST', `/api/events/${slug}/pads`, {
    title: 'Scheduler BoF',
    kind: 'bof',
  })
  // 800 keystrokes in two minutes, Ada and Bob taking turns every few words, stored as the server
  // stores them (a row per update, with its author and time); the meeting starts on the next hour.
  const start = Math.ceil((Date.now() + 3_600_000) / 3_600_000) * 3_600_000
  const ada = docFromStored(server.store.load(pad.id))
  const bob = docFromStored(server.store.load(pad.id))
  const rows: { padId: string; at: number; conn: string; author: string; data: Uint8Array }[] = []
  const words = 'the scheduler kicks a stalled task when it '
  for (let i = 0; i < 800; i++) {
    const [writer, other, author] = Math.floor(i / 12) % 2 === 0 ? [ada, bob, 'Ada'] : [bob, ada, 'Bob']
    const before = Y.encodeStateVector(writer)
    const text = writer.getText('notes')
    text.insert(text.length, words[i % words.length]!)
    const data = Y.encodeStateAsUpdate(writer, before)
    Y.applyUpdate(other, data)
    rows.push({ padId: pad.id, at: start + i * 150, conn: `c-${author}`, author, data })
  }
  server.store.append(rows)
  const timeline = await api<{ steps: { authors: string[] }[] }>('GET', `/api/pads/${pad.id}/history`)
  assert.ok(timeline.steps.length <= 4, `${timeline.steps.length} steps for two minutes`)

  // In New York, for a meeting in Tokyo: the times are Tokyo's.
  const carol = await person(t, 'Carol', { timezoneId: 'America/New_York' })
  const page = carol.page
  await page.goto(`${server.url}/p/${pad.id}/history`)
  const label = page.locator('#step-label')
  await eventually('the last step', async () =>
    /(Ada and Bob|Bob and Ada) · \d+ edits/.test((await label.textContent()) ?? ''),
  )
  assert.equal(Number(await page.locator('#slider').getAttribute('max')) + 1, timeline.steps.length)
  const spaces = (s: string) => s.replace(/\s/g, ' ')
  const tokyo = spaces(
    new Date(start).toLocaleString('en-US', { timeStyle: 'short', timeZone: 'Asia/Tokyo' }),
  )
  const newYork = spaces(
    new Date(start).toLocaleString('en-US', { timeStyle: 'short', timeZone: 'America/New_York' }),
  )
  const axis = spaces((await page.locator('#time-axis').textContent()) ?? '')
  assert.ok(axis.includes(tokyo) && !axis.includes(newYork), `axis "${axis}": want ${tokyo}, not ${newYork}`)
  assert.ok(spaces((await label.textContent()) ?? '').includes(tokyo.replace(/:00.*/, '')))

  // One keystroke back, then forward again: the precision of the log.
  const notes = page.locator('#revision-text')
  const whole = (await notes.textContent()) ?? ''
  await page.getByRole('button', { name: '← One change' }).click()
  await eventually('one change back', async () => /^One change: /.test((await label.textContent()) ?? ''))
  await eventually(
    'one character less',
    async () => ((await notes.textContent()) ?? '').length === whole.length - 1,
  )
  await page.getByRole('button', { name: 'One change →' }).click()
  await eventually('forward again', async () => (await notes.textContent()) === whole)
})

test('the preview follows the editor: typing at the bottom of a long pad shows the bottom of the preview', async (t: TestContext) => {
  const padId = newPadId('follow')
  const ada = await person(t, 'Ada')
  await openPad(ada.page, server.url, padId)
  // A long pad, pasted in one go (typing it would take minutes).
  const long = Array.from({ length: 120 }, (_, i) => `## Topic ${i + 1}\n\nNotes on topic ${i + 1}.\n`).join(
    '\n',
  )
  await ada.page.evaluate((text) => {
    const g = globalThis as unknown as {
      summitpad: { doc: { getText(n: string): { insert(i: number, s: string): void } } }
    }
    g.summitpad.doc.getText('notes').insert(0, text)
  }, long)
  await typeAtEnd(ada.page, '\n## The last topic\n\nTyped at the bottom')
  const preview = ada.page.locator('#preview')
  assert.ok(await preview.isVisible(), 'the preview is shown beside the notes at 1280 px')
  const last = preview.locator('h2', { hasText: 'The last topic' })
  await last.waitFor()
  const inView = async (heading: typeof last) => {
    const [box, area] = await Promise.all([heading.boundingBox(), preview.boundingBox()])
    return !!box && !!area && box.y >= area.y && box.y + box.height <= area.y + area.height
  }
  await eventually('the preview to show the last topic', () => inView(last))
  // And back up: the preview goes with the editor.
  await ada.page.keyboard.press('Control+Home')
  await eventually('the preview to show the first topic', () =>
    inView(preview.locator('h2', { hasText: /^Topic 1$/ })),
  )
})

test('outcome links open the pad at the line; task lists are checkboxes; the previous and next session of the room are one click away', async (t: TestContext) => {
  const slug = `room-${process.pid}`
  await api('POST', '/api/events', { slug, name: 'RoomCon', timezone: 'UTC' })
  const session = (title: string, startsAt: string) =>
    api<{ id: string }>('POST', `/api/events/${slug}/pads`, { title, kind: 'bof', room: 'Hall A', startsAt })
  const first = await session('Morning BoF', '2026-11-10T09:00:00Z')
  const middle = await session('Noon BoF', '2026-11-10T12:00:00Z')
  const last = await session('Evening BoF', '2026-11-10T17:00:00Z')
  const ada = await person(t, 'Ada')
  await openPad(ada.page, server.url, middle.id)
  const filler = Array.from({ length: 80 }, (_, i) => `note ${i + 1}`).join('\n')
  // Pasted, not typed: Enter after a task item would continue the list by itself.
  await ada.page.evaluate((text) => {
    const g = globalThis as unknown as {
      summitpad: { doc: { getText(n: string): { length: number; insert(i: number, s: string): void } } }
    }
    const notes = g.summitpad.doc.getText('notes')
    notes.insert(notes.length, text)
  }, `\n${filler}\n- [ ] @ada send the patch\n- [x] @bob post the RFC\n`)
  await saved(ada)
  const line = serverText(middle.id).split('\n').indexOf('- [ ] @ada send the patch') + 1

  // The facts line: the sessions before and after in Hall A.
  assert.equal(
    await ada.page.getByRole('link', { name: '← Previous in Hall A' }).getAttribute('href'),
    `/p/${first.id}`,
  )
  assert.equal(
    await ada.page.getByRole('link', { name: 'Next in Hall A →' }).getAttribute('href'),
    `/p/${last.id}`,
  )

  // Task lists render as checkboxes, ticked when done.
  const preview = ada.page.locator('#preview')
  await preview.locator('input[type=checkbox]').first().waitFor()
  assert.equal(await preview.locator('input[type=checkbox]').count(), 2)
  assert.equal(await preview.locator('input[type=checkbox]:checked').count(), 1)
  assert.equal(
    (await preview.locator('li', { hasText: 'send the patch' }).textContent())?.trim(),
    '@ada send the patch',
  )

  // The action item's link on the event's outcomes page opens the pad at its line.
  const bob = await person(t, 'Bob')
  await bob.page.goto(`${server.url}/e/${slug}/outcomes`)
  await bob.page.getByRole('link', { name: 'Noon BoF' }).first().click()
  await bob.page.waitForURL(`**/p/${middle.id}#L${line}`)
  await eventually('the caret on the action item', async () =>
    bob.page.evaluate(() => {
      const g = globalThis as unknown as {
        summitpad: {
          view: {
            state: { doc: { lineAt(p: number): { text: string } }; selection: { main: { head: number } } }
          }
        }
      }
      const { state } = g.summitpad.view
      return state.doc.lineAt(state.selection.main.head).text === '- [ ] @ada send the patch'
    }),
  )
  assert.ok(await bob.page.locator('.cm-line', { hasText: '@ada send the patch' }).isVisible())
})
