/**
 * Scenarios about memory and storage: idle connections and pads (RSS), cold load of a pad with a
 * long update log, persistence throughput (the store alone and through the server), and kill -9
 * while people type and during a burst (edits an observer saw that are gone after the restart).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { WebSocket } from 'ws'
import { LeveldbPersistence } from 'y-leveldb'
import { openDb } from '../server/storage/db.ts'
import { type LogRow, PadStore } from '../server/storage/store.ts'
import {
  encodeUpdateFrame,
  Metronome,
  openAll,
  RawClient,
  RawWriter,
  StockClient,
  Tracker,
  token,
  tokensIn,
} from './clients.ts'
import {
  type LatencySummary,
  sleep,
  summarize,
  Window,
  type WindowStats,
  waitForIdle,
  waitUntil,
} from './metrics.ts'
import type { PadLog } from './pad-log.ts'
import { isSummitpad, ROOT, type RunOptions, type ServerKind, ServerProcess, tempDir } from './servers.ts'

interface MemoryRead {
  rss: number
  /** V8 heap in use after a full GC (live objects). */
  heapUsed: number
}

/** Median of a few RSS reads, each after a full GC in the idle server (see bench/gc-on-signal.mjs). */
async function steadyRss(server: ServerProcess): Promise<MemoryRead> {
  await waitForIdle(server.pid, 500, 15_000)
  const reads: MemoryRead[] = []
  for (let i = 0; i < 5; i++) {
    server.collectGarbage()
    await sleep(300)
    reads.push({ rss: server.rssBytes(), heapUsed: server.memoryUsage()?.heapUsed ?? Number.NaN })
  }
  reads.sort((a, b) => a.rss - b.rss)
  return reads[2]!
}

const SMALL_PAD_TEXT =
  '# BoF: memory tiering\nAttendees: ana, bo, chen, dita\n\n## Notes\n- proposal: per-cgroup demotion\n' +
  '- consensus: needs numbers first\n\n## Action items\n- [ ] bo: post RFC v2 to the list\n'

export interface IdleResult {
  connections: number
  pads: number
  /** RSS growth per idle connection (all in one pad, no awareness state), bytes. */
  perConnectionBytes: number
  /** RSS growth per loaded small pad (one connection each, ~200 chars), minus that connection, bytes. */
  perPadBytes: number
  /** Of the per-connection RSS, live V8 heap (after a full GC), bytes. */
  perConnectionHeapBytes: number
  perPadHeapBytes: number
  /**
   * RSS growth per idle connection again, with both servers' young generation capped alike
   * (`--max-semi-space-size=1`): V8 grows its nursery while the 2,000 sockets connect (up to
   * 2 × 16 MiB by node's default, 2 × 8 MiB as `npm start` runs Summitpad) and keeps the pages it
   * touched after a full GC, so the figure above depends on that size; this one compares the rest.
   */
  perConnectionCappedBytes: number
  baselineBytes: number
  /** Per-connection RSS of every round, when the scenario ran several (this result is their median). */
  perConnectionRounds?: number[]
}

/**
 * RSS growth of one phase in a fresh server: warm up (one small pad), read RSS, run `grow`, read again.
 * Each phase gets its own server, so free heap left by one phase cannot hide the next one's growth.
 */
async function rssGrowth(
  kind: ServerKind,
  options: RunOptions,
  grow: (server: ServerProcess) => Promise<RawClient[]>,
  nodeOptions: string[] = [],
  env: Record<string, string> = {},
): Promise<{ baseline: number; growth: number; heapGrowth: number }> {
  const server = await ServerProcess.start(kind, { ...options, gcOnSignal: true, nodeOptions, env })
  const raws: RawClient[] = []
  try {
    const warm = new RawWriter(server.padUrl('warm-up'), { id: 0 })
    raws.push(warm)
    await warm.whenSynced()
    warm.type(SMALL_PAD_TEXT)
    const before = await steadyRss(server)
    raws.push(...(await grow(server)))
    const after = await steadyRss(server)
    return {
      baseline: before.rss,
      growth: after.rss - before.rss,
      heapGrowth: after.heapUsed - before.heapUsed,
    }
  } finally {
    for (const raw of raws) raw.close()
    await server.stop()
  }
}

