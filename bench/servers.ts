/**
 * The servers under test, each a child process on 127.0.0.1: Summitpad (`dist/server/main.js`), the
 * reference y-websocket server from npm in memory and with y-leveldb (`YPERSISTENCE`), and the
 * trivial relay in bench/relay.ts. Starts one, waits for its "listening" line, reads its CPU and
 * RSS from /proc, stops it gracefully (SIGTERM) or with kill -9.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildProblem } from '../server/ops/build-info.ts'
import { processCpuSeconds, processRssBytes } from './metrics.ts'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const HOST = '127.0.0.1'

/**
 * Summitpad is measured as `npm start` runs it: the node options and script of package.json's
 * start script (e.g. its young-generation size), so the benchmark cannot drift from the product, on
 * a build of the sources as they are (a stale dist/ is refused, as `npm start` refuses it).
 */
function summitpadStartArgs(): string[] {
  const stale = buildProblem(ROOT, path.join(ROOT, 'dist'))
  if (stale) throw new Error(stale)
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string }
  }
  const [command, ...args] = pkg.scripts.start.trim().split(/\s+/)
  if (command !== 'node' || args.at(-1) !== 'dist/server/main.js') {
    throw new Error(
      `package.json start script is not "node [options] dist/server/main.js": ${pkg.scripts.start}`,
    )
  }
  return args
}

/**
 * `summitpad-postgres` is Summitpad with DATABASE_URL set, on the benchmark's own PostgreSQL
 * (bench/postgres.ts), and `summitpad-durable` Summitpad on SQLite with `DURABILITY=full` (an
 * fsync per commit, as PostgreSQL's `synchronous_commit = on` does), everything else as
 * `summitpad`: not in the default run, only where asked for (bench/engines.ts).
 */
export type ServerKind =
  | 'summitpad'
  | 'summitpad-postgres'
  | 'summitpad-durable'
  | 'reference'
  | 'reference-leveldb'
  | 'relay'

export const isSummitpad = (kind: ServerKind): boolean =>
  kind === 'summitpad' || kind === 'summitpad-postgres' || kind === 'summitpad-durable'

export const ALL_SERVERS: readonly ServerKind[] = ['summitpad', 'reference', 'reference-leveldb', 'relay']

export const LABEL: Record<ServerKind, string> = {
  summitpad: 'Summitpad',
  'summitpad-postgres': 'Summitpad (PostgreSQL)',
  'summitpad-durable': 'Summitpad (SQLite, DURABILITY=full)',
  reference: 'reference (memory)',
  'reference-leveldb': 'reference (leveldb)',
  relay: 'relay (floor)',
}

/** Whether the server keeps pads across a restart. */
export const PERSISTENT: Record<ServerKind, boolean> = {
  summitpad: true,
  'summitpad-postgres': true,
  'summitpad-durable': true,
  reference: false,
  'reference-leveldb': true,
  relay: false,
}

const REFERENCE_SERVER = path.join(ROOT, 'node_modules/@y/websocket-server/src/server.js')
const GC_ON_SIGNAL = pathToFileURL(path.join(ROOT, 'bench/gc-on-signal.mjs')).href
const EXIT_ON_SIGTERM = pathToFileURL(path.join(ROOT, 'bench/exit-on-sigterm.mjs')).href

const READY: Record<ServerKind, RegExp> = {
  summitpad: /Summitpad listening on/,
  'summitpad-postgres': /Summitpad listening on/,
  'summitpad-durable': /Summitpad listening on/,
  reference: /running at/,
  'reference-leveldb': /running at/,
  relay: /relay listening on/,
}

/** Give up on a child that has not said it listens after this long (a slow, busy machine). */
const START_TIMEOUT_MS = 30_000
/** Summitpad's own graceful-shutdown limit is 5 s + 2 s; wait a little longer before kill -9. */
const STOP_TIMEOUT_MS = 10_000

/** Options of a whole benchmark run that reach every server start. */
export interface RunOptions {
  /** Directory for `node --cpu-prof` output of every server child (a subdirectory per server), or null. */
  cpuProfileDir: string | null
}

export interface StartOptions {
  /** Reuse a port (restarts). Default: a free one. */
  port?: number
  /** Summitpad's DATA_DIR or the reference's YPERSISTENCE directory. Default: a new temp dir. */
  dataDir?: string
  /**
   * Load bench/gc-on-signal.mjs into the child (with --expose-gc): SIGUSR2 then runs a full GC, so
   * RSS can be read without the garbage of what happened before. Measurement only; no server code changes.
   */
  gcOnSignal?: boolean
  /** Write a V8 CPU profile of the child into `<dir>/<server>` when it exits. */
  cpuProfileDir?: string | null
  env?: Record<string, string>
  /** Node options given after the server's own (so they win over them), e.g. `--max-semi-space-size=1`. */
  nodeOptions?: string[]
}

/** A free TCP port on 127.0.0.1 (ephemeral ports of concurrently running tests are avoided by the OS). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `summitpad-bench-${prefix}-`))
}

const running = new Set<ChildProcess>()

/** On any exit of the benchmark, stop the children it started (by their pids, nothing else). */
process.on('exit', () => {
  for (const child of running) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL')
})

