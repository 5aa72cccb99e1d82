/**
 * HAProxy (Debian's package) in front of several real server processes, with the configuration
 * read from README.md's ```haproxy block, so the documented setup is the tested one. Only the
 * addresses change: the balancer's port, its peers port, its runtime socket, and the servers'
 * ports; every routing, health-check and timeout line runs as written.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after } from 'node:test'
import { ensureDebianPackage } from './debian-packages.ts'
import { freePort } from './free-port.ts'
import { tempDir, waitFor } from './helpers.ts'

export const HAPROXY = '/usr/sbin/haproxy'
const README = path.join(import.meta.dirname, '..', 'README.md')
/** The name the README's `peers` section gives this balancer (`haproxy -L`). */
const LOCAL_PEER = 'lb1'
/** The README's example server ports, in the order of its `server` lines. */
const README_SERVER_PORTS = [1234, 1235, 1236]

export function ensureHaproxy(): void {
  ensureDebianPackage(HAPROXY, 'haproxy')
}

export interface BalancerAddresses {
  port: number
  peersPort: number
  runtimeSocket: string
  /** The servers' ports, in place of the README's s1, s2, s3. */
  serverPorts: readonly number[]
}

/** The README's ```haproxy block with this test's addresses. */
export function readmeHaproxyConfig(at: BalancerAddresses): string {
  const readme = fs.readFileSync(README, 'utf8')
  const block = /```haproxy\n([\s\S]*?)```/.exec(readme)?.[1]
  assert.ok(block, 'README.md has a haproxy configuration block')
  let config = block
  const replace = (from: string, to: string) => {
    assert.ok(config.includes(from), `the README's haproxy block has "${from}"`)
    config = config.split(from).join(to)
  }
  // The test's HAProxy runs in the foreground and its log would go nowhere useful.
  replace('    log /dev/log local0\n', '')
  replace('/run/haproxy/admin.sock', at.runtimeSocket)
  replace(`peer ${LOCAL_PEER} 127.0.0.1:10000`, `peer ${LOCAL_PEER} 127.0.0.1:${at.peersPort}`)
  replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${at.port}`)
  assert.equal(at.serverPorts.length, README_SERVER_PORTS.length, 'one port per README server line')
  for (const [i, port] of README_SERVER_PORTS.entries()) {
    replace(`127.0.0.1:${port}\n`, `127.0.0.1:${at.serverPorts[i]}\n`)
  }
  return config
}

export interface Balancer {
  url: string
  wsUrl: string
  /** A command on HAProxy's runtime API (the admin socket), its answer as text. */
  runtime(command: string): Promise<string>
  /** The operational state of each server of `backend`, by name: 'up', 'down', 'maint', 'drain'. */
  serverStates(backend: string): Promise<Map<string, string>>
  /** How many sessions (requests in flight, sockets) `server` of `backend` has now. */
  sessions(backend: string, server: string): Promise<number>
  /** Resolves once `server` of `backend` is in `state` ('up', 'down', 'maint'…), or throws after `timeoutMs`. */
  waitForState(backend: string, server: string, state: string, timeoutMs: number): Promise<void>
  output(): string
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()
after(() => {
  for (const proc of running) proc.kill('SIGKILL')
})

/** Starts HAProxy on the README's configuration in front of `serverPorts`; resolves once it accepts. */
export async function startBalancer(serverPorts: readonly number[]): Promise<Balancer> {
  const dir = tempDir('summitpad-haproxy-')
  const at: BalancerAddresses = {
    port: await freePort(),
    peersPort: await freePort(),
    runtimeSocket: path.join(dir, 'admin.sock'),
    serverPorts,
  }
  const configFile = path.join(dir, 'haproxy.cfg')
  fs.writeFileSync(configFile, readmeHaproxyConfig(at))
  const proc = spawn(HAPROXY, ['-db', '-L', LOCAL_PEER, '-f', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(proc)
  let out = ''
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  const exited = new Promise<void>((resolve) =>
    proc.on('exit', () => {
      running.delete(proc)
      resolve()
    }),
  )
  let accepting = false
  const probe = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: at.port }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
  await waitFor(
    'haproxy to accept',
    () => {
      void probe().then((ok) => {
        accepting ||= ok
      })
      return accepting || proc.exitCode !== null
    },
    20_000,
  )
  if (proc.exitCode !== null) throw new Error(`haproxy did not start:\n${out}`)

  const runtime = (command: string) =>
    new Promise<string>((resolve, reject) => {
      let answer = ''
      const socket = net.connect(at.runtimeSocket, () => socket.end(`${command}\n`))
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        answer += chunk
      })
      socket.on('end', () => resolve(answer))
      socket.on('error', reject)
    })

  /** One column of `show stat` (CSV: pxname, svname, …, with a header) for each server of `backend`. */
  const serverStat = async (backend: string, column: string) => {
    const csv = await runtime('show stat')
    const header = csv.split('\n')[0]!.replace(/^# /, '').split(',')
    const at = header.indexOf(column)
    assert.ok(at >= 0, `show stat has a ${column} column`)
    const values = new Map<string, string>()
    for (const line of csv.split('\n').slice(1)) {
      const cols = line.split(',')
      if (cols[0] !== backend || cols[1] === 'BACKEND' || cols[1] === 'FRONTEND' || !cols[1]) continue
      values.set(cols[1], cols[at] ?? '')
    }
    return values
  }
  const serverStates = async (backend: string) => {
    const states = new Map<string, string>()
    for (const [name, status] of await serverStat(backend, 'status'))
      states.set(name, status.split(' ')[0]!.toLowerCase())
    return states
  }

  return {
    url: `http://127.0.0.1:${at.port}`,
    wsUrl: `ws://127.0.0.1:${at.port}/sync`,
    runtime,
    serverStates,
    sessions: async (backend, server) => Number((await serverStat(backend, 'scur')).get(server)),
    waitForState: async (backend, server, state, timeoutMs) => {
      let states = new Map<string, string>()
      await waitFor(
        `${backend}/${server} to be ${state} in HAProxy`,
        () => {
          void serverStates(backend)
            .then((s) => {
              states = s
            })
            // A poll cut by the balancer's own stop is just a missed poll.
            .catch(() => {})
          return states.get(server) === state
        },
        timeoutMs,
      )
    },
    output: () => out,
    stop: async () => {
      proc.kill('SIGTERM')
      await exited
    },
  }
}
