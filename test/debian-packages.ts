/**
 * Real programs the tests drive (Chromium, nginx, openssl) come from Debian's packages: installed
 * with apt-get when missing, because CI may start from a fresh machine and nothing is downloaded
 * from anywhere else.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

/**
 * Installs Debian package `pkg` when `binary` is missing (as root, or through `sudo -n`). `binary`
 * may be a check instead of a path (a program under a versioned dir), then `name` names it.
 */
export function ensureDebianPackage(
  binary: string | (() => boolean),
  pkg: string,
  name = typeof binary === 'string' ? binary : pkg,
): void {
  const present = () => (typeof binary === 'string' ? fs.existsSync(binary) : binary())
  if (present()) return
  const asRoot = process.getuid?.() === 0
  const run = (args: string[]) =>
    execFileSync(asRoot ? args[0]! : 'sudo', asRoot ? args.slice(1) : ['-n', ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 10 * 60_000,
    })
  console.error(`${name} is missing: installing Debian's ${pkg} package`)
  run(['apt-get', 'update'])
  run(['apt-get', 'install', '-y', pkg])
  if (!present()) throw new Error(`apt-get installed ${pkg} but ${name} is still missing`)
}
