/**
 * `node --import tsx bench/several-servers.ts [--full] [--only=pads,one-pad,failover] [--kills=N]`
 * (and, to try it at small sizes, `--sizes=1,2`, `--pads=10x5`, `--one-pad=50`; `--sizes=0,1` sets one
 * process with its clients connecting straight to it beside one behind HAProxy):
 * Summitpad as README's "Running several servers" deploys it — 1, 2 or 3 processes behind HAProxy
 * on one PostgreSQL (bench/cluster.ts) — with every client connecting through HAProxy.
 *
 * - Capacity on many pads: 50 pads × 20 raw clients; in each pad first one typist at 5 chars/s
 *   (the "50 pads × 20" scenario of `npm run bench`), then more typists per pad, then faster,
 *   until p99 passes 100 ms or a keystroke is not delivered (the saturation rule of bench/live.ts).
 *   Capacity = keystroke deliveries/s of the heaviest sustained step, as a ratio to one process.
 *   On a host busy with other work a few stalls break that rule at any load, so the ladder goes
 *   on while the cluster keeps up (everything delivered, p99 ≤ 1 s): "throughput".
 * - Capacity in one pad: the saturation scenario (200 raw clients in one pad) through HAProxy. Pad
 *   affinity puts a pad's people on one process, so this one is not expected to scale.
 * - Failover: three processes, 20 stock clients in one pad (5 typing 5 chars/s throughout); kill -9
 *   of the process holding it; per client the time from the kill until it is connected, synced and
 *   holds every typist's first keystroke typed after the kill. The killed process is started again
 *   (the pad stays where it moved) and the new holder is killed next, `--kills` times.
 *
 * Every setting is shipped except what README's setup sets: `DATABASE_URL`, `TRUST_PROXY=1`.
 * Prints markdown tables and writes them, with the raw figures, into bench/out/several-servers.*.
 * The host's cores and load average are part of the report: N processes share the host's cores
 * with the load generator, PostgreSQL and HAProxy.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { testPostgres } from '../test/postgres.ts'
import { Metronome, openAll, RawWriter, StockClient, Tracker, token } from './clients.ts'
import { type Cluster, SERVER_NAMES, startCluster } from './cluster.ts'
import { SATURATION_P99_MS } from './live.ts'
import { machine, sleep, summarize, Window, waitForIdle, waitUntil } from './metrics.ts'
import { ROOT } from './servers.ts'
import {
  type FailoverResult,
  failoverTable,
  type KillResult,
  type LadderResult,
  ladderTable,
  type Step,
  type StepResult,
  sizeLabel,
} from './several-servers-report.ts'

function argValue(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

interface Plan {
  sizes: number[]
  /** Rounds of the capacity scenarios (each with every size interleaved); the median capacity is reported. */
  rounds: number
  stepMs: number
  pads: { pads: number; perPad: number; schedule: Step[] }
  onePad: { clients: number; schedule: Step[] }
  failover: { clients: number; typists: number; kills: number }
}

const SHORT: Plan = {
  sizes: [1, 2, 3],
  rounds: 1,
  stepMs: 2500,
  pads: {
    pads: 50,
    perPad: 20,
    schedule: [
      ...[1, 2, 5, 10, 20].map((typistsPerPad) => ({ typistsPerPad, perTypist: 5 })),
      ...[10, 20].map((perTypist) => ({ typistsPerPad: 20, perTypist })),
    ],
  },
  onePad: {
    clients: 200,
    schedule: [10, 25, 50, 100, 200].map((typistsPerPad) => ({ typistsPerPad, perTypist: 5 })),
  },
  failover: { clients: 20, typists: 5, kills: 3 },
}

const FULL: Plan = {
  sizes: [1, 2, 3],
  // Commit times on a shared host move by 10× within minutes: the median of three rounds.
  rounds: 3,
  stepMs: 4000,
  pads: {
    pads: 50,
    perPad: 20,
    schedule: [
      ...[1, 2, 4, 6, 8, 10, 13, 16, 20].map((typistsPerPad) => ({ typistsPerPad, perTypist: 5 })),
      ...[8, 10, 15, 20].map((perTypist) => ({ typistsPerPad: 20, perTypist })),
    ],
  },
  onePad: {
    clients: 200,
    schedule: [10, 20, 40, 60, 80, 100, 130, 160, 200].map((typistsPerPad) => ({
      typistsPerPad,
      perTypist: 5,
    })),
  },
  failover: { clients: 20, typists: 5, kills: 8 },
}