/**
 * The per-pad phase creates 1,000 pads from one address within seconds: exactly what
 * MAX_NEW_PADS_PER_IP_PER_MINUTE (60) exists to stop, so it is lifted there, and only there (the
 * report says so). A venue creates ~40 pads a minute at most; memory per pad is what is measured.
 */
export const IDLE_PADS_ENV = { MAX_NEW_PADS_PER_IP_PER_MINUTE: '1000000' }

export async function idle(
  kind: ServerKind,
  connections: number,
  pads: number,
  options: RunOptions,
): Promise<IdleResult> {
  const openIdle = (server: ServerProcess) => openAll(connections, () => new RawClient(server.padUrl('idle')))
  const idleConnections = await rssGrowth(kind, options, openIdle)
  const capped = await rssGrowth(kind, options, openIdle, ['--max-semi-space-size=1'])
  const smallPads = await rssGrowth(
    kind,
    options,
    async (server) => {
      const writers = await openAll(pads, (i) => new RawWriter(server.padUrl(`small-${i}`), { id: i + 1 }))
      for (const writer of writers) writer.type(SMALL_PAD_TEXT)
      return writers
    },
    [],
    IDLE_PADS_ENV,
  )
  const perConnectionBytes = idleConnections.growth / connections
  const perConnectionHeapBytes = idleConnections.heapGrowth / connections
  return {
    connections,
    pads,
    perConnectionBytes,
    perPadBytes: smallPads.growth / pads - perConnectionBytes,
    perConnectionHeapBytes,
    perPadHeapBytes: smallPads.heapGrowth / pads - perConnectionHeapBytes,
    perConnectionCappedBytes: capped.growth / connections,
    baselineBytes: idleConnections.baseline,
  }
}

export interface ColdLoadTrial {
  /** connect → the client's `synced` event, ms. */
  syncedMs: number
  /** connect → the client's text equals the pad's, ms (NaN: never within the timeout). */
  contentMs: number
  /**
   * connect → the frame that completed the text arrived, before the client decoded it, ms: the
   * server's part. `contentMs` minus this is the stock client applying it (in the load generator).
   */
  arrivedMs: number
  /** Characters the client had when it reported synced (0 = "synced" on an empty pad). */
  charsAtSync: number
}

export interface ColdLoadResult {
  updates: number
  /**
   * The pad as the server keeps it after a meeting wrote it: every update sent by a client, one
   * frame each, into a running server, which is then stopped and started again (Summitpad and the
   * reference's leveldb mode alike).
   */
  fed: ColdLoadTrial[]
  /**
   * Summitpad only: log rows written into its data directory by another program (a migration, a
   * restored log) with no snapshot. The server's startup search-index pass replays each such pad once
   * and keeps a snapshot (`server/pad-doc.ts` `readStoredDoc`); `startMs` shows what that costs.
   */
  logOnly: ColdLoadTrial[]
  /** Summitpad only: spawn → listening, ms, for the directory with the fed pads and the one with the log-only pads. */
  startMs: { fed: number; logOnly: number } | null
  /** Time to feed one pad's updates through a client until they were stored (reference: until the server was idle). */
  feedMs: number
}

const COLD_TIMEOUT_MS = 60_000

