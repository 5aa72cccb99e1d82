/**
 * Scenarios with people typing into live pads: fan-out in one pad, saturation, many pads, and the
 * two storms (everyone joining at once; everyone reconnecting after a graceful restart).
 * Fan-out, many pads and saturation start every server at once and let them take turns in short
 * slices; the storms run one server at a time. Every server is a fresh child, stopped at the end.
 */
import {
  Metronome,
  openAll,
  RawClient,
  RawWriter,
  ReconnectingRawClient,
  StockClient,
  Tracker,
  token,
} from './clients.ts'
import {
  type LatencySummary,
  mergeWindows,
  p99RatioInterval,
  sleep,
  summarize,
  Window,
  type WindowStats,
  waitForIdle,
  waitUntil,
} from './metrics.ts'
import { type RunOptions, type ServerKind, ServerProcess } from './servers.ts'

const TYPING_RATE = 5
/** After typing stops, wait this long at most for the last keystrokes to arrive. */
const DRAIN_MS = 3000

function startServer(kind: ServerKind, options: RunOptions): Promise<ServerProcess> {
  return ServerProcess.start(kind, { cpuProfileDir: options.cpuProfileDir })
}

function closeAll(raws: readonly RawClient[], stocks: readonly StockClient[]): void {
  for (const raw of raws) raw.close()
  for (const stock of stocks) stock.destroy()
}

/** Lets the join traffic (awareness grows with the square of the count) die down before measuring. */
const settle = (server: ServerProcess) => waitForIdle(server.pid, 300, 60_000)

export interface TypingResult {
  latency: LatencySummary
  /** Deliveries received / deliveries expected, %. */
  deliveryPct: number
  keystrokes: number
  window: WindowStats
  rssBytes: number
  /** p99 ÷ the in-memory reference's p99, middle 90 % over resampled rounds (see p99RatioInterval). */
  p99VsReference?: [number, number]
  /** Summitpad on PostgreSQL only: its p99 ÷ Summitpad on SQLite's, the same way (bench/engines.ts). */
  p99VsSqlite?: [number, number]
}

function typingResult(tracker: Tracker, window: WindowStats, server: ServerProcess): TypingResult {
  return {
    latency: summarize(tracker.latencies),
    deliveryPct: tracker.expected ? (tracker.delivered / tracker.expected) * 100 : Number.NaN,
    keystrokes: tracker.sentCount,
    window,
    rssBytes: server.rssBytes(),
  }
}

/** Which server goes first in round `round`: rotating, so a noisy moment does not always hit the same one. */
function rotate<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(i + round) % items.length]!)
}

const errorOf = (err: unknown): { error: string } => ({
  error: err instanceof Error ? err.message : String(err),
})

/** One server under test with its clients connected, for scenarios that take turns between servers. */
interface Deployment<C> {
  kind: ServerKind
  server: ServerProcess
  clients: C
  windows: WindowStats[]
}

interface TypingClients {
  stocks: StockClient[]
  raws: RawClient[]
  tracker: Tracker
  /** One function per typist; each call types the next keystroke. */
  typists: (() => void)[]
}

/**
 * Starts every server and connects its clients (`setup`), then lets the servers take turns:
 * `rounds` × a slice of `sliceMs` typing on each, so host noise (this machine is shared) spreads
 * over all of them instead of hitting whichever ran at a bad moment. Only the server whose turn it
 * is gets traffic; the others sit idle with their clients connected.
 */
