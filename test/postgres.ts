/**
 * A PostgreSQL server of the test file's own: Debian's `postgresql` package (installed when
 * missing), its binaries from /usr/lib/postgresql/<major>/bin (the newest major installed), a
 * cluster made by `initdb` in a temp dir, run by the unprivileged `postgres` user when the tests
 * run as root (PostgreSQL refuses root), listening on 127.0.0.1 only, on a free port, with its
 * socket in that temp dir. Nothing touches a cluster the package may have started on 5432.
 * Stopped by `stop()`, and on process exit whatever happens.
 *
 * One server per test process (`testPostgres()`), a fresh database per store (`freshDatabase()`).
 */
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { ensureDebianPackage } from './debian-packages.ts'
import { freePort } from './free-port.ts'

const run = promisify(execFile)

const PG_LIB = '/usr/lib/postgresql'
/** The superuser initdb makes (trust authentication: the server listens on loopback only). */
const SUPERUSER = 'summitpad'

/** The newest installed major's bin dir with a server in it, or null. */
function findBinDir(): string | null {
  if (!fs.existsSync(PG_LIB)) return null
  const majors = fs
    .readdirSync(PG_LIB)
    .filter((d) => /^\d+$/.test(d) && fs.existsSync(path.join(PG_LIB, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return majors.length ? path.join(PG_LIB, majors[0]!, 'bin') : null
}

function binDir(): string {
  let dir = findBinDir()
  if (dir) return dir
  // The server package proper (postgresql-<major>) comes with Debian's `postgresql`.
  ensureDebianPackage(() => findBinDir() !== null, 'postgresql', `${PG_LIB}/<major>/bin/initdb`)
  dir = findBinDir()
  if (!dir) throw new Error(`Debian's postgresql package is installed but no ${PG_LIB}/<major>/bin/initdb`)
  return dir
}

export interface TestPostgres {
  port: number
  /** How long initdb + start took, in ms. */
  startMs: number
  /** A connection string to `database` as the superuser. */
  url(database: string): string
  /** Creates an empty database of its own and returns its connection string. */
  freshDatabase(): Promise<string>
  /** Stops the server, as a crash (`immediate`) or politely (`fast`), then starts it again. */
  restart(mode?: 'immediate' | 'fast'): Promise<void>
  stopServer(mode?: 'immediate' | 'fast'): Promise<void>
  startServer(): Promise<void>
  stop(): Promise<void>
}

let shared: Promise<TestPostgres> | null = null

/** This process's PostgreSQL server, started on first use. */
export function testPostgres(): Promise<TestPostgres> {
  shared ??= startPostgres()
  return shared
}

async function startPostgres(): Promise<TestPostgres> {
  const started = Date.now()
  const bin = binDir()
  const asRoot = process.getuid?.() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'summitpad-pg-'))
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    fs.chownSync(dir, uid, gid)
  }
  const dataDir = path.join(dir, 'data')
  const logFile = path.join(dir, 'server.log')
  /** Runs one of PostgreSQL's programs as the user who owns the cluster. */
  const pgRun = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', path.join(bin, program), ...args], { cwd: dir })
      : run(path.join(bin, program), args, { cwd: dir })
  // --no-sync: only initdb's own final flush of a throwaway cluster; the server keeps fsync on.
  await pgRun('initdb', [
    '-D',
    dataDir,
    '-U',
    SUPERUSER,
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ])
  const port = await freePort()
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`
  const startServer = async () => {
    await pgRun('pg_ctl', ['start', '-w', '-t', '60', '-D', dataDir, '-l', logFile, '-o', serverOptions])
  }
  const stopServer = async (mode: 'immediate' | 'fast' = 'fast') => {
    await pgRun('pg_ctl', ['stop', '-w', '-t', '60', '-D', dataDir, '-m', mode])
  }
  await startServer()
  let stopped = false
  // Whatever ends the process (a failed test, --test-force-exit), the server goes with it.
  const onExit = () => {
    if (stopped) return
    stopped = true
    try {
      const args = ['stop', '-D', dataDir, '-m', 'immediate']
      if (asRoot)
        execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args], {
          stdio: 'ignore',
        })
      else execFileSync(path.join(bin, 'pg_ctl'), args, { stdio: 'ignore' })
    } catch {
      // Already stopped.
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)
  // A run stopped by a signal (a timeout, Ctrl-C) takes its server down too. (Only a kill -9 of
  // the test process leaves it running: pg_ctl starts it detached.)
  const onSignal = (signal: NodeJS.Signals) => {
    onExit()
    process.kill(process.pid, signal)
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal)
  const url = (database: string) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`
  let databases = 0
  return {
    port,
    startMs: Date.now() - started,
    url,
    async freshDatabase() {
      const name = `test_${process.pid}_${++databases}`
      const admin = new pg.Client({ connectionString: url('postgres') })
      await admin.connect()
      try {
        await admin.query(`CREATE DATABASE ${name}`)
      } finally {
        await admin.end()
      }
      return url(name)
    },
    async restart(mode = 'immediate') {
      await stopServer(mode)
      await startServer()
    },
    stopServer,
    startServer,
    async stop() {
      if (stopped) return
      await stopServer('fast')
      stopped = true
      process.removeListener('exit', onExit)
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
