/**
 * `npm start` as a person types it: it runs the compiled build (no compiler or bundler loaded),
 * writes nothing into the checkout, refuses a build older than the sources instead of serving
 * yesterday's code, and loads at start only what serving needs (the rest on first use).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ROOT } from '../server/ops/paths.ts'
import { apiCall, assertApiError, okJson, tempDir } from './helpers.ts'

/** Every file under `root` (but .git) with its size and modification time. */
function listFiles(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name)
      if (entry.isDirectory()) {
        if (abs !== path.join(root, '.git')) visit(abs)
      } else {
        const st = fs.lstatSync(abs)
        out.set(path.relative(root, abs), `${st.size} bytes, modified ${st.mtime.toISOString()}`)
      }
    }
  }
  visit(root)
  return out
}

function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = []
  for (const [file, was] of before) {
    const now = after.get(file)
    if (now === undefined) out.push(`removed ${file}`)
    else if (now !== was) out.push(`changed ${file}: ${was} → ${now}`)
  }
  for (const file of after.keys()) if (!before.has(file)) out.push(`created ${file}`)
  return out
}

interface Started {
  child: ChildProcess
  url: string
}

/** Starts `command` and waits for the server's "listening" line (or its exit, which fails). */
function startServer(command: string, args: string[], cwd: string, dataDir: string): Promise<Started> {
  const child = spawn(command, args, {
    cwd,
    // Its own process group: `npm start` runs node as a child, and both are stopped together.
    detached: true,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no "listening" line within 60 s:\n${output}`))
    }, 60_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const listening = /Summitpad listening on (http:\/\/\S+)/.exec(output)
      if (listening) {
        clearTimeout(timer)
        resolve({ child, url: listening[1]! })
      }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before listening:\n${output}`))
    })
  })
}

/** SIGTERM to the whole group (npm and the server under it), as a terminal's Ctrl-C reaches both. */
function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', () => resolve())
    process.kill(-child.pid!, 'SIGTERM')
  })
}