/** The looser rule's bound: a keystroke that takes a second to appear is still usable for notes. */
const KEEPING_UP_P99_MS = 1000
/** The unmeasured first step of each cluster. */
const WARM_UP_MS = 2000
/** After typing stops, wait this long at most for the last keystrokes to arrive (as bench/live.ts). */
const DRAIN_MS = 3000
/** A failover that has not brought every client back within this long is reported as such. */
const FAILOVER_TIMEOUT_MS = 60_000
/** Most kills one run makes, whatever `--kills` says (each costs a restart and HAProxy's rise). */
const MAX_KILLS = 20

const loadAverage = (): number => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0])

async function settle(cluster: Cluster, quietMs: number, timeoutMs: number): Promise<void> {
  for (const server of cluster.servers.values()) await waitForIdle(server.pid, quietMs, timeoutMs)
}

interface LiveLadder {
  cluster: Cluster
  writers: RawWriter[]
  result: LadderResult
  done: boolean
}

/**
 * In each cluster, `pads` pads of `perPad` raw writers each, through HAProxy; step by step more of
 * each pad's writers type, until a step is not sustained. The clusters are all up with their
 * clients connected and take turns step by step (the first rotating), as bench/live.ts's
 * saturation does with its servers: a noisy moment on the shared host lands on all of them.
 */
async function ladders(
  clusters: readonly Cluster[],
  round: number,
  pads: number,
  perPad: number,
  schedule: readonly Step[],
  stepMs: number,
): Promise<LadderResult[]> {
  const padOf = (i: number) => `bench-${pads}x${perPad}-${i % pads}`
  const live: LiveLadder[] = []
  let seq = 0
  try {
    for (const cluster of clusters) {
      // Writer i is in pad i % pads, so a pad's k-th writer is writer k × pads + pad.
      const writers = await openAll(
        pads * perPad,
        (i) =>
          new RawWriter(`${cluster.wsUrl}/${padOf(i)}`, { id: i, awareness: { user: { name: `w${i}` } } }),
      )
      const result: LadderResult = {
        size: cluster.size,
        round,
        steps: [],
        capacity: 0,
        throughput: 0,
        strictSoFar: true,
        load: [loadAverage(), 0],
      }
      const d: LiveLadder = { cluster, writers, result, done: false }
      live.push(d)
      await settle(cluster, 300, 60_000)
      // Unmeasured: the first seconds of typing time V8 compiling the keystroke path in every
      // process and each pad's first row (as bench/live.ts's warm-up slice).
      if (schedule[0]) await typeStep(d, pads, perPad, schedule[0], WARM_UP_MS, () => seq++, 'warm-up')
    }
    for (const [i, step] of schedule.entries()) {
      for (const d of rotate(live, i)) {
        if (d.done) continue
        await settle(d.cluster, 200, 5000)
        const stepResult = await typeStep(d, pads, perPad, step, stepMs, () => seq++)
        const r = d.result
        r.steps.push(stepResult)
        r.strictSoFar &&= stepResult.sustained
        if (r.strictSoFar) r.capacity = Math.max(r.capacity, stepResult.deliveredPerSecond)
        if (stepResult.keepingUp) r.throughput = Math.max(r.throughput, stepResult.deliveredPerSecond)
        else d.done = true
      }
    }
    for (const d of live) d.result.load[1] = loadAverage()
    return live.map((d) => d.result)
  } finally {
    for (const d of live) for (const w of d.writers) w.close()
  }
}

function rotate<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(i + round) % items.length]!)
}

/** One step of typing on one cluster: `step.typistsPerPad` writers in every pad, for `stepMs`. */
async function typeStep(
  { cluster, writers }: LiveLadder,
  pads: number,
  perPad: number,
  step: Step,
  stepMs: number,
  nextSeq: () => number,
  label = '',
): Promise<StepResult> {
  const tracker = new Tracker(perPad - 1)
  for (const w of writers) {
    w.tracker = tracker
    w.resetSeen()
  }
  const typing = writers.filter((_, i) => Math.floor(i / pads) < step.typistsPerPad)
  const commits0 = await cluster.commits()
  const window = new Window(null)
  const cpu0 = cluster.serverCpuSeconds()
  const metronome = new Metronome(
    typing.map((writer) => () => {
      const tok = token(writer.id, nextSeq())
      tracker.typed(tok, writer.id)
      writer.type(tok)
    }),
    step.perTypist,
  )
  await sleep(stepMs)
  metronome.stop()
  await waitUntil(() => tracker.complete, DRAIN_MS)
  const stats = window.stop()
  const commits1 = await cluster.commits()
  for (const w of writers) w.tracker = null
  const serversCpuPct = ((cluster.serverCpuSeconds() - cpu0) / stats.seconds) * 100
  const latency = summarize(tracker.latencies)
  const deliveryPct = tracker.expected ? (tracker.delivered / tracker.expected) * 100 : 0
  const result: StepResult = {
    ...step,
    deliveredPerSecond: tracker.delivered / (stepMs / 1000),
    latency,
    deliveryPct,
    sustained: deliveryPct >= 100 && latency.p99 <= SATURATION_P99_MS,
    keepingUp: deliveryPct >= 100 && latency.p99 <= KEEPING_UP_P99_MS,
    commitMs:
      commits1.count > commits0.count
        ? ((commits1.seconds - commits0.seconds) / (commits1.count - commits0.count)) * 1000
        : Number.NaN,
    serversCpuPct,
    loadgenCpuPct: stats.loadgenCpuPct,
    othersCpuPct: Math.max(0, stats.othersCpuPct - serversCpuPct),
  }
  console.log(
    `  ${sizeLabel(cluster.size)} process(es), ${pads} × ${perPad}, ${step.typistsPerPad}×${step.perTypist}/s per pad${label && ` (${label})`}: ` +
      `${Math.round(result.deliveredPerSecond)} deliveries/s, p50 ${latency.p50.toFixed(1)} p99 ${latency.p99.toFixed(1)} ms, ${deliveryPct.toFixed(1)} %, commit ${result.commitMs.toFixed(1)} ms, ` +
      `servers ${serversCpuPct.toFixed(0)} %, loadgen ${stats.loadgenCpuPct.toFixed(0)} %, others ${result.othersCpuPct.toFixed(0)} %`,
  )
  return result
}

