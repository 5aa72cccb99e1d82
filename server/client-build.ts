/**
 * Bundles the browser code (client/*.ts entry points) with esbuild into dist/client, when the
 * bundle is missing or older than any source, so `npm start` always serves current code.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildSync, type Metafile } from 'esbuild'
import { ASSET_MANIFEST, type AssetManifest } from './client-assets.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const CLIENT_SRC = path.join(ROOT, 'client')
export const CLIENT_OUT = path.join(ROOT, 'dist', 'client')
const SHARED_SRC = path.join(ROOT, 'shared')
/** Entry points: one bundle per page. */
const ENTRIES = ['home-page.ts', 'event-page.ts', 'editor.ts', 'history-page.ts']
/** The service worker is a classic script, bundled on its own. */
const WORKER = 'sw.ts'
/** Copied as they are. */
const STATIC = ['site.css', 'editor.css', 'favicon.svg']

function newestMtime(dirs: string[], extra: string[]): number {
  let newest = 0
  const visit = (p: string) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name))
    else newest = Math.max(newest, st.mtimeMs)
  }
  for (const d of dirs) visit(d)
  for (const f of extra) if (fs.existsSync(f)) newest = Math.max(newest, fs.statSync(f).mtimeMs)
  return newest
}

function oldestOutput(): number {
  let oldest = Number.POSITIVE_INFINITY
  for (const name of [
    ...[...ENTRIES, WORKER].map((e) => e.replace(/\.ts$/, '.js')),
    ...STATIC,
    ASSET_MANIFEST,
  ]) {
    const file = path.join(CLIENT_OUT, name)
    if (!fs.existsSync(file)) return 0
    oldest = Math.min(oldest, fs.statSync(file).mtimeMs)
  }
  return oldest
}

/** Returns true when it had to build. */
export function ensureClientBuilt(): boolean {
  const sources = newestMtime([CLIENT_SRC, SHARED_SRC], [path.join(ROOT, 'package-lock.json')])
  if (oldestOutput() >= sources) return false
  // Build into a fresh directory and swap it in, so a concurrent reader never sees half a bundle.
  const tmp = `${CLIENT_OUT}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  const { metafile } = buildSync({
    entryPoints: ENTRIES.map((e) => path.join(CLIENT_SRC, e)),
    metafile: true,
    bundle: true,
    format: 'esm',
    splitting: true,
    minify: true,
    sourcemap: true,
    target: ['es2022'],
    outdir: tmp,
    logLevel: 'error',
  })
  buildSync({
    entryPoints: [path.join(CLIENT_SRC, WORKER)],
    bundle: true,
    format: 'iife',
    minify: true,
    target: ['es2022'],
    outfile: path.join(tmp, WORKER.replace(/\.ts$/, '.js')),
    logLevel: 'error',
  })
  for (const name of STATIC) fs.copyFileSync(path.join(CLIENT_SRC, name), path.join(tmp, name))
  fs.writeFileSync(path.join(tmp, ASSET_MANIFEST), JSON.stringify(assetManifest(metafile, tmp), null, 1))
  fs.mkdirSync(path.dirname(CLIENT_OUT), { recursive: true })
  const old = `${CLIENT_OUT}.old-${process.pid}`
  if (fs.existsSync(CLIENT_OUT)) fs.renameSync(CLIENT_OUT, old)
  fs.renameSync(tmp, CLIENT_OUT)
  fs.rmSync(old, { recursive: true, force: true })
  return true
}

/**
 * For each page script, every file it can load: the chunks it imports statically and those it
 * imports on demand (the preview's renderer), from esbuild's own record of the build. Pages preload
 * these and keep them for offline use, so nothing a page can do depends on a later fetch.
 */
function assetManifest(metafile: Metafile, outdir: string): AssetManifest {
  const name = (output: string) => path.relative(outdir, path.resolve(output)).split(path.sep).join('/')
  const manifest: AssetManifest = {}
  for (const [output, meta] of Object.entries(metafile.outputs)) {
    // Chunks loaded on demand are entry points to esbuild too; only the pages' own scripts are listed.
    if (!meta.entryPoint || !ENTRIES.includes(path.basename(meta.entryPoint))) continue
    const files = new Set<string>()
    const visit = (file: string) => {
      if (files.has(name(file))) return
      files.add(name(file))
      for (const imported of metafile.outputs[file]?.imports ?? [])
        if (!imported.external) visit(imported.path)
    }
    visit(output)
    manifest[name(output)] = [...files].sort()
  }
  return manifest
}