async function timeColdLoad(server: ServerProcess, padId: string, expected: string): Promise<ColdLoadTrial> {
  const t0 = performance.now()
  let syncedMs = Number.NaN
  let contentMs = Number.NaN
  let charsAtSync = 0
  let lastFrameMs = Number.NaN
  let arrivedMs = Number.NaN
  const client = new StockClient(server.serverUrl, padId)
  try {
    // Runs before the provider's own handler: the arrival time, before any decoding.
    const socket = client.provider.ws as unknown as WebSocket | null
    socket?.prependListener('message', () => {
      lastFrameMs = performance.now() - t0
    })
    client.doc.on('update', () => {
      if (Number.isNaN(contentMs) && client.text.length === expected.length) {
        contentMs = performance.now() - t0
        arrivedMs = lastFrameMs
      }
    })
    client.provider.on('sync', (synced: boolean) => {
      if (synced && Number.isNaN(syncedMs)) {
        syncedMs = performance.now() - t0
        charsAtSync = client.text.length
      }
    })
    await waitUntil(() => !Number.isNaN(syncedMs) && !Number.isNaN(contentMs), COLD_TIMEOUT_MS, 1)
    if (!Number.isNaN(contentMs) && client.text.toString() !== expected) contentMs = Number.NaN
    return { syncedMs, contentMs, arrivedMs, charsAtSync }
  } finally {
    client.destroy()
  }
}

/** Summitpad's cold-load pads: one to warm up on, then one per trial. */
const coldPadIds = (trials: number): string[] => [
  'cold-warm',
  ...Array.from({ length: trials }, (_, t) => `cold-${t}`),
]

async function warmUp(server: ServerProcess): Promise<void> {
  const warm = new StockClient(server.serverUrl, 'warm-up')
  await warm.whenSynced()
  warm.type('warm')
  await sleep(200)
  warm.destroy()
}

export async function coldLoad(
  kind: ServerKind,
  log: PadLog,
  trials: number,
  options: RunOptions,
): Promise<ColdLoadResult> {
  const result: ColdLoadResult = {
    updates: log.updates.length,
    fed: [],
    logOnly: [],
    startMs: null,
    feedMs: 0,
  }
  if (isSummitpad(kind)) {
    const fedDir = tempDir('cold-fed')
    const padIds = coldPadIds(trials)
    result.feedMs = await feedSummitpad(kind, fedDir, log, padIds, options)
    // Bare log rows are written with SQLite's PadStore: the SQLite engine only.
    const logOnlyDir = kind === 'summitpad' ? tempDir('cold-log') : null
    if (logOnlyDir) writeLogOnly(logOnlyDir, log, padIds)
    const startMs = { fed: 0, logOnly: Number.NaN }
    for (const [which, dataDir] of [
      ['fed', fedDir],
      ['logOnly', logOnlyDir],
    ] as const) {
      if (dataDir === null) continue
      const t0 = performance.now()
      const server = await ServerProcess.start(kind, { ...options, dataDir })
      startMs[which] = performance.now() - t0
      try {
        // One pad of the same size first, unmeasured: a server in use has opened pads before, and
        // the first one would mostly time V8 compiling Yjs' decoder, here and in the load generator.
        // (A freshly started server is what the restart storm measures.)
        const [warm, ...measured] = padIds
        await timeColdLoad(server, warm!, log.text)
        for (const padId of measured) result[which].push(await timeColdLoad(server, padId, log.text))
      } finally {
        await server.stop()
      }
    }
    result.startMs = startMs
    return result
  }
  if (kind !== 'reference-leveldb') throw new Error(`${kind} has no persistence to load from`)
  const fed = await leveldbFedWith(log, options)
  result.feedMs = fed.feedMs
  const server = await ServerProcess.start(kind, { ...options, dataDir: fed.copy() })
  try {
    await warmUp(server)
    result.fed.push(await timeColdLoad(server, 'cold-0', log.text))
  } finally {
    await server.stop()
  }
  return result
}

/**
 * Pads written as a meeting writes them: one client sends the log's updates, one frame
 * each, and a second client confirms the server has them all (it answers a new client only from what
 * it committed); then a graceful stop. The per-socket message rate is lifted for this server only,
 * or feeding 50,000 frames would take minutes; what gets stored is the same. Returns the median
 * time per pad.
 */