/** Three processes, one busy pad of stock clients, its holder killed `kills` times in turn. */
async function failover(cluster: Cluster, plan: Plan['failover']): Promise<FailoverResult> {
  const pad = 'failover-busy-pad'
  const clients: StockClient[] = []
  const results: KillResult[] = []
  const typedTokens: string[] = []
  const seqs = Array.from({ length: plan.typists }, () => 0)
  let metronome: Metronome | null = null
  try {
    for (let i = 0; i < plan.clients; i++) clients.push(new StockClient(cluster.wsUrl, pad, `person ${i}`))
    await openAll(plan.clients, (i) => clients[i]!)
    const typists = clients.slice(0, plan.typists)
    metronome = new Metronome(
      typists.map((client, w) => () => {
        const tok = token(w, seqs[w]!++)
        typedTokens.push(tok)
        client.type(tok)
      }),
      5,
    )
    for (let k = 0; k < plan.kills; k++) {
      // Everyone in step before the kill: the same text (but for keystrokes in flight) and synced.
      await waitUntil(() => clients.every((c) => c.synced), 30_000)
      await sleep(2000)
      const holder = await cluster.holderOf(pad)
      const firstAfter = seqs.map((seq, w) => token(w, seq))
      const t0 = performance.now()
      const killed = cluster.kill9(holder)
      const doneAt = clients.map(() => Number.NaN)
      const back = (c: StockClient) =>
        c.provider.wsconnected && c.synced && firstAfter.every((tok) => c.text.toString().includes(tok))
      let markedDownMs = Number.NaN
      const watchDown = (async () => {
        while (Number.isNaN(markedDownMs) && performance.now() - t0 < FAILOVER_TIMEOUT_MS) {
          const states = await cluster.states().catch(() => new Map<string, string>())
          if (states.get(holder) === 'down') markedDownMs = performance.now() - t0
          else await sleep(50)
        }
      })()
      await killed
      await waitUntil(
        () => {
          const now = performance.now()
          clients.forEach((c, i) => {
            if (Number.isNaN(doneAt[i]!) && back(c)) doneAt[i] = now - t0
          })
          return doneAt.every((t) => !Number.isNaN(t))
        },
        FAILOVER_TIMEOUT_MS,
        5,
      )
      await watchDown
      const newHolder = await cluster.holderOf(pad)
      const clientsMs = doneAt.filter((t) => !Number.isNaN(t)).sort((a, b) => a - b)
      results.push({
        holder,
        markedDownMs,
        clientsMs,
        notBack: doneAt.length - clientsMs.length,
        newHolder,
      })
      console.log(
        `  kill ${k + 1}: ${holder} → ${newHolder}, marked down ${markedDownMs.toFixed(0)} ms, ` +
          `clients back ${clientsMs[0]?.toFixed(0)}–${clientsMs.at(-1)?.toFixed(0)} ms, not back ${doneAt.length - clientsMs.length}`,
      )
      // Started again as systemd would; the pad stays on its new server (the stick table).
      await cluster.restart(holder)
    }
    metronome.stop()
    metronome = null
    // Nothing typed is lost: every client ends with the same text, and a fresh client, which gets
    // what the server holds (committed before it was broadcast), finds every keystroke in it.
    const converged = await waitUntil(() => {
      const text = clients[0]!.text.toString()
      return clients.every((c) => c.text.toString() === text)
    }, 30_000)
    const reader = new StockClient(cluster.wsUrl, pad, null)
    clients.push(reader)
    await openAll(1, () => reader)
    const stored = reader.text.toString()
    const lost = typedTokens.filter((tok) => !stored.includes(tok)).length
    return { kills: results, typed: typedTokens.length, lost, converged }
  } finally {
    metronome?.stop()
    for (const c of clients) c.destroy()
  }
}

