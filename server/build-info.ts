/**
 * Tells a current build from a stale one. The build (bin/build.ts) records a digest of every source
 * it was made from; a start compares it with the sources in the checkout now, so a `git pull`
 * without `npm run build` says so plainly instead of serving yesterday's code.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** Written into dist/ by the build. */
export const BUILD_INFO = 'build-info.json'

/** What the build is made from, relative to the checkout's root: folders walked whole, and files. */
const SOURCES = [
  'server',
  'shared',
  'client',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
]

export interface BuildInfo {
  /** Each source file's SHA-256, by path relative to the root (with `/`). */
  sources: Record<string, string>
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

/** The digests of the sources now in the checkout. */
export function sourceDigests(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const visit = (rel: string) => {
    const abs = path.join(root, rel)
    if (!fs.existsSync(abs)) return
    if (fs.statSync(abs).isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) visit(path.posix.join(rel, name))
    } else out[rel] = sha256(abs)
  }
  for (const source of SOURCES) visit(source)
  return out
}

export function writeBuildInfo(root: string, dist: string): void {
  const info: BuildInfo = { sources: sourceDigests(root) }
  fs.writeFileSync(path.join(dist, BUILD_INFO), `${JSON.stringify(info, null, 1)}\n`)
}

/** Whether dist/ was built from exactly these sources. */
export function isBuildCurrent(root: string, dist: string): boolean {
  return buildProblem(root, dist) === null
}

/**
 * Why the build in `dist` cannot be served, in words for the person who typed `npm start`, or null.
 * A checkout without sources (a shipped build) is taken as it is.
 */
export function buildProblem(root: string, dist: string): string | null {
  const file = path.join(dist, BUILD_INFO)
  if (!fs.existsSync(file)) return 'Summitpad is not built: run `npm run build` (`npm install` runs it too).'
  if (!fs.existsSync(path.join(root, 'server'))) return null
  const built = (JSON.parse(fs.readFileSync(file, 'utf8')) as BuildInfo).sources
  const now = sourceDigests(root)
  const changed = [...new Set([...Object.keys(built), ...Object.keys(now)])].filter(
    (f) => built[f] !== now[f],
  )
  if (changed.length === 0) return null
  const named = changed.slice(0, 3).join(', ') + (changed.length > 3 ? ` and ${changed.length - 3} more` : '')
  return `The build in dist/ is older than the sources (changed since: ${named}). Run \`npm run build\`, then start again.`
}
