/**
 * What a server says about its storage: /healthz (readiness, 503 with the storage's words while it
 * fails), /livez (liveness, never asks the database), the probe bounded and shared (readiness.ts),
 * DATABASE_URL checked at start, and /metrics' database sizes from the storage, on SQLite and on
 * a PostgreSQL of the test's own stopped as a crash and started again.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { runCli } from '../server/ops/cli-run.ts'
import { ConfigError, configFromEnv } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { ROOT } from '../server/ops/paths.ts'
import { HEALTH_CACHE_MS, Readiness } from '../server/ops/readiness.ts'
import { openSqliteStorage, type Storage, type StorageHealth } from '../server/storage/storage.ts'
import { startTestServer, type TestServer, tempDir, waitFor } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

interface HealthBody {
  status: string
  connections: number
  storage: StorageHealth
}

async function health(server: TestServer): Promise<{ status: number; body: HealthBody }> {
  const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: (await res.json()) as HealthBody }
}

/** A sample's value in a Prometheus text scrape. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

/** A SQLite storage whose health check answers what `answer` says (the seam a test can fail). */
function storageWithHealth(answer: () => Promise<StorageHealth>, probes: { count: number }): Storage {
  const sqlite = openSqliteStorage({ dataDir: tempDir(), durability: 'normal', log: createLogger('silent') })
  return Object.assign(sqlite, {
    health: () => {
      probes.count++
      return answer()
    },
  })
}

describe('/healthz and /livez on SQLite', () => {
  test('a healthy server answers 200 with its storage ok; /livez answers too', async () => {
    const server = await startTestServer()
    try {
      const { status, body } = await health(server)
      assert.equal(status, 200)
      assert.equal(body.status, 'ok')
      assert.deepEqual(body.storage, { ok: true })
      assert.equal(body.connections, 0)
      const live = await fetch(`${server.url}/livez`)
      assert.equal(live.status, 200)
      assert.deepEqual(await live.json(), { status: 'ok' })
    } finally {
      await server.close()
    }
  })

  test('a failing storage makes /healthz 503 "degraded" with its words, while /livez stays 200', async () => {
    const probes = { count: 0 }
    let failing = true
    const storage = storageWithHealth(
      async () =>
        failing ? { ok: false, error: 'database unreachable: connect ECONNREFUSED' } : { ok: true },
      probes,
    )
    const server = await startTestServer({}, { storage })
    try {
      const { status, body } = await health(server)
      assert.equal(status, 503)
      assert.equal(body.status, 'degraded')
      assert.deepEqual(body.storage, { ok: false, error: 'database unreachable: connect ECONNREFUSED' })
      assert.equal((await fetch(`${server.url}/livez`)).status, 200, 'liveness never asks the database')
      failing = false
      await waitFor('/healthz to recover', async () => (await health(server)).status === 200)
    } finally {
      await server.close()
    }
  })

  test('a storm of health checks costs one probe; a probe that hangs is answered as a failure', async () => {
    const probes = { count: 0 }
    const storage = storageWithHealth(async () => ({ ok: true }), probes)
    const server = await startTestServer({}, { storage })
    try {
      const before = probes.count
      const started = Date.now()
      const answers = await Promise.all(Array.from({ length: 50 }, () => health(server)))
      assert.ok(answers.every((a) => a.status === 200))
      // One probe per cache period at most, however many checks came in it (a loaded machine may
      // spread the 50 over a few periods; without the cache it would be 50 probes).
      const periods = Math.ceil((Date.now() - started) / HEALTH_CACHE_MS) + 1
      assert.ok(
        probes.count - before <= periods,
        `${probes.count - before} probes for 50 checks in ${periods} periods`,
      )
    } finally {
      await server.close()
    }
    // Readiness on its own: a probe that never settles is a failure within the timeout.
    const hung = new Readiness(() => new Promise<StorageHealth>(() => {}), 50, HEALTH_CACHE_MS)
    const answer = await hung.check()
    assert.equal(answer.ok, false)
    assert.match((answer as { error: string }).error, /did not answer within 50 ms/)
    // And a probe that throws is a failure with its message, not a 500.
    const thrown = new Readiness(() => Promise.reject(new Error('disk I/O error')))
    assert.deepEqual(await thrown.check(), { ok: false, error: 'storage error: disk I/O error' })
  })
})

