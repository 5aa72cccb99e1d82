/**
 * Storage per keystroke: one hour of five typists (90,000 keystrokes, ~70 KB of text left, one in
 * nine a backspace) through the server's own room and store (`Room.receiveUpdate`, one commit per
 * keystroke, snapshots and their thinning as the server writes them), with a simulated clock (one
 * keystroke every 40 ms: the hour takes seconds). Prints the bytes of the update log, of the
 * snapshots kept, and the database file, each per keystroke; then opens revisions across the hour
 * (the time slider) to show the cost of reading history from the snapshots kept.
 * Run: node --import tsx bench/snapshot-growth.ts [--keystrokes=90000] [--typists=5]
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { History } from '../server/history/history.ts'
import { DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { DB_FILE_NAME, openDb } from '../server/storage/db.ts'
import { SqliteHistoryLog } from '../server/storage/history-log.ts'
import { SqlitePadLog } from '../server/storage/sqlite-pad-log.ts'
import { PadStore } from '../server/storage/store.ts'
import { Rooms } from '../server/sync/rooms.ts'

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback)
const KEYSTROKES = arg('keystrokes', 90_000)
const TYPISTS = arg('typists', 5)
const HOUR_MS = 3600_000
const PAD = 'bench-five-typists'

// The simulated clock: rows, snapshots and their thinning read Date.now().
const realNow = Date.now.bind(Date)
let simulated = realNow()
Date.now = () => simulated

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'summitpad-bench-snapshots-'))
const db = openDb(dir, 'normal')
const store = new PadStore(db)
const rooms = new Rooms({
  store: new SqlitePadLog(store),
  log: createLogger('silent'),
  snapshotEvery: DEFAULTS.snapshotEvery,
  unloadDelayMs: 1000,
  limits: DEFAULTS,
})
const history = new History(new SqliteHistoryLog(db), rooms)

// Each typist writes in its own section, as people taking notes on different talks of a session.
const docs = Array.from({ length: TYPISTS }, (_, i) => {
  const doc = new Y.Doc()
  doc.clientID = 1000 + i
  return doc
})
const origins = docs.map((_, i) => ({ id: `typist-${i}` }))
const room = await rooms.open(PAD)
const headings = docs.map((_, i) => `## Typist ${i}\n\n`)
const sections = headings.map((h) => h.length)
const typed = headings.map(() => 0)
const seed = new Y.Doc()
seed.getText('notes').insert(0, headings.join(''))
const seedUpdate = Y.encodeStateAsUpdate(seed)
room.receiveUpdate({ id: 'server' }, seedUpdate)
for (const doc of docs) Y.applyUpdate(doc, seedUpdate)
await rooms.flush()

let random = 42
const rand = () => {
  random = (random * 1103515245 + 12345) % 2 ** 31
  return random / 2 ** 31
}
const started = performance.now()
const revisionsAt: number[] = []
for (let k = 0; k < KEYSTROKES; k++) {
  simulated += HOUR_MS / KEYSTROKES
  const i = k % TYPISTS
  const text = docs[i]!.getText('notes')
  // The end of this typist's section (sections are kept as lengths: reading the text every
  // keystroke would cost more than everything measured here).
  let at = 0
  for (let j = 0; j <= i; j++) at += sections[j]!
  let update: Uint8Array | null = null
  const capture = (u: Uint8Array) => {
    update = u
  }
  docs[i]!.once('update', capture)
  if (rand() < 1 / 9 && typed[i]! > 0) {
    text.delete(at - 1, 1)
    sections[i]!--
    typed[i]!--
  } else {
    text.insert(at, rand() < 0.08 ? '\n' : String.fromCharCode(97 + Math.floor(rand() * 26)))
    sections[i]!++
    typed[i]!++
  }
  if (!update) continue
  room.receiveUpdate(origins[i]!, update)
  for (const [j, other] of docs.entries()) if (j !== i) Y.applyUpdate(other, update)
  await rooms.flush()
  if (k % Math.floor(KEYSTROKES / 12) === 0) revisionsAt.push(store.lastSeq(PAD))
}
const typedMs = performance.now() - started

const one = (sql: string) => (db.prepare(sql).get() as { n: number | null }).n ?? 0
const log = one('SELECT sum(length(data)) AS n FROM updates')
const snapshots = one('SELECT sum(length(data)) AS n FROM snapshots')
const kept = one('SELECT count(*) AS n FROM snapshots')
db.pragma('wal_checkpoint(TRUNCATE)')
db.exec('VACUUM')
const file = fs.statSync(path.join(dir, DB_FILE_NAME)).size

const readStarted = performance.now()
for (const seq of revisionsAt) await history.revision(PAD, seq)
const perRevisionMs = (performance.now() - readStarted) / revisionsAt.length

const per = (bytes: number) => (bytes / KEYSTROKES).toFixed(1)
console.log(
  `keystrokes=${KEYSTROKES} typists=${TYPISTS} text=${docs[0]!.getText('notes').length}chars typed-in=${(typedMs / 1000).toFixed(1)}s`,
)
console.log(`update log:     ${(log / 2 ** 20).toFixed(2)} MiB = ${per(log)} B/keystroke`)
console.log(
  `snapshots kept: ${kept}, ${(snapshots / 2 ** 20).toFixed(2)} MiB = ${per(snapshots)} B/keystroke`,
)
console.log(
  `log+snapshots:  ${per(log + snapshots)} B/keystroke = ${((log + snapshots) / log).toFixed(2)}x the log alone`,
)
console.log(`database file:  ${(file / 2 ** 20).toFixed(2)} MiB = ${per(file)} B/keystroke (after VACUUM)`)
console.log(`revision read (time slider), mean of ${revisionsAt.length}: ${perRevisionMs.toFixed(1)} ms`)
Date.now = realNow
rooms.closeAll(1001, 'bench done')
db.close()
fs.rmSync(dir, { recursive: true, force: true })
