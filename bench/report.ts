/**
 * Turns one run's results into the markdown of docs/benchmarks.md: the targets met or not, then a
 * table per scenario with ratios to the reference server. Only the results section of the file is
 * rewritten; what is written above its marker (method, findings) is kept.
 */
import fs from 'node:fs'
import type { SaturationResult, StormResult, TypingResult } from './live.ts'
import { SATURATION_P99_MS } from './live.ts'
import { LABEL, type ServerKind } from './servers.ts'
import type {
  ColdLoadResult,
  ColdLoadTrial,
  IdleResult,
  KillResult,
  ServerThroughput,
  StoreThroughput,
} from './storage.ts'

export type Outcome<T> = T | { error: string }
export type PerServer<T> = Partial<Record<ServerKind, Outcome<T>>>

export interface Machine {
  cpus: number
  model: string
  memoryGiB: number
  node: string
  kernel: string
  openFilesLimit: number
}

export interface BenchResults {
  command: string
  full: boolean
  startedAt: Date
  seconds: number
  machine: Machine
  stealPct: number
  servers: readonly ServerKind[]
  fanout: { clients: number; results: PerServer<TypingResult> }[]
  saturation: PerServer<SaturationResult>
  saturationClients: number
  manyPads: { pads: number; perPad: number; results: PerServer<TypingResult> } | null
  join: PerServer<StormResult>
  /** Absent in results written before the scenario existed. */
  room?: PerServer<StormResult>
  restart: PerServer<StormResult>
  idle: PerServer<IdleResult>
  cold: PerServer<ColdLoadResult>
  store: Outcome<StoreThroughput[]> | null
  throughput: PerServer<ServerThroughput>
  kill: PerServer<{ typing: KillResult[]; burst: KillResult[]; burstSize: number }>
}

export const RESULTS_MARKER = '<!-- results: everything below is rewritten by `npm run bench` -->'

/** Load-generator CPU above this (% of one core) means the figure may measure the load generator. */
const LOADGEN_BUSY_PCT = 85

const isError = <T>(o: Outcome<T> | undefined): o is { error: string } =>
  o !== undefined && typeof o === 'object' && o !== null && 'error' in o
const ok = <T>(o: Outcome<T> | undefined): T | undefined => (o === undefined || isError(o) ? undefined : o)

export function ms(x: number): string {
  if (!Number.isFinite(x)) return '—'
  if (x < 1) return x.toFixed(3)
  if (x < 10) return x.toFixed(2)
  if (x < 100) return x.toFixed(1)
  return Math.round(x).toLocaleString('en-US')
}
export const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—')
export const pct = (x: number): string =>
  Number.isFinite(x) ? `${x >= 99.95 && x < 100 ? '99.9' : x.toFixed(x >= 100 ? 0 : 1)} %` : '—'
const kib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)}` : '—')
const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)}` : '—')
/** The rounds-resampled range of a p99 ratio: how much of the verdict is this host's noise. */
function noiseOf(r: TypingResult): string {
  const range = r.p99VsReference
  if (!range?.every(Number.isFinite)) return ''
  return `; rounds resampled, 90 %: ${range[0].toFixed(2)}–${range[1].toFixed(2)}×`
}

export function ratio(x: number | undefined, ref: number | undefined): string {
  if (x === undefined || ref === undefined || !Number.isFinite(x) || !Number.isFinite(ref) || ref === 0)
    return '—'
  return `${(x / ref).toFixed(2)}×`
}
const loadgen = (p: number): string => `${Math.round(p)} %${p > LOADGEN_BUSY_PCT ? ' ⚠' : ''}`

/**
 * Visits each server's result in the run's order; a server whose scenario failed gets its error
 * row in `rows` instead (`width` columns, after the `prefix` cells every row of that table starts with).
 */
function eachServer<T>(
  r: BenchResults,
  results: PerServer<T>,
  rows: string[][],
  width: number,
  visit: (kind: ServerKind, o: T) => void,
  prefix: string[] = [],
): void {
  for (const kind of r.servers) {
    const o = results[kind]
    if (o === undefined) continue
    if (isError(o)) rows.push([...prefix, ...errorRow(kind, o, width - prefix.length)])
    else visit(kind, o)
  }
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

function errorRow(kind: ServerKind, o: { error: string }, width: number): string[] {
  const cells = [LABEL[kind], `error: ${o.error.split('\n', 1)[0]!.slice(0, 120)}`]
  while (cells.length < width) cells.push('')
  return cells
}

/** Connect → synced with the content, the figure a person waits for. */
export const coldMs = (t: ColdLoadTrial): number => Math.max(t.syncedMs, t.contentMs)
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : Number.NaN
}

