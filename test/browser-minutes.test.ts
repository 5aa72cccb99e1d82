/**
 * What the room and the list see, in a real browser (Debian's Chromium): the QR page on a
 * projector of any size, the editor printed with Ctrl-P, the organiser's links on the event page,
 * and forms whose errors are in plain words. One open server and one protected server.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { eventually, launchChromium, openPad, personInTest } from './browser-setup.ts'
import { connectClient, startTestServer, type TestServer, tempDir, waitFor } from './helpers.ts'

const ADMIN = 'organiser-minutes-token'

let open: TestServer
let guarded: TestServer
let browser: Browser
/** Screenshots a person can look at after a run (not asserted on). */
const SHOTS = tempDir('summitpad-shots-')

before(async () => {
  open = await startTestServer()
  guarded = await startTestServer({}, { adminToken: ADMIN })
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
  await open?.close()
  await guarded?.close()
})

async function call<T>(server: TestServer, method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  assert.ok(res.ok, `${method} ${url}: HTTP ${res.status} ${await res.clone().text()}`)
  return (await res.json()) as T
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) })
}

/** Screens a projector may have, from an old 4:3 beamer to 4K. */
const SCREENS = [
  { width: 1024, height: 768 },
  { width: 1280, height: 720 },
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
  { width: 3840, height: 2160 },
] as const

interface QrLayout {
  viewport: { width: number; height: number }
  scrollHeight: number
  scrollWidth: number
  code: { top: number; bottom: number; left: number; right: number; width: number; height: number }
  url: { top: number; bottom: number; left: number; right: number; text: string; lines: number }
  scan: string
}

/** Where the code and the address are on the screen, and on how many lines the address is. */
function qrLayout(page: Page): Promise<QrLayout> {
  return page.evaluate(`(() => {
    const box = (el) => { const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height } }
    const url = document.querySelector('.qr .url')
    const range = document.createRange()
    range.selectNodeContents(url)
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size
    return {
      viewport: { width: innerWidth, height: innerHeight },
      scrollHeight: document.documentElement.scrollHeight,
      scrollWidth: document.documentElement.scrollWidth,
      code: box(document.querySelector('.qr svg')),
      url: { ...box(url), text: url.textContent, lines },
      scan: document.querySelector('.qr .scan')?.textContent ?? '',
    }
  })()`)
}

function assertFits(layout: QrLayout, where: string): void {
  const { viewport: v, code, url } = layout
  assert.ok(
    layout.scrollHeight <= v.height,
    `${where}: the page scrolls (${layout.scrollHeight} > ${v.height})`,
  )
  assert.ok(layout.scrollWidth <= v.width, `${where}: the page scrolls sideways`)
  assert.ok(
    code.top >= 0 && code.bottom <= v.height,
    `${where}: the code is cut off (${code.top}..${code.bottom})`,
  )
  assert.ok(code.left >= 0 && code.right <= v.width, `${where}: the code is cut off sideways`)
  // Sized to the window: at least 45% of the screen's height, whatever the screen.
  assert.ok(code.height >= 0.45 * v.height, `${where}: the code is small (${code.height} of ${v.height})`)
  assert.ok(url.bottom <= v.height && url.top >= 0, `${where}: the address is off the screen`)
  assert.ok(url.left >= 0 && url.right <= v.width, `${where}: the address is cut off sideways`)
  assert.equal(url.lines, 1, `${where}: the address breaks over ${url.lines} lines`)
}

