/**
 * The README's nginx configuration, run by real nginx (Debian's package) in front of a real
 * server with TRUST_PROXY: a person in Chromium opens https://notes.example.org/p/<pad> through
 * it, types, and the edit is stored; what the configuration denies is denied. The configuration
 * is read from the README itself, so the documented setup is the tested one.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { before, test } from 'node:test'
import { docFromStored } from '../server/sync/pad-doc.ts'
import { ensureChromium, eventually, launchChromium, newPerson, waitForEditor } from './browser-setup.ts'
import { ensureDebianPackage } from './debian-packages.ts'
import { startTestServer } from './helpers.ts'

const NGINX = '/usr/sbin/nginx'
const OPENSSL = '/usr/bin/openssl'
/** A loopback address of its own, so ports 80 and 443 are free whatever else runs on 127.0.0.1. */
const PROXY_ADDRESS = '127.0.0.2'
const README = path.join(import.meta.dirname, '..', 'README.md')

/** The README's ```nginx block, pointed at this test's certificate, address and server port. */
function readmeConfig(certDir: string, serverPort: number): string {
  const readme = fs.readFileSync(README, 'utf8')
  const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1]
  assert.ok(block, 'README.md has an nginx configuration block')
  let config = block
  const replace = (from: string, to: string) => {
    assert.ok(config.includes(from), `the README's nginx block has "${from}"`)
    config = config.split(from).join(to)
  }
  replace('/etc/letsencrypt/live/notes.example.org/fullchain.pem', path.join(certDir, 'cert.pem'))
  replace('/etc/letsencrypt/live/notes.example.org/privkey.pem', path.join(certDir, 'key.pem'))
  replace('listen 443 ssl;', `listen ${PROXY_ADDRESS}:443 ssl;`)
  replace('listen 80;', `listen ${PROXY_ADDRESS}:80;`)
  replace('http://127.0.0.1:1234', `http://127.0.0.1:${serverPort}`)
  // IPv6 listeners are left out: the test machine may have no IPv6.
  return config.replace(/^\s*listen \[::\]:\d+( ssl)?;\n/gm, '')
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

// On a new machine the programs are installed first, outside the test's own time: apt alone can take
// minutes on a busy one.
before(() => {
  ensureChromium()
  ensureDebianPackage(NGINX, 'nginx')
  ensureDebianPackage(OPENSSL, 'openssl')
})

test("the README's nginx setup serves the editor: an edit typed through it is stored", {
  timeout: 180_000,
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'summitpad-nginx-'))
  execFileSync(
    OPENSSL,
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=notes.example.org',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  const server = await startTestServer({ trustProxy: true })
  t.after(() => server.close())
  fs.writeFileSync(path.join(dir, 'site.conf'), readmeConfig(dir, Number(new URL(server.url).port)))
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n` +
      `  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n` +
      `  include ${dir}/site.conf;\n}\n`,
  )
  let nginxOutput = ''
  const nginx: ChildProcess = spawn(
    NGINX,
    ['-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  nginx.stderr?.on('data', (d: Buffer) => {
    nginxOutput += d.toString()
  })
  t.after(() => {
    nginx.kill('SIGTERM')
  })
  await eventually(`nginx listening (${nginxOutput})`, () => listening(PROXY_ADDRESS, 443), 15_000)

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