interface Target {
  target: string
  figure: string
  met: boolean | null
}

function targets(r: BenchResults): Target[] {
  const out: Target[] = []
  const at = (n: number) => r.fanout.find((f) => f.clients === n)?.results
  const f200 = at(200)
  const s200 = ok(f200?.summitpad)
  const ref200 = ok(f200?.reference)
  out.push({
    target:
      'p99 fan-out latency, 200-client pad, no worse than the in-memory reference (while persisting first)',
    figure:
      s200 && ref200
        ? `${ms(s200.latency.p99)} ms vs ${ms(ref200.latency.p99)} ms (${ratio(s200.latency.p99, ref200.latency.p99)}${noiseOf(s200)}), delivered ${pct(s200.deliveryPct)}`
        : 'not measured',
    met: s200 && ref200 ? s200.latency.p99 <= ref200.latency.p99 && s200.deliveryPct >= 100 : null,
  })
  const f1600 = at(1600)
  const s1600 = ok(f1600?.summitpad)
  const relay1600 = ok(f1600?.relay)
  const ref1600 = ok(f1600?.reference)
  out.push({
    target: 'p99 at 1,600 clients in one pad within 1.5× the relay’s',
    figure:
      s1600 && relay1600
        ? `${ms(s1600.latency.p99)} ms vs relay ${ms(relay1600.latency.p99)} ms (${ratio(s1600.latency.p99, relay1600.latency.p99)}; reference ${ref1600 ? ratio(ref1600.latency.p99, relay1600.latency.p99) : '—'})`
        : 'not measured in the short run (`npm run bench -- --full`)',
    met: s1600 && relay1600 ? s1600.latency.p99 <= 1.5 * relay1600.latency.p99 : null,
  })
  const idleS = ok(r.idle.summitpad)
  const idleRef = ok(r.idle.reference)
  out.push({
    target: 'RSS per idle connection no worse than the reference',
    figure:
      idleS && idleRef
        ? `${kib(idleS.perConnectionBytes)} KiB vs ${kib(idleRef.perConnectionBytes)} KiB (JS heap ${kib(idleS.perConnectionHeapBytes)} vs ${kib(idleRef.perConnectionHeapBytes)} KiB; young generation capped: ${kib(idleS.perConnectionCappedBytes)} vs ${kib(idleRef.perConnectionCappedBytes)} KiB)`
        : 'not measured',
    met: idleS && idleRef ? idleS.perConnectionBytes <= idleRef.perConnectionBytes : null,
  })
  out.push({
    target: 'RSS per loaded small pad ≤ ~40 KiB',
    figure: idleS
      ? `${kib(idleS.perPadBytes)} KiB (reference ${idleRef ? kib(idleRef.perPadBytes) : '—'} KiB)`
      : 'not measured',
    met: idleS ? idleS.perPadBytes <= 40 * 1024 : null,
  })
  const cold = ok(r.cold.summitpad)
  const coldMedian = cold ? median(cold.fed.map(coldMs)) : Number.NaN
  out.push({
    target: `cold load of a ${cold ? int(cold.updates) : '50,000'}-update pad < 100 ms to synced with content`,
    figure: cold
      ? `median ${ms(coldMedian)} ms over ${cold.fed.length} pads written through the server (rows written by another program, replayed once at startup: ${ms(median(cold.logOnly.map(coldMs)))} ms)`
      : 'not measured',
    met: cold ? coldMedian < 100 : null,
  })
  const tp = ok(r.throughput.summitpad)
  const store = ok(r.store ?? undefined)
  out.push({
    target: '≥ 20,000 updates/s persisted on one core',
    figure: tp
      ? `${int(tp.perSecond)} updates/s through the server, durable when broadcast` +
        (store
          ? `; PadStore alone ${int(store[0]?.perSecond ?? Number.NaN)}/s at 1 update per transaction`
          : '')
      : 'not measured',
    met: tp ? tp.perSecond >= 20_000 : null,
  })
  const kill = ok(r.kill.summitpad)
  const runs = kill ? [...kill.typing, ...kill.burst] : []
  const lost = runs.reduce((a, k) => a + k.lost, 0)
  out.push({
    target: 'zero edits lost on kill -9, in every run',
    figure: kill
      ? `${lost} lost of ${int(runs.reduce((a, k) => a + k.seen, 0))} seen by an observer, ${runs.length} runs (typing and a ${int(kill.burstSize)}-keystroke burst)`
      : 'not measured',
    met: kill ? lost === 0 : null,
  })
  return out
}