test('the QR page fits every projector from 1024x768 to 4K, with a two-line title, the address on one line and what to do', async (t: TestContext) => {
  await call(open, 'POST', '/api/events', { slug: 'qr-open', name: 'QR Conf', timezone: 'Europe/Prague' })
  const pad = await call<{ id: string }>(open, 'POST', '/api/events/qr-open/pads', {
    title:
      'Scheduler extensibility with sched_ext, BPF and the future of pluggable scheduling policies in Linux',
    kind: 'bof',
  })
  const person = await personInTest(browser, t, 'Projector')
  for (const screen of SCREENS) {
    await person.page.setViewportSize(screen)
    await person.page.goto(`${open.url}/p/${pad.id}/qr`)
    const layout = await qrLayout(person.page)
    await shot(person.page, `qr-open-${screen.width}x${screen.height}`)
    assertFits(layout, `${screen.width}x${screen.height}`)
    assert.equal(layout.url.text, `${open.url}/p/${pad.id}`)
    assert.match(layout.scan, /scan to take notes/i)
  }
})

test('protected mode: the QR code carries a short link that is a secret of its own, replaced with the link it stands for', async (t: TestContext) => {
  await call(guarded, 'POST', '/api/events', { slug: 'qr-guarded', name: 'Guarded Conf', timezone: 'UTC' })
  const pad = await call<{ id: string }>(guarded, 'POST', '/api/events/qr-guarded/pads', {
    title: 'Memory cgroup BoF',
    kind: 'bof',
  })
  const organiser = await personInTest(browser, t, 'Organiser')
  await organiser.page.goto(`${guarded.url}/?token=${ADMIN}`)
  for (const screen of SCREENS) {
    await organiser.page.setViewportSize(screen)
    await organiser.page.goto(`${guarded.url}/p/${pad.id}/qr`)
    const layout = await qrLayout(organiser.page)
    await shot(organiser.page, `qr-guarded-${screen.width}x${screen.height}`)
    assertFits(layout, `protected ${screen.width}x${screen.height}`)
  }
  const short = (await qrLayout(organiser.page)).url.text
  const code = short.match(/\/q\/([0-9a-z]+)$/)?.[1] ?? ''
  // 20 characters of a 32-letter alphabet: 100 random bits.
  assert.equal(code.length, 20, `a short link of 100 random bits: ${short}`)
  assert.ok(short.length < 60, `short enough to type: ${short}`)

  // Someone in the room scans it: they follow the notes live, read-only.
  const attendee = await personInTest(browser, t, 'Attendee')
  await attendee.page.goto(short)
  await attendee.page.locator('.cm-content').waitFor()
  assert.equal(new URL(attendee.page.url()).pathname, `/p/${pad.id}`)
  assert.ok(!attendee.page.url().includes('token='), 'the secret is not left in the address bar')
  assert.equal(await attendee.page.locator('.pad-bar .badge', { hasText: 'View only' }).count(), 1)

  // The organiser replaces the read-only link: the short link dies with it, the QR page shows a new one.
  await call(guarded, 'POST', '/api/events/qr-guarded/links/rotate', { link: 'read' })
  const stranger = await personInTest(browser, t, 'Stranger')
  const dead = await stranger.page.goto(short)
  assert.equal(dead?.status(), 404)
  assert.match((await stranger.page.locator('main').textContent()) ?? '', /replaced/)
  await organiser.page.goto(`${guarded.url}/p/${pad.id}/qr`)
  const fresh = (await qrLayout(organiser.page)).url.text
  assert.notEqual(fresh, short)
  const guess = await stranger.page.goto(`${guarded.url}/q/${'0'.repeat(20)}`)
  assert.equal(guess?.status(), 404)
})

