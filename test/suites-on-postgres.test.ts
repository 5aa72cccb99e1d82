/**
 * The sync, crash (kill -9), history, minutes, meetings and access suites again, with every test
 * server on PostgreSQL (SUMMITPAD_TEST_STORAGE=postgres, test-storage.ts): one PostgreSQL for the
 * run, each suite file in a child test process of its own (node's runner loads a file's tests
 * once per process, and the engine is chosen when the helpers load), one subtest per suite here.
 * A child that exits non-zero, or passes nothing, fails its subtest with the child's failing
 * tests' output, so `npm test` stays one command and its summary lines count a suite that broke
 * on PostgreSQL as a failure.
 *
 * One suite by hand: SUMMITPAD_TEST_STORAGE=postgres node --import tsx --test test/sync.test.ts
 * (it then starts a PostgreSQL of its own, postgres.ts).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { type TestPostgres, testPostgres } from './postgres.ts'
import { ON_POSTGRES_LINE } from './test-storage.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The suites whose servers must behave the same on both engines (issue 24). */
const SUITES = ['sync', 'crash', 'history', 'minutes', 'meetings', 'access'] as const

/**
 * A child still running by then has hung: it is killed, with everything it started, and its
 * subtest fails. The longest suite here takes about a minute on a quiet machine; 2-core CI
 * machines shared with other runs are several times slower.
 */
const CHILD_TIMEOUT_MS = 10 * 60_000
/** Lines of a failing test's report shown in the subtest's failure, each. */
const FAILURE_LINES = 60
/** Characters of the child's stderr shown when it failed without a test failing. */
const STDERR_TAIL = 4000

interface ChildRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  timedOut: boolean
}

/** Runs one suite file in its own test process, on the given PostgreSQL. */
function runSuite(file: string, env: NodeJS.ProcessEnv): Promise<ChildRun> {
  const args = [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-force-exit',
    '--test-timeout=300000',
    '--test-reporter=tap',
    file,
  ]
  // Its own process group: a timeout kills the servers it spawned (crash.test.ts) too.
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }, CHILD_TIMEOUT_MS)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
  })
}

/** The child's summary count `# <name> N` (TAP), or null when it printed none. */
function summaryCount(tap: string, name: string): number | null {
  const match = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)
  return match ? Number(match[1]) : null
}

/** Each failing test's TAP lines (its `not ok` line and the report under it), bounded. */
function failures(tap: string): string {
  const lines = tap.split('\n')
  const out: string[] = []
  for (const [i, line] of lines.entries()) {
    if (!/^\s*not ok /.test(line)) continue
    out.push(...lines.slice(i, i + FAILURE_LINES), '')
  }
  return out.join('\n')
}

/**
 * Drops the databases a finished child made (test-storage.ts names them `suite_<pid>_<n>`; the
 * children run one at a time), so a run does not pile up one database per server started.
 */
async function dropSuiteDatabases(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      ['suite\\_%'],
    )
    // FORCE: a server process a timed-out child left behind may still be connected.
    for (const { datname } of rows) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

describe('the server suites on PostgreSQL', () => {
  let postgres: TestPostgres
  before(async () => {
    postgres = await testPostgres()
  })
  after(() => postgres.stop())

  for (const suite of SUITES) {
    const file = `test/${suite}.test.ts`
    test(`${file} passes with its servers on PostgreSQL`, {
      timeout: CHILD_TIMEOUT_MS + 60_000,
    }, async (t) => {
      const adminUrl = postgres.url('postgres')
      const started = Date.now()
      // Not NODE_TEST_CONTEXT: set by the runner that started this file, it would make the child
      // report to a parent runner (in its binary format) instead of printing TAP.
      const { NODE_TEST_CONTEXT: _, ...env } = process.env
      const run = await runSuite(file, {
        ...env,
        SUMMITPAD_TEST_STORAGE: 'postgres',
        SUMMITPAD_TEST_POSTGRES_URL: adminUrl,
      })
      await dropSuiteDatabases(adminUrl)
      const seconds = Math.round((Date.now() - started) / 1000)
      const passed = summaryCount(run.stdout, 'pass')
      const failed = summaryCount(run.stdout, 'fail')
      t.diagnostic(`${file} on PostgreSQL: ${passed ?? '?'} passed, ${failed ?? '?'} failed, ${seconds} s`)
      // Seeds the child printed (FUZZ_SEED=…), to rerun a failure.
      for (const seed of new Set(run.stdout.match(/\b[A-Z_]+_SEED=\d+/g) ?? [])) t.diagnostic(seed)
      const verdict = run.timedOut
        ? `killed after ${CHILD_TIMEOUT_MS / 60_000} minutes`
        : `exit ${run.code ?? run.signal}, ${passed ?? 'no'} passed, ${failed ?? 'no count of'} failed`
      const report = failures(run.stdout) || run.stderr.slice(-STDERR_TAIL) || run.stdout.slice(-STDERR_TAIL)
      assert.ok(
        run.stdout.includes(ON_POSTGRES_LINE),
        `${file}: no server of it ran on PostgreSQL (no "${ON_POSTGRES_LINE}")\n${report}`,
      )
      assert.ok(
        run.code === 0 && !run.timedOut && (passed ?? 0) > 0,
        `${file} on PostgreSQL: ${verdict}\n${report}`,
      )
    })
  }
})
