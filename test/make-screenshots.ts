/**
 * Writes the editor screenshots for the README: one BoF pad with two people typing in it, seen on a
 * laptop (docs/screenshots/editor-laptop.png, 1280x800) and on a phone
 * (docs/screenshots/editor-phone.png, 390x844), and its history page (docs/screenshots/history-laptop.png).
 * A script, not a test:
 *
 *   node --import tsx test/make-screenshots.ts
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { launchChromium, newPerson, openPad, type PageGlobals } from './browser-setup.ts'
import { sleep, startTestServer } from './helpers.ts'

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots')

async function post<T>(base: string, url: string, body: unknown): Promise<T> {
  const res = await fetch(`${base}${url}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** Puts the caret at the end of the line that starts with `prefix` and types there. */
async function typeAfterLine(page: Page, prefix: string, text: string): Promise<void> {
  const line = page.locator('.cm-line', { hasText: prefix }).first()
  await line.click()
  await page.keyboard.press('End')
  await page.keyboard.type(text, { delay: 2 })
}

async function waitSaved(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const g = globalThis as unknown as PageGlobals
    return g.document.querySelector('#save-state')?.dataset.state === 'saved'
  })
}

const server = await startTestServer()
const browser = await launchChromium()
try {
  await post(server.url, '/api/events', {
    slug: 'lpc-2026',
    name: 'Linux Plumbers 2026',
    timezone: 'Europe/Prague',
  })
  const pad = await post<{ id: string }>(server.url, '/api/events/lpc-2026/pads', {
    title: 'sched_ext BoF',
    kind: 'bof',
    room: 'Hall C',
    startsAt: '2026-11-10T16:00',
    endsAt: '2026-11-10T17:00',
    speakers: ['Tejun Heo', 'David Vernet'],
  })

  const ada = await newPerson(browser, 'Ada Okafor', {
    viewport: { width: 1280, height: 800 },
    color: '#1f6feb',
  })
  const bob = await newPerson(browser, 'Bo Lindqvist', {
    viewport: { width: 390, height: 844 },
    mobile: true,
    color: '#c2410c',
  })
  await openPad(ada.page, server.url, pad.id)
  await openPad(bob.page, server.url, pad.id)

  await typeAfterLine(ada.page, 'Attendees', '')
  await ada.page.keyboard.press('ArrowDown')
  await ada.page.keyboard.press('ArrowDown')
  await ada.page.keyboard.press('End')
  await ada.page.keyboard.type(
    ' Ada Okafor (Meta), Bo Lindqvist (SUSE), Chen Wei (Google), ~40 in the room',
    {
      delay: 2,
    },
  )
  await typeAfterLine(ada.page, 'Topics raised', '')
  await ada.page.keyboard.press('ArrowDown')
  await ada.page.keyboard.press('ArrowDown')
  await ada.page.keyboard.press('End')
  await ada.page.keyboard.type(' Per-cgroup scheduling policies\n', { delay: 2 })
  await ada.page.keyboard.type('Debugging a stalled BPF scheduler in production\n', { delay: 2 })
  await ada.page.keyboard.type('Upstreaming the `scx_layered` knobs', { delay: 2 })

  await typeAfterLine(
    bob.page,
    '## Notes',
    '\n\nChen: the watchdog kicks a stalled scheduler after 30 s; too slow for latency-sensitive ' +
      'services, people want it configurable per cgroup.\n\nAda: ',
  )
  await typeAfterLine(ada.page, '## Decisions', '\n\nDECISION: propose a `sched_ext.watchdog_ms` cgroup knob')
  await typeAfterLine(
    ada.page,
    '## Action items',
    // Enter continues the list: the second item's "- [ ] " comes by itself.
    '\n\n- [ ] @bo send the RFC for the per-cgroup watchdog to the list\n@chen collect stall traces',
  )
  await typeAfterLine(ada.page, 'Upstreaming the', '\nRT throttling vs. sched_ext')
  await typeAfterLine(bob.page, 'Ada: ', 'the sched_ext dump on stall helps a lot; ask for it in bug reports')
  await Promise.all([waitSaved(ada.page), waitSaved(bob.page)])
  // Scroll as a reader would: the laptop to the top of the notes, the phone to where both carets are.
  await ada.page.locator('.cm-scroller').evaluate((el) => el.scrollTo(0, 0))
  await bob.page.locator('.cm-ySelectionCaret').evaluate((el) => el.scrollIntoView({ block: 'start' }))
  await sleep(500)

  fs.mkdirSync(OUT, { recursive: true })
  await ada.page.screenshot({ path: path.join(OUT, 'editor-laptop.png') })
  await bob.page.screenshot({ path: path.join(OUT, 'editor-phone.png') })
  // The time slider, on the same pad (issue 27: steps by pause, a time axis in the event's zone).
  const reader = await newPerson(browser, 'Chen Wei', { viewport: { width: 1280, height: 800 } })
  await reader.page.goto(`${server.url}/p/${pad.id}/history`)
  await reader.page.locator('#step-label:not(:empty)').waitFor()
  await sleep(500)
  await reader.page.screenshot({ path: path.join(OUT, 'history-laptop.png') })
  console.log(`wrote ${path.join(OUT, 'editor-laptop.png')}, editor-phone.png and history-laptop.png`)
} finally {
  await browser.close()
  await server.close()
}