async function typingInTurns(
  kinds: readonly ServerKind[],
  setup: (server: ServerProcess) => Promise<TypingClients>,
  sliceMs: number,
  rounds: number,
  options: RunOptions,
): Promise<PerServerResult<TypingResult>> {
  const results: PerServerResult<TypingResult> = {}
  const live: Deployment<TypingClients>[] = []
  /** Each server's latencies round by round (sorted), for the noise of its p99 against the reference's. */
  const roundLatencies = new Map<ServerKind, Float64Array[]>()
  try {
    for (const kind of kinds) {
      let server: ServerProcess | null = null
      try {
        server = await startServer(kind, options)
        const clients = await setup(server)
        live.push({ kind, server, clients, windows: [] })
        await settle(server)
      } catch (err) {
        results[kind] = errorOf(err)
        await server?.stop()
      }
    }
    /** One slice of typing on one server, until its keystrokes are delivered (or the drain time ends). */
    const typeSlice = async ({ tracker, typists }: TypingClients) => {
      const metronome = new Metronome(typists, TYPING_RATE)
      await sleep(sliceMs)
      metronome.stop()
      await waitUntil(() => tracker.complete, DRAIN_MS)
    }
    // A fresh server's first second of typing times V8 compiling the code paths a keystroke takes
    // (event-loop stalls of 5–14 ms, in every server): each types one slice unmeasured first.
    for (const d of live) {
      await typeSlice(d.clients)
      d.clients.tracker.reset()
      roundLatencies.set(d.kind, [])
    }
    for (let round = 0; round < rounds; round++) {
      for (const d of rotate(live, round)) {
        const window = new Window(d.server.pid)
        const from = d.clients.tracker.latencies.length
        await typeSlice(d.clients)
        d.windows.push(window.stop())
        roundLatencies.get(d.kind)!.push(Float64Array.from(d.clients.tracker.latencies.slice(from)).sort())
      }
    }
    const reference = roundLatencies.get('reference')
    for (const d of live) {
      if (!d.server.alive) {
        results[d.kind] = { error: `server died (${d.server.exitStatus}):\n${d.server.log}` }
        continue
      }
      const result = typingResult(d.clients.tracker, mergeWindows(d.windows), d.server)
      const own = roundLatencies.get(d.kind)
      if (reference && own && d.kind !== 'reference') result.p99VsReference = p99RatioInterval(own, reference)
      const sqlite = roundLatencies.get('summitpad')
      if (sqlite && own && d.kind === 'summitpad-postgres') result.p99VsSqlite = p99RatioInterval(own, sqlite)
      results[d.kind] = result
    }
    return results
  } finally {
    for (const d of live) {
      closeAll(d.clients.raws, d.clients.stocks)
      await d.server.stop()
    }
  }
}

export type PerServerResult<T> = Partial<Record<ServerKind, T | { error: string }>>

function typistsOf(stocks: readonly StockClient[], tracker: Tracker): (() => void)[] {
  const seqs = stocks.map(() => 0)
  return stocks.map((stock, w) => () => {
    const tok = token(w, seqs[w]!++)
    tracker.typed(tok, w)
    stock.type(tok)
  })
}

/**
 * One pad, `clients` people: 5 stock clients typing 5 chars/s each, the rest raw observers (without
 * presence) timing every keystroke.
 */
export function fanout(
  kinds: readonly ServerKind[],
  clients: number,
  sliceMs: number,
  rounds: number,
  options: RunOptions,
): Promise<PerServerResult<TypingResult>> {
  const setup = async (server: ServerProcess): Promise<TypingClients> => {
    const pad = `fanout-${clients}`
    const typists = Math.min(5, clients - 1)
    const tracker = new Tracker(clients - typists)
    const stocks: StockClient[] = []
    try {
      for (let w = 0; w < typists; w++) stocks.push(new StockClient(server.serverUrl, pad, `typist ${w}`))
      await openAll(typists, (i) => stocks[i]!)
      // Observers have no presence: with it, a 1,600-client pad spends minutes joining (every
      // state goes to everyone, and the relay forwards each stock client's echo of each state).
      // Presence at scale is the join storm's subject.
      const raws = await openAll(
        clients - typists,
        (i) => new RawClient(server.padUrl(pad), { id: 10_000 + i, tracker }),
      )
      return { stocks, raws, tracker, typists: typistsOf(stocks, tracker) }
    } catch (err) {
      closeAll([], stocks)
      throw err
    }
  }
  return typingInTurns(kinds, setup, sliceMs, rounds, options)
}

