/**
 * The README's nginx configuration, run by real nginx (Debian's package) in front of a real
 * server with TRUST_PROXY: a person in Chromium opens https://notes.example.org/p/<pad> through
 * it, types, and the edit is stored; what the configuration denies is denied. The configuration
 * is read from the README itself, so the documented setup is the tested one.
 */
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { docFromStored } from '../server/sync/pad-doc.ts'
import { ensureChromium, eventually, launchChromium, newPerson, waitForEditor } from './browser-setup.ts'
import { startTestServer } from './helpers.ts'
import { ensureNginx, startNginx } from './nginx.ts'

/** A loopback address of its own, so ports 80 and 443 are free whatever else runs on 127.0.0.1. */
const PROXY_ADDRESS = '127.0.0.2'

// On a new machine the programs are installed first, outside the test's own time: apt alone can take
// minutes on a busy one.
before(() => {
  ensureChromium()
  ensureNginx()
})

test("the README's nginx setup serves the editor: an edit typed through it is stored", {
  timeout: 180_000,
}, async (t) => {
  const server = await startTestServer({ trustProxy: true })
  t.after(() => server.close())
  const nginx = await startNginx({
    https: `${PROXY_ADDRESS}:443`,
    http: `${PROXY_ADDRESS}:80`,
    upstreamPort: Number(new URL(server.url).port),
  })
  t.after(() => nginx.stop())

  const browser = await launchChromium([
    `--host-resolver-rules=MAP notes.example.org ${PROXY_ADDRESS}`,
    // The test's self-signed certificate.
    '--ignore-certificate-errors',
  ])
  t.after(() => browser.close())
  const ada = await newPerson(browser, 'Ada')
  const plain = await ada.page.goto('http://notes.example.org/p/bof-nginx')
  assert.equal(new URL(ada.page.url()).protocol, 'https:', 'port 80 redirects to https')
  assert.equal(plain?.status(), 200)
  await waitForEditor(ada.page)
  await ada.page.locator('.cm-content').click()
  await ada.page.keyboard.type('Typed through nginx')
  await eventually('the edit stored behind nginx', () =>
    docFromStored(server.store.load('bof-nginx')).getText('notes').toString().includes('Typed through nginx'),
  )
  // What the configuration keeps to the machine itself.
  for (const denied of ['/metrics', '/api/admin/backup']) {
    const res = await ada.page.goto(`https://notes.example.org${denied}`)
    assert.equal(res?.status(), 403, denied)
  }
  await ada.context.close()
})