function fanoutSection(r: BenchResults): string {
  const header = [
    'clients',
    'server',
    'p50 ms',
    'p99 ms',
    'max ms',
    'delivered',
    'p99 × ref',
    'p99 × relay',
    'server CPU',
    'server RSS MiB',
    'loadgen CPU',
    'loadgen lag p99 ms',
    'others CPU',
    'steal',
  ]
  const rows: string[][] = []
  for (const { clients, results } of r.fanout) {
    const ref = ok(results.reference)
    const relay = ok(results.relay)
    eachServer(
      r,
      results,
      rows,
      header.length,
      (kind, o) => {
        rows.push([
          String(clients),
          LABEL[kind],
          ms(o.latency.p50),
          ms(o.latency.p99),
          ms(o.latency.max),
          pct(o.deliveryPct),
          ratio(o.latency.p99, ref?.latency.p99),
          ratio(o.latency.p99, relay?.latency.p99),
          `${Math.round(o.window.serverCpuPct)} %`,
          mib(o.rssBytes),
          loadgen(o.window.loadgenCpuPct),
          ms(o.window.loadgenLoopP99Ms),
          `${Math.round(o.window.othersCpuPct)} %`,
          `${o.window.stealPct.toFixed(1)} %`,
        ])
      },
      [String(clients)],
    )
  }
  return [
    '### Fan-out: one pad, 5 stock clients typing 5 chars/s each',
    '',
    'Latency from the typist’s keystroke to each observer receiving it (all in one process, one clock). ' +
      'Server CPU is % of one core over the typing window; "others CPU" is everything else on the host at the time ' +
      '(other engineers’ tests), in % of one core. Each server first types one unmeasured slice (its first second of typing times V8 compiling the keystroke path). ' +
      'The 200-client target also gives the p99 ratio’s spread over the rounds resampled (paired bootstrap, middle 90 %): how much of the verdict is this host’s noise.',
    '',
    table(header, rows),
  ].join('\n')
}

function saturationSection(r: BenchResults): string {
  const summaryHeader = [
    'server',
    'capacity: keystroke deliveries/s',
    '× ref',
    'last sustained step',
    'first failing step',
  ]
  const summary: string[][] = []
  const stepHeader = [
    'server',
    'typists × chars/s',
    'deliveries/s',
    'p50 ms',
    'p99 ms',
    'delivered',
    'server CPU',
    'loadgen CPU',
    'sustained',
  ]
  const steps: string[][] = []
  const refCap = ok(r.saturation.reference)?.capacity
  const describe = (s: SaturationResult['steps'][number] | undefined) =>
    s ? `${s.typists} × ${s.perTypist}: p99 ${ms(s.latency.p99)} ms, ${pct(s.deliveryPct)}` : '—'
  eachServer(r, r.saturation, summary, summaryHeader.length, (kind, o) => {
    const last = [...o.steps].reverse().find((s) => s.sustained)
    const failing = o.steps.find((s) => !s.sustained)
    summary.push([
      LABEL[kind],
      int(o.capacity),
      ratio(o.capacity, refCap),
      describe(last),
      failing ? describe(failing) : 'none (schedule exhausted)',
    ])
    for (const s of o.steps) {
      steps.push([
        LABEL[kind],
        `${s.typists} × ${s.perTypist}`,
        int(s.deliveredPerSecond),
        ms(s.latency.p50),
        ms(s.latency.p99),
        pct(s.deliveryPct),
        `${Math.round(s.window.serverCpuPct)} %`,
        loadgen(s.window.loadgenCpuPct),
        s.sustained ? 'yes' : 'no',
      ])
    }
  })
  return [
    `### Saturation: ${r.saturationClients}-client pad, typists added step by step`,
    '',
    `A step is sustained when every keystroke reached all ${r.saturationClients - 1} other clients and p99 ≤ ${SATURATION_P99_MS} ms. ` +
      'Capacity = keystroke deliveries per second (keystrokes × receivers) of the heaviest sustained step. ' +
      'Clients are raw (no Y.Doc on the receiving side), so the load generator can keep up; its CPU is shown per step.',
    '',
    table(summaryHeader, summary),
    '',
    '<details><summary>every step</summary>',
    '',
    table(stepHeader, steps),
    '',
    '</details>',
  ].join('\n')
}