test('Ctrl-P prints the rendered notes, whole: no toolbar, no raw Markdown, every page', async (t: TestContext) => {
  await call(open, 'POST', '/api/events', { slug: 'print', name: 'Print Conf', timezone: 'UTC' })
  const pad = await call<{ id: string }>(open, 'POST', '/api/events/print/pads', {
    title: 'Memory cgroup BoF',
    kind: 'bof',
    room: 'Hall C',
  })
  const notes = Array.from({ length: 8 }, (_, s) =>
    [
      `## Topic ${s + 1}`,
      '',
      ...Array.from({ length: 15 }, (_, i) => `- **point ${s + 1}.${i + 1}** about reclaim`),
    ].join('\n'),
  ).join('\n\n')
  const writer = connectClient(open.wsUrl, pad.id)
  await writer.synced()
  writer.text.insert(writer.text.length, `\n${notes}\n\nLast line of the notes.\n`)
  await waitFor('the server to have the notes', () =>
    (open.rooms.get(pad.id)?.doc.getText('notes').toString() ?? '').includes('Last line of the notes.'),
  )
  writer.destroy()

  // A laptop narrow enough that the preview is hidden while typing.
  const person = await personInTest(browser, t, 'Printer', { viewport: { width: 1000, height: 700 } })
  await openPad(person.page, open.url, pad.id)
  await person.page.emulateMedia({ media: 'print' })
  const printed = () =>
    person.page.evaluate(`(() => {
      const shown = (sel) => { const el = document.querySelector(sel); return !!el && el.getClientRects().length > 0 && getComputedStyle(el).display !== 'none' }
      const preview = document.querySelector('#preview')
      return {
        toolbarButtons: [...document.querySelectorAll('.pad-bar button, .pad-bar summary')].filter((b) => b.getClientRects().length > 0).length,
        editor: shown('#editor'),
        people: shown('.people'),
        title: shown('.pad-bar h1'),
        facts: document.querySelector('.pad-facts')?.textContent ?? '',
        headings: preview.querySelectorAll('h2').length,
        strong: preview.querySelectorAll('strong').length,
        previewText: preview.textContent,
        clipped: preview.scrollHeight > preview.clientHeight + 1,
      }
    })()`) as Promise<{
      toolbarButtons: number
      editor: boolean
      people: boolean
      title: boolean
      facts: string
      headings: number
      strong: number
      previewText: string
      clipped: boolean
    }>
  await eventually('the notes to be rendered for printing', async () => (await printed()).strong === 8 * 15)
  const p = await printed()
  assert.equal(p.toolbarButtons, 0, 'no toolbar buttons on paper')
  assert.equal(p.editor, false, 'not the raw Markdown')
  assert.equal(p.people, false)
  assert.ok(p.title, 'the session title')
  assert.match(p.facts, /Hall C/)
  assert.equal(p.strong, 8 * 15, 'Markdown rendered, not shown as **text**')
  assert.ok(!p.previewText.includes('**'), 'no raw Markdown')
  assert.ok(p.previewText.includes('Last line of the notes.'), 'the end of the notes is there')
  assert.equal(p.clipped, false, 'nothing scrolled away inside a box')

  // On paper: the notes go over several pages, to their last line.
  const pdf = await person.page.pdf({ format: 'A4' })
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length
  assert.ok(pages >= 3, `the notes fill ${pages} page(s) of A4, not one`)
  fs.writeFileSync(path.join(SHOTS, 'print.pdf'), pdf)
})

test('the organiser finds the links at the top of the event page, is told they are recognised, and copies a link with one click', async (t: TestContext) => {
  await call(guarded, 'POST', '/api/events', { slug: 'links-top', name: 'Links Conf', timezone: 'UTC' })
  const schedule = Array.from({ length: 12 }, (_, i) => ({
    id: `s${i}`,
    title: `Session ${i + 1}`,
    start: `2026-11-10T${String(9 + (i % 8)).padStart(2, '0')}:00`,
    room: `Room ${(i % 3) + 1}`,
  }))
  await call(guarded, 'POST', '/api/events/links-top/import', schedule)
  const organiser = await personInTest(browser, t, 'Organiser')
  await organiser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: guarded.url })
  await organiser.page.goto(`${guarded.url}/?token=${ADMIN}`)
  await organiser.page.goto(`${guarded.url}/e/links-top`)
  await shot(organiser.page, 'event-organiser')
  const links = organiser.page.locator('section.links')
  const box = (await links.boundingBox())!
  const firstSession = (await organiser.page.locator('li.session').first().boundingBox())!
  assert.ok(box.y < firstSession.y, 'the links come before the schedule')
  assert.ok(box.y < 800, 'the links are on the first screen')
  assert.match((await links.textContent()) ?? '', /recognised as the organiser/)

  await links.locator('button[data-copy="edit"]').click()
  await organiser.page.locator('#links-message', { hasText: 'copied' }).waitFor()
  const copied = await organiser.page.evaluate('navigator.clipboard.readText()')
  const shown = await links.locator('input[data-link="edit"]').inputValue()
  assert.equal(copied, shown)
  assert.match(String(copied), /\/e\/links-top\?token=/)

  // Someone without a link is not told about the admin token, and still sees where they are.
  const stranger = await personInTest(browser, t, 'Stranger')
  const refused = await stranger.page.goto(`${guarded.url}/e/links-top`)
  assert.equal(refused?.status(), 401)
  assert.equal(await stranger.page.locator('header.site .brand').count(), 1, 'the site header')
  const text = (await stranger.page.locator('main').textContent()) ?? ''
  assert.match(text, /link from the organisers/)
  assert.doesNotMatch(text, /admin token/i)
})

