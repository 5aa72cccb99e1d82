/**
 * `npm run build` (npm install and npm ci run it as `prepare`): bundles the server and the browser
 * client into dist/ with esbuild. `npm start` then runs plain JavaScript: no compiler or bundler is
 * loaded by the running server, and starting writes nothing into the checkout. (Type checking is
 * `npm run typecheck`, part of `npm test`.)
 *
 *   dist/server                the server and the admin CLI, each bundled with its dependencies
 *                              (but better-sqlite3's compiled addon) into a few files: a start
 *                              then reads a handful of files instead of ~700 modules, which was
 *                              most of its time; code only some requests need (the JSON API with its zod
 *                              validation, the exports' Markdown renderer, zips, QR codes) is in
 *                              chunks loaded on first use; templates/ beside them
 *   dist/client                one bundle per page, their chunks, the service worker, styles, and
 *                              manifest.json: every file each page script can load
 *   dist/build-info.json       what it was built from (server/build-info.ts), so a stale build is
 *                              refused at start instead of served
 *
 * A build whose sources have not changed since is skipped. The whole of dist/ is built beside the old
 * one and swapped in, so a server starting meanwhile never sees half a build.
 */
import fs from 'node:fs'
import path from 'node:path'
import { buildSync, build as esbuild, type Metafile, type Plugin } from 'esbuild'
import { ASSET_MANIFEST, type AssetManifest } from '../server/http/client-assets.ts'
import { isBuildCurrent, writeBuildInfo } from '../server/ops/build-info.ts'
import { DIST, ROOT } from '../server/ops/paths.ts'
import { WORKER_TASK_MODULES } from '../server/untrusted/untrusted-files.ts'

const CLIENT_SRC = path.join(ROOT, 'client')
/** Entry points: one bundle per page. */
const ENTRIES = ['home-page.ts', 'event-page.ts', 'editor.ts', 'history-page.ts', 'now-page.ts']
/** The service worker is a classic script, bundled on its own. */
const WORKER = 'sw.ts'
/** Copied as they are. */
const STATIC = ['site.css', 'editor.css', 'favicon.svg']
/** Read by the server at run time, beside its modules: source folder → name in dist/server. */
const SERVER_FILES = [['meetings/templates', 'templates']]

/**
 * Entry points of the server side: what `npm start` and bin/summitpad.js run, and what workers load
 * (found beside server/untrusted/untrusted-files.ts, which is why dist/server is one flat folder).
 */
const SERVER_ENTRIES = ['main.ts', 'cli.ts', ...WORKER_TASK_MODULES.map((m) => `untrusted/${m}.ts`)]
/**
 * Left to node_modules: ws's optional native helpers, and `bindings`, which better-sqlite3 would use
 * to find its addon (server/storage/db.ts names the addon's path instead; the addon itself is never bundled).
 */
const SERVER_EXTERNAL = ['bindings', 'bufferutil', 'utf-8-validate']

/**
 * mime-db's table (200 KB, read by express's content negotiation at load) as a JSON.parse of a
 * string rather than esbuild's object literal: V8 scans a string and parses JSON far faster than it
 * compiles a literal of that size (measured alone: 3–8 ms against 17–32 ms). The same object.
 */
const MIME_DB = /[\\/]node_modules[\\/]mime-db[\\/]db\.json$/
const jsonParsedAtRunTime: Plugin = {
  name: 'json-parsed-at-run-time',
  setup(build) {
    build.onLoad({ filter: MIME_DB }, (args) => ({
      contents: `module.exports = JSON.parse(${JSON.stringify(JSON.stringify(JSON.parse(fs.readFileSync(args.path, 'utf8'))))})`,
      loader: 'js',
    }))
  },
}

async function buildServer(out: string): Promise<void> {
  // Asynchronous: plugins (jsonParsedAtRunTime) need esbuild's build, not buildSync.
  await esbuild({
    entryPoints: SERVER_ENTRIES.map((e) => path.join(ROOT, 'server', e)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    splitting: true,
    target: ['node20'],
    outdir: out,
    entryNames: '[name]',
    external: SERVER_EXTERNAL,
    // iconv-lite's tables, for charsets nobody sends here, were an eighth of every start's code.
    alias: { 'iconv-lite': path.join(ROOT, 'server', 'untrusted', 'text-decoding.ts') },
    // The CommonJS dependencies (express and its kin) call require(), which an ES module lacks.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    plugins: [jsonParsedAtRunTime],
    logLevel: 'error',
  })
  for (const [from, name] of SERVER_FILES) {
    fs.cpSync(path.join(ROOT, 'server', from!), path.join(out, name!), { recursive: true })
  }
}

function buildClient(out: string): void {
  const { metafile } = buildSync({
    entryPoints: ENTRIES.map((e) => path.join(CLIENT_SRC, e)),
    metafile: true,
    bundle: true,
    format: 'esm',
    splitting: true,
    minify: true,
    sourcemap: true,
    target: ['es2022'],
    outdir: out,
    logLevel: 'error',
  })
  buildSync({
    entryPoints: [path.join(CLIENT_SRC, WORKER)],
    bundle: true,
    format: 'iife',
    minify: true,
    target: ['es2022'],
    outfile: path.join(out, WORKER.replace(/\.ts$/, '.js')),
    logLevel: 'error',
  })
  for (const name of STATIC) fs.copyFileSync(path.join(CLIENT_SRC, name), path.join(out, name))
  fs.writeFileSync(path.join(out, ASSET_MANIFEST), JSON.stringify(assetManifest(metafile, out), null, 1))
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

async function build(): Promise<void> {
  if (isBuildCurrent(ROOT, DIST)) {
    console.log('summitpad build: dist/ is current')
    return
  }
  const tmp = `${DIST}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  await buildServer(path.join(tmp, 'server'))
  buildClient(path.join(tmp, 'client'))
  writeBuildInfo(ROOT, tmp)
  const old = `${DIST}.old-${process.pid}`
  if (fs.existsSync(DIST)) fs.renameSync(DIST, old)
  fs.renameSync(tmp, DIST)
  fs.rmSync(old, { recursive: true, force: true })
  console.log('summitpad build: dist/ written')
}

await build()