/** `pads` pads of `perPad` people each: one stock client typing 5 chars/s per pad, the rest observe. */
export function manyPads(
  kinds: readonly ServerKind[],
  pads: number,
  perPad: number,
  sliceMs: number,
  rounds: number,
  options: RunOptions,
): Promise<PerServerResult<TypingResult>> {
  const setup = async (server: ServerProcess): Promise<TypingClients> => {
    const tracker = new Tracker(perPad - 1)
    const stocks: StockClient[] = []
    try {
      for (let p = 0; p < pads; p++) stocks.push(new StockClient(server.serverUrl, `pad-${p}`, `typist ${p}`))
      await openAll(pads, (i) => stocks[i]!)
      const raws = await openAll(
        pads * (perPad - 1),
        (i) =>
          new RawClient(server.padUrl(`pad-${i % pads}`), {
            id: 10_000 + i,
            awareness: { user: { name: `o${i}` } },
            tracker,
          }),
      )
      return { stocks, raws, tracker, typists: typistsOf(stocks, tracker) }
    } catch (err) {
      closeAll([], stocks)
      throw err
    }
  }
  return typingInTurns(kinds, setup, sliceMs, rounds, options)
}

export interface SaturationStep {
  typists: number
  perTypist: number
  /** Keystroke deliveries per second (tokens × observers that received them). */
  deliveredPerSecond: number
  latency: LatencySummary
  deliveryPct: number
  window: WindowStats
  sustained: boolean
}

export interface SaturationResult {
  steps: SaturationStep[]
  /** Highest deliveries/s of a step that held p99 ≤ 100 ms and 100 % delivery. */
  capacity: number
}

export const SATURATION_P99_MS = 100

/**
 * `clients` raw clients in one pad per server; step by step more of them type (5 chars/s each,
 * then faster once all type) until p99 passes 100 ms or a keystroke is not delivered. The servers
 * take turns step by step.
 */
export async function saturation(
  kinds: readonly ServerKind[],
  clients: number,
  schedule: readonly { typists: number; perTypist: number }[],
  stepMs: number,
  options: RunOptions,
): Promise<PerServerResult<SaturationResult>> {
  const results: PerServerResult<SaturationResult> = {}
  const live: (Deployment<RawWriter[]> & { result: SaturationResult; done: boolean })[] = []
  let seq = 0
  try {
    for (const kind of kinds) {
      let server: ServerProcess | null = null
      try {
        server = await startServer(kind, options)
        const url = server.padUrl('saturation')
        const writers = await openAll(
          clients,
          (i) => new RawWriter(url, { id: i, awareness: { user: { name: `w${i}` } } }),
        )
        live.push({
          kind,
          server,
          clients: writers,
          windows: [],
          result: { steps: [], capacity: 0 },
          done: false,
        })
        await settle(server)
      } catch (err) {
        results[kind] = errorOf(err)
        await server?.stop()
      }
    }
    for (const [i, { typists, perTypist }] of schedule.entries()) {
      for (const d of rotate(live, i)) {
        if (d.done) continue
        await waitForIdle(d.server.pid, 200, 5000)
        const tracker = new Tracker(clients - 1)
        for (const w of d.clients) {
          w.tracker = tracker
          w.resetSeen()
        }
        const window = new Window(d.server.pid)
        const metronome = new Metronome(
          d.clients.slice(0, typists).map((writer) => () => {
            const tok = token(writer.id, seq++)
            tracker.typed(tok, writer.id)
            writer.type(tok)
          }),
          perTypist,
        )
        await sleep(stepMs)
        metronome.stop()
        await waitUntil(() => tracker.complete, DRAIN_MS)
        const stats = window.stop()
        const latency = summarize(tracker.latencies)
        const deliveryPct = tracker.expected ? (tracker.delivered / tracker.expected) * 100 : 0
        const sustained = deliveryPct >= 100 && latency.p99 <= SATURATION_P99_MS
        const deliveredPerSecond = tracker.delivered / (stepMs / 1000)
        d.result.steps.push({
          typists,
          perTypist,
          deliveredPerSecond,
          latency,
          deliveryPct,
          window: stats,
          sustained,
        })
        if (sustained) d.result.capacity = Math.max(d.result.capacity, deliveredPerSecond)
        else d.done = true
        for (const w of d.clients) w.tracker = null
      }
    }
    for (const d of live) results[d.kind] = d.result
    return results
  } finally {
    for (const d of live) {
      closeAll(d.clients, [])
      await d.server.stop()
    }
  }
}

