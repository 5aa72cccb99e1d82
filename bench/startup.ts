/**
 * `node --import tsx bench/startup.ts [--rounds=N]`: how long a server takes from spawn to its
 * "listening" line, and its resident memory once it is up and idle (after a full GC), for Summitpad
 * as `npm start` runs it (package.json's start script, on the current build) and the reference
 * y-websocket server. Rounds interleave the servers, on an empty data directory each time; the
 * median and every round are printed. The restart storm (a restart with everyone connected) is
 * `npm run bench -- --only=restart`.
 */
import { performance } from 'node:perf_hooks'
import { LABEL, type ServerKind, ServerProcess } from './servers.ts'

const KINDS: readonly ServerKind[] = ['summitpad', 'reference']
const roundsArg = process.argv.find((a) => a.startsWith('--rounds='))
const ROUNDS = Math.min(Math.max(1, Number(roundsArg?.slice('--rounds='.length) ?? 9)), 50)
/** Idle this long after listening before reading RSS: what a server holds once its start is over. */
const SETTLE_MS = 1000

interface Round {
  listeningMs: number
  rssMiB: number
}

async function once(kind: ServerKind): Promise<Round> {
  const t0 = performance.now()
  const server = await ServerProcess.start(kind, { gcOnSignal: true })
  const listeningMs = performance.now() - t0
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
    await server.collectGarbage()
    return { listeningMs, rssMiB: server.rssBytes() / 2 ** 20 }
  } finally {
    await server.stop()
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!

async function main(): Promise<void> {
  const rounds = new Map<ServerKind, Round[]>(KINDS.map((k) => [k, []]))
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which server goes first, so neither always starts on a machine the other just warmed.
    const order = i % 2 === 0 ? KINDS : [...KINDS].reverse()
    for (const kind of order) rounds.get(kind)!.push(await once(kind))
  }
  const ref = rounds.get('reference')!
  console.log(`| server | spawn → listening ms (median) | RSS idle MiB (median) | rounds (ms / MiB) |`)
  console.log('| --- | --- | --- | --- |')
  for (const kind of KINDS) {
    const r = rounds.get(kind)!
    const all = r.map((x) => `${x.listeningMs.toFixed(0)}/${x.rssMiB.toFixed(1)}`).join(', ')
    console.log(
      `| ${LABEL[kind]} | ${median(r.map((x) => x.listeningMs)).toFixed(0)} | ${median(r.map((x) => x.rssMiB)).toFixed(1)} | ${all} |`,
    )
  }
  const s = rounds.get('summitpad')!
  const listenRatio = median(s.map((x) => x.listeningMs)) / median(ref.map((x) => x.listeningMs))
  const rssRatio = median(s.map((x) => x.rssMiB)) / median(ref.map((x) => x.rssMiB))
  console.log(
    `\nSummitpad / reference: listening ${listenRatio.toFixed(2)}× (target ≤ 1.5×: ${listenRatio <= 1.5 ? 'met' : 'NOT met'}), ` +
      `idle RSS ${rssRatio.toFixed(2)}× (target ≤ 1.5×: ${rssRatio <= 1.5 ? 'met' : 'NOT met'})`,
  )
}

await main()
