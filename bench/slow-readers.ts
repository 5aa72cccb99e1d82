/**
 * `node --import tsx bench/slow-readers.ts [seconds] [slow-first]`: a busy room of 200 where 20 readers read at
 * dial-up speed (issue 21). Two fresh Summitpad servers in turn, the same load on each: 5 stock
 * clients typing 5 chars/s, a bot replacing a 4 KB block of the pad 10 times a second (what a
 * busy pad sends every reader, ~40 KB/s), and 195 raw readers. On the first server all of them
 * read at full speed; on the second 20 of them read 700 bytes every 100 ms (~56 kbit/s: the TCP
 * socket under the websocket is paused and drained by hand, so the kernel and then the server
 * hold what they have not read). Prints, per server: the 175 full-speed observers' keystroke
 * latency, the server's RSS sampled every 250 ms (start, max, end), and how many slow readers the
 * server dropped. Summitpad runs with MAX_PAD_BYTES=64 KiB so that each reader's bound (pad +
 * 1 MiB) is reached within a short run; with the default 16 MiB it is reached proportionally later.
 */
import type { Socket } from 'node:net'
import { Metronome, openAll, RawClient, RawWriter, StockClient, Tracker, token } from './clients.ts'
import { sleep, summarize } from './metrics.ts'
import { ServerProcess } from './servers.ts'

const SECONDS = Math.min(Number(process.argv[2] ?? 20), 120)
const ROOM = 200
const TYPISTS = 5
const SLOW = 20
const OBSERVERS = ROOM - TYPISTS - SLOW
/** Dial-up: 56 kbit/s is 7 KB/s. */
const SLOW_BYTES_PER_TICK = 700
const SLOW_TICK_MS = 100
const PASTE_BYTES = 4 * 1024
const PASTE_EVERY_MS = 100

async function phase(slowReaders: boolean): Promise<string> {
  const server = await ServerProcess.start('summitpad', { env: { MAX_PAD_BYTES: String(64 * 1024) } })
  const pad = 'slow-readers'
  const tracker = new Tracker(OBSERVERS)
  const stocks: StockClient[] = []
  const raws: RawClient[] = []
  const timers: NodeJS.Timeout[] = []
  try {
    for (let w = 0; w < TYPISTS; w++) stocks.push(new StockClient(server.serverUrl, pad, `typist ${w}`))
    await openAll(TYPISTS, (i) => stocks[i]!)
    raws.push(
      ...(await openAll(OBSERVERS, (i) => new RawClient(server.padUrl(pad), { id: 10_000 + i, tracker }))),
    )
    const others = await openAll(SLOW, (i) => new RawClient(server.padUrl(pad), { id: 20_000 + i }))
    raws.push(...others)
    let slowRead = 0
    if (slowReaders) {
      for (const reader of others) {
        const socket = (reader.ws as unknown as { _socket: Socket })._socket
        socket.pause()
        timers.push(
          setInterval(() => {
            const chunk = socket.read(SLOW_BYTES_PER_TICK) ?? socket.read()
            if (chunk) slowRead += (chunk as Buffer).length
          }, SLOW_TICK_MS),
        )
      }
    }
    const paster = new RawWriter(server.padUrl(pad), { id: 30_000 })
    raws.push(paster)
    await paster.whenSynced()
    const block = paster.doc.getText('notes')
    let pastes = 0
    timers.push(
      setInterval(() => {
        paster.doc.transact(() => {
          if (block.length > 0) block.delete(0, Math.min(block.length, PASTE_BYTES))
          block.insert(0, String.fromCharCode(97 + (pastes++ % 26)).repeat(PASTE_BYTES))
        })
      }, PASTE_EVERY_MS),
    )
    const seqs = stocks.map(() => 0)
    const typists = stocks.map((stock, w) => () => {
      const tok = token(w, seqs[w]!++)
      tracker.typed(tok, w)
      stock.type(tok)
    })
    // Warm-up, unmeasured.
    let metronome = new Metronome(typists, 5)
    await sleep(2000)
    metronome.stop()
    await sleep(500)
    tracker.reset()
    const rss: number[] = []
    const sampler = setInterval(() => rss.push(server.rssBytes()), 250)
    metronome = new Metronome(typists, 5)
    await sleep(SECONDS * 1000)
    metronome.stop()
    await sleep(1000)
    clearInterval(sampler)
    const lat = summarize(tracker.latencies)
    const dropped = (server.log.match(/reads too slowly/g) ?? []).length
    const mb = (b: number) => (b / 2 ** 20).toFixed(0)
    return (
      `${slowReaders ? `${SLOW} dial-up readers` : 'all read at full speed'}: observers p50 ${lat.p50.toFixed(1)} ms ` +
      `p99 ${lat.p99.toFixed(1)} ms max ${lat.max.toFixed(0)} ms (${lat.samples} deliveries, ` +
      `${((tracker.delivered / Math.max(1, tracker.expected)) * 100).toFixed(1)} % delivered); ` +
      `server RSS start ${mb(rss[0] ?? 0)} MB, max ${mb(Math.max(...rss))} MB, end ${mb(rss.at(-1) ?? 0)} MB; ` +
      `${pastes} pastes of 4 KB; slow readers dropped ${dropped}/${slowReaders ? SLOW : 0}` +
      (slowReaders ? `, read ${(slowRead / 1024).toFixed(0)} KB in all` : '')
    )
  } finally {
    for (const t of timers) clearInterval(t)
    for (const raw of raws) raw.close()
    for (const stock of stocks) stock.destroy()
    await server.stop()
  }
}

console.log(`room of ${ROOM}, ${SECONDS} s measured per server`)
// Alternating, so that a noisy moment on this shared host does not always land on the same one.
const order = process.argv[3] === 'slow-first' ? [true, false, true, false] : [false, true, false, true]
for (const slow of order) console.log(await phase(slow))
process.exit(0)
