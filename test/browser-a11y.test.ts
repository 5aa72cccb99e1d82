/**
 * Accessibility of every page, in a real browser: axe-core's rules on home, event, pad, history,
 * QR, search and error pages, in light and dark colour schemes (no serious or critical
 * violations), and the keyboard: every control reachable, the editor left with Esc then Tab.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { eventually, launchChromium, personInTest, waitForEditor } from './browser-setup.ts'
import { apiCall, okJson, startTestServer, type TestServer } from './helpers.ts'

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
/** What the issue asks to be free of; "moderate" and "minor" findings are reported by axe but allowed. */
const BLOCKING = new Set(['serious', 'critical'])

let server: TestServer
let browser: Browser
const ids = { event: '', pad: '' }

before(async () => {
  server = await startTestServer()
  browser = await launchChromium()
  ids.event = `a11y-${process.pid}`
  okJson(
    await apiCall(server, 'POST', '/api/events', {
      slug: ids.event,
      name: 'Plumbers',
      timezone: 'Europe/Prague',
    }),
    201,
  )
  const pad = okJson<{ id: string }>(
    await apiCall(server, 'POST', `/api/events/${ids.event}/pads`, { title: 'Memory BoF', kind: 'bof' }),
    201,
  )
  ids.pad = pad.id
  // Under way now, so the "now" page shows a session with its notes.
  okJson(
    await apiCall(server, 'POST', `/api/events/${ids.event}/pads`, {
      title: 'Scheduler talk',
      kind: 'talk',
      room: 'Hall A',
      startsAt: new Date(Date.now() - 5 * 60_000).toISOString(),
      endsAt: new Date(Date.now() + 60 * 60_000).toISOString(),
    }),
    201,
  )
})

after(async () => {
  await browser?.close()
  await server?.close()
})

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[]
}