async function feedSummitpad(
  kind: ServerKind,
  dataDir: string,
  log: PadLog,
  padIds: readonly string[],
  options: RunOptions,
): Promise<number> {
  const env = { MESSAGE_RATE: '1000000', MESSAGE_BURST: '10000000' }
  const server = await ServerProcess.start(kind, { ...options, dataDir, env })
  const times: number[] = []
  try {
    for (const padId of padIds) {
      const t0 = performance.now()
      const feeder = new RawClient(server.padUrl(padId))
      await feeder.whenSynced()
      for (const update of log.updates) feeder.send(encodeUpdateFrame(update))
      await waitUntil(() => feeder.ws.bufferedAmount === 0, COLD_TIMEOUT_MS)
      const check = new StockClient(server.serverUrl, padId)
      try {
        await waitUntil(() => check.text.toString() === log.text, COLD_TIMEOUT_MS, 20)
      } finally {
        check.destroy()
        feeder.close()
      }
      times.push(performance.now() - t0)
    }
  } finally {
    await server.stop()
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)] ?? 0
}

/** Pads as log rows only, written with `PadStore` before the server starts. */
function writeLogOnly(dataDir: string, log: PadLog, padIds: readonly string[]): void {
  const db = openDb(dataDir, 'normal')
  const store = new PadStore(db)
  for (const padId of padIds) {
    const rows: LogRow[] = log.updates.map((data) => ({
      padId,
      at: Date.now(),
      conn: 'bench',
      author: null,
      data,
    }))
    for (let i = 0; i < rows.length; i += 5000) store.append(rows.slice(i, i + 5000))
  }
  db.close()
}

/**
 * A y-leveldb directory holding pad "cold-0" fed with the log's updates through a client, one frame
 * each, as the reference server stores them. Feeding takes about a minute, so the result is kept in
 * bench/out/cache (the log is seeded, so it is the same every run) and each use gets a copy: the
 * reference compacts the log when it loads the pad.
 */
async function leveldbFedWith(
  log: PadLog,
  options: RunOptions,
): Promise<{ feedMs: number; copy: () => string }> {
  const cache = path.join(ROOT, 'bench/out/cache', `y-leveldb-${log.key}`)
  const meta = path.join(cache, 'meta.json')
  const copy = () => {
    const dir = tempDir('leveldb-cold')
    fs.cpSync(path.join(cache, 'db'), dir, { recursive: true })
    return dir
  }
  if (fs.existsSync(meta))
    return { feedMs: (JSON.parse(fs.readFileSync(meta, 'utf8')) as { feedMs: number }).feedMs, copy }
  const server = await ServerProcess.start('reference-leveldb', options)
  let feedMs: number
  try {
    const t0 = performance.now()
    const feeder = new RawClient(server.padUrl('cold-0'))
    await feeder.whenSynced()
    for (const update of log.updates) feeder.send(encodeUpdateFrame(update))
    await waitUntil(() => feeder.ws.bufferedAmount === 0, 60_000)
    await waitForIdle(server.pid, 1500, 300_000)
    feedMs = performance.now() - t0
    feeder.close()
    await waitForIdle(server.pid, 1000, 60_000)
  } finally {
    await server.stop()
  }
  fs.rmSync(cache, { recursive: true, force: true })
  fs.mkdirSync(cache, { recursive: true })
  fs.cpSync(server.dataDir, path.join(cache, 'db'), { recursive: true })
  fs.writeFileSync(meta, JSON.stringify({ feedMs, updates: log.updates.length }))
  return { feedMs, copy }
}

export interface StoreThroughput {
  label: string
  rows: number
  perSecond: number
  /** Time of one append call (one transaction), when measured. */
  appendMs?: LatencySummary
}