/** Runs a command to its end; its exit code and everything it printed. */
function runToEnd(command: string, args: string[], cwd: string, dataDir: string) {
  try {
    const out = execFileSync(command, args, {
      cwd,
      env: { ...process.env, PORT: '0', DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    })
    return { code: 0, output: out.toString() }
  } catch (err) {
    const e = err as { status: number | null; stdout: Buffer; stderr: Buffer }
    return { code: e.status, output: `${e.stdout}${e.stderr}` }
  }
}

test('npm start runs the compiled build, loads no compiler or bundler, and writes nothing into the checkout', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  assert.match(pkg.scripts.start, /^node( --[\w-]+(=\S+)?)* dist\/server\/main\.js$/)
  // The compiled server imports neither tsx, esbuild nor TypeScript.
  for (const file of fs.readdirSync(path.join(ROOT, 'dist', 'server'), { recursive: true })) {
    if (!String(file).endsWith('.js')) continue
    const source = fs.readFileSync(path.join(ROOT, 'dist', 'server', String(file)), 'utf8')
    assert.doesNotMatch(
      source,
      /(from |import\(|require\()['"](tsx|esbuild|typescript)(\/[^'"]*)?['"]/,
      `dist/server/${file}`,
    )
  }

  const dataDir = tempDir()
  const before = listFiles(ROOT)
  const { child, url } = await startServer('npm', ['start'], ROOT, dataDir)
  try {
    assert.equal((await fetch(`${url}/healthz`)).status, 200)
    const page = await fetch(`${url}/p/start-check`)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /src="\/assets\/editor\.js"/)
    assert.equal((await fetch(`${url}/assets/editor.js`)).status, 200)
  } finally {
    await stop(child)
  }
  assert.deepEqual(differences(before, listFiles(ROOT)), [])
})

test('a start after a source change without a build says so plainly, and a build mends it', async () => {
  // A copy of the checkout with its build, so the real one is never touched.
  const copy = tempDir('summitpad-stale-')
  for (const name of ['server', 'shared', 'client', 'bin', 'dist']) {
    fs.cpSync(path.join(ROOT, name), path.join(copy, name), { recursive: true })
  }
  for (const name of ['package.json', 'package-lock.json', 'tsconfig.json']) {
    fs.copyFileSync(path.join(ROOT, name), path.join(copy, name))
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'))
  const dataDir = tempDir()

  const fresh = await startServer(process.execPath, ['dist/server/main.js'], copy, dataDir)
  await stop(fresh.child)

  fs.appendFileSync(path.join(copy, 'server', 'sync', 'room.ts'), '\n// changed after the build\n')
  const refused = runToEnd(process.execPath, ['dist/server/main.js'], copy, dataDir)
  assert.equal(refused.code, 2, refused.output)
  assert.match(refused.output, /older than the sources \(changed since: server\/sync\/room\.ts\)/)
  assert.match(refused.output, /Run `npm run build`/)
  // The admin CLI refuses the same way.
  const cli = runToEnd(process.execPath, ['bin/summitpad.js', 'list-pads'], copy, dataDir)
  assert.equal(cli.code, 2, cli.output)
  assert.match(cli.output, /server\/sync\/room\.ts/)

  execFileSync('npm', ['run', 'build'], { cwd: copy, stdio: 'ignore', timeout: 5 * 60_000 })
  const rebuilt = await startServer(process.execPath, ['dist/server/main.js'], copy, dataDir)
  await stop(rebuilt.child)
})

/** The files of dist/server a start loads before it runs: main.js and what it imports statically. */
function loadedAtStart(): Map<string, string> {
  const dir = path.join(ROOT, 'dist', 'server')
  const files = new Map<string, string>()
  const visit = (file: string) => {
    if (files.has(file)) return
    const source = fs.readFileSync(path.join(dir, file), 'utf8')
    files.set(file, source)
    // esbuild's static imports of its own chunks; `import("./x.js")` (on first use) is not one.
    for (const m of source.matchAll(/^import\s(?:[^;]*?\sfrom\s*)?"\.\/([^"]+)"/gm)) visit(m[1]!)
  }
  visit('main.js')
  return files
}

/**
 * Code a start does not need, by the module comments esbuild writes: the API's request validation
 * (zod, a quarter of the server's code), and the exports' Markdown renderer and zip writer.
 */
const NOT_AT_START = ['zod/', 'markdown-it/', 'fflate/']

test('a start loads only what serving needs; the API, the exports and the zip load on first use and work', async () => {
  const atStart = loadedAtStart()
  for (const module of NOT_AT_START) {
    // "// node_modules/zod/v4/core/core.js" (or a longer path, when node_modules is a link).
    const comment = new RegExp(`^// \\S*node_modules/${module.replace(/[./]/g, '\\$&')}`, 'm')
    const holders = [...atStart].filter(([, source]) => comment.test(source)).map(([file]) => file)
    assert.deepEqual(holders, [], `${module} is loaded by every start`)
  }

  const { child, url } = await startServer(process.execPath, ['dist/server/main.js'], ROOT, tempDir())
  const server = { url }
  try {
    // Validation (zod) on the first API request after the start: a plain message, not internals.
    const bad = await apiCall(server, 'POST', '/api/events', { slug: 'Not A Slug', name: 'x' })
    assert.match(assertApiError(bad, 400, 'invalid'), /short name for the URL/)
    okJson(await apiCall(server, 'POST', '/api/events', { slug: 'lazy-conf', name: 'Lazy Conf' }), 201)
    const pad = okJson<{ id: string }>(
      await apiCall(server, 'POST', '/api/events/lazy-conf/pads', { title: 'Opening', kind: 'talk' }),
      201,
    )
    // The renderers (markdown-it) and the zip writer (fflate), loaded by the first export.
    const txt = await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=txt`)
    assert.equal(txt.status, 200, txt.text)
    assert.match(txt.text, /Opening/)
    const html = await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=html`)
    assert.equal(html.status, 200, html.text)
    assert.match(html.text, /<h1>Opening<\/h1>/)
    const zip = await apiCall(server, 'GET', '/api/events/lazy-conf/export')
    assert.equal(zip.status, 200, zip.text)
    assert.deepEqual([...zip.bytes.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'a zip archive')
  } finally {
    await stop(child)
  }
})
