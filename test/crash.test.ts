/**
 * Durability of the real server process: `kill -9` at random moments (seeded) while stock clients
 * type, then a restart on the same data directory must still hold every edit any client had seen
 * from the server. Also the graceful path: SIGTERM exits 0, clients see 1012 and lose nothing.
 *
 * Clients only insert unique tokens like `[w1.r2.17]` and never delete, so "everything the
 * observer saw survived" is exact: each of its tokens is in the restarted pad, in the same order.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { createLogger } from '../server/ops/logger.ts'
import { DB_FILE_NAME } from '../server/storage/db.ts'
import { openStorage } from '../server/storage/open-storage.ts'
import { type Client, connectClient, prng, seedFromEnv, sleep, tempDir, waitFor } from './helpers.ts'
import { type ServerProcess, spawnServer } from './server-process.ts'
import { TEST_ENGINE } from './test-storage.ts'

const PAD = 'lpc-2026-crash'
const TOKEN = /\[[a-z0-9.]+\]/g
/** Bounds on each writer, in case a kill never comes. */
const MAX_TOKENS_PER_WRITER = 1500
const MAX_WRITE_MS = 15_000
const BURST_TOKENS = 2000

const tokensOf = (text: string): string[] => text.match(TOKEN) ?? []

/** A position between two tokens (inserting inside one would split it). */
function tokenBoundary(text: string, rand: () => number): number {
  const at = Math.floor(rand() * (text.length + 1))
  if (at === 0 || at === text.length) return at
  return text.indexOf(']', at - 1) + 1
}

/** Types tokens at random places with short pauses until told to stop. */
async function write(
  client: Client,
  name: string,
  rand: () => number,
  written: Set<string>,
  stop: { now: boolean },
): Promise<void> {
  const deadline = Date.now() + MAX_WRITE_MS
  for (let i = 0; i < MAX_TOKENS_PER_WRITER && !stop.now && Date.now() < deadline; i++) {
    const token = `[${name}.${i}]`
    written.add(token)
    client.text.insert(tokenBoundary(client.text.toString(), rand), token)
    await sleep(Math.floor(rand() * 4))
  }
}

/** What a fresh client of a freshly started server sees in the pad. */
async function padTextAfterRestart(server: ServerProcess): Promise<string> {
  const fresh = connectClient(server.wsUrl, PAD)
  const closes: number[] = []
  fresh.provider.on('connection-close', (event) => {
    if (event) closes.push(event.code)
  })
  try {
    await fresh.synced()
    assert.deepEqual(closes, [], 'the restarted server refused the pad')
    return fresh.text.toString()
  } finally {
    fresh.destroy()
  }
}

/** Every token the observer had seen is in the restarted pad, once, in the order it saw them. */
function assertSurvived(observed: string, restarted: string, written: Set<string>): void {
  assert.equal(restarted.replace(TOKEN, ''), '', 'the restarted pad holds something that is not a token')
  const seen = tokensOf(observed)
  const now = tokensOf(restarted)
  assert.equal(new Set(now).size, now.length, 'a token is in the restarted pad twice')
  const nowSet = new Set(now)
  const lost = seen.filter((token) => !nowSet.has(token))
  assert.deepEqual(lost, [], `${lost.length} of ${seen.length} tokens the observer saw were lost`)
  const seenSet = new Set(seen)
  assert.deepEqual(
    now.filter((token) => seenSet.has(token)),
    seen,
    'the restarted pad has the observed tokens in another order',
  )
  for (const token of now) assert.ok(written.has(token), `token ${token} was never written`)
}

