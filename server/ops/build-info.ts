/**
 * Tells a current build from a stale one. The build (bin/build.ts) records every source it was made
 * from; a start compares that with the sources in the checkout now, so a `git pull` without
 * `npm run build` says so plainly instead of serving yesterday's code.
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
  'bin/build.ts',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
]

/** One source file as built: its SHA-256, and its size and time to skip hashing it again when unchanged. */
interface Source {
  sha256: string
  size: number
  mtimeMs: number
}

export interface BuildInfo {
  /** By path relative to the root (with `/`). */
  sources: Record<string, Source>
}

/**
 * The sources now in the checkout. A file with the size and time `known` has for it is taken to
 * have its digest (a start then stats ~80 files instead of hashing them); any other is hashed.
 */
export function currentSources(root: string, known: Record<string, Source> = {}): Record<string, Source> {
  const out: Record<string, Source> = {}
  const visit = (rel: string) => {
    const abs = path.join(root, rel)
    if (!fs.existsSync(abs)) return
    const st = fs.statSync(abs)
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) visit(path.posix.join(rel, name))
      return
    }
    const was = known[rel]
    out[rel] =
      was && was.size === st.size && was.mtimeMs === st.mtimeMs
        ? was
        : {
            sha256: createHash('sha256').update(fs.readFileSync(abs)).digest('hex'),
            size: st.size,
            mtimeMs: st.mtimeMs,
          }
  }
  for (const source of SOURCES) visit(source)
  return out
}

export function writeBuildInfo(root: string, dist: string): void {
  const info: BuildInfo = { sources: currentSources(root) }
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
  let built: Record<string, Source>
  try {
    built = (JSON.parse(fs.readFileSync(file, 'utf8')) as BuildInfo).sources
  } catch {
    return `dist/${BUILD_INFO} is unreadable: run \`npm run build\`.`
  }
  const now = currentSources(root, built)
  const changed = [...new Set([...Object.keys(built), ...Object.keys(now)])].filter(
    (f) => built[f]?.sha256 !== now[f]?.sha256,
  )
  if (changed.length === 0) return null
  const named = changed.slice(0, 3).join(', ') + (changed.length > 3 ? ` and ${changed.length - 3} more` : '')
  return `The build in dist/ is older than the sources (changed since: ${named}). Run \`npm run build\`, then start again.`
}
