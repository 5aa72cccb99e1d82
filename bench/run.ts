/**
 * `npm run bench` (short, a few minutes) and `npm run bench -- --full`: runs every scenario against
 * every server, interleaved (one scenario across all servers before the next), and writes the
 * results into docs/benchmarks.md.
 *
 * Options: `--full`; `--only=fanout,saturation,...`, `--servers=summitpad,reference,...` and
 * `--fanout=200,1600`, `--rounds=10` (typing slices per server), `--storm-rounds=1` to run a part (the doc is then not rewritten unless `--write`); `--profile` writes a CPU profile of every
 * server child into bench/out/profiles/<server> (read it with `node --import tsx bench/profile-summary.ts`).
 */
import fs from 'node:fs'
import path from 'node:path'
import {
  fanout,
  joinStorm,
  manyPads,
  restartStorm,
  roomJoinsNewPad,
  type StormResult,
  saturation,
} from './live.ts'
import { hostStealMark, machine } from './metrics.ts'
import { generatePadLog, type PadLog } from './pad-log.ts'
import { type BenchResults, type PerServer, renderResults, targetsSummary, writeResults } from './report.ts'
import { ALL_SERVERS, LABEL, PERSISTENT, ROOT, type RunOptions, type ServerKind } from './servers.ts'
import { coldLoad, idle, killNine, serverThroughput, storeThroughput } from './storage.ts'

interface Plan {
  fanoutSizes: number[]
  /** Servers take turns typing: `rounds` slices of `sliceMs` each. */
  sliceMs: number
  rounds: number
  saturationClients: number
  saturationSchedule: { typists: number; perTypist: number }[]
  saturationStepMs: number
  joinClients: number
  joinSpreadMs: number
  /** Room joins a new pad: people behind one address opening it within the spread (as seen: ~2 s). */
  roomClients: number
  roomSpreadMs: number
  restartClients: number
  /** Join and restart storms: rounds per server, the median reported. */
  stormRounds: number
  manyPads: { pads: number; perPad: number } | null
  idleConnections: number
  idlePads: number
  /** Fresh servers per kind for the idle figures (the median is reported). */
  idleRounds: number
  coldUpdates: number
  coldTrials: number
  storeBudgetMs: number
  /** Persistence through the server: writers × keystrokes each, sent at once (within Summitpad's per-socket burst of 1,500). */
  throughputWriters: number
  throughputPerWriter: number
  killRuns: number
  killBurst: number
}

const SHORT: Plan = {
  fanoutSizes: [10, 50, 200],
  sliceMs: 2000,
  rounds: 3,
  saturationClients: 200,
  saturationSchedule: [
    ...[10, 25, 50, 100, 200].map((typists) => ({ typists, perTypist: 5 })),
    ...[10, 20].map((perTypist) => ({ typists: 200, perTypist })),
  ],
  saturationStepMs: 2500,
  joinClients: 200,
  joinSpreadMs: 2000,
  roomClients: 300,
  roomSpreadMs: 2000,
  restartClients: 200,
  stormRounds: 3,
  // About a minute and a quarter with four servers: full run only.
  manyPads: null,
  // RSS moves in steps of V8 heap pages: fewer would be noise.
  idleConnections: 2000,
  idlePads: 1000,
  idleRounds: 3,
  coldUpdates: 50_000,
  coldTrials: 3,
  storeBudgetMs: 1500,
  throughputWriters: 16,
  throughputPerWriter: 1250,
  killRuns: 1,
  killBurst: 2000,
}

const FULL: Plan = {
  fanoutSizes: [10, 50, 100, 200, 400, 1600],
  sliceMs: 2000,
  // 20 s of typing per server and size: a p99 over ~500 keystrokes, not decided by two or three.
  rounds: 10,
  saturationClients: 200,
  saturationSchedule: [
    ...[10, 20, 40, 60, 80, 100, 130, 160, 200].map((typists) => ({ typists, perTypist: 5 })),
    ...[10, 15, 20, 30, 40].map((perTypist) => ({ typists: 200, perTypist })),
  ],
  saturationStepMs: 5000,
  joinClients: 200,
  joinSpreadMs: 3000,
  roomClients: 300,
  roomSpreadMs: 2000,
  restartClients: 1000,
  stormRounds: 3,
  manyPads: { pads: 50, perPad: 20 },
  idleConnections: 2000,
  idlePads: 1000,
  idleRounds: 5,
  coldUpdates: 50_000,
  coldTrials: 5,
  storeBudgetMs: 3000,
  throughputWriters: 48,
  throughputPerWriter: 1250,
  killRuns: 3,
  killBurst: 2000,
}