describe('kill -9 of the server process', () => {
  // Five rounds of at most MAX_WRITE_MS of typing each, a restart after each: ~60 s on a quiet
  // machine on either engine; the bound is for a hang, on a shared 2-core machine.
  test('every edit a client saw survives SIGKILL at random moments', { timeout: 150_000 }, async (t) => {
    const seed = seedFromEnv('FUZZ_SEED')
    t.diagnostic(`FUZZ_SEED=${seed}`)
    console.log(`crash test: FUZZ_SEED=${seed}`)
    const rand = prng(seed)
    const dataDir = tempDir()
    const written = new Set<string>()
    // Each round its own settings: snapshots mid-stream or not, and once synchronous=FULL.
    const rounds = [
      { snapshotEvery: '10', durability: 'normal', burst: false },
      { snapshotEvery: '1000', durability: 'normal', burst: false },
      { snapshotEvery: '10', durability: 'normal', burst: true },
      { snapshotEvery: '37', durability: 'full', burst: false },
      { snapshotEvery: '200', durability: 'normal', burst: true },
    ]
    let server = await spawnServer(dataDir, { SNAPSHOT_EVERY: rounds[0]!.snapshotEvery })
    try {
      for (const [r, round] of rounds.entries()) {
        const observer = connectClient(server.wsUrl, PAD, { name: 'observer' })
        const writers = [0, 1, 2].map((i) => connectClient(server.wsUrl, PAD, { name: `writer ${i}` }))
        const clients = [observer, ...writers]
        await Promise.all(clients.map((c) => c.synced()))
        await waitFor('observer has the pad', () => observer.text.length === writers[0]!.text.length)

        const stop = { now: false }
        let updatesSeen = 0
        let observedAtKill: string | null = null
        const killAt = 5 + Math.floor(rand() * 150)
        // In a burst round: the moment the observer has seen this many of the burst's tokens.
        const burstPrefix = `[b.r${r}.`
        const burstKillAt = 1 + Math.floor(rand() * (BURST_TOKENS - 1))
        const kill = () => {
          if (observedAtKill !== null) return
          server.proc.kill('SIGKILL')
          observedAtKill = observer.text.toString()
          stop.now = true
        }
        observer.doc.on('update', (_update: Uint8Array, origin: unknown) => {
          // Right after the observer received an edit from the server: nothing it shows may be lost.
          if (origin !== observer.provider) return
          updatesSeen++
          if (!round.burst && updatesSeen >= killAt) kill()
          if (round.burst && observer.text.toString().split(burstPrefix).length - 1 >= burstKillAt) kill()
        })

        let writing: Promise<void>
        if (round.burst) {
          const burster = writers[0]!
          // As fast as a script can: one transaction (one frame) per token, in one synchronous loop;
          // the others keep typing while the server works through it.
          for (let i = 0; i < BURST_TOKENS; i++) {
            const token = `[b.r${r}.${i}]`
            written.add(token)
            burster.text.insert(burster.text.length, token)
          }
          writing = Promise.all(
            writers
              .slice(1)
              .map((w, i) => write(w, `w${i + 1}.r${r}`, prng(Math.floor(rand() * 2 ** 31)), written, stop)),
          ).then(() => undefined)
        } else {
          writing = Promise.all(
            writers.map((w, i) => write(w, `w${i}.r${r}`, prng(Math.floor(rand() * 2 ** 31)), written, stop)),
          ).then(() => undefined)
        }
        await writing
        if (observedAtKill === null) {
          // Writers ran out before the chosen moment: kill once the observer has caught up.
          await waitFor('observer to catch up', () => observer.text.length === writers[0]!.text.length)
          kill()
          t.diagnostic(`round ${r}: writers finished first; killed after catching up`)
        }
        const { signal } = await server.exited
        assert.equal(signal, 'SIGKILL')
        for (const c of clients) c.destroy()
        const observed: string = observedAtKill!
        const burstSeen = tokensOf(observed).filter((token) => token.startsWith(burstPrefix)).length
        t.diagnostic(
          `round ${r}: killed after ${updatesSeen} updates; observer saw ${tokensOf(observed).length} tokens` +
            (round.burst ? `, ${burstSeen} of ${BURST_TOKENS} from the burst` : ''),
        )

        const next = rounds[r + 1] ?? rounds[0]!
        server = await spawnServer(dataDir, {
          SNAPSHOT_EVERY: next.snapshotEvery,
          DURABILITY: next.durability,
        })
        assertSurvived(observed, await padTextAfterRestart(server), written)
      }
    } finally {
      server.proc.kill('SIGKILL')
      await server.exited
    }
  })
})

