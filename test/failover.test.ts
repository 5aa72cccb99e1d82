/**
 * Failover with the shared database: three real server processes on ONE PostgreSQL of the test's
 * own, behind README's HAProxy configuration (test/haproxy.ts runs the ```haproxy block as it is
 * written), with stock y-websocket clients connected through HAProxy only.
 *
 * Writers are the editor's own: their sockets show every frame to the editor's SaveTracker
 * (client/save-state.ts), the code that decides when "Saved" shows. An edit counts as acknowledged
 * when that tracker says so (the server's step 2 answered a step 1 sent after our covering step
 * 2), and each acknowledgement is put down to the server whose socket carried it (HAProxy names it
 * in X-Summitpad-Server on the upgrade's 101).
 *
 * The scenarios: kill -9 of the server holding a busy meeting; a returning server does not take
 * its pads back; PostgreSQL stopped as a crash and started again under load; a rolling restart of
 * every server, drained through HAProxy's runtime API. What each one asserts is what a person in
 * the room would notice: a word they saw or were told was saved is gone, people see different
 * text, an error page.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { SaveTracker } from '../client/save-state.ts'
import { openPostgres, type PgStorage } from '../server/storage/postgres/open.ts'
import { CLOSE } from '../server/sync/close-codes.ts'
import { encodeSyncStep1 } from '../shared/protocol.ts'
import { type Balancer, ensureHaproxy, startBalancer } from './haproxy.ts'
import { type Client, connectClient, sleep, storedPadText, tempDir, waitFor } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'
import { type ServerProcess, spawnServer } from './server-process.ts'

const SERVER_NAMES = ['s1', 's2', 's3'] as const
const BACKENDS = ['pads', 'any'] as const
/** The health check's bound, generously: `inter 2s fall 2 rise 2`, each check given up to 2 s. */
const STATE_CHANGE_MS = 30_000
/** Reconnect (the stock client's backoff tops out at 2.5 s), resync and catch up, on a busy machine. */
const CONVERGE_MS = 60_000
/** Between a page load and the next: a steady trickle of people opening the pad, bounded. */
const PAGE_LOAD_PAUSE_MS = 50

before(() => ensureHaproxy())

/** The tokens in a text, in order: every word a test types is `[<writer>:<n>]`. */
const tokensIn = (text: string): string[] => text.match(/\[[a-z0-9]+:\d+\]/g) ?? []

/** ws's socket, knowing which server HAProxy picked for it (X-Summitpad-Server on the 101). */
class NamedWebSocket extends WebSocket {
  server = ''
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols)
    this.on('upgrade', (res) => {
      this.server = String(res.headers['x-summitpad-server'] ?? '')
    })
  }
}

/** The server a client's current socket reached ('' before its upgrade). */
const socketServer = (client: Client): string =>
  (client.provider.ws as unknown as NamedWebSocket | null)?.server ?? ''

interface Writer {
  name: string
  client: Client
  tracker: SaveTracker
  /** Every token typed, in order; the tracker's change count is its length (one update each). */
  typed: string[]
  /** How many of `typed` the tracker counts as saved (the most it ever did). */
  acked: number
  /** The same, per server that carried the acknowledgement. */
  ackedOn: Map<string, number>
  /** Close codes the server sent this writer's sockets. */
  closeCodes: number[]
  type(): void
}