const SCENARIOS = [
  'fanout',
  'saturation',
  'pads',
  'join',
  'room',
  'restart',
  'idle',
  'cold',
  'persistence',
  'kill',
] as const
type Scenario = (typeof SCENARIOS)[number]

function argValue(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

const full = process.argv.includes('--full')
const plan = { ...(full ? FULL : SHORT) }
const fanoutSizes = argValue('fanout')
if (fanoutSizes) plan.fanoutSizes = fanoutSizes.split(',').map(Number)
// More slices per server: a rare stall (e.g. one every few hundred commits) then falls inside the window.
const roundsArg = argValue('rounds')
if (roundsArg) plan.rounds = Math.min(Math.max(1, Number(roundsArg)), 50)
const stormRoundsArg = argValue('storm-rounds')
if (stormRoundsArg) plan.stormRounds = Number(stormRoundsArg)
const only = new Set((argValue('only')?.split(',') ?? SCENARIOS) as Scenario[])
const servers = (argValue('servers')?.split(',') as ServerKind[] | undefined) ?? ALL_SERVERS
for (const s of servers) if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s}`)
const partial =
  only.size < SCENARIOS.length ||
  servers.length < ALL_SERVERS.length ||
  fanoutSizes !== undefined ||
  roundsArg !== undefined
const write = !partial || process.argv.includes('--write')
const options: RunOptions = {
  cpuProfileDir: process.argv.includes('--profile') ? path.join(ROOT, 'bench/out/profiles') : null,
}
if (options.cpuProfileDir) fs.mkdirSync(options.cpuProfileDir, { recursive: true })

// Every stock client adds a process 'exit' listener.
process.setMaxListeners(0)

const started = performance.now()
const log = (message: string) => {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4)
  console.log(`[${s}s] ${message}`)
}

function errorOf(err: unknown): { error: string } {
  return { error: err instanceof Error ? err.message : String(err) }
}

/** Runs `run` for each server in turn, rotating who goes first so a noisy moment does not always hit the same one. */
// Random start: no server is always the first one after a heavy scenario.
let rotation = Math.floor(Math.random() * ALL_SERVERS.length)
async function acrossServers<T>(
  title: string,
  kinds: readonly ServerKind[],
  run: (kind: ServerKind) => Promise<T>,
  describe: (result: T) => string,
): Promise<PerServer<T>> {
  const results: PerServer<T> = {}
  const order = kinds.map((_, i) => kinds[(i + rotation) % kinds.length]!)
  rotation++
  for (const kind of order) {
    try {
      const result = await run(kind)
      results[kind] = result
      log(`${title} · ${LABEL[kind]}: ${describe(result)}`)
    } catch (err) {
      results[kind] = errorOf(err)
      log(`${title} · ${LABEL[kind]}: ERROR ${errorOf(err).error}`)
    }
  }
  return results
}

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—')

/**
 * A figure decided by a few seconds of a shared host: run it `rounds` times, interleaved across the
 * servers, and keep each server's median round (by `key`), told every round's figure by `withRounds`.
 */
async function medianOfRounds<T extends object>(
  title: string,
  kinds: readonly ServerKind[],
  rounds: number,
  run: (kind: ServerKind) => Promise<T>,
  describe: (r: T) => string,
  key: (r: T) => number,
  withRounds: (median: T, figures: number[]) => T,
): Promise<PerServer<T>> {
  const all: PerServer<T>[] = []
  for (let i = 0; i < rounds; i++) {
    all.push(await acrossServers(`${title} (round ${i + 1})`, kinds, run, describe))
  }
  const results: PerServer<T> = {}
  for (const kind of kinds) {
    const done = all.map((r) => r[kind]).filter((o): o is T => o !== undefined && !('error' in o))
    if (done.length === 0) {
      results[kind] = all.map((r) => r[kind]).find((o) => o !== undefined)
      continue
    }
    const sorted = [...done].sort((a, b) => (key(a) || Infinity) - (key(b) || Infinity))
    results[kind] = withRounds(sorted[Math.floor((sorted.length - 1) / 2)]!, done.map(key))
  }
  return results
}

/** A storm: the median round by "all synced". */
function stormRounds(
  title: string,
  run: (kind: ServerKind) => Promise<StormResult>,
  describe: (r: StormResult) => string,
): Promise<PerServer<StormResult>> {
  return medianOfRounds(
    title,
    servers.filter((k) => k !== 'relay'),
    plan.stormRounds,
    run,
    describe,
    (r) => r.allSyncedMs,
    (median, roundsMs) => ({ ...median, roundsMs }),
  )
}

async function main(): Promise<void> {
  const m = machine()
  // Fan-out, many pads and saturation keep every server's clients connected at once.
  const manyPadsClients = plan.manyPads ? plan.manyPads.pads * plan.manyPads.perPad : 0
  const needed =
    Math.max(
      Math.max(...plan.fanoutSizes, manyPadsClients, plan.saturationClients) * servers.length,
      plan.idleConnections + plan.idlePads,
      plan.restartClients,
    ) + 256
  if (m.openFilesLimit < needed) {
    throw new Error(
      `the open files limit is ${m.openFilesLimit}; this run needs ~${needed} sockets in one process. ` +
        'Raise it first (e.g. `ulimit -n 65536`).',
    )
  }
  const steal = hostStealMark()
  const startedAt = new Date()
  log(
    `${full ? 'full' : 'short'} run on ${m.cpus} × ${m.model}, node ${m.node}; servers: ${servers.join(', ')}`,
  )
  const results: BenchResults = {
    command: `npm run bench${full ? ' -- --full' : ''}`,
    full,
    startedAt,
    seconds: 0,
    machine: m,
    stealPct: 0,
    servers,
    fanout: [],
    saturation: {},
    saturationClients: plan.saturationClients,
    manyPads: null,
    join: {},
    room: {},
    restart: {},
    idle: {},
    cold: {},
    store: null,
    throughput: {},
    kill: {},
  }
  const persistent = servers.filter((k) => PERSISTENT[k])
  let padLog: PadLog | null = null
  const getPadLog = () => {
    padLog ??= generatePadLog(plan.coldUpdates)
    return padLog
  }

  const report = <T>(title: string, results: PerServer<T>, describe: (r: T) => string) => {
    for (const kind of servers) {
      const o = results[kind]
      if (o === undefined) continue
      log(
        `${title} · ${LABEL[kind]}: ${'error' in (o as object) ? `ERROR ${(o as { error: string }).error}` : describe(o as T)}`,
      )
    }
    return results
  }
  if (only.has('fanout')) {
    for (const clients of plan.fanoutSizes) {
      log(`fan-out ${clients}: starting`)
      const byServer = await fanout(servers, clients, plan.sliceMs, plan.rounds, options)
      results.fanout.push({
        clients,
        results: report(
          `fan-out ${clients}`,
          byServer,
          (r) =>
            `p50 ${f(r.latency.p50)} p99 ${f(r.latency.p99)} max ${f(r.latency.max)} ms, ${f(r.deliveryPct)} %, ` +
            `server ${f(r.window.serverCpuPct)} %, loadgen ${f(r.window.loadgenCpuPct)} %, others ${f(r.window.othersCpuPct)} %`,
        ),
      })
    }
  }
  if (only.has('saturation')) {
    log('saturation: starting')
    results.saturation = report(
      'saturation',
      await saturation(
        servers,
        plan.saturationClients,
        plan.saturationSchedule,
        plan.saturationStepMs,
        options,
      ),
      (r) =>
        `capacity ${Math.round(r.capacity)} deliveries/s; ` +
        r.steps
          .map(
            (s) =>
              `${s.typists}×${s.perTypist}: p99 ${f(s.latency.p99)} ${f(s.deliveryPct)}% lg ${f(s.window.loadgenCpuPct)}%`,
          )
          .join('; '),
    )
  }
  if (only.has('pads') && plan.manyPads) {
    const { pads, perPad } = plan.manyPads
    log(`${pads} pads × ${perPad}: starting`)
    results.manyPads = {
      pads,
      perPad,
      results: report(
        `${pads} pads × ${perPad}`,
        await manyPads(servers, pads, perPad, plan.sliceMs, plan.rounds, options),
        (r) =>
          `p50 ${f(r.latency.p50)} p99 ${f(r.latency.p99)} ms, ${f(r.deliveryPct)} %, server ${f(r.window.serverCpuPct)} %`,
      ),
    }
  }
  if (only.has('join')) {
    results.join = await stormRounds(
      `join storm ${plan.joinClients}`,
      (kind) => joinStorm(kind, plan.joinClients, plan.joinSpreadMs, options),
      (r) =>
        `all synced ${f(r.allSyncedMs)} ms, presence ${f(r.presenceMs)} ms, server ${f(r.window.serverCpuSeconds)} s`,
    )
  }
  if (only.has('room')) {
    results.room = await stormRounds(
      `room joins a new pad ${plan.roomClients}`,
      (kind) => roomJoinsNewPad(kind, plan.roomClients, plan.roomSpreadMs, options),
      (r) =>
        `all synced ${f(r.allSyncedMs)} ms, chair's line at everyone ${f(r.lineMs ?? Number.NaN)} ms, ` +
        `closed or refused ${r.refusals ?? 0}, server ${f(r.window.serverCpuSeconds)} s`,
    )
  }
  if (only.has('restart')) {
    results.restart = await stormRounds(
      `restart storm ${plan.restartClients}`,
      (kind) => restartStorm(kind, plan.restartClients, options),
      (r) =>
        `listening after ${f(r.serverDownMs)} ms, all synced ${f(r.allSyncedMs)} ms, wrong text ${r.contentMismatches}`,
    )
  }
  if (only.has('idle')) {
    // RSS moves by a KiB or two per connection from one fresh server to the next (V8's heap
    // sizing, the allocator): the median of interleaved rounds.
    results.idle = await medianOfRounds(
      `idle ${plan.idleConnections} connections / ${plan.idlePads} pads`,
      servers,
      plan.idleRounds,
      (kind) => idle(kind, plan.idleConnections, plan.idlePads, options),
      (r) =>
        `${f(r.perConnectionBytes / 1024)} KiB/connection (heap ${f(r.perConnectionHeapBytes / 1024)}), ${f(r.perPadBytes / 1024)} KiB/pad`,
      (r) => r.perConnectionBytes,
      (median, perConnectionRounds) => ({ ...median, perConnectionRounds }),
    )
  }
  if (only.has('cold')) {
    results.cold = await acrossServers(
      `cold load ${plan.coldUpdates}`,
      persistent,
      (kind) => coldLoad(kind, getPadLog(), plan.coldTrials, options),
      (r) =>
        r.fed
          .map((t) => `synced ${f(t.syncedMs)} content ${f(t.contentMs)} (${t.charsAtSync} chars at sync)`)
          .join('; ') +
        (r.logOnly.length ? ` | log only: ${r.logOnly.map((t) => f(t.contentMs)).join(', ')}` : '') +
        (r.startMs ? ` | start ${f(r.startMs.fed)} / ${f(r.startMs.logOnly)} ms` : ''),
    )
  }
  if (only.has('persistence')) {
    try {
      results.store = await storeThroughput(getPadLog(), plan.storeBudgetMs)
      for (const s of results.store) log(`store · ${s.label}: ${Math.round(s.perSecond)} updates/s`)
    } catch (err) {
      results.store = errorOf(err)
      log(`store: ERROR ${results.store.error}`)
    }
    results.throughput = await acrossServers(
      'throughput',
      servers,
      (kind) => serverThroughput(kind, plan.throughputWriters, plan.throughputPerWriter, options),
      (r) =>
        `${Math.round(r.perSecond)} updates/s, ${f(r.deliveryPct)} %, server ${f(r.window.serverCpuPct)} %, loadgen ${f(r.window.loadgenCpuPct)} %`,
    )
  }
  if (only.has('kill')) {
    results.kill = await acrossServers(
      'kill -9',
      persistent,
      async (kind) => {
        const typing = []
        const burst = []
        for (let i = 0; i < plan.killRuns; i++) {
          typing.push(await killNine(kind, 'typing', plan.killBurst, options))
          burst.push(await killNine(kind, 'burst', plan.killBurst, options))
        }
        return { typing, burst, burstSize: plan.killBurst }
      },
      (r) =>
        [...r.typing, ...r.burst]
          .map((k) => `typed ${k.typed} seen ${k.seen} kept ${k.kept} lost ${k.lost}`)
          .join('; '),
    )
  }

  results.seconds = (performance.now() - started) / 1000
  results.stealPct = steal()
  // The raw figures too, so the report can be rendered again (bench/report.ts) without a new run.
  fs.mkdirSync(path.join(ROOT, 'bench/out'), { recursive: true })
  fs.writeFileSync(path.join(ROOT, 'bench/out/results.json'), JSON.stringify(results, null, 1))
  const markdown = renderResults(results)
  if (write) {
    const docPath = path.join(ROOT, 'docs/benchmarks.md')
    writeResults(docPath, markdown)
    log(`wrote ${path.relative(ROOT, docPath)}`)
  } else {
    const outDir = path.join(ROOT, 'bench/out')
    fs.mkdirSync(outDir, { recursive: true })
    fs.writeFileSync(path.join(outDir, 'partial-results.md'), markdown)
    log('partial run: results in bench/out/partial-results.md (pass --write to update docs/benchmarks.md)')
  }
  console.log(`\nTargets:\n${targetsSummary(results)}`)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