function manyPadsSection(r: BenchResults): string {
  if (!r.manyPads) return '### 50 pads × 20 clients\n\nFull run only (`npm run bench -- --full`).'
  const header = [
    'server',
    'p50 ms',
    'p99 ms',
    'max ms',
    'delivered',
    'p99 × ref',
    'server CPU',
    'server RSS MiB',
    'loadgen CPU',
  ]
  const rows: string[][] = []
  const ref = ok(r.manyPads.results.reference)
  eachServer(r, r.manyPads.results, rows, header.length, (kind, o) => {
    rows.push([
      LABEL[kind],
      ms(o.latency.p50),
      ms(o.latency.p99),
      ms(o.latency.max),
      pct(o.deliveryPct),
      ratio(o.latency.p99, ref?.latency.p99),
      `${Math.round(o.window.serverCpuPct)} %`,
      mib(o.rssBytes),
      loadgen(o.window.loadgenCpuPct),
    ])
  })
  return [
    `### ${r.manyPads.pads} pads × ${r.manyPads.perPad} clients`,
    '',
    'In each pad one stock client types 5 chars/s; the other clients observe.',
    '',
    table(header, rows),
  ].join('\n')
}

function stormSection(r: BenchResults): string {
  const joinHeader = [
    'server',
    'clients',
    'all synced ms',
    'each round ms',
    'median client ms',
    'everyone sees everyone ms',
    'server CPU s',
    'server RSS MiB',
    'loadgen CPU',
  ]
  const join: string[][] = []
  eachServer(r, r.join, join, joinHeader.length, (kind, o) => {
    join.push([
      LABEL[kind],
      String(o.clients),
      ms(o.allSyncedMs),
      (o.roundsMs ?? [o.allSyncedMs]).map(ms).join(', '),
      ms(o.medianSyncedMs),
      ms(o.presenceMs),
      o.window.serverCpuSeconds.toFixed(2),
      mib(o.rssBytes),
      loadgen(o.window.loadgenCpuPct),
    ])
  })
  const roomHeader = [
    'server',
    'clients',
    'all synced ms',
    'each round ms',
    'median client ms',
    'chair’s first line → everyone ms',
    'closed or refused',
    'server CPU s',
    'loadgen CPU',
  ]
  const room: string[][] = []
  eachServer(r, r.room ?? {}, room, roomHeader.length, (kind, o) => {
    room.push([
      LABEL[kind],
      String(o.clients),
      ms(o.allSyncedMs),
      (o.roundsMs ?? [o.allSyncedMs]).map(ms).join(', '),
      ms(o.medianSyncedMs),
      ms(o.lineMs ?? Number.NaN),
      String(o.refusals ?? 0),
      o.window.serverCpuSeconds.toFixed(2),
      loadgen(o.window.loadgenCpuPct),
    ])
  })
  const restartHeader = [
    'server',
    'clients',
    'SIGTERM → old process gone ms',
    'SIGTERM → new one listening ms',
    'SIGTERM → all synced ms',
    'each round ms',
    'median client ms',
    'clients with wrong text',
    'server CPU s (new process)',
    'loadgen CPU',
  ]
  const restart: string[][] = []
  eachServer(r, r.restart, restart, restartHeader.length, (kind, o) => {
    restart.push([
      LABEL[kind],
      String(o.clients),
      ms(o.shutdownMs),
      ms(o.serverDownMs),
      ms(o.allSyncedMs),
      (o.roundsMs ?? [o.allSyncedMs]).map(ms).join(', '),
      ms(o.medianSyncedMs),
      String(o.contentMismatches),
      o.window.serverCpuSeconds.toFixed(2),
      loadgen(o.window.loadgenCpuPct),
    ])
  })
  return [
    '### Join storm: stock clients opening one pad within a few seconds',
    '',
    'Every client is a stock y-websocket client with an awareness state, so presence traffic grows with the square of the count. ' +
      'Three rounds per server, interleaved; the median round is shown. Times are from the first connect. No relay here: it forwards every client’s awareness echo to everyone (the stock client re-sends each state it hears), ' +
      'which grows with the cube of the count and never completes.',
    '',
    table(joinHeader, join),
    '',
    '### Room joins a new pad: a room behind one address opens a pad nobody has typed in yet',
    '',
    'The session chair puts a new pad on the projector; every stock client (one address, as behind a venue’s NAT) opens it within 2 s; nobody types ' +
      'until all are synced (each stock client still sends its empty sync step 2), then the chair types the first line. Summitpad runs with its shipped settings, per-address limits included. "Closed or refused" counts ' +
      'every connection the server ended (none should be). Rounds and median as in the join storm.',
    '',
    ...(room.length > 0 ? [table(roomHeader, room)] : ['(not run)']),
    '',
    '### Restart storm: graceful restart with everyone connected',
    '',
    'Three rounds per server, interleaved; the median round is shown. Up to 200 stock clients, the rest raw clients that reconnect on the ' +
      'stock client’s schedule, all with a presence. SIGTERM, then the same server started again on the same port and data. The stock client backs off 200, 400, 800, 1,600 ms ' +
      'between attempts, so "all synced" is quantised by its schedule; the time until the new process listens is shown apart. ' +
      'The in-memory reference loses the pad and gets it back from the clients.',
    '',
    table(restartHeader, restart),
  ].join('\n')
}

