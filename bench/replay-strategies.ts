/**
 * How fast can a pad with 50,000 one-keystroke updates and no snapshot be rebuilt? Compares the
 * server's way (server/pad-doc.ts: every row applied in one transaction) with merging the rows
 * first (Y.mergeUpdates in chunks, then once more, then one apply). Merging all 50,000 at once is
 * left out: it takes minutes. Run: `node --import tsx bench/replay-strategies.ts`.
 */
import * as Y from 'yjs'
import { docFromStored } from '../server/sync/pad-doc.ts'
import { TEXT_NAME } from './clients.ts'
import { generatePadLog } from './pad-log.ts'

const ROUNDS = 5
const log = generatePadLog(50_000)

function time(name: string, rebuild: () => Y.Doc): void {
  const ms: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now()
    const doc = rebuild()
    ms.push(performance.now() - started)
    if (doc.getText(TEXT_NAME).toString() !== log.text) throw new Error(`${name}: wrong text`)
    doc.destroy()
  }
  ms.sort((a, b) => a - b)
  console.log(`${name}: ${ms.map((t) => t.toFixed(0)).join(', ')} ms (${ROUNDS} runs, sorted)`)
}

time('replay in one transaction (the server)', () =>
  docFromStored({
    snapshot: null,
    snapshotUpto: 0,
    updates: log.updates.map((data, i) => ({ seq: i + 1, data })),
  }),
)
time('merge in chunks of 1,000, merge those, apply once', () => {
  const parts: Uint8Array[] = []
  for (let i = 0; i < log.updates.length; i += 1000)
    parts.push(Y.mergeUpdates(log.updates.slice(i, i + 1000)))
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.mergeUpdates(parts))
  return doc
})
