/**
 * `node --import tsx bench/wal-stall.ts [commits]`: the commit-path stall the WAL checkpoint causes,
 * without clients or a second process in the way. One-row PadStore appends, one every ~2 ms (a
 * keystroke per tick), with SQLite's automatic checkpoint (as before server/wal-checkpointer.ts)
 * and with the checkpointer as the server runs it. Prints each append's time and the event-loop gap
 * around it (timer lateness: what a keystroke arriving then would wait), p50/p99/p99.9/max.
 */
import fs from 'node:fs'
import { createLogger } from '../server/ops/logger.ts'
import { openDb } from '../server/storage/db.ts'
import { PadStore } from '../server/storage/store.ts'
import { WalCheckpointer } from '../server/storage/wal-checkpointer.ts'
import { summarize } from './metrics.ts'
import { tempDir } from './servers.ts'

const COMMITS = Math.min(Number(process.argv[2] ?? 6000), 100_000)
const PACE_MS = 2

async function run(mode: 'autocheckpoint' | 'checkpointer'): Promise<void> {
  const dir = tempDir('wal-stall')
  const db = openDb(dir, 'normal')
  const store = new PadStore(db)
  const checkpointer = mode === 'checkpointer' ? new WalCheckpointer({ db, log: createLogger('warn') }) : null
  checkpointer?.start()
  const appendMs: number[] = []
  const lateMs: number[] = []
  for (let i = 0; i < COMMITS; i++) {
    const due = performance.now() + PACE_MS
    await new Promise((resolve) => setTimeout(resolve, PACE_MS))
    lateMs.push(performance.now() - due)
    const t = performance.now()
    store.append([
      { padId: 'stall', at: Date.now(), conn: 'bench', author: null, data: Buffer.from(`k${i}`) },
    ])
    appendMs.push(performance.now() - t)
  }
  checkpointer?.stop()
  db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  const f = (xs: number[]) => {
    const s = summarize(xs)
    const sorted = [...xs].sort((a, b) => a - b)
    const p999 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.999))]!
    return `p50 ${s.p50.toFixed(2)} p99 ${s.p99.toFixed(2)} p99.9 ${p999.toFixed(2)} max ${s.max.toFixed(1)}`
  }
  const over5 = appendMs.filter((ms) => ms > 5).length
  console.log(
    `${mode.padEnd(14)} append ms: ${f(appendMs)} (${over5} over 5 ms) | timer late ms: ${f(lateMs)}` +
      (checkpointer
        ? ` | rounds ${checkpointer.stats.worker}, main-thread ${checkpointer.stats.mainThread}`
        : ''),
  )
}

console.log(`${COMMITS} one-row commits, one every ~${PACE_MS} ms`)
for (const mode of ['autocheckpoint', 'checkpointer', 'autocheckpoint', 'checkpointer'] as const)
  await run(mode)