export interface StormResult {
  clients: number
  /** From the first connect (join) or from SIGTERM (restart) until every client is synced, ms. */
  allSyncedMs: number
  /** Median client: its connect (join) or the SIGTERM (restart) until it synced, ms. */
  medianSyncedMs: number
  /** Join: until every client sees everyone's presence, ms (NaN if it never happens). */
  presenceMs: number
  /** Restart: SIGTERM until the old process exited (its graceful shutdown), ms. */
  shutdownMs: number
  /** Restart: SIGTERM until the new server listens, ms. */
  serverDownMs: number
  /** Clients whose text differs from the pad's after the storm. */
  contentMismatches: number
  /** "All synced" of every round, when the storm was run several times (this result is the median one). */
  roundsMs?: number[]
  /** Room joins a new pad: from the chair's first keystroke until its line reached everyone, ms. */
  lineMs?: number
  /** Room joins a new pad: connections the server closed or refused (the stock client then retries). */
  refusals?: number
  window: WindowStats
  rssBytes: number
}

/**
 * `clients` stock clients open `pad`, spread evenly over `spreadMs` (as a room arrives), each told
 * to `stocks`; `syncedAt` gets each one's time from its start to synced, as it happens. `t0` is when
 * the first was started.
 */
async function joinSpread(
  serverUrl: string,
  pad: string,
  clients: number,
  spreadMs: number,
  stocks: StockClient[],
  onClient: (stock: StockClient) => void = () => {},
): Promise<{ t0: number; syncedAt: number[] }> {
  const syncedAt: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < clients; i++) {
    const started = performance.now()
    const stock = new StockClient(serverUrl, pad, `person ${i}`)
    stocks.push(stock)
    onClient(stock)
    stock.whenSynced().then(() => syncedAt.push(performance.now() - started))
    const nextAt = t0 + ((i + 1) * spreadMs) / clients
    const wait = nextAt - performance.now()
    if (wait > 0) await sleep(wait)
  }
  return { t0, syncedAt }
}

/** `clients` stock clients open one pad within `spreadMs`; time until all are synced and see everyone. */
export async function joinStorm(
  kind: ServerKind,
  clients: number,
  spreadMs: number,
  options: RunOptions,
): Promise<StormResult> {
  const server = await startServer(kind, options)
  const stocks: StockClient[] = []
  try {
    const window = new Window(server.pid)
    const { t0, syncedAt } = await joinSpread(server.serverUrl, 'join-storm', clients, spreadMs, stocks)
    const synced = await waitUntil(() => syncedAt.length === clients, 60_000)
    const allSyncedMs = synced ? performance.now() - t0 : Number.NaN
    const seesEveryone = () => stocks.every((s) => s.provider.awareness.getStates().size >= clients)
    // The relay cannot complete presence: a joiner hears of the others only at their 15 s renewal.
    const presence = kind !== 'relay' && (await waitUntil(seesEveryone, 15_000, 25))
    const presenceMs = presence ? performance.now() - t0 : Number.NaN
    const stats = window.stop()
    syncedAt.sort((a, b) => a - b)
    return {
      clients,
      allSyncedMs,
      medianSyncedMs: syncedAt[Math.floor(syncedAt.length / 2)] ?? Number.NaN,
      presenceMs,
      shutdownMs: Number.NaN,
      serverDownMs: Number.NaN,
      contentMismatches: 0,
      window: stats,
      rssBytes: server.rssBytes(),
    }
  } finally {
    closeAll([], stocks)
    await server.stop()
  }
}

/**
 * A room joins a new pad: the chair puts a pad nobody has typed in yet on the projector and
 * `clients` people behind the venue's one address open it within `spreadMs`; nobody types until
 * the room is in (each stock client still sends its empty sync step 2), then the chair types the
 * first line. Time until all are synced, and from the chair's keystroke until the line reached
 * everyone; every connection the server closes or refuses is counted (none should be).
 */
