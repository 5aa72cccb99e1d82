/**
 * Real programs the tests drive (Chromium, nginx, openssl) come from Debian's packages: installed
 * with apt-get when missing, because CI may start from a fresh machine and nothing is downloaded
 * from anywhere else.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'

/** Installs Debian package `pkg` when `binary` is missing (as root, or through `sudo -n`). */
export function ensureDebianPackage(binary: string, pkg: string): void {
  if (fs.existsSync(binary)) return
  const asRoot = process.getuid?.() === 0
  const run = (args: string[]) =>
    execFileSync(asRoot ? args[0]! : 'sudo', asRoot ? args.slice(1) : ['-n', ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 10 * 60_000,
    })
  console.error(`${binary} is missing: installing Debian's ${pkg} package`)
  run(['apt-get', 'update'])
  run(['apt-get', 'install', '-y', pkg])
  if (!fs.existsSync(binary)) throw new Error(`apt-get installed ${pkg} but ${binary} is still missing`)
}