async function main(): Promise<void> {
  const full = process.argv.includes('--full')
  const plan: Plan = structuredClone(full ? FULL : SHORT)
  const killsArg = argValue('kills')
  if (killsArg) plan.failover.kills = Math.min(Math.max(1, Number(killsArg)), MAX_KILLS)
  // Smaller sizes while developing: --pads=10x5, --one-pad=50.
  const padsArg = argValue('pads')?.split('x').map(Number)
  if (padsArg) [plan.pads.pads, plan.pads.perPad] = [padsArg[0]!, padsArg[1]!]
  const onePadArg = argValue('one-pad')
  if (onePadArg) plan.onePad.clients = Number(onePadArg)
  const sizesArg = argValue('sizes')
  if (sizesArg) plan.sizes = sizesArg.split(',').map(Number)
  const only = new Set(argValue('only')?.split(',') ?? ['pads', 'one-pad', 'failover'])
  const m = machine()
  const needed = plan.pads.pads * plan.pads.perPad + 256
  if (m.openFilesLimit < needed)
    throw new Error(`the open files limit is ${m.openFilesLimit}; this run needs ~${needed}`)
  // Every stock client adds a process 'exit' listener.
  process.setMaxListeners(0)
  const startedAt = new Date()
  const load0 = loadAverage()
  console.log(
    `${full ? 'full' : 'short'} run on ${m.cpus} × ${m.model} (${os.cpus().length} online), load ${load0}`,
  )
  const options = { cpuProfileDir: null }
  const padLadders: LadderResult[] = []
  const onePadLadders: LadderResult[] = []
  let failoverResult: FailoverResult | null = null
  for (let round = 1; round <= plan.rounds; round++) {
    for (const [scenario, pads, perPad, schedule, into] of [
      ['pads', plan.pads.pads, plan.pads.perPad, plan.pads.schedule, padLadders],
      ['one-pad', 1, plan.onePad.clients, plan.onePad.schedule, onePadLadders],
    ] as const) {
      if (!only.has(scenario)) continue
      console.log(`${pads} pads × ${perPad}, ${plan.sizes.join(', ')} processes, round ${round}`)
      const clusters: Cluster[] = []
      try {
        for (const size of plan.sizes) clusters.push(await startCluster(size, options))
        into.push(...(await ladders(clusters, round, pads, perPad, schedule, plan.stepMs)))
      } finally {
        for (const cluster of clusters) await cluster.stop()
      }
    }
  }
  if (only.has('failover')) {
    console.log(
      `failover: ${SERVER_NAMES.length} processes, ${plan.failover.clients} stock clients, ${plan.failover.kills} kills`,
    )
    const cluster = await startCluster(SERVER_NAMES.length, options)
    try {
      failoverResult = await failover(cluster, plan.failover)
    } finally {
      await cluster.stop()
    }
  }
  await (await testPostgres()).stop()
  const seconds = (Date.now() - startedAt.getTime()) / 1000
  const markdown = [
    `- Command: \`node --import tsx bench/several-servers.ts${full ? ' --full' : ''}\` (${Math.round(seconds)} s)`,
    `- Date: ${startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    `- Machine: ${m.cpus} CPUs (${m.model}), shared; load average (1 min) ${load0} at the start, ${loadAverage()} at the end`,
    '',
    padLadders.length
      ? ladderTable(
          `#### ${plan.pads.pads} pads × ${plan.pads.perPad} clients, typists added step by step`,
          padLadders,
        )
      : '',
    '',
    onePadLadders.length
      ? ladderTable(`#### One pad × ${plan.onePad.clients} clients (the saturation scenario)`, onePadLadders)
      : '',
    '',
    failoverResult
      ? `#### Failover: kill -9 of the process holding a busy pad\n\n${failoverTable(failoverResult)}`
      : '',
  ].join('\n')
  console.log(`\n${markdown}`)
  const outDir = path.join(ROOT, 'bench/out')
  fs.mkdirSync(outDir, { recursive: true })
  fs.writeFileSync(path.join(outDir, 'several-servers.md'), markdown)
  fs.writeFileSync(
    path.join(outDir, 'several-servers.json'),
    JSON.stringify(
      { startedAt, machine: m, load0, padLadders, onePadLadders, failover: failoverResult },
      null,
      1,
    ),
  )
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
