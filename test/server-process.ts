/**
 * The real server as its own process, started as a user starts it (`npm start` runs the built
 * entry point, dist/server/main.js, which `npm test` builds first): for tests that kill it with
 * -9, stop it with SIGSTOP, or put several of them behind a load balancer. Every process started
 * here is killed when the test file ends, whatever happened.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor } from './helpers.ts'
import { testDatabaseUrl } from './test-storage.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface ServerProcess {
  proc: ChildProcessWithoutNullStreams
  port: number
  url: string
  wsUrl: string
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const running = new Set<ChildProcessWithoutNullStreams>()
after(() => {
  for (const proc of running) proc.kill('SIGKILL')
})

/**
 * Starts a server on `dataDir` (PORT=0 unless `env` says otherwise); resolves once it listens. On
 * the test engine (test-storage.ts): with SUMMITPAD_TEST_STORAGE=postgres, DATABASE_URL names the
 * data dir's own database, the same one for a restart on it.
 */
export async function spawnServer(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const databaseUrl = (await testDatabaseUrl(dataDir)) ?? ''
  const proc = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  running.add(proc)
  let out = ''
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      running.delete(proc)
      resolve({ code, signal })
    }),
  )
  const listening = /Summitpad listening on http:\/\/127\.0\.0\.1:(\d+)/
  await waitFor('server to listen', () => listening.test(out) || proc.exitCode !== null, 20_000)
  const port = Number(listening.exec(out)?.[1])
  if (!port) throw new Error(`server did not start:\n${out}`)
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/sync`,
    output: () => out,
    exited,
  }
}