describe('SIGTERM', () => {
  test('SIGTERM exits 0 quickly, clients see 1012, reconnect after a restart and lose nothing', {
    timeout: 60_000,
  }, async (t) => {
    const seed = seedFromEnv('FUZZ_SEED')
    t.diagnostic(`FUZZ_SEED=${seed}`)
    const rand = prng(seed)
    const dataDir = tempDir()
    const first = await spawnServer(dataDir, { SNAPSHOT_EVERY: '1000' })
    const observer = connectClient(first.wsUrl, PAD, { name: 'observer' })
    const writers = [0, 1].map((i) => connectClient(first.wsUrl, PAD, { name: `writer ${i}` }))
    const clients = [observer, ...writers]
    let second: ServerProcess | null = null
    try {
      const closeCodes = clients.map(() => [] as number[])
      for (const [i, c] of clients.entries()) {
        c.provider.on('connection-close', (event) => {
          if (event) closeCodes[i]!.push(event.code)
        })
      }
      await Promise.all(clients.map((c) => c.synced()))

      const written = new Set<string>()
      const stop = { now: false }
      const writing = Promise.all(
        writers.map((w, i) => write(w, `t${i}`, prng(Math.floor(rand() * 2 ** 31)), written, stop)),
      )
      await waitFor('some edits', () => observer.text.length > 0)
      await sleep(50 + Math.floor(rand() * 300))

      const signalledAt = Date.now()
      first.proc.kill('SIGTERM')
      const observed = observer.text.toString()
      const { code } = await first.exited
      const shutdownMs = Date.now() - signalledAt
      stop.now = true
      await writing
      // 0: the shutdown finished within the server's own limit (it exits 1 past it).
      assert.equal(code, 0, `shutdown took ${shutdownMs} ms: ${first.output()}`)
      assert.deepEqual(
        closeCodes.map((codes) => codes[0]),
        clients.map(() => 1012),
      )
      assert.doesNotMatch(first.output(), /"level":(50|60)/, 'errors logged during shutdown')

      // Shutdown wrote a snapshot of everything logged: a restart loads it without replaying rows.
      // SQLite only for now: on PostgreSQL, Rooms.closeAll's flush takes a round trip, the
      // writers' frames that arrive meanwhile are pending again when the snapshot is tried, and
      // it is skipped (server/sync, not the engine: nothing is lost, the next load replays the
      // log; reported with issue 24's PostgreSQL suites).
      if (TEST_ENGINE === 'sqlite') {
        // SQLite's own: shutdown checkpointed its write-ahead log into the database file.
        const wal = path.join(dataDir, `${DB_FILE_NAME}-wal`)
        assert.ok(!fs.existsSync(wal) || fs.statSync(wal).size === 0, 'WAL not checkpointed')
        const storage = await openStorage(
          { dataDir, durability: 'normal', databaseUrl: null },
          createLogger('silent'),
          { shared: true },
        )
        try {
          const stored = await storage.padLog.load(PAD)
          assert.ok(stored?.snapshot, 'no snapshot written at shutdown')
          assert.deepEqual(
            stored.updates,
            [],
            `rows after the snapshot at shutdown (up to ${stored.snapshotUpto})`,
          )
        } finally {
          await storage.close()
        }
      }

      // Back on the same port: the clients reconnect by themselves and send what never got stored.
      second = await spawnServer(dataDir, { PORT: String(first.port) })
      const everything = [...written].sort()
      await waitFor(
        'every writer token to reach the restarted server',
        () => clients.every((c) => c.provider.synced && tokensOf(c.text.toString()).length === written.size),
        15_000,
      )
      const restarted = await padTextAfterRestart(second)
      assertSurvived(observed, restarted, written)
      assert.deepEqual(tokensOf(restarted).sort(), everything)
    } finally {
      for (const c of clients) c.destroy()
      first.proc.kill('SIGKILL')
      second?.proc.kill('SIGKILL')
      await Promise.all([first.exited, second?.exited])
    }
  })
})
