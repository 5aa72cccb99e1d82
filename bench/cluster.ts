/**
 * Several Summitpad processes behind HAProxy on one PostgreSQL, for the benchmark: the deployment
 * README's "Running several servers" describes, on 127.0.0.1. The database is the tests' private
 * PostgreSQL (test/postgres.ts: Debian's package, initdb in a temp dir, a free port), one fresh
 * database per cluster; the servers are started as `npm start` runs them (bench/servers.ts) with
 * `DATABASE_URL` and `TRUST_PROXY=1`, as the README says; HAProxy runs README's ```haproxy block
 * as written (test/haproxy.ts), only the addresses changed.
 *
 * The README's configuration names three servers. A cluster of fewer puts the others in
 * maintenance through HAProxy's runtime API (`disable server`), which is what an operator does
 * with a server that is not there: the configuration itself stays the README's.
 *
 * (test/haproxy.ts registers a node:test `after` hook that kills its HAProxy; imported here it
 * also makes node print an empty TAP report, "TAP version 13" and zero tests, around the output.)
 */
import { type Balancer, ensureHaproxy, startBalancer } from '../test/haproxy.ts'
import { testPostgres } from '../test/postgres.ts'
import { sleep } from './metrics.ts'
import { freePort, HOST, type RunOptions, ServerProcess } from './servers.ts'

/** The README's server names, in the order of its `server` lines. */
export const SERVER_NAMES = ['s1', 's2', 's3'] as const
/** The README's backends: pads by hash, everything else round robin. */
const BACKENDS = ['pads', 'any'] as const
/** A fresh HAProxy marks a server up after `rise 2` checks `inter 2s` apart: wait up to this long. */
const UP_TIMEOUT_MS = 30_000

export interface Cluster {
  balancer: Balancer
  /** The sync URL through HAProxy (a y-websocket provider appends `/<pad>`). */
  wsUrl: string
  /** The running servers by README name (`s1`…); a killed one is absent until `restart`. */
  servers: Map<string, ServerProcess>
  /** How many of the README's servers this cluster uses; 0: one, its clients not through HAProxy. */
  size: number
  /** The README name of the server HAProxy sends `pad` to (its `X-Summitpad-Server` header). */
  holderOf(pad: string): Promise<string>
  /** Total CPU seconds of the running servers (for a window's server CPU). */
  serverCpuSeconds(): number
  /** Commits so far and their total seconds, over the running servers (their `summitpad_persist_seconds`). */
  commits(): Promise<{ count: number; seconds: number }>
  /** kill -9 of one server; resolves once the process is gone. */
  kill9(name: string): Promise<void>
  /** Starts a killed server again on its port and database, as systemd's `Restart=on-failure` would. */
  restart(name: string): Promise<void>
  /** HAProxy's view of the servers of the `pads` backend ('up', 'down', 'maint', …). */
  states(): Promise<Map<string, string>>
  stop(): Promise<void>
}

/** Waits until HAProxy reports every server in `names` as `state` in the pads backend. */
async function waitForStates(balancer: Balancer, names: readonly string[], state: string): Promise<void> {
  const deadline = performance.now() + UP_TIMEOUT_MS
  let seen = 'nothing yet'
  for (;;) {
    // A failed query is a missed poll (HAProxy still starting), not the answer.
    const states = await balancer.serverStates('pads').catch((err: unknown) => {
      seen = String(err)
      return null
    })
    if (states && names.every((n) => states.get(n) === state)) return
    if (states) seen = [...states].join('; ')
    if (performance.now() > deadline) {
      throw new Error(`HAProxy did not see ${names.join(', ')} ${state}: ${seen}\n${balancer.output()}`)
    }
    await sleep(200)
  }
}

/**
 * PostgreSQL (started once per benchmark process), a fresh database, `size` servers, HAProxy.
 * Size 0 is the baseline without the balancer: one server, its clients connecting to it directly.
 */
export async function startCluster(requested: number, options: RunOptions): Promise<Cluster> {
  if (requested < 0 || requested > SERVER_NAMES.length)
    throw new Error(`a cluster of 1–3 servers (0: one, without HAProxy), not ${requested}`)
  const size = Math.max(1, requested)
  ensureHaproxy()
  const postgres = await testPostgres()
  const databaseUrl = await postgres.freshDatabase()
  const ports = await Promise.all(SERVER_NAMES.map(() => freePort()))
  const servers = new Map<string, ServerProcess>()
  const start = (port: number) =>
    ServerProcess.start('summitpad', {
      port,
      cpuProfileDir: options.cpuProfileDir,
      // The README's setup: one database for all, the balancer on this machine is a trusted proxy.
      env: { DATABASE_URL: databaseUrl, TRUST_PROXY: '1' },
    })
  let balancer: Balancer | null = null
  try {
    // One after another: the first runs the migrations, the others wait on its lock (either way works).
    for (const [i, name] of SERVER_NAMES.slice(0, size).entries()) servers.set(name, await start(ports[i]!))
    balancer = await startBalancer(ports)
    for (const name of SERVER_NAMES.slice(size)) {
      for (const backend of BACKENDS) await balancer.runtime(`disable server ${backend}/${name}`)
    }
    await waitForStates(balancer, SERVER_NAMES.slice(0, size), 'up')
  } catch (err) {
    await balancer?.stop()
    for (const server of servers.values()) await server.kill9()
    throw err
  }
  const lb = balancer
  return {
    balancer: lb,
    wsUrl: requested === 0 ? servers.get(SERVER_NAMES[0])!.serverUrl : lb.wsUrl,
    servers,
    size: requested,
    async holderOf(pad) {
      const res = await fetch(`${lb.url}/p/${encodeURIComponent(pad)}`)
      await res.arrayBuffer()
      const name = res.headers.get('x-summitpad-server')
      if (!name || !servers.has(name)) throw new Error(`no running server answered for ${pad} (${name})`)
      return name
    },
    serverCpuSeconds() {
      let total = 0
      for (const server of servers.values()) if (server.alive) total += server.cpuSeconds()
      return total
    },
    async commits() {
      let count = 0
      let seconds = 0
      for (const server of servers.values()) {
        const text = await (await fetch(`http://${HOST}:${server.port}/metrics`)).text()
        count += Number(/^summitpad_persist_seconds_count (\S+)$/m.exec(text)?.[1] ?? Number.NaN)
        seconds += Number(/^summitpad_persist_seconds_sum (\S+)$/m.exec(text)?.[1] ?? Number.NaN)
      }
      return { count, seconds }
    },
    async kill9(name) {
      const server = servers.get(name)
      if (!server) throw new Error(`${name} is not running`)
      servers.delete(name)
      await server.kill9()
    },
    async restart(name) {
      const i = SERVER_NAMES.indexOf(name as (typeof SERVER_NAMES)[number])
      if (i < 0 || servers.has(name)) throw new Error(`${name} is running or unknown`)
      servers.set(name, await start(ports[i]!))
      await waitForStates(lb, [name], 'up')
    },
    states: () => lb.serverStates('pads'),
    async stop() {
      await lb.stop()
      for (const server of servers.values()) await server.stop()
      servers.clear()
    },
  }
}