describe('DATABASE_URL', () => {
  test('postgres:// and postgresql:// select PostgreSQL; anything else stops the start with a clear message', async () => {
    assert.equal(configFromEnv({}).databaseUrl, null)
    assert.equal(
      configFromEnv({ DATABASE_URL: 'postgres://app@db:6432/summitpad' }).databaseUrl,
      'postgres://app@db:6432/summitpad',
    )
    assert.equal(
      configFromEnv({ DATABASE_URL: 'postgresql://app@db/summitpad' }).databaseUrl,
      'postgresql://app@db/summitpad',
    )
    assert.throws(
      () => configFromEnv({ DATABASE_URL: 'mysql://app@db/summitpad' }),
      (err) => err instanceof ConfigError && /postgres:\/\/ or postgresql:\/\//.test(err.message),
    )
    assert.throws(() => configFromEnv({ DATABASE_URL: '/var/lib/summitpad' }), ConfigError)
    // The CLI says so too, as a usage error (exit 2), before opening anything.
    const err: string[] = []
    const code = await runCli(
      ['list-pads'],
      { DATABASE_URL: 'sqlite:///tmp/x' },
      {
        out: () => {},
        err: (t) => err.push(t),
      },
    )
    assert.equal(code, 2)
    assert.match(err.join(''), /DATABASE_URL must start with postgres:\/\//)
  })
})

describe('on PostgreSQL', () => {
  let postgres: TestPostgres
  before(async () => {
    postgres = await testPostgres()
  })
  after(() => postgres.stop())

  test('/healthz says the database is down while it is, and recovers by itself; /livez stays 200; sizes in /metrics', async () => {
    const server = await startTestServer({ databaseUrl: await postgres.freshDatabase() })
    try {
      assert.equal(server.storage.engine, 'postgres')
      assert.equal((await health(server)).status, 200)
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      assert.ok(sample(metrics, 'summitpad_db_bytes')! > 0, 'pg_database_size')
      // The test cluster's role is a superuser, so it may list pg_wal.
      assert.ok(sample(metrics, 'summitpad_db_wal_bytes')! > 0, 'pg_ls_waldir')

      await postgres.stopServer('immediate')
      let down: { status: number; body: HealthBody } | null = null
      await waitFor('/healthz to report the outage', async () => {
        down = await health(server)
        return down.status === 503
      })
      assert.equal(down!.body.status, 'degraded')
      assert.equal(down!.body.storage.ok, false)
      assert.match((down!.body.storage as { error: string }).error, /^database /)
      assert.equal((await fetch(`${server.url}/livez`)).status, 200)
      const metricsDown = await fetch(`${server.url}/metrics`)
      assert.equal(metricsDown.status, 200, 'a scrape does not fail with the database')
      assert.ok(Number.isNaN(sample(await metricsDown.text(), 'summitpad_db_bytes')))

      await postgres.startServer()
      await waitFor('/healthz to recover', async () => (await health(server)).status === 200, 20_000)
    } finally {
      await server.close()
    }
  })

  test('the built server (npm start) runs on PostgreSQL from DATABASE_URL, and says so; a bad URL stops it', async () => {
    const run = (env: Record<string, string>) =>
      spawn(process.execPath, ['dist/server/main.js'], {
        cwd: ROOT,
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: tempDir(),
          LOG_LEVEL: 'fatal',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    const child = run({ DATABASE_URL: await postgres.freshDatabase() })
    let output = ''
    child.stdout!.on('data', (d) => (output += d))
    child.stderr!.on('data', (d) => (output += d))
    try {
      await waitFor('the listening line', () => /listening on \S+/.test(output), 60_000)
      assert.match(output, /\(data in PostgreSQL 127\.0\.0\.1:\d+\/test_/)
      const url = /listening on (\S+)/.exec(output)![1]!
      const res = await fetch(`${url}/healthz`)
      assert.equal(res.status, 200)
      assert.deepEqual(((await res.json()) as HealthBody).storage, { ok: true })
    } finally {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    assert.equal(child.exitCode, 0, output)

    const refused = run({ DATABASE_URL: 'mysql://app@db/summitpad' })
    let said = ''
    refused.stderr!.on('data', (d) => (said += d))
    const [code] = await once(refused, 'exit')
    assert.equal(code, 2)
    assert.match(said, /summitpad: DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//)
  })

  test("backups are the database's: POST /api/admin/backup answers 501 and `summitpad backup` fails, both naming pg_dump", async () => {
    const databaseUrl = await postgres.freshDatabase()
    const server = await startTestServer({ databaseUrl })
    try {
      const res = await fetch(`${server.url}/api/admin/backup`, { method: 'POST' })
      assert.equal(res.status, 501)
      const body = (await res.json()) as { error: { code: string; message: string } }
      assert.match(body.error.message, /pg_dump/)
    } finally {
      await server.close()
    }
    let err = ''
    const code = await runCli(
      ['backup', `${tempDir()}/copy.sqlite`],
      { DATABASE_URL: databaseUrl },
      {
        out: () => {},
        err: (t) => (err += t),
      },
    )
    assert.equal(code, 1)
    assert.match(err, /summitpad backup: .*pg_dump/)
  })
})
