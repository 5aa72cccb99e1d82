/**
 * nginx (Debian's package) on the README's ```nginx block, so the documented setup is the tested
 * one: only the certificate, the listening addresses and the upstream change. A self-signed
 * certificate for notes.example.org is made with openssl. Every nginx started here is stopped
 * when the test file ends, whatever happened.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after } from 'node:test'
import { ensureDebianPackage } from './debian-packages.ts'
import { waitFor } from './helpers.ts'

export const NGINX = '/usr/sbin/nginx'
const OPENSSL = '/usr/bin/openssl'
const README = path.join(import.meta.dirname, '..', 'README.md')

const running = new Set<ChildProcess>()
after(() => {
  for (const proc of running) proc.kill('SIGTERM')
})

export function ensureNginx(): void {
  ensureDebianPackage(NGINX, 'nginx')
  ensureDebianPackage(OPENSSL, 'openssl')
}

export interface NginxAddresses {
  /** What replaces `listen 443 ssl;` and `listen 80;`: "127.0.0.2:443", "127.0.0.1:18443"... */
  https: string
  http: string
  /** The port nginx proxies to, in place of the README's 127.0.0.1:1234. */
  upstreamPort: number
}

/** The README's ```nginx block, pointed at this test's certificate, addresses and upstream. */
export function readmeNginxConfig(certDir: string, at: NginxAddresses): string {
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
  replace('listen 443 ssl;', `listen ${at.https} ssl;`)
  replace('listen 80;', `listen ${at.http};`)
  replace('http://127.0.0.1:1234', `http://127.0.0.1:${at.upstreamPort}`)
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

/** Starts nginx on the README's configuration; resolves once it accepts on the https address. */
export async function startNginx(at: NginxAddresses): Promise<{ dir: string; stop(): void }> {
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
  fs.writeFileSync(path.join(dir, 'site.conf'), readmeNginxConfig(dir, at))
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n` +
      `  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n` +
      `  include ${dir}/site.conf;\n}\n`,
  )
  let output = ''
  const nginx: ChildProcess = spawn(
    NGINX,
    ['-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  nginx.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  running.add(nginx)
  const stop = () => {
    nginx.kill('SIGTERM')
    running.delete(nginx)
  }
  const [host = '', port = ''] = at.https.split(':')
  let up = false
  await waitFor(
    'nginx to listen',
    () => {
      void listening(host, Number(port)).then((ok) => {
        up ||= ok
      })
      return up || nginx.exitCode !== null
    },
    15_000,
  )
  if (!up) throw new Error(`nginx did not start:\n${output}`)
  return { dir, stop }
}