function idleSection(r: BenchResults): string {
  const header = [
    'server',
    'connections',
    'RSS per connection KiB',
    '× ref',
    'of which JS heap KiB',
    'pads',
    'RSS per pad KiB',
    '× ref',
    'of which JS heap KiB',
    'baseline RSS MiB',
    'RSS per connection, every round KiB',
    'RSS per connection, young generation capped KiB',
    '× ref',
  ]
  const rows: string[][] = []
  const ref = ok(r.idle.reference)
  eachServer(r, r.idle, rows, header.length, (kind, o) => {
    rows.push([
      LABEL[kind],
      int(o.connections),
      kib(o.perConnectionBytes),
      ratio(o.perConnectionBytes, ref?.perConnectionBytes),
      kib(o.perConnectionHeapBytes),
      int(o.pads),
      kib(o.perPadBytes),
      ratio(o.perPadBytes, ref?.perPadBytes),
      kib(o.perPadHeapBytes),
      mib(o.baselineBytes),
      (o.perConnectionRounds ?? [o.perConnectionBytes]).map(kib).join(', '),
      kib(o.perConnectionCappedBytes),
      ratio(o.perConnectionCappedBytes, ref?.perConnectionCappedBytes),
    ])
  })
  return [
    '### Idle connections and pads (server RSS)',
    '',
    'Idle connections are synced raw clients in one pad, without awareness state. Pads: one connection each, holding ~200 characters; ' +
      'the per-pad figure excludes that connection. The pads phase alone runs Summitpad with MAX_NEW_PADS_PER_IP_PER_MINUTE=1000000: it creates ' +
      '1,000 pads from one address within seconds, which the shipped limit of 60 a minute exists to stop (a venue creates ~40). Connections and pads are measured in separate fresh servers, in several rounds interleaved ' +
      'across the servers; the row is each server’s median round by RSS per connection (every round in the last column). Each RSS read is the median ' +
      'of five reads, each after a full GC triggered in the idle server (bench/gc-on-signal.mjs, loaded only for this scenario); "JS heap" is ' +
      'the growth of V8’s used heap at the same reads, the rest is native memory (sockets, buffers, allocator) and heap pages V8 keeps — ' +
      'mostly its young generation, grown while the 2,000 sockets connected. Each server runs as it ships: Summitpad as `npm start` runs it ' +
      '(`--max-semi-space-size=8`: a young generation of at most 2 × 8 MiB), the others with node’s default (2 × 16 MiB). The last columns ' +
      'measure the connections again with `--max-semi-space-size=1` given to every server alike, where RSS follows what the connections hold.',
    '',
    table(header, rows),
  ].join('\n')
}