export async function roomJoinsNewPad(
  kind: ServerKind,
  clients: number,
  spreadMs: number,
  options: RunOptions,
): Promise<StormResult> {
  const server = await startServer(kind, options)
  const stocks: StockClient[] = []
  const LINE = 'Attendees: everyone in the room\n'
  try {
    let refusals = 0
    const window = new Window(server.pid)
    const { t0, syncedAt } = await joinSpread(
      server.serverUrl,
      'bof-on-the-projector',
      clients,
      spreadMs,
      stocks,
      (stock) =>
        stock.provider.on('connection-close', () => {
          refusals++
        }),
    )
    const synced = await waitUntil(() => syncedAt.length >= clients && stocks.every((s) => s.synced), 60_000)
    const allSyncedMs = synced ? performance.now() - t0 : Number.NaN
    const typedAt = performance.now()
    stocks[0]?.type(LINE)
    const line = await waitUntil(() => stocks.every((s) => s.text.toString() === LINE), 60_000)
    const lineMs = line ? performance.now() - typedAt : Number.NaN
    const stats = window.stop()
    syncedAt.sort((a, b) => a - b)
    return {
      clients,
      allSyncedMs,
      medianSyncedMs: syncedAt[Math.floor(syncedAt.length / 2)] ?? Number.NaN,
      presenceMs: Number.NaN,
      shutdownMs: Number.NaN,
      serverDownMs: Number.NaN,
      contentMismatches: stocks.filter((s) => s.text.toString() !== LINE).length,
      lineMs,
      refusals,
      window: stats,
      rssBytes: server.rssBytes(),
    }
  } finally {
    closeAll([], stocks)
    await server.stop()
  }
}

/** Stock clients in the restart storm; above this the rest reconnect as raw clients (see ReconnectingRawClient). */
const RESTART_STOCK_CLIENTS = 200

/**
 * `clients` people in one pad with some text (up to 200 stock clients, the rest raw clients that
 * reconnect like the stock one, each with a presence); the server is stopped with SIGTERM and
 * started again on the same port and data; time until every client is back and synced.
 */
export async function restartStorm(
  kind: ServerKind,
  clients: number,
  options: RunOptions,
): Promise<StormResult> {
  let server = await startServer(kind, options)
  const stocks: StockClient[] = []
  let raws: ReconnectingRawClient[] = []
  try {
    const pad = 'restart-storm'
    const stockCount = Math.min(clients, RESTART_STOCK_CLIENTS)
    for (let i = 0; i < stockCount; i++) stocks.push(new StockClient(server.serverUrl, pad, `person ${i}`))
    await openAll(stockCount, (i) => stocks[i]!, 50)
    raws = await openAll(
      clients - stockCount,
      (i) => new ReconnectingRawClient(server.padUrl(pad), { awareness: { user: { name: `r${i}` } } }),
    )
    const writer = stocks[0]!
    for (let i = 0; i < 100; i++) writer.type(token(0, i))
    const content = writer.text.toString()
    await waitUntil(() => stocks.every((s) => s.text.length === content.length), 20_000)
    await settle(server)

    const syncedAt: number[] = []
    let t0 = Number.NaN
    const resynced = () => {
      if (!Number.isNaN(t0)) syncedAt.push(performance.now() - t0)
    }
    for (const stock of stocks) {
      stock.provider.on('sync', (synced: boolean) => {
        if (synced) resynced()
      })
    }
    for (const raw of raws) raw.onSynced = resynced
    t0 = performance.now()
    const port = server.port
    const dataDir = server.dataDir
    await server.stop()
    const shutdownMs = performance.now() - t0
    server = await ServerProcess.start(kind, { port, dataDir, cpuProfileDir: options.cpuProfileDir })
    const serverDownMs = performance.now() - t0
    const window = new Window(server.pid)
    const back = await waitUntil(() => syncedAt.length >= clients, 60_000 + clients * 60)
    const allSyncedMs = back ? performance.now() - t0 : Number.NaN
    await settle(server)
    const stats = window.stop()
    syncedAt.sort((a, b) => a - b)
    return {
      clients,
      allSyncedMs,
      medianSyncedMs: syncedAt[Math.floor(syncedAt.length / 2)] ?? Number.NaN,
      presenceMs: Number.NaN,
      shutdownMs,
      serverDownMs,
      contentMismatches: stocks.filter((s) => s.text.toString() !== content).length,
      window: stats,
      rssBytes: server.rssBytes(),
    }
  } finally {
    for (const raw of raws) raw.close()
    closeAll([], stocks)
    await server.stop()
  }
}