describe('failover: three servers on one PostgreSQL behind the README HAProxy', () => {
  let postgres: TestPostgres
  let databaseUrl: string
  let storage: PgStorage
  let lb: Balancer
  const servers = new Map<string, ServerProcess>()
  const clients: Client[] = []
  const trackers: SaveTracker[] = []

  const startServer = async (name: string, port = 0) => {
    const server = await spawnServer(tempDir('summitpad-failover-'), {
      DATABASE_URL: databaseUrl,
      TRUST_PROXY: '1',
      PORT: String(port),
    })
    servers.set(name, server)
    return server
  }
  const waitUp = async (name: string) => {
    for (const backend of BACKENDS) await lb.waitForState(backend, name, 'up', STATE_CHANGE_MS)
  }
  /** Commands on HAProxy's runtime API, each of which must succeed (they answer nothing then). */
  const runtime = async (...commands: string[]) => {
    for (const command of commands) {
      const answer = await lb.runtime(command)
      assert.equal(answer.trim(), '', `${command}: ${answer}`)
    }
  }
  /** Every backend's `name` in `state` through the runtime API (`maint`, `ready`). */
  const setState = (name: string, state: string) =>
    runtime(...BACKENDS.map((backend) => `set server ${backend}/${name} state ${state}`))
  /** The server that answers a page load of `padId` now, by its README name. */
  const serverOf = async (padId: string): Promise<string> => {
    const res = await fetch(`${lb.url}/p/${padId}`)
    await res.arrayBuffer()
    const name = res.headers.get('x-summitpad-server') ?? ''
    assert.ok(servers.has(name), `a server answered for ${padId} (status ${res.status}, "${name}")`)
    return name
  }
  const observe = (padId: string, seen: Set<string>): Client => {
    const client = connectClient(lb.wsUrl, padId, {
      params: { token: `view-${clients.length}` },
      webSocket: NamedWebSocket,
    })
    client.doc.on('update', () => {
      for (const token of tokensIn(client.text.toString())) seen.add(token)
    })
    clients.push(client)
    return client
  }
  /** A writer as the editor is one; what it sees goes into `seen`, as an observer's does. */
  const write = (padId: string, name: string, seen: Set<string>): Writer => {
    let client: Client | null = null
    const tracker = new SaveTracker({
      sendStep1: () => {
        const ws = client?.provider.ws
        if (client && ws?.readyState === WebSocket.OPEN)
          ws.send(encodeSyncStep1(Y.encodeStateVector(client.doc)))
      },
      reconnect: () => {
        client?.provider.disconnect()
        client?.provider.connect()
      },
      onChange: () => {},
    })
    trackers.push(tracker)
    const writer: Writer = {
      name,
      client: null as unknown as Client,
      tracker,
      typed: [],
      acked: 0,
      ackedOn: new Map(),
      closeCodes: [],
      type: () => {
        const token = `[${name}:${writer.typed.length}]`
        // One transaction, one update, one change for the tracker: token n is change n + 1.
        writer.client.text.insert(writer.client.text.length, `${token} `)
        writer.typed.push(token)
      },
    }
    /** client/tracked-socket.ts, on ws's socket. */
    class TrackedWebSocket extends NamedWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols)
        this.addEventListener('open', () => tracker.socketOpened(this))
        this.addEventListener('close', () => tracker.socketClosed(this))
        this.addEventListener('message', (event) => {
          if (!(event.data instanceof ArrayBuffer)) return
          tracker.incoming(this, new Uint8Array(event.data))
          const acked = writer.typed.length - tracker.unsaved
          if (acked > writer.acked) writer.acked = acked
          if (acked > (writer.ackedOn.get(this.server) ?? 0)) writer.ackedOn.set(this.server, acked)
        })
      }
      override close(code?: number, reason?: string): void {
        tracker.socketClosed(this)
        super.close(code, reason)
      }
      override send(data: unknown, ...rest: unknown[]): void {
        if (data instanceof Uint8Array) tracker.outgoing(this, data)
        else if (data instanceof ArrayBuffer) tracker.outgoing(this, new Uint8Array(data))
        ;(super.send as (...args: unknown[]) => void)(data, ...rest)
      }
    }
    client = connectClient(lb.wsUrl, padId, {
      params: { token: `edit-${name}` },
      webSocket: TrackedWebSocket,
    })
    writer.client = client
    client.doc.on('update', (_update: Uint8Array, origin: unknown) => {
      if (origin !== client?.provider) tracker.localChange()
      for (const token of tokensIn(client?.text.toString() ?? '')) seen.add(token)
    })
    client.provider.on('connection-close', (event: { code: number } | null) => {
      if (event) writer.closeCodes.push(event.code)
    })
    clients.push(client)
    return writer
  }
  /** Each writer types `words` tokens, one every `pauseMs`, unless `stop()` says enough first. */
  const typeAway = (writers: Writer[], words: number, pauseMs: number, stop: () => boolean = () => false) =>
    Promise.all(
      writers.map(async (writer, i) => {
        // Staggered, so the writers' keystrokes interleave rather than land in the same tick.
        await sleep((pauseMs * i) / writers.length)
        for (let n = 0; n < words && !stop(); n++) {
          writer.type()
          await sleep(pauseMs)
        }
      }),
    )
  const ackedTokens = (writer: Writer, count = writer.acked) => writer.typed.slice(0, count)

  /**
   * People opening the pads' pages and their export until `stop()`, bounded in count. Answers that
   * did not come from a Summitpad server (HAProxy's own error page has no X-Summitpad-Server, a
   * connection cut has no answer at all) go into `balancerErrors`, a server's own 5xx into
   * `serverErrors`.
   */
  const loadPages = async (
    padIds: string[],
    stop: () => boolean,
    errors: { balancerErrors: string[]; serverErrors: string[] },
  ) => {
    const MAX_LOADS = 2000
    let loads = 0
    for (; loads < MAX_LOADS && !stop(); loads++) {
      const padId = padIds[loads % padIds.length]!
      const path = loads % 2 ? `/p/${padId}` : `/api/pads/${padId}/export?format=txt`
      try {
        const res = await fetch(`${lb.url}${path}`)
        const body = await res.text()
        const server = res.headers.get('x-summitpad-server')
        if (!server)
          errors.balancerErrors.push(`${path}: ${res.status} from HAProxy itself: ${body.slice(0, 200)}`)
        else if (res.status >= 500)
          errors.serverErrors.push(`${path}: ${res.status} from ${server}: ${body.slice(0, 200)}`)
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : ''
        errors.balancerErrors.push(
          `${new Date().toISOString()} ${path}: ${err instanceof Error ? err.message : String(err)}${cause}`,
        )
      }
      await sleep(PAGE_LOAD_PAUSE_MS)
    }
    return loads
  }

  /** Pads whose ids hash to every server (`perServer` each): a scenario that touches them all. */
  const padsOnEveryServer = async (prefix: string, perServer: number): Promise<string[]> => {
    const MAX_CANDIDATES = 60
    const chosen = new Map<string, string[]>(SERVER_NAMES.map((n) => [n, []]))
    for (let i = 0; i < MAX_CANDIDATES; i++) {
      if ([...chosen.values()].every((ids) => ids.length >= perServer)) break
      const padId = `${prefix}-${i}`
      const ids = chosen.get(await serverOf(padId))!
      if (ids.length < perServer) ids.push(padId)
    }
    const padIds = [...chosen.values()].flat()
    assert.equal(
      padIds.length,
      SERVER_NAMES.length * perServer,
      `pads on every server: ${[...chosen.entries()]}`,
    )
    return padIds
  }

  /**
   * The end of every scenario, as the people in it would judge it: everyone sees the same text;
   * it holds every token anyone ever saw and every token typed, each writer's in the order typed;
   * every writer shows "Saved"; the database holds exactly that text.
   */
  const assertNothingLost = async (
    padId: string,
    writers: Writer[],
    everyone: Client[],
    seen: Set<string>,
  ) => {
    const typed = writers.flatMap((w) => w.typed)
    await waitFor(
      `${padId}: every client to hold every token typed, and the same text`,
      () => {
        const first = everyone[0]!.text.toString()
        return (
          everyone.every((c) => c.provider.synced && c.text.toString() === first) &&
          typed.every((t) => first.includes(t))
        )
      },
      CONVERGE_MS,
    )
    const final = everyone[0]!.text.toString()
    const finalTokens = tokensIn(final)
    assert.deepEqual(
      [...seen].filter((t) => !finalTokens.includes(t)),
      [],
      'every token any client saw is in the final text',
    )
    for (const writer of writers) {
      assert.deepEqual(
        finalTokens.filter((t) => t.startsWith(`[${writer.name}:`)),
        writer.typed,
        `${writer.name}'s tokens, all of them, in the order typed`,
      )
    }
    await waitFor(
      `${padId}: every writer to show "Saved"`,
      () => writers.every((w) => w.tracker.status().kind === 'saved'),
      CONVERGE_MS,
    )
    for (const writer of writers) assert.equal(writer.acked, writer.typed.length, `${writer.name}: all saved`)
    // "Saved" showed for all of it: the database must have it all, now.
    const stored = await storedPadText(storage.padLog, padId)
    assert.equal(stored, final, `${padId}: the database holds exactly what the clients show`)
  }

  before(async () => {
    postgres = await testPostgres()
    databaseUrl = await postgres.freshDatabase()
    storage = await openPostgres({ connectionString: databaseUrl, onIdleError: () => {} })
    for (const name of SERVER_NAMES) await startServer(name)
    lb = await startBalancer(SERVER_NAMES.map((name) => servers.get(name)!.port))
    for (const name of SERVER_NAMES) await waitUp(name)
  })
  after(async () => {
    for (const tracker of trackers) tracker.dispose()
    for (const client of clients) client.destroy()
    await lb?.stop()
    for (const server of servers.values()) server.proc.kill('SIGKILL')
    await storage?.close()
    await postgres?.stop()
  })

  test('kill -9 of the server holding a busy meeting: nothing seen or saved is lost, the gap’s typing arrives', async () => {
    const padId = 'lpc-kill9-meeting'
    const seen = new Set<string>()
    const writers = Array.from({ length: 4 }, (_, i) => write(padId, `w${i}`, seen))
    const observers = Array.from({ length: 4 }, () => observe(padId, seen))
    const everyone = [...writers.map((w) => w.client), ...observers]
    await Promise.all(everyone.map((c) => c.synced()))
    const holderName = await serverOf(padId)
    const holder = servers.get(holderName)!
    const others = SERVER_NAMES.filter((n) => n !== holderName)

    const WORDS = 50
    const PAUSE_MS = 100
    const typing = typeAway(writers, WORDS, PAUSE_MS)
    await waitFor(
      'every writer to have words saved on the holder',
      () => writers.every((w) => (w.ackedOn.get(holderName) ?? 0) >= 5),
      CONVERGE_MS,
    )
    // The survivors are held out for the moment it takes to read the database: otherwise the
    // clients could re-send what the holder acknowledged to a survivor before we looked, and the
    // check below would pass even if the holder had said "saved" for edits it never committed.
    for (const name of others) await setState(name, 'maint')
    holder.proc.kill('SIGKILL')
    await holder.exited
    const typedAtKill = writers.map((w) => w.typed.length)
    const stored = tokensIn(await storedPadText(storage.padLog, padId))
    for (const name of others) await setState(name, 'ready')
    for (const writer of writers) {
      const acked = ackedTokens(writer, writer.ackedOn.get(holderName))
      assert.deepEqual(
        acked.filter((t) => !stored.includes(t)),
        [],
        `${writer.name}: every token the killed server acknowledged is in PostgreSQL`,
      )
    }

    await typing
    // Typing went on through the gap: tokens typed after the kill must arrive too.
    for (const [i, writer] of writers.entries()) assert.ok(writer.typed.length > typedAtKill[i]!)
    await assertNothingLost(padId, writers, everyone, seen)
    const after = await serverOf(padId)
    assert.notEqual(after, holderName, 'the pad is on a surviving server')
    // Everyone lost their socket to the killed server and came back through HAProxy by themselves.
    for (const writer of writers) assert.ok(writer.closeCodes.length >= 1, `${writer.name} was cut off`)

    // Back to three servers for the next scenarios.
    await startServer(holderName, holder.port)
    await waitUp(holderName)
  })

  test('a page load in flight when its server dies is answered by another; the returning server does not take its pads back', async () => {
    const padId = 'lpc-kill9-return'
    const seen = new Set<string>()
    const writer = write(padId, 'ret', seen)
    const reader = observe(padId, seen)
    await Promise.all([writer.client.synced(), reader.synced()])
    const holderName = await serverOf(padId)
    const holder = servers.get(holderName)!
    writer.type()
    await waitFor('the reader to see the first word', () => seen.has('[ret:0]'), CONVERGE_MS)

    // Someone opens the pad's page, and someone else saves a checkpoint, just as its server dies:
    // both requests have reached it (stopped, so it cannot answer before the kill) when it is killed.
    const sockets = await lb.sessions('pads', holderName)
    holder.proc.kill('SIGSTOP')
    const pageLoad = fetch(`${lb.url}/p/${padId}`)
    const checkpoint = fetch(`${lb.url}/api/pads/${padId}/checkpoints`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'before the break' }),
    }).then(
      async (res) => ({
        status: res.status,
        server: res.headers.get('x-summitpad-server'),
        body: await res.text(),
      }),
      (err: Error) => ({ status: 0, server: null, body: err.message }),
    )
    let sessions = sockets
    await waitFor(
      'both requests to reach the stopped server',
      () => {
        void lb.sessions('pads', holderName).then((n) => {
          sessions = n
        })
        return sessions >= sockets + 2
      },
      CONVERGE_MS,
    )
    holder.proc.kill('SIGKILL')
    await holder.exited
    const page = await pageLoad
    await page.arrayBuffer()
    assert.equal(page.status, 200, 'the page load in flight at the kill gets its page')
    assert.notEqual(page.headers.get('x-summitpad-server'), holderName, 'from another server')
    // A request that changes something may have been carried out before the kill: never sent again.
    const posted = await checkpoint
    assert.equal(
      posted.server,
      null,
      `the checkpoint was not sent to another server: ${JSON.stringify(posted)}`,
    )
    writer.type()
    await waitFor(
      'the reader to see the word typed in the gap',
      () => reader.text.toString().includes('[ret:1]'),
      CONVERGE_MS,
    )
    const takenOverBy = await serverOf(padId)
    assert.notEqual(takenOverBy, holderName)

    // Returns once HAProxy has marked it down, as a crashed server restarted by systemd would.
    await lb.waitForState('pads', holderName, 'down', STATE_CHANGE_MS)
    await startServer(holderName, holder.port)
    await waitUp(holderName)
    writer.type()
    // A new connection and a page load both reach the server that took the pad over.
    const late = observe(padId, seen)
    await late.synced()
    assert.equal(socketServer(late), takenOverBy, 'a new connection reaches the server that took the pad')
    assert.equal(await serverOf(padId), takenOverBy, 'a page load still reaches the server that took the pad')
    await assertNothingLost(padId, [writer], [writer.client, reader, late], seen)
    assert.equal(await serverOf(padId), takenOverBy, 'and after everyone synced, still')
  })

  test('PostgreSQL restarted as a crash under load: nothing acknowledged meanwhile, nothing lost, every server kept in', async () => {
    const padIds = await padsOnEveryServer('pg-restart', 1)
    const seen = padIds.map(() => new Set<string>())
    const writers = padIds.flatMap((padId, p) => [0, 1].map((i) => write(padId, `pg${p}w${i}`, seen[p]!)))
    const readers = padIds.map((padId, p) => observe(padId, seen[p]!))
    await Promise.all([...writers.map((w) => w.client), ...readers].map((c) => c.synced()))

    const WORDS = 60
    const PAUSE_MS = 100
    const typing = typeAway(writers, WORDS, PAUSE_MS)
    await waitFor('every writer to have words saved', () => writers.every((w) => w.acked >= 3), CONVERGE_MS)
    await postgres.stopServer('immediate')
    // An acknowledgement already on its way when the database went (its COMMIT answered) may
    // still land: what counts is what the clients are told once nothing can commit.
    await sleep(500)
    const ackedWhileDown = writers.map((w) => w.acked)

    // Down for longer than HAProxy's `fall 2` at `inter 2s`: a check on the database would have
    // taken every server out by now.
    const errors = { balancerErrors: [] as string[], serverErrors: [] as string[] }
    let down = true
    const pageLoads = loadPages(padIds, () => !down, errors)
    const downSince = Date.now()
    const OUTAGE_MS = 6000
    let healthz: {
      status: number
      body: { status?: string; storage?: { ok?: boolean; error?: string } }
    } | null = null
    while (Date.now() - downSince < OUTAGE_MS) {
      const states = await lb.serverStates('pads')
      for (const name of SERVER_NAMES)
        assert.equal(states.get(name), 'up', `${name} stays in while the database is down`)
      const res = await fetch(`${lb.url}/healthz`)
      healthz = { status: res.status, body: (await res.json()) as NonNullable<typeof healthz>['body'] }
      await sleep(500)
    }
    down = false
    assert.deepEqual(
      writers.map((w) => w.acked),
      ackedWhileDown,
      'no edit is acknowledged ("Saved") while the database is down',
    )
    await postgres.startServer()
    await pageLoads
    assert.deepEqual(
      errors.balancerErrors,
      [],
      "no page load got HAProxy's error page while the database was down",
    )
    // What the servers themselves answered meanwhile (their own error, not HAProxy's): for the record.
    console.log(
      `# page loads answered 5xx by a server while the database was down: ${errors.serverErrors.length}`,
    )
    if (errors.serverErrors[0]) console.log(`# e.g. ${errors.serverErrors[0]}`)
    assert.equal(healthz?.status, 503, '/healthz says the server is degraded')
    assert.equal(healthz?.body.storage?.ok, false)
    assert.match(
      healthz?.body.storage?.error ?? '',
      /database|connect|ECONNREFUSED/i,
      'and says what is wrong',
    )

    await typing
    for (const [p, padId] of padIds.entries()) {
      const padWriters = writers.filter((w) => w.name.startsWith(`pg${p}w`))
      await assertNothingLost(padId, padWriters, [...padWriters.map((w) => w.client), readers[p]!], seen[p]!)
    }
    const codes = writers.flatMap((w) => w.closeCodes)
    assert.ok(
      codes.includes(CLOSE.internalError),
      `told to retry with 1011 (codes seen: ${codes.join(', ')})`,
    )
    assert.ok(
      codes.every((code) => code < 4400 || code > 4499),
      `never a code that stops the client (codes seen: ${codes.join(', ')})`,
    )
    await waitFor(
      '/healthz to be ok again',
      async () => {
        const res = await fetch(`${lb.url}/healthz`)
        await res.arrayBuffer()
        return res.status === 200
      },
      CONVERGE_MS,
    )
  })

  test('rolling restart, drained through the runtime API: nothing lost, no error page, every server back', async () => {
    const padIds = await padsOnEveryServer('roll', 2)
    const seen = padIds.map(() => new Set<string>())
    const writers = padIds.map((padId, p) => write(padId, `roll${p}`, seen[p]!))
    const readers = padIds.map((padId, p) => observe(padId, seen[p]!))
    await Promise.all([...writers.map((w) => w.client), ...readers].map((c) => c.synced()))

    let rolling = true
    const errors = { balancerErrors: [] as string[], serverErrors: [] as string[] }
    const MAX_WORDS = 1000
    const typing = typeAway(writers, MAX_WORDS, 150, () => !rolling)
    const pageLoads = loadPages(padIds, () => !rolling, errors)
    for (const name of SERVER_NAMES) {
      const old = servers.get(name)!
      // Drained, and its health check paused: HAProxy sends it no new pad, and does not mark it
      // down while it stops (a server marked down has every session cut, page loads in flight
      // included: `on-marked-down shutdown-sessions`). `maint` would count as marked down.
      await runtime(`set server pads/${name} state drain`, `set server any/${name} state drain`)
      await runtime(`disable health pads/${name}`, `disable health any/${name}`)
      // Graceful: the server stops listening (HAProxy sends what still sticks to it elsewhere:
      // `retries`, `option redispatch`), closes its sockets with 1012 (the clients reconnect),
      // finishes the page loads in flight, stores everything and exits.
      old.proc.kill('SIGTERM')
      const exit = await old.exited
      assert.equal(exit.code, 0, `${name} shut down by itself, in time:\n${old.output().slice(-2000)}`)
      await startServer(name, old.port)
      await runtime(`enable health pads/${name}`, `enable health any/${name}`)
      await runtime(`set server pads/${name} state ready`, `set server any/${name} state ready`)
      await waitUp(name)
      // Keystrokes go on meanwhile.
      await sleep(500)
    }
    rolling = false
    await Promise.all([typing, pageLoads])
    assert.deepEqual(
      errors,
      { balancerErrors: [], serverErrors: [] },
      'no page load got an error during the rolling restart',
    )
    for (const [p, padId] of padIds.entries())
      await assertNothingLost(padId, [writers[p]!], [writers[p]!.client, readers[p]!], seen[p]!)
    const codes = writers.flatMap((w) => w.closeCodes)
    assert.ok(
      codes.includes(CLOSE.serviceRestart),
      `told to reconnect with 1012 (codes seen: ${codes.join(', ')})`,
    )
  })
})