function coldSection(r: BenchResults): string {
  const header = [
    'server',
    'pad',
    'connect → synced ms',
    'connect → content ms',
    'synced with content ms',
    'of which the server (until the frame arrived) ms',
    'chars when "synced"',
    '× ref',
  ]
  const rows: string[][] = []
  const ref = ok(r.cold['reference-leveldb'])
  const refMs = ref?.fed[0] ? coldMs(ref.fed[0]) : undefined
  let updates = 50_000
  const notes: string[] = []
  eachServer(r, r.cold, rows, header.length, (kind, o) => {
    updates = o.updates
    if (kind === 'reference-leveldb' && o.feedMs)
      notes.push(
        `Feeding the updates to the reference (leveldb) took ${ms(o.feedMs)} ms until it was idle (measured when bench/out/cache was built).`,
      )
    if (kind === 'summitpad' && o.feedMs)
      notes.push(
        `Feeding one pad to Summitpad took ${ms(o.feedMs)} ms (median) until a new client received all of it.`,
      )
    if (kind === 'summitpad' && o.startMs)
      notes.push(
        `Summitpad started (spawn → listening) in ${ms(o.startMs.fed)} ms with the fed pads and ${ms(o.startMs.logOnly)} ms with the ` +
          `${o.logOnly.length} log-only pads: the difference is their one replay by the startup search-index pass, which keeps a snapshot of each.`,
      )
    const add = (label: string, t: ColdLoadTrial, i: number): void => {
      rows.push([
        LABEL[kind],
        `${label} #${i + 1}`,
        ms(t.syncedMs),
        ms(t.contentMs),
        ms(coldMs(t)),
        ms(t.arrivedMs),
        int(t.charsAtSync),
        ratio(coldMs(t), refMs),
      ])
    }
    for (const [i, t] of o.fed.entries()) add('written through the server', t, i)
    for (const [i, t] of o.logOnly.entries()) add('log rows from another program', t, i)
  })
  return [
    `### Cold load: a pad with ${int(updates)} updates in its log`,
    '',
    'Five authors typing at their own cursors, one update per keystroke (12 % backspaces); the pad ends with ~38,000 characters. ' +
      '"Written through the server": a client sends the 50,000 updates, one frame each, into the running server, which stores them as ' +
      'it stores any meeting (Summitpad: a log row per update and a snapshot every 1,000; the reference: y-leveldb), then the server is ' +
      'stopped and started again. Summitpad only, "log rows from another program": the same updates written into its data directory ' +
      'with `PadStore` before it starts, no snapshot. Each pad is opened once by a stock client in the load generator, after one ' +
      'unmeasured pad of the same size (Summitpad; the reference warms up on a small pad: its cached directory holds one), ' +
      'so that V8 compiling Yjs’ decoder in the server and in the load generator is not counted (a freshly started server is ' +
      'what the restart storm measures). The time until the frame that completed the text arrived is the server’s part, the rest is that client decoding it. ' +
      'The in-memory reference and the relay keep nothing. ' +
      notes.join(' '),
    '',
    table(header, rows),
  ].join('\n')
}

function persistenceSection(r: BenchResults): string {
  const parts = ['### Persistence throughput', '']
  if (r.store) {
    if (isError(r.store)) parts.push(`store alone: error: ${r.store.error}`)
    else {
      parts.push(
        'The stores alone, in the benchmark process, with the cold-load pad’s updates (~13 bytes each): each append is durable when it returns.',
        '',
        table(
          ['store', 'updates', 'updates/s', 'one append (transaction) p50 / p99 / max ms'],
          r.store.map((s) => [
            s.label,
            int(s.rows),
            int(s.perSecond),
            s.appendMs ? `${ms(s.appendMs.p50)} / ${ms(s.appendMs.p99)} / ${ms(s.appendMs.max)}` : '—',
          ]),
        ),
        '',
      )
    }
  }
  const header = [
    'server',
    'updates',
    'updates/s',
    '× ref',
    'delivered',
    'durable when delivered',
    'server CPU',
    'loadgen CPU',
  ]
  const rows: string[][] = []
  const ref = ok(r.throughput.reference)
  eachServer(r, r.throughput, rows, header.length, (kind, o) => {
    rows.push([
      LABEL[kind],
      int(o.updates),
      int(o.perSecond),
      ratio(o.perSecond, ref?.perSecond),
      pct(o.deliveryPct),
      kind === 'summitpad'
        ? 'yes'
        : kind === 'reference-leveldb'
          ? 'no (stored after broadcast)'
          : 'no (memory only)',
      `${Math.round(o.window.serverCpuPct)} %`,
      loadgen(o.window.loadgenCpuPct),
    ])
  })
  parts.push(
    'Through the server: raw clients, each in its own pad with one observer, each send 1,250 keystrokes at once (under Summitpad’s per-socket burst ' +
      'allowance of 1,500, so its rate limit does not apply); the observers time the last one.',
    '',
    table(header, rows),
  )
  return parts.join('\n')
}

