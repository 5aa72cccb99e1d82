/**
 * The editor offline from the very first visit, in its own file so that no other test has warmed a
 * cache, a service worker or the server before it: a note-taker whose Wi-Fi drops a moment after
 * the pad opened — before they ever opened the preview, before the service worker had settled —
 * still gets the preview, and the pad opens again offline with everything it can do.
 */
import assert from 'node:assert/strict'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { readAssetManifest } from '../server/http/client-assets.ts'
import { CLIENT_OUT } from '../server/ops/paths.ts'
import { eventually, launchChromium, openPad, type PageGlobals, personInTest } from './browser-setup.ts'
import { startTestServer, type TestServer } from './helpers.ts'

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

/** The paths under /assets/ this page's offline copy holds. */
function keptAssets(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const cache = await (globalThis as unknown as { caches: CacheStorageLike }).caches.open('summitpad-v1')
    return (await cache.keys()).map((r) => new URL(r.url).pathname).filter((p) => p.startsWith('/assets/'))
  })
}

/** The little of the Cache API used above (the tests compile without the DOM library). */
interface CacheStorageLike {
  open(name: string): Promise<{ keys(): Promise<{ url: string }[]> }>
}

async function previewHeading(page: Page): Promise<string> {
  const toggle = page.getByRole('button', { name: 'Preview' })
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false', 'the preview was already open')
  await toggle.click()
  const heading = page.locator('#preview h2')
  await heading.waitFor({ timeout: 30_000 })
  return (await heading.textContent()) ?? ''
}

test('first visit: offline at once, the preview still renders; the pad opens again offline with it', async (t: TestContext) => {
  const padId = `first-visit-${process.pid}`
  // A small laptop: the preview starts hidden (it is shown beside the text from 1100 px).
  const ada = await personInTest(browser, t, 'Ada', { viewport: { width: 900, height: 700 } })
  await openPad(ada.page, server.url, padId)
  // The Wi-Fi drops as soon as the pad is there: no preview opened yet, no wait for the worker.
  await ada.context.setOffline(true)
  await ada.page.locator('.cm-content').click()
  await ada.page.keyboard.type('## Decisions\n')
  assert.equal(await previewHeading(ada.page), 'Decisions')

  // The copy kept for offline use is the build's list of the editor's files, whatever this visit used.
  await ada.context.setOffline(false)
  const built = readAssetManifest(CLIENT_OUT)['editor.js']
  assert.ok(built && built.length > 1, 'the build lists the editor and its chunks')
  await eventually('the page and every file it can load to be kept', async () => {
    const kept = await keptAssets(ada.page)
    return built.every((file) => kept.includes(`/assets/${file}`))
  })
  await eventually('the service worker to control the page', () =>
    ada.page.evaluate(() =>
      Boolean((globalThis as unknown as PageGlobals).navigator?.serviceWorker?.controller),
    ),
  )

  // Offline again, a new tab on the pad: the worker serves the page, and the preview works there too.
  await ada.context.setOffline(true)
  const again = await ada.context.newPage()
  const errors: string[] = []
  again.on('pageerror', (err) => errors.push(err.message))
  const response = await again.goto(`${server.url}/p/${padId}`)
  assert.ok(response?.fromServiceWorker(), 'the page was not served by the service worker')
  await again.locator('.cm-content').waitFor()
  await eventually('the offline text in the reopened page', () =>
    again.evaluate(() =>
      ((globalThis as unknown as PageGlobals).summitpad?.view.state.doc.toString() ?? '').includes(
        'Decisions',
      ),
    ),
  )
  assert.equal(await previewHeading(again), 'Decisions')
  assert.deepEqual(errors, [], 'the page opened offline threw')
})
