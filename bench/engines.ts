/**
 * `node --import tsx bench/engines.ts`: Summitpad on SQLite and on PostgreSQL side by side, in one
 * run, on this machine — the 200-client fan-out p99, durable updates/s through the server, cold
 * load of the 50,000-update pad (built on each engine), kill -9 losses — with the ratio
 * PostgreSQL / SQLite. PostgreSQL is a private server the benchmark starts (bench/postgres.ts,
 * stock `initdb`); both servers run with the shipped settings, as `npm start` runs them.
 *
 * Options: `--engines=sqlite,postgres` (default; also `sqlite-full`), `--only=fanout,persistence,cold,kill`,
 * `--clients=200`, `--rounds=3` (2 s typing slices per engine, interleaved), `--cold-updates=50000`,
 * `--cold-trials=3`, `--writers=16`, `--per-writer=1250`, `--kill-runs=3`, `--profile`.
 * Writes bench/out/engines-results.json and bench/out/engines.md (the tables for
 * docs/benchmarks.md, "SQLite and PostgreSQL side by side").
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fanout, type TypingResult } from './live.ts'
import { machine } from './metrics.ts'
import { generatePadLog } from './pad-log.ts'
import { type PostgresInfo, postgresCpuSeconds, postgresInfo } from './postgres.ts'
import { coldMs, int, median, ms, pct, ratio, table } from './report.ts'
import { ROOT, type RunOptions, type ServerKind } from './servers.ts'
import {
  type ColdLoadResult,
  coldLoad,
  type KillResult,
  killNine,
  type ServerThroughput,
  serverThroughput,
} from './storage.ts'

/**
 * `sqlite-full` is not a second engine but SQLite with `DURABILITY=full` (a setting changed for it,
 * on request only): an fsync per commit, the durability PostgreSQL's `synchronous_commit = on`
 * gives, to tell the price of that fsync from the price of the engine.
 */
const ENGINES = {
  sqlite: 'summitpad',
  'sqlite-full': 'summitpad-durable',
  postgres: 'summitpad-postgres',
} as const satisfies Record<string, ServerKind>
type Engine = keyof typeof ENGINES
const ENGINE_LABEL: Record<Engine, string> = {
  sqlite: 'SQLite',
  'sqlite-full': 'SQLite, DURABILITY=full',
  postgres: 'PostgreSQL',
}

const SCENARIOS = ['fanout', 'persistence', 'cold', 'kill'] as const
type Scenario = (typeof SCENARIOS)[number]

/** The issue's target: PostgreSQL's 200-client p99 at most this many times SQLite's (and nothing lost). */
const P99_TARGET_RATIO = 1.3

function argValue(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
/** A numeric option within [min, max]: every loop of the benchmark stays bounded. */
function numberArg(name: string, fallback: number, min: number, max: number): number {
  const raw = argValue(name)
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`--${name} must be an integer from ${min} to ${max}`)
  return value
}