function killSection(r: BenchResults): string {
  const header = ['server', 'scenario', 'typed', 'seen by observer', 'in the pad after restart', 'lost']
  const rows: string[][] = []
  eachServer(r, r.kill, rows, header.length, (kind, o) => {
    const add = (label: string, k: KillResult): void => {
      rows.push([LABEL[kind], label, int(k.typed), int(k.seen), int(k.kept), String(k.lost)])
    }
    for (const [i, k] of o.typing.entries()) add(`typing, run ${i + 1}`, k)
    for (const [i, k] of o.burst.entries()) add(`${int(o.burstSize)}-keystroke burst, run ${i + 1}`, k)
  })
  return [
    '### kill -9 while typing',
    '',
    '"typing": 5 stock clients at 5 chars/s, killed after 2–3 s. "burst": one stock client sends a burst at once, killed when the observer ' +
      'has received half of it. The typists are destroyed at the kill (they would re-send what the server lost); a fresh client reads the pad ' +
      'back from the restarted server. Lost = keystrokes the observer had received that are not in the pad. The in-memory reference keeps nothing by design.',
    '',
    table(header, rows),
  ].join('\n')
}

export function renderResults(r: BenchResults): string {
  const m = r.machine
  const targetRows = targets(r).map((t) => [
    t.target,
    t.figure,
    t.met === null ? 'not measured' : t.met ? '**met**' : '**not met**',
  ])
  return [
    RESULTS_MARKER,
    '',
    '## Latest results',
    '',
    `- Command: \`${r.command}\` (${r.full ? 'full' : 'short'} run, ${Math.round(r.seconds)} s)`,
    `- Date: ${r.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    `- Machine: ${m.cpus} CPUs (${m.model}), ${m.memoryGiB.toFixed(1)} GiB RAM, Linux ${m.kernel}, Node ${m.node}, open files limit ${m.openFilesLimit}`,
    `- Host CPU steal over the run: ${r.stealPct.toFixed(2)} %. Every server runs as its own child process; the load generator is one process ` +
      `(its CPU is shown per row, ⚠ above ${LOADGEN_BUSY_PCT} % of a core). The host is shared with other engineers' test suites; ` +
      '"others CPU" is what everything else used at the time. Compare servers within a table rather than across runs.',
    '',
    '### Targets',
    '',
    table(['target', 'figure', ''], targetRows),
    '',
    fanoutSection(r),
    '',
    saturationSection(r),
    '',
    manyPadsSection(r),
    '',
    stormSection(r),
    '',
    idleSection(r),
    '',
    coldSection(r),
    '',
    persistenceSection(r),
    '',
    killSection(r),
    '',
  ].join('\n')
}

const DEFAULT_HEAD = `# Benchmarks

\`npm run bench\` (a few minutes) or \`npm run bench -- --full\` (longer, every size from the issue).
The results section below is rewritten by each run.
`

/** Replaces the results section of the doc, keeping what is written above the marker. */
export function writeResults(docPath: string, markdown: string): void {
  const existing = fs.existsSync(docPath) ? fs.readFileSync(docPath, 'utf8') : DEFAULT_HEAD
  const at = existing.indexOf(RESULTS_MARKER)
  const head = (at === -1 ? existing : existing.slice(0, at)).trimEnd()
  fs.writeFileSync(docPath, `${head}\n\n${markdown}`)
}

export function targetsSummary(r: BenchResults): string {
  return targets(r)
    .map((t) => `${t.met === null ? '  -  ' : t.met ? ' met ' : ' MISS'}  ${t.target}: ${t.figure}`)
    .join('\n')
}