/** The stores alone, in this process: updates appended per second, each call durable when it returns (or resolves). */
export async function storeThroughput(log: PadLog, budgetMs: number): Promise<StoreThroughput[]> {
  const results: StoreThroughput[] = []
  const rowsOf = (padId: string): LogRow[] =>
    log.updates.map((data) => ({ padId, at: Date.now(), conn: 'bench', author: 'bench', data }))
  const variants = [
    { label: 'PadStore, DURABILITY=normal, 1 update per transaction', durability: 'normal', batch: 1 },
    {
      label: 'PadStore, DURABILITY=normal, 10 updates per transaction (one busy tick)',
      durability: 'normal',
      batch: 10,
    },
    { label: 'PadStore, DURABILITY=full (fsync), 1 update per transaction', durability: 'full', batch: 1 },
  ] as const
  for (const variant of variants) {
    const dir = tempDir('store')
    const db = openDb(dir, variant.durability)
    const store = new PadStore(db)
    const rows = rowsOf('throughput')
    const times: number[] = []
    const t0 = performance.now()
    let done = 0
    while (done < rows.length && performance.now() - t0 < budgetMs) {
      const t = performance.now()
      store.append(rows.slice(done, done + variant.batch))
      times.push(performance.now() - t)
      done += variant.batch
    }
    const seconds = (performance.now() - t0) / 1000
    db.close()
    fs.rmSync(dir, { recursive: true, force: true })
    results.push({ label: variant.label, rows: done, perSecond: done / seconds, appendMs: summarize(times) })
  }
  // y-leveldb, as the reference server calls it: storeUpdate per update, queued, not awaited one by one.
  const dir = tempDir('leveldb')
  const ldb = new LeveldbPersistence(path.join(dir, 'db'))
  await ldb.storeUpdate('warm', log.updates[0]!)
  const t0 = performance.now()
  let done = 0
  while (done < log.updates.length && performance.now() - t0 < budgetMs) {
    let last: Promise<number> = Promise.resolve(0)
    for (const update of log.updates.slice(done, done + 500)) last = ldb.storeUpdate('throughput', update)
    await last
    done += 500
  }
  const seconds = (performance.now() - t0) / 1000
  await ldb.destroy()
  fs.rmSync(dir, { recursive: true, force: true })
  results.push({
    label: 'y-leveldb storeUpdate (the reference server)',
    rows: done,
    perSecond: done / seconds,
  })
  return results
}

/** A server slower than ~1,000 updates/s gets its rate from what arrived by then. */
const THROUGHPUT_TIMEOUT_MS = 30_000

export interface ServerThroughput {
  updates: number
  /** Updates per second from the first send until an observer had them all. */
  perSecond: number
  deliveryPct: number
  window: WindowStats
}

/**
 * `writers` raw clients, each in its own pad with one observer, each send a burst of `perWriter`
 * keystrokes at once; the observers time the last one. One observer per pad keeps broadcast small,
 * so this measures apply + persist. Summitpad broadcasts only what is committed, so for it
 * "delivered" means "durable".
 */
export async function serverThroughput(
  kind: ServerKind,
  writers: number,
  perWriter: number,
  options: RunOptions,
): Promise<ServerThroughput> {
  const server = await ServerProcess.start(kind, options)
  const raws: RawClient[] = []
  try {
    const tracker = new Tracker(1)
    const padOf = (i: number) => server.padUrl(`throughput-${i}`)
    raws.push(...(await openAll(writers, (i) => new RawClient(padOf(i), { id: 100_000 + i, tracker }))))
    const ws = await openAll(writers, (i) => new RawWriter(padOf(i), { id: i }))
    raws.push(...ws)
    const bursts = ws.map((w) => w.prepareBurst(perWriter, (seq) => token(w.id, seq)))
    await waitForIdle(server.pid, 300, 10_000)
    let lastAt = 0
    tracker.onDelivered = () => {
      lastAt = performance.now()
    }
    const window = new Window(server.pid)
    const t0 = performance.now()
    for (let i = 0; i < perWriter; i++) {
      ws.forEach((w, k) => {
        tracker.typed(token(w.id, i), w.id, t0)
        w.send(bursts[k]![i]!)
      })
    }
    await waitUntil(() => tracker.complete, THROUGHPUT_TIMEOUT_MS)
    const stats = window.stop()
    return {
      updates: tracker.sentCount,
      perSecond: tracker.delivered / ((lastAt - t0) / 1000),
      deliveryPct: (tracker.delivered / tracker.expected) * 100,
      window: stats,
    }
  } finally {
    for (const raw of raws) raw.close()
    await server.stop()
  }
}