const engines = (argValue('engines') ?? 'sqlite,postgres').split(',') as Engine[]
for (const e of engines) if (!(e in ENGINES)) throw new Error(`unknown engine ${e} (sqlite, postgres)`)
const only = new Set((argValue('only')?.split(',') ?? SCENARIOS) as Scenario[])
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`)
const plan = {
  clients: numberArg('clients', 200, 2, 1000),
  sliceMs: 2000,
  rounds: numberArg('rounds', 3, 1, 50),
  coldUpdates: numberArg('cold-updates', 50_000, 100, 200_000),
  coldTrials: numberArg('cold-trials', 3, 1, 10),
  writers: numberArg('writers', 16, 1, 64),
  // Within Summitpad's per-socket burst allowance (1,500): its rate limit does not apply.
  perWriter: numberArg('per-writer', 1250, 1, 1500),
  killRuns: numberArg('kill-runs', 3, 1, 10),
  killBurst: 2000,
}
const options: RunOptions = {
  cpuProfileDir: process.argv.includes('--profile') ? path.join(ROOT, 'bench/out/profiles') : null,
}
const kinds = engines.map((e) => ENGINES[e])

// Every stock client adds a process 'exit' listener.
process.setMaxListeners(0)

const started = performance.now()
const log = (message: string) => {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4)
  console.log(`[${s}s] ${message}`)
}

type Outcome<T> = T | { error: string }
const isError = <T>(o: Outcome<T> | undefined): o is { error: string } =>
  typeof o === 'object' && o !== null && 'error' in o
const errorOf = (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })

/** The host's 1-minute load average, sampled through the run (the machine is shared). */
class LoadSampler {
  readonly samples: { at: number; load1: number }[] = []
  private readonly timer = setInterval(() => this.sample(), 5000)
  constructor() {
    this.timer.unref()
    this.sample()
  }
  sample(): void {
    this.samples.push({ at: Date.now(), load1: os.loadavg()[0]! })
  }
  /** min / median / max of the samples taken since `from` (ms since the epoch). */
  since(from: number): LoadSummary {
    const xs = this.samples.filter((s) => s.at >= from).map((s) => s.load1)
    return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) }
  }
  stop(): void {
    clearInterval(this.timer)
    this.sample()
  }
}
interface LoadSummary {
  min: number
  median: number
  max: number
}

interface EngineRun<T> {
  result: Outcome<T>
  /** CPU seconds of the PostgreSQL server's processes during this engine's run (PostgreSQL only). */
  postgresCpuSeconds?: number
}

interface ScenarioRun<T> {
  load: LoadSummary
  byEngine: Partial<Record<Engine, EngineRun<T>>>
}

interface EnginesResults {
  startedAt: string
  seconds: number
  machine: ReturnType<typeof machine>
  plan: typeof plan
  engines: Engine[]
  postgres: PostgresInfo | null
  load: LoadSummary
  fanout?: ScenarioRun<TypingResult>
  throughput?: ScenarioRun<ServerThroughput>
  cold?: ScenarioRun<ColdLoadResult>
  kill?: ScenarioRun<{ typing: KillResult[]; burst: KillResult[] }>
}

const pgCpu = async (): Promise<number | undefined> =>
  engines.includes('postgres') ? postgresCpuSeconds() : undefined

/** Each engine in turn, rotating who goes first, with PostgreSQL's CPU over each engine's part. */
let rotation = 0
async function eachEngine<T>(
  title: string,
  run: (kind: ServerKind) => Promise<T>,
  describe: (r: T) => string,
): Promise<Partial<Record<Engine, EngineRun<T>>>> {
  const out: Partial<Record<Engine, EngineRun<T>>> = {}
  const order = engines.map((_, i) => engines[(i + rotation) % engines.length]!)
  rotation++
  for (const engine of order) {
    const cpu0 = await pgCpu()
    let result: Outcome<T>
    try {
      result = await run(ENGINES[engine])
      log(`${title} · ${ENGINE_LABEL[engine]}: ${describe(result)}`)
    } catch (err) {
      result = errorOf(err)
      log(`${title} · ${ENGINE_LABEL[engine]}: ERROR ${result.error}`)
    }
    const cpu1 = await pgCpu()
    out[engine] = {
      result,
      postgresCpuSeconds: engine === 'postgres' && cpu0 !== undefined ? cpu1! - cpu0 : undefined,
    }
  }
  return out
}

async function scenario<T>(
  sampler: LoadSampler,
  body: () => Promise<Partial<Record<Engine, EngineRun<T>>>>,
): Promise<ScenarioRun<T>> {
  const from = Date.now()
  const byEngine = await body()
  sampler.sample()
  return { load: sampler.since(from), byEngine }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—')

async function main(): Promise<void> {
  const m = machine()
  const needed = plan.clients * kinds.length + 256
  if (m.openFilesLimit < needed)
    throw new Error(`the open files limit is ${m.openFilesLimit}; this run needs ~${needed} (ulimit -n)`)
  const sampler = new LoadSampler()
  const startedAt = new Date()
  log(
    `engines ${engines.join(', ')} on ${m.cpus} × ${m.model}; load average ${os.loadavg().map(f1).join(' ')}`,
  )
  const postgres = engines.includes('postgres') ? await postgresInfo() : null
  if (postgres)
    log(`PostgreSQL ${postgres.settings.server_version} started in ${Math.round(postgres.startMs)} ms`)
  const results: EnginesResults = {
    startedAt: startedAt.toISOString(),
    seconds: 0,
    machine: m,
    plan,
    engines,
    postgres,
    load: { min: 0, median: 0, max: 0 },
  }

  if (only.has('fanout')) {
    log(`fan-out ${plan.clients}: starting (${plan.rounds} × ${plan.sliceMs / 1000} s per engine)`)
    results.fanout = await scenario(sampler, async () => {
      const cpu0 = await pgCpu()
      const byKind = await fanout(kinds, plan.clients, plan.sliceMs, plan.rounds, options)
      const cpu1 = await pgCpu()
      const out: Partial<Record<Engine, EngineRun<TypingResult>>> = {}
      for (const engine of engines) {
        const result = byKind[ENGINES[engine]] ?? { error: 'no result' }
        out[engine] = {
          result,
          // The whole scenario (setup and the other engine's turns included: PostgreSQL idles then).
          postgresCpuSeconds: engine === 'postgres' && cpu0 !== undefined ? cpu1! - cpu0 : undefined,
        }
        log(
          `fan-out ${plan.clients} · ${ENGINE_LABEL[engine]}: ` +
            (isError(result)
              ? `ERROR ${result.error}`
              : `p50 ${f1(result.latency.p50)} p99 ${f1(result.latency.p99)} max ${f1(result.latency.max)} ms, ` +
                `${f1(result.deliveryPct)} %, server ${f1(result.window.serverCpuPct)} %, others ${f1(result.window.othersCpuPct)} %`),
        )
      }
      return out
    })
  }
  if (only.has('persistence')) {
    results.throughput = await scenario(sampler, () =>
      eachEngine(
        `throughput ${plan.writers} × ${plan.perWriter}`,
        (kind) => serverThroughput(kind, plan.writers, plan.perWriter, options),
        (r) =>
          `${Math.round(r.perSecond)} updates/s, ${f1(r.deliveryPct)} %, server ${f1(r.window.serverCpuPct)} %`,
      ),
    )
  }
  if (only.has('cold')) {
    const padLog = generatePadLog(plan.coldUpdates)
    results.cold = await scenario(sampler, () =>
      eachEngine(
        `cold load ${plan.coldUpdates}`,
        (kind) => coldLoad(kind, padLog, plan.coldTrials, options),
        (r) =>
          r.fed.map((t) => `synced with content ${f1(coldMs(t))} ms`).join('; ') +
          `; feed ${f1(r.feedMs)} ms/pad; start ${f1(r.startMs?.fed ?? Number.NaN)} ms`,
      ),
    )
  }
  if (only.has('kill')) {
    results.kill = await scenario(sampler, () =>
      eachEngine(
        'kill -9',
        async (kind) => {
          const typing: KillResult[] = []
          const burst: KillResult[] = []
          for (let i = 0; i < plan.killRuns; i++) {
            typing.push(await killNine(kind, 'typing', plan.killBurst, options))
            burst.push(await killNine(kind, 'burst', plan.killBurst, options))
          }
          return { typing, burst }
        },
        (r) =>
          [...r.typing, ...r.burst].map((k) => `seen ${k.seen} kept ${k.kept} lost ${k.lost}`).join('; '),
      ),
    )
  }
  sampler.stop()
  results.load = sampler.since(0)
  results.seconds = (performance.now() - started) / 1000
  const outDir = path.join(ROOT, 'bench/out')
  fs.mkdirSync(outDir, { recursive: true })
  fs.writeFileSync(path.join(outDir, 'engines-results.json'), JSON.stringify(results, null, 1))
  const markdown = render(results)
  fs.writeFileSync(path.join(outDir, 'engines.md'), markdown)
  console.log(`\n${markdown}`)
  log('results in bench/out/engines.md and bench/out/engines-results.json')
}

// ---- the report ----

const ok = <T>(run: EngineRun<T> | undefined): T | undefined =>
  run === undefined || isError(run.result) ? undefined : run.result

const loadText = (l: LoadSummary) => `load average (1 min) ${f1(l.min)}–${f1(l.max)}, median ${f1(l.median)}`

/** One table: a row per figure, a column per engine, and PostgreSQL / SQLite. */
function sideBySide<T>(
  run: ScenarioRun<T>,
  rows: [label: string, figure: (r: T, e: EngineRun<T>) => number, format: (x: number) => string][],
  extra: [label: string, cells: Partial<Record<Engine, string>>, ratioCell: string][] = [],
): string {
  const header = ['', ...engines.map((e) => ENGINE_LABEL[e])]
  const both = engines.includes('postgres') && engines.includes('sqlite')
  if (both) header.push('PostgreSQL / SQLite')
  const lines: string[][] = []
  for (const [label, figure, format] of rows) {
    const values = engines.map((e) => {
      const r = ok(run.byEngine[e])
      return r === undefined ? Number.NaN : figure(r, run.byEngine[e]!)
    })
    const cells = [label, ...values.map(format)]
    if (both) cells.push(ratio(values[engines.indexOf('postgres')], values[engines.indexOf('sqlite')]))
    lines.push(cells)
  }
  for (const [label, cells, ratioCell] of extra) {
    const row = [label, ...engines.map((e) => cells[e] ?? '—')]
    if (both) row.push(ratioCell)
    lines.push(row)
  }
  for (const e of engines) {
    const r = run.byEngine[e]
    if (r && isError(r.result))
      lines.push([`${ENGINE_LABEL[e]}: error`, r.result.error.split('\n', 1)[0]!.slice(0, 160)])
  }
  return table(header, lines)
}

const pgSeconds = (_: unknown, e: EngineRun<unknown>) => e.postgresCpuSeconds ?? Number.NaN
const seconds = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—')
const noPg = (x: number) => (Number.isFinite(x) ? seconds(x) : '— (in process)')

function render(r: EnginesResults): string {
  const parts: string[] = []
  const m = r.machine
  parts.push(
    `Run ${r.startedAt.replace('T', ' ').slice(0, 16)} UTC, ${Math.round(r.seconds)} s, ${m.cpus} × ${m.model}, ` +
      `node ${m.node}; ${loadText(r.load)} over the run.`,
  )
  if (r.postgres) {
    const s = r.postgres.settings
    parts.push(
      '',
      `PostgreSQL ${s.server_version}: ${Object.entries(s)
        .filter(([k]) => k !== 'server_version')
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}.`,
    )
  }
  let p99Ratio: number | null = null
  let ratioRange: [number, number] | undefined
  if (r.fanout) {
    const run = r.fanout
    const pg = ok(run.byEngine.postgres)
    const lite = ok(run.byEngine.sqlite)
    if (pg && lite) {
      p99Ratio = pg.latency.p99 / lite.latency.p99
      ratioRange = pg.p99VsSqlite
    }
    parts.push(
      '',
      `**Fan-out, one pad, ${int(r.plan.clients)} clients** (5 stock clients typing 5 chars/s, the rest raw observers; ` +
        `${r.plan.rounds} × 2 s of typing per engine after one unmeasured slice, the engines taking turns; ${loadText(run.load)}):`,
      '',
      sideBySide(
        run,
        [
          ['p50 ms', (x) => x.latency.p50, ms],
          ['p99 ms', (x) => x.latency.p99, ms],
          ['max ms', (x) => x.latency.max, ms],
          ['keystrokes typed', (x) => x.keystrokes, int],
          ['delivered', (x) => x.deliveryPct, pct],
          ['server CPU (node)', (x) => x.window.serverCpuPct, pct],
          ['PostgreSQL CPU s (the whole scenario)', pgSeconds, noPg],
          ['others CPU (the rest of the host)', (x) => x.window.othersCpuPct, pct],
        ],
        ratioRange?.every(Number.isFinite)
          ? [
              [
                'p99 ratio, rounds resampled (90 %)',
                {},
                `${ratioRange[0].toFixed(2)}–${ratioRange[1].toFixed(2)}×`,
              ],
            ]
          : [],
      ),
    )
  }
  if (r.throughput) {
    parts.push(
      '',
      `**Durable updates/s through the server** (${r.plan.writers} raw writers, each in its own pad with one observer, ` +
        `each sending ${int(r.plan.perWriter)} keystrokes at once; an update reaches the observer only once committed; ${loadText(r.throughput.load)}):`,
      '',
      sideBySide(r.throughput, [
        ['updates/s', (x) => x.perSecond, int],
        ['delivered', (x) => x.deliveryPct, pct],
        ['server CPU (node)', (x) => x.window.serverCpuPct, pct],
        ['PostgreSQL CPU s', pgSeconds, noPg],
      ]),
    )
  }
  if (r.cold) {
    const mid = (pick: (t: ColdLoadResult['fed'][number]) => number) => (x: ColdLoadResult) =>
      median(x.fed.map(pick))
    parts.push(
      '',
      `**Cold load of the ${int(r.plan.coldUpdates)}-update pad** (written through each engine's server one frame per update, ` +
        `the server restarted; a stock client connects; ${r.plan.coldTrials} pads after one unmeasured, median; ${loadText(r.cold.load)}):`,
      '',
      sideBySide(r.cold, [
        ['connect → synced with the full text, ms', mid(coldMs), ms],
        ['of which the server (until the last frame arrived), ms', mid((t) => t.arrivedMs), ms],
        ['feeding one pad through the server, ms', (x) => x.feedMs, ms],
        ['server start (spawn → listening), ms', (x) => x.startMs?.fed ?? Number.NaN, ms],
      ]),
    )
  }
  let lost: number | null = null
  if (r.kill) {
    const sum =
      (pick: (k: KillResult) => number, which: 'typing' | 'burst') =>
      (x: { typing: KillResult[]; burst: KillResult[] }) =>
        x[which].reduce((a, k) => a + pick(k), 0)
    lost = 0
    for (const e of engines) {
      const x = ok(r.kill.byEngine[e])
      if (x) lost += [...x.typing, ...x.burst].reduce((a, k) => a + k.lost, 0)
      else lost = Number.NaN
    }
    parts.push(
      '',
      `**kill -9** (${r.plan.killRuns} runs of each: "typing", 5 stock clients at 5 chars/s killed after 2–3 s; "burst", ` +
        `${int(r.plan.killBurst)} keystrokes at once, killed when the observer has half; lost = seen by the observer, not in the pad after the restart; ${loadText(r.kill.load)}):`,
      '',
      sideBySide(r.kill, [
        ['typing: seen by the observer', sum((k) => k.seen, 'typing'), int],
        ['typing: lost', sum((k) => k.lost, 'typing'), int],
        ['burst: seen by the observer', sum((k) => k.seen, 'burst'), int],
        ['burst: lost', sum((k) => k.lost, 'burst'), int],
      ]),
    )
  }
  if (p99Ratio !== null || lost !== null) {
    const p99Met = p99Ratio === null ? null : p99Ratio <= P99_TARGET_RATIO
    const lostMet = lost === null ? null : lost === 0
    parts.push(
      '',
      `**Target** (p99 within ${P99_TARGET_RATIO}× of SQLite's, zero lost): p99 ${
        p99Ratio === null ? 'not measured' : `${p99Ratio.toFixed(2)}× — ${p99Met ? 'met' : 'missed'}`
      }; lost ${lost === null ? 'not measured' : `${Number.isFinite(lost) ? lost : 'unknown (error)'} — ${lostMet ? 'met' : 'missed'}`}.`,
    )
  }
  return `${parts.join('\n')}\n`
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
