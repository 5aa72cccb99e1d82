/**
 * The markdown of bench/several-servers.ts's results: per scenario a summary by number of
 * processes (as a ratio to one) and every step; the failover per kill and over all clients.
 */

import type { LatencySummary } from './metrics.ts'
import { percentile } from './metrics.ts'

export interface Step {
  typistsPerPad: number
  perTypist: number
}

export interface StepResult extends Step {
  deliveredPerSecond: number
  latency: LatencySummary
  deliveryPct: number
  /** The saturation rule (bench/live.ts): everything delivered and p99 ≤ 100 ms. */
  sustained: boolean
  /** The looser rule: everything delivered (within the drain) and p99 ≤ 1 s. */
  keepingUp: boolean
  /** Mean time of one commit (a tick's rows, one transaction) over the step, ms. */
  commitMs: number
  /** All N servers together, % of one core. */
  serversCpuPct: number
  loadgenCpuPct: number
  /** Everything else on the host: PostgreSQL, HAProxy, other engineers' tests, % of one core. */
  othersCpuPct: number
}

export interface LadderResult {
  size: number
  round: number
  steps: StepResult[]
  /** Deliveries/s of the heaviest step before the first one that broke the saturation rule. */
  capacity: number
  /** Deliveries/s of the heaviest step the cluster kept up with (the looser rule); the ladder ends at the first it did not. */
  throughput: number
  /** The saturation rule held for every step so far. */
  strictSoFar: boolean
  /** /proc/loadavg's 1-minute figure when the ladder started and ended. */
  load: [number, number]
}

export interface KillResult {
  holder: string
  /** kill -9 → HAProxy shows the holder DOWN, ms (NaN if it was not seen). */
  markedDownMs: number
  /** Per client: kill -9 → connected, synced and holding every typist's first post-kill keystroke, ms (sorted). */
  clientsMs: number[]
  /** Clients not back within the timeout. */
  notBack: number
  /** The server that held the pad afterwards. */
  newHolder: string
}

export interface FailoverResult {
  kills: KillResult[]
  /** Keystrokes typed over the whole run. */
  typed: number
  /** Of those, missing from the pad as a fresh client reads it at the end (nothing should be). */
  lost: number
  /** Whether every client ended with the same text once typing stopped. */
  converged: boolean
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—')
const ms = (x: number) => (Number.isFinite(x) ? (x >= 100 ? int(x) : x.toFixed(1)) : '—')
const ratio = (x: number, base: number) =>
  base > 0 && Number.isFinite(x) ? `${(x / base).toFixed(2)}×` : '—'
const table = (header: string[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN
}

/** Size 0 is one process with its clients connecting straight to it (bench/cluster.ts). */
export const sizeLabel = (size: number) => (size === 0 ? '1, no HAProxy' : String(size))

export function ladderTable(title: string, ladders: LadderResult[]): string {
  const sizes = [...new Set(ladders.map((l) => l.size))].sort()
  const of = (size: number, pick: (l: LadderResult) => number) =>
    median(ladders.filter((l) => l.size === size).map(pick))
  const capacity = (l: LadderResult) => l.capacity
  const throughput = (l: LadderResult) => l.throughput
  const summary = sizes.map((size) => {
    const mine = ladders.filter((l) => l.size === size)
    const l = mine.find((x) => x.throughput === of(size, throughput)) ?? mine[0]!
    const last = [...l.steps].reverse().find((s) => s.keepingUp)
    const first = l.steps[0]
    const figures = (pick: (l: LadderResult) => number) =>
      `${int(of(size, pick))} (${ratio(of(size, pick), of(1, pick))})` +
      (mine.length > 1 ? `; rounds ${mine.map((x) => int(pick(x))).join(', ')}` : '')
    return [
      sizeLabel(size),
      figures(capacity),
      figures(throughput),
      first ? `${ms(first.latency.p50)} / ${ms(first.latency.p99)}` : '—',
      last
        ? `${last.typistsPerPad} × ${last.perTypist}/s: p50 ${ms(last.latency.p50)}, p99 ${ms(last.latency.p99)} ms; ` +
          `CPU servers ${Math.round(last.serversCpuPct)} %, loadgen ${Math.round(last.loadgenCpuPct)} %, others ${Math.round(last.othersCpuPct)} %`
        : '—',
      `${l.load[0].toFixed(1)} → ${l.load[1].toFixed(1)}`,
    ]
  })
  const steps = ladders.flatMap((l) =>
    l.steps.map((s) => [
      sizeLabel(l.size),
      String(l.round),
      `${s.typistsPerPad} × ${s.perTypist}`,
      int(s.deliveredPerSecond),
      ms(s.latency.p50),
      ms(s.latency.p99),
      `${s.deliveryPct.toFixed(1)} %`,
      `${Math.round(s.serversCpuPct)} %`,
      `${Math.round(s.loadgenCpuPct)} %`,
      `${Math.round(s.othersCpuPct)} %`,
      ms(s.commitMs),
      s.sustained ? 'yes' : 'no',
      s.keepingUp ? 'yes' : 'no',
    ]),
  )
  return [
    title,
    '',
    table(
      [
        'processes',
        'capacity, p99 ≤ 100 ms: deliveries/s (× one process)',
        'throughput, p99 ≤ 1 s: deliveries/s (× one process)',
        'first step p50 / p99 ms',
        'heaviest step kept up with',
        'load average (1 min) before → after',
      ],
      summary,
    ),
    '',
    '<details><summary>every step</summary>',
    '',
    table(
      [
        'processes',
        'round',
        'typists per pad × chars/s',
        'deliveries/s',
        'p50 ms',
        'p99 ms',
        'delivered',
        'servers CPU',
        'loadgen CPU',
        'others CPU',
        'commit ms (mean)',
        'p99 ≤ 100 ms',
        'p99 ≤ 1 s',
      ],
      steps,
    ),
    '',
    '</details>',
  ].join('\n')
}

export function failoverTable({ kills, typed, lost, converged }: FailoverResult): string {
  const all = kills.flatMap((k) => k.clientsMs).sort((a, b) => a - b)
  const rows = kills.map((k, i) => [
    String(i + 1),
    `${k.holder} → ${k.newHolder}`,
    ms(k.markedDownMs),
    ms(k.clientsMs[0] ?? Number.NaN),
    ms(percentile(Float64Array.from(k.clientsMs), 50)),
    ms(k.clientsMs.at(-1) ?? Number.NaN),
    String(k.notBack),
  ])
  const f = Float64Array.from(all)
  return [
    table(
      [
        'kill',
        'pad moved',
        'kill → HAProxy marks it down ms',
        'first client back ms',
        'median client ms',
        'last client back ms',
        'not back in 60 s',
      ],
      rows,
    ),
    '',
    `Every client of every kill (${all.length}): min ${ms(all[0] ?? Number.NaN)}, median ${ms(percentile(f, 50))}, ` +
      `p90 ${ms(percentile(f, 90))}, max ${ms(all.at(-1) ?? Number.NaN)} ms. ` +
      `Keystrokes typed over the run: ${int(typed)}; missing from the pad as a fresh client read it at the end: ${lost}; ` +
      `every client ended with the same text: ${converged ? 'yes' : 'no'}.`,
  ].join('\n')
}