export class ServerProcess {
  readonly kind: ServerKind
  readonly port: number
  readonly dataDir: string
  private readonly child: ChildProcess
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private output = ''

  private constructor(kind: ServerKind, port: number, dataDir: string, child: ChildProcess) {
    this.kind = kind
    this.port = port
    this.dataDir = dataDir
    this.child = child
    running.add(child)
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child)
        resolve({ code, signal })
      })
    })
    const keep = (chunk: Buffer) => {
      // Keep the tail only: the reference logs every failed message with console.error.
      this.output = (this.output + chunk.toString()).slice(-8000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
  }

  static async start(kind: ServerKind, options: StartOptions = {}): Promise<ServerProcess> {
    const port = options.port ?? (await freePort())
    const dataDir = options.dataDir ?? tempDir(kind)
    // One directory per server, so profiles of the same scenario can be set side by side.
    const nodeArgs = options.cpuProfileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.cpuProfileDir, kind)}`]
      : []
    if (options.cpuProfileDir && kind !== 'summitpad') nodeArgs.push('--import', EXIT_ON_SIGTERM)
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.tmpdir(),
      HOST,
      PORT: String(port),
      ...options.env,
    }
    if (options.gcOnSignal) {
      nodeArgs.push('--expose-gc', '--import', GC_ON_SIGNAL)
      env.BENCH_MEMORY_FILE = path.join(dataDir, 'bench-memory.json')
    }
    let args: string[]
    switch (kind) {
      case 'summitpad':
      case 'summitpad-postgres':
      case 'summitpad-durable':
        args = [...nodeArgs, ...summitpadStartArgs()]
        Object.assign(env, {
          DATA_DIR: dataDir,
          LOG_LEVEL: 'warn',
          // Every other setting as shipped: every benchmark client connects from 127.0.0.1, as a
          // venue's people do from its one NAT address. A scenario that must change a setting
          // passes it in `env`, and its report says which and why.
        })
        if (kind === 'summitpad-durable') env.DURABILITY = 'full'
        if (kind === 'summitpad-postgres') {
          const { databaseFor } = await import('./postgres.ts')
          env.DATABASE_URL = await databaseFor(dataDir)
        }
        break
      case 'reference':
        args = [...nodeArgs, REFERENCE_SERVER]
        break
      case 'reference-leveldb':
        args = [...nodeArgs, REFERENCE_SERVER]
        env.YPERSISTENCE = dataDir
        break
      case 'relay':
        args = [...nodeArgs, '--import', 'tsx', 'bench/relay.ts']
        break
      default: {
        const unknown: never = kind
        throw new Error(`unknown server ${unknown}`)
      }
    }
    // Every command above ends with its script: the extra options go just before it.
    args.splice(args.length - 1, 0, ...(options.nodeOptions ?? []))
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const server = new ServerProcess(kind, port, dataDir, child)
    await server.ready()
    return server
  }

  get pid(): number {
    return this.child.pid!
  }

  /** The URL a y-websocket provider is given; the room (pad id) is appended with a slash. */
  get serverUrl(): string {
    return isSummitpad(this.kind) ? `ws://${HOST}:${this.port}/sync` : `ws://${HOST}:${this.port}`
  }

  padUrl(padId: string): string {
    return `${this.serverUrl}/${padId}`
  }

  cpuSeconds(): number {
    return processCpuSeconds(this.pid)
  }

  rssBytes(): number {
    return processRssBytes(this.pid)
  }

  /** Asks a child started with `gcOnSignal` for a full GC (after which `memoryUsage()` is fresh). */
  collectGarbage(): void {
    if (this.alive) this.child.kill('SIGUSR2')
  }

  /** The child's process.memoryUsage() as of its last `collectGarbage()`, if it was started with `gcOnSignal`. */
  memoryUsage(): NodeJS.MemoryUsage | null {
    try {
      return JSON.parse(
        fs.readFileSync(path.join(this.dataDir, 'bench-memory.json'), 'utf8'),
      ) as NodeJS.MemoryUsage
    } catch {
      return null
    }
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** How it ended, for error messages ("running" while it runs). */
  get exitStatus(): string {
    if (this.alive) return 'running'
    return this.child.signalCode ? `killed by ${this.child.signalCode}` : `exit code ${this.child.exitCode}`
  }

  /** Graceful stop (SIGTERM), falling back to kill -9; resolves when the process is gone. */
  async stop(): Promise<void> {
    if (!this.alive) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  /** kill -9, and wait until the process is gone. */
  async kill9(): Promise<void> {
    if (!this.alive) return
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** The tail of what the child printed, for error messages. */
  get log(): string {
    return this.output
  }

  private async ready(): Promise<void> {
    const pattern = READY[this.kind]
    const started = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS)
      const check = () => {
        if (pattern.test(this.output)) {
          clearTimeout(timer)
          this.child.stdout?.off('data', check)
          resolve(true)
        }
      }
      this.child.stdout?.on('data', check)
      this.exited.then(() => resolve(false))
    })
    if (!started) {
      await this.kill9()
      throw new Error(`${LABEL[this.kind]} did not start:\n${this.output}`)
    }
  }
}