test('forms: the browser checks the short name itself; errors are in plain words; the import report stays', async (t: TestContext) => {
  const organiser = await personInTest(browser, t, 'Organiser')
  await organiser.page.goto(open.url)
  await organiser.page.locator('summary', { hasText: 'Create an event' }).click()
  const slug = organiser.page.locator('#new-event input[name="slug"]')
  const mismatch = () =>
    slug.evaluate(
      (el) => (el as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch,
    )
  await slug.fill('Linux Plumbers!')
  assert.equal(await mismatch(), true, 'the pattern is a valid regex under the v flag, so Chromium checks it')
  await slug.fill('lpc-2026-')
  assert.equal(await mismatch(), true, 'no dash at the end')
  await slug.fill('lpc-2026')
  assert.equal(await mismatch(), false)

  // The server's refusal, in the words of the form.
  await organiser.page.locator('#new-event input[name="name"]').fill('Linux Plumbers 2026')
  await organiser.page.locator('#new-event input[name="startsOn"]').fill('2026-11-12')
  await organiser.page.locator('#new-event input[name="endsOn"]').fill('2026-11-10')
  await organiser.page.locator('#new-event button[type="submit"]').click()
  const message = organiser.page.locator('#new-event .message')
  await message.waitFor()
  const said = (await message.textContent()) ?? ''
  assert.match(said, /last day is before the first day/i)
  assert.doesNotMatch(said, /endsOn|startsOn|slug:/)
  await organiser.page.locator('#new-event input[name="endsOn"]').fill('2026-11-14')
  await organiser.page.locator('#new-event input[name="timezone"]').fill('Mars/Olympus')
  await organiser.page.locator('#new-event button[type="submit"]').click()
  await organiser.page.locator('#new-event .message', { hasText: 'time zone' }).waitFor()
  assert.doesNotMatch((await message.textContent()) ?? '', /timezone:/)

  // The import report is there to read, not gone after a second with a reload.
  await call(open, 'POST', '/api/events', { slug: 'import-report', name: 'Import Conf', timezone: 'UTC' })
  await organiser.page.goto(`${open.url}/e/import-report`)
  await organiser.page.evaluate('window.__stillHere = true')
  await organiser.page.locator('summary', { hasText: 'Import the schedule' }).click()
  await organiser.page.locator('#import textarea[name="text"]').fill(
    JSON.stringify([
      { id: 'a', title: 'Opening' },
      { id: 'b', title: 'Closing' },
    ]),
  )
  await organiser.page.locator('#import button[type="submit"]').click()
  await organiser.page.getByRole('button', { name: 'Import: create 2, update 0' }).click()
  const report = organiser.page.locator('#import .message', { hasText: 'Created 2' })
  await report.waitFor()
  await organiser.page.waitForTimeout(2500)
  assert.equal(
    await organiser.page.evaluate('window.__stillHere === true'),
    true,
    'the page was not reloaded',
  )
  assert.equal(await report.isVisible(), true, 'the report is still there')
})