export interface KillResult {
  /** Keystrokes sent by the typists before the kill. */
  typed: number
  /** Keystrokes an observer had received from the server when it was killed. */
  seen: number
  /** Of those, found in the pad after the restart. */
  kept: number
  lost: number
}

/** Reads a pad back from a restarted server with a fresh client, once it stops changing. */
async function readBack(server: ServerProcess, padId: string): Promise<string> {
  const client = new StockClient(server.serverUrl, padId)
  try {
    let lastChange = performance.now()
    client.doc.on('update', () => {
      lastChange = performance.now()
    })
    await client.whenSynced()
    // The reference (leveldb) reports synced before it has loaded the pad: wait for quiet.
    await waitUntil(() => performance.now() - lastChange > 1000, 30_000, 50)
    return client.text.toString()
  } finally {
    client.destroy()
  }
}

/**
 * kill -9 while people type: `mode` "typing" is 5 stock clients at 5 chars/s killed after a couple of
 * seconds; "burst" is one stock client sending `burst` keystrokes at once, killed when the observer
 * has seen half of them. The typists are destroyed at the kill, so they cannot re-send what the
 * server lost when it comes back.
 */
export async function killNine(
  kind: ServerKind,
  mode: 'typing' | 'burst',
  burst: number,
  options: RunOptions,
): Promise<KillResult> {
  let server = await ServerProcess.start(kind, options)
  const stocks: StockClient[] = []
  let observer: RawClient | null = null
  try {
    const pad = `kill-${mode}`
    const tracker = new Tracker(1)
    observer = new RawClient(server.padUrl(pad), { id: 99_999, tracker })
    await observer.whenSynced()
    const typists = mode === 'typing' ? 5 : 1
    for (let w = 0; w < typists; w++) stocks.push(new StockClient(server.serverUrl, pad, `typist ${w}`))
    await Promise.all(stocks.map((s) => s.whenSynced()))
    let killed: Promise<void> | null = null
    let metronome: Metronome | null = null
    const kill = () => {
      if (killed) return
      killed = server.kill9()
      metronome?.stop()
      for (const stock of stocks) stock.destroy()
    }
    if (mode === 'typing') {
      const seqs = stocks.map(() => 0)
      metronome = new Metronome(
        stocks.map((stock, w) => () => {
          const tok = token(w, seqs[w]!++)
          tracker.typed(tok, w)
          stock.type(tok)
        }),
        5,
      )
      await sleep(2000 + Math.random() * 1000)
      kill()
    } else {
      tracker.onDelivered = () => {
        if (tracker.delivered >= burst / 2) kill()
      }
      for (let i = 0; i < burst; i++) {
        const tok = token(0, i)
        tracker.typed(tok, 0)
        stocks[0]!.type(tok)
      }
      await waitUntil(() => killed !== null, 30_000)
      kill()
    }
    await killed
    // Frames the server wrote before it died may still be queued in our socket.
    await sleep(300)
    const seen = new Set(observer.seen)
    observer.close()
    const { port, dataDir } = server
    server = await ServerProcess.start(kind, { ...options, port, dataDir })
    const after = tokensIn(await readBack(server, pad))
    const kept = [...seen].filter((tok) => after.has(tok)).length
    return { typed: tracker.sentCount, seen: seen.size, kept, lost: seen.size - kept }
  } finally {
    observer?.close()
    for (const stock of stocks) stock.destroy()
    await server.stop()
  }
}
