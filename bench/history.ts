/**
 * History time slider speed: open revisions of a pad with 50,000 updates in its log, the way
 * the server does (nearest snapshot at or before, then the rows after it), against replaying the
 * whole log; and the timeline (the slider's steps) of that pad, typed by two people taking turns.
 * Run: node --import tsx bench/history.ts [--updates=50000] [--samples=200]
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { History } from '../server/history/history.ts'
import { DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { openDb } from '../server/storage/db.ts'
import { SqliteHistoryLog } from '../server/storage/history-log.ts'
import { SqlitePadLog } from '../server/storage/sqlite-pad-log.ts'
import { PadStore } from '../server/storage/store.ts'
import { Rooms } from '../server/sync/rooms.ts'

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback)
const UPDATES = arg('updates', 50_000)
const SAMPLES = arg('samples', 200)
const SNAPSHOT_EVERY = DEFAULTS.snapshotEvery

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'summitpad-bench-history-'))
const db = openDb(dir, 'normal')
const store = new PadStore(db)
const rooms = new Rooms({
  store: new SqlitePadLog(store),
  log: createLogger('silent'),
  snapshotEvery: SNAPSHOT_EVERY,
  unloadDelayMs: 1000,
  limits: DEFAULTS,
})
const history = new History(new SqliteHistoryLog(db), rooms)

// A meeting typed key by key: mostly appends, some inserts near the top, some deletions.
const doc = new Y.Doc()
const text = doc.getText('notes')
const rows: Uint8Array[] = []
doc.on('update', (u: Uint8Array) => rows.push(u))
let seed = 42
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31
}
for (let i = 0; i < UPDATES; i++) {
  const r = rand()
  if (r < 0.05 && text.length > 10) text.delete(Math.floor(rand() * (text.length - 2)), 1)
  else if (r < 0.15) text.insert(Math.floor(rand() * text.length), 'x')
  else text.insert(text.length, String.fromCharCode(97 + (i % 26)))
}
// Stored as the live server stores them: one row per update, a snapshot every SNAPSHOT_EVERY rows,
// typed at 25 keystrokes a second (the snapshots' times decide which of them are kept:
// server/snapshot-policy.ts thins them to one per 5 minutes).
const KEYSTROKE_MS = 40
const startedAt = Date.now()
const replay = new Y.Doc()
let first = 0
for (let i = 0; i < rows.length; i += SNAPSHOT_EVERY) {
  const chunk = rows.slice(i, i + SNAPSHOT_EVERY)
  const seqs = store.append(
    chunk.map((data, k) => ({
      padId: 'big',
      at: startedAt + (i + k) * KEYSTROKE_MS,
      // Two typists taking turns every dozen keystrokes: the interleaving that made one step
      // per turn before the timeline grouped by pause.
      conn: Math.floor((i + k) / 12) % 2 ? 'bench-b' : 'bench-a',
      author: Math.floor((i + k) / 12) % 2 ? 'Bob' : 'Ada',
      data,
    })),
  )
  if (i === 0) first = seqs[0]!
  for (const u of chunk) Y.applyUpdate(replay, u)
  if (chunk.length === SNAPSHOT_EVERY) {
    const at = startedAt + (i + chunk.length) * KEYSTROKE_MS
    store.writeSnapshot('big', seqs.at(-1)!, Y.encodeStateAsUpdate(replay), at)
  }
}
const last = first + rows.length - 1

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

// Warm up, then open random revisions.
for (let i = 0; i < 10; i++) await history.revision('big', first + Math.floor(rand() * rows.length))
const times: number[] = []
for (let i = 0; i < SAMPLES; i++) {
  const seq = first + Math.floor(rand() * rows.length)
  const t0 = performance.now()
  await history.revision('big', seq)
  times.push(performance.now() - t0)
}
// The naive way: replay the whole log into a fresh doc.
const fullTimes: number[] = []
for (let i = 0; i < 5; i++) {
  const t0 = performance.now()
  const d = new Y.Doc()
  Y.transact(d, () => {
    for (const u of rows) Y.applyUpdate(d, u)
  })
  d.getText('notes').toString()
  fullTimes.push(performance.now() - t0)
}
const timelineTimes: number[] = []
let timelineSteps = 0
for (let i = 0; i < 5; i++) {
  const t0 = performance.now()
  timelineSteps = (await history.timeline('big')).steps.length
  timelineTimes.push(performance.now() - t0)
}
// One change back from a random revision, as the "one change" button asks: revision + its diff.
const oneChangeTimes: number[] = []
for (let i = 0; i < 20; i++) {
  const seq = first + 1 + Math.floor(rand() * (rows.length - 1))
  const t0 = performance.now()
  const rev = await history.revision('big', seq)
  await history.diff('big', rev.prevSeq ?? seq, seq)
  oneChangeTimes.push(performance.now() - t0)
}

const fmt = (n: number) => n.toFixed(1)
console.log(
  JSON.stringify({
    updates: rows.length,
    snapshotEvery: SNAPSHOT_EVERY,
    textChars: text.length,
    revisionMs: {
      p50: fmt(percentile(times, 50)),
      p99: fmt(percentile(times, 99)),
      max: fmt(Math.max(...times)),
    },
    fullReplayMs: { p50: fmt(percentile(fullTimes, 50)) },
    timelineMs: { p50: fmt(percentile(timelineTimes, 50)), max: fmt(Math.max(...timelineTimes)) },
    timelineSteps,
    oneChangeMs: { p50: fmt(percentile(oneChangeTimes, 50)), max: fmt(Math.max(...oneChangeTimes)) },
    samples: SAMPLES,
    lastSeq: last,
  }),
)
db.close()
fs.rmSync(dir, { recursive: true, force: true })
