/**
 * The browser client's list of files, as the build wrote it: for each page script, every file
 * under /assets/ it can load. Pages name these in `<link rel="modulepreload">`, so a page has its
 * whole code once it has loaded — the preview's renderer included, though it runs only on demand —
 * and the editor keeps exactly these for offline use.
 */
import fs from 'node:fs'
import path from 'node:path'

/** Written by the build (bin/build.ts) beside the bundles. */
export const ASSET_MANIFEST = 'manifest.json'

/** Page script (e.g. `editor.js`) → every file it can load, itself included, relative to /assets/. */
export type AssetManifest = Record<string, string[]>

export function readAssetManifest(dir: string): AssetManifest {
  const file = path.join(dir, ASSET_MANIFEST)
  if (!fs.existsSync(file)) throw new Error('the browser client is not built: run `npm run build`')
  const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file}: not a build manifest`)
  return parsed as AssetManifest
}

/** What a page with these scripts preloads: the files they can load, apart from the scripts themselves. */
export function preloadsOf(manifest: AssetManifest, scripts: readonly string[]): string[] {
  const files = new Set(scripts.flatMap((s) => manifest[s] ?? []))
  for (const s of scripts) files.delete(s)
  return [...files].sort()
}