/** axe-core's serious and critical findings on the page as it is now, one line each. */
async function blockingViolations(page: Page): Promise<string[]> {
  // Evaluated, not a <script>: the pages' Content-Security-Policy rightly refuses inline scripts.
  await page.evaluate(AXE_SOURCE)
  const result = (await page.evaluate(() =>
    (globalThis as unknown as { axe: { run(): Promise<unknown> } }).axe.run(),
  )) as AxeResult
  return result.violations
    .filter((v) => BLOCKING.has(v.impact ?? ''))
    .map(
      (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`,
    )
}

const pages = () => [
  { name: 'home', path: '/' },
  { name: 'event', path: `/e/${ids.event}` },
  { name: 'pad', path: `/p/${ids.pad}` },
  { name: 'history', path: `/p/${ids.pad}/history` },
  { name: 'series', path: `/p/${ids.pad}/series` },
  { name: 'now', path: `/e/${ids.event}/now` },
  { name: 'QR', path: `/p/${ids.pad}/qr` },
  { name: 'search', path: '/search?q=memory' },
  { name: 'not found', path: '/p/no-such-pad-a11y/history' },
  { name: 'bad link', path: '/q/0000000000000000000' },
]

for (const colorScheme of ['light', 'dark'] as const) {
  test(`axe: no serious or critical violations on any page, ${colorScheme}`, async (t: TestContext) => {
    const { page } = await personInTest(browser, t, 'Axel')
    await page.emulateMedia({ colorScheme })
    const found: string[] = []
    for (const { name, path } of pages()) {
      await page.goto(`${server.url}${path}`)
      if (name === 'pad') await waitForEditor(page)
      if (name === 'history') await page.locator('#step-label:not(:empty)').waitFor()
      if (name === 'now') await page.locator('[data-now]').waitFor()
      for (const v of await blockingViolations(page)) found.push(`${name}: ${v}`)
    }
    assert.deepEqual(found, [])
  })
}

/** What has the keyboard focus: its role-ish name, for assertions that read like the page. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    type El = {
      tagName: string
      textContent: string | null
      getAttribute(n: string): string | null
      closest(s: string): unknown
    }
    const el = (globalThis as unknown as { document: { activeElement: El | null } }).document.activeElement
    if (!el) return ''
    if (el.closest('.cm-editor')) return 'editor'
    return `${el.tagName.toLowerCase()}:${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim()}`
  })
}

test('keyboard: every control of the pad page is reachable with Tab and works with Enter; Esc then Tab leaves the editor', async (t: TestContext) => {
  const { page } = await personInTest(browser, t, 'Kim')
  await page.goto(`${server.url}/p/${ids.pad}`)
  await waitForEditor(page)
  // The page puts the caret in the notes; Esc then Tab is CodeMirror's way out (Tab alone indents).
  assert.equal(await focused(page), 'editor')
  await page.keyboard.press('Escape')
  await page.keyboard.press('Tab')
  const afterEditor = await focused(page)
  assert.notEqual(afterEditor, 'editor', 'Esc then Tab left the focus in the editor')

  // From the top of the page, Tab visits every control once.
  await page.evaluate(() =>
    (
      globalThis as unknown as { document: { activeElement: { blur(): void } } }
    ).document.activeElement.blur(),
  )
  const seen: string[] = []
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab')
    const now = await focused(page)
    if (now === 'editor') {
      seen.push(now)
      break
    }
    seen.push(now)
  }
  for (const control of [
    'a:Summitpad',
    'a:Plumbers',
    'button:Preview',
    'summary:Download',
    'a:History',
    'a:QR code',
    'button:Kim',
    'editor',
  ])
    assert.ok(seen.includes(control), `Tab never reached ${control}: ${JSON.stringify(seen)}`)

  // Enter works on them: the preview, the download menu, the name dialog.
  await page.getByRole('button', { name: 'Preview' }).focus()
  const before = await page.getByRole('button', { name: 'Preview' }).getAttribute('aria-pressed')
  await page.keyboard.press('Enter')
  assert.notEqual(await page.getByRole('button', { name: 'Preview' }).getAttribute('aria-pressed'), before)
  await page.locator('summary', { hasText: 'Download' }).focus()
  await page.keyboard.press('Enter')
  await page.getByRole('link', { name: 'Markdown (.md)' }).waitFor()
  await page.getByRole('button', { name: 'Kim' }).focus()
  await page.keyboard.press('Enter')
  await page.getByRole('dialog').waitFor()
  await page.keyboard.type('Kim Lee')
  await page.keyboard.press('Enter')
  await page.getByRole('button', { name: 'Kim Lee' }).waitFor()
  // Named, back to typing: the focus is in the notes again, not on the name button.
  await eventually('the focus back in the notes', async () => (await focused(page)) === 'editor')
})

test('dark mode follows the system: dark pages and a dark editor; Ctrl-F puts each checkbox beside its label', async (t: TestContext) => {
  const { page } = await personInTest(browser, t, 'Dee')
  await page.emulateMedia({ colorScheme: 'dark' })
  await page.goto(`${server.url}/p/${ids.pad}`)
  await waitForEditor(page)
  const luminance = (selector: string) =>
    page.locator(selector).evaluate((el: unknown) => {
      const g = globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
      const [r, gr, b] = (g.getComputedStyle(el).backgroundColor.match(/\d+/g) ?? []).map(Number)
      return ((r ?? 0) + (gr ?? 0) + (b ?? 0)) / 3
    })
  assert.ok((await luminance('body')) < 60, 'the page is dark')
  assert.ok((await luminance('#editor')) < 60, 'the editor is dark')
  await page.locator('.cm-content').click()
  await page.keyboard.press('Control+f')
  const box = page.getByRole('checkbox', { name: 'match case' })
  await box.waitFor()
  const [input, label] = await Promise.all([
    box.boundingBox(),
    page.locator('.cm-search label', { hasText: 'match case' }).boundingBox(),
  ])
  // The checkbox sits on its label's line, at its start.
  assert.ok(input && label && Math.abs(input.y + input.height / 2 - (label.y + label.height / 2)) < 6)
  assert.ok(input && label && input.x - label.x < 8)
})

test('the pad title is renamed in the page: click, type, Enter', async (t: TestContext) => {
  const { page } = await personInTest(browser, t, 'Rae')
  const pad = okJson<{ id: string }>(
    await apiCall(server, 'POST', `/api/events/${ids.event}/pads`, { title: 'Untitled BoF', kind: 'bof' }),
    201,
  )
  await page.goto(`${server.url}/p/${pad.id}`)
  await waitForEditor(page)
  await page.getByRole('button', { name: 'Untitled BoF (rename)' }).click()
  const field = page.getByRole('textbox', { name: 'Pad title' })
  await field.fill('Rust in the kernel BoF')
  await field.press('Enter')
  await page.getByRole('button', { name: 'Rust in the kernel BoF (rename)' }).waitFor()
  const stored = okJson<{ title: string }>(await apiCall(server, 'GET', `/api/pads/${pad.id}`))
  assert.equal(stored.title, 'Rust in the kernel BoF')
  // Escape keeps the title.
  await page.getByRole('button', { name: 'Rust in the kernel BoF (rename)' }).click()
  await page.getByRole('textbox', { name: 'Pad title' }).fill('oops')
  await page.getByRole('textbox', { name: 'Pad title' }).press('Escape')
  await page.getByRole('button', { name: 'Rust in the kernel BoF (rename)' }).waitFor()
})
