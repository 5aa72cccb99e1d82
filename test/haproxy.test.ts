/**
 * The README's HAProxy configuration (test/haproxy.ts reads it from README.md) in front of three
 * real server processes: every route of a pad reaches one server whatever token the person
 * carries; a killed server's pads move to another and stay there when it returns; a hung server
 * (SIGSTOP) is taken out by the health check and its people carry on elsewhere.
 *
 * Each server here has its own SQLite file (the shared PostgreSQL engine is not in yet), which
 * makes routing visible: two people who reached different servers would never see each other's
 * text, and a pad taken back by its returning server would come back without what was typed
 * during the failover.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type Balancer, ensureHaproxy, startBalancer } from './haproxy.ts'
import { type Client, connectClient, tempDir, waitFor } from './helpers.ts'
import { type ServerProcess, spawnServer } from './server-process.ts'

const SERVER_NAMES = ['s1', 's2', 's3']
/** The health check's bound, generously: `inter 2s fall 2`, each check given up to 2 s. */
const MARKED_DOWN_MS = 30_000
/** The stock client's backoff after a cut tops out at 2.5 s; a busy machine takes longer to resync. */
const RESYNC_MS = 60_000
/**
 * After a hung server is marked down: below the stock client's own 30 s silence timeout, so only
 * HAProxy cutting the sockets (`on-marked-down shutdown-sessions`) gets the clients out in time.
 */
const MOVED_OFF_HUNG_MS = 20_000

before(() => ensureHaproxy())

describe('HAProxy in front of three servers, as the README configures it', () => {
  const dataDirs = SERVER_NAMES.map(() => tempDir('summitpad-lb-'))
  const servers: ServerProcess[] = []
  let lb: Balancer
  const clients: Client[] = []
  const connect = (padId: string, token: string): Client => {
    const client = connectClient(lb.wsUrl, padId, { params: { token } })
    clients.push(client)
    return client
  }
  /** The server that answered a request about `padId`, by its README name. */
  const serverOf = async (padId: string): Promise<string> => {
    const res = await fetch(`${lb.url}/p/${padId}`)
    await res.arrayBuffer()
    const name = res.headers.get('x-summitpad-server')
    assert.ok(name && SERVER_NAMES.includes(name), `a server answered for ${padId} (${name})`)
    return name
  }
  const waitForState = (name: string, state: string) => lb.waitForState('pads', name, state, MARKED_DOWN_MS)

  before(async () => {
    for (const dir of dataDirs) servers.push(await spawnServer(dir, { TRUST_PROXY: '1' }))
    lb = await startBalancer(servers.map((s) => s.port))
    for (const name of SERVER_NAMES) await waitForState(name, 'up')
  })
  after(async () => {
    for (const client of clients) client.destroy()
    await lb?.stop()
  })

  test('every route of a pad reaches one server, whatever token each person carries', async () => {
    const pads = Array.from({ length: 9 }, (_, i) => `lpc-containers-${i}`)
    const seenOn = new Set<string>()
    for (const padId of pads) {
      const writer = connect(padId, `edit-${padId}-ana`)
      const reader = connect(padId, `view-${padId}-bo`)
      await Promise.all([writer.synced(), reader.synced()])
      const line = `DECISION: ${padId} keeps cgroup v1 for one more cycle\n`
      writer.text.insert(writer.text.length, line)
      await waitFor(
        `${padId}: the reader to see the writer's line`,
        () => reader.text.toString().includes(line),
        RESYNC_MS,
      )
      const exported = await fetch(`${lb.url}/api/pads/${padId}/export?format=txt`)
      assert.equal(exported.status, 200)
      assert.ok(
        (await exported.text()).includes(`${padId} keeps cgroup v1`),
        `${padId}: the export has the line`,
      )
      const server = await serverOf(padId)
      assert.equal(await serverOf(padId), server, 'the same server again')
      seenOn.add(server)
    }
    // Nine pads all on one server would pass the checks above with any configuration.
    assert.ok(seenOn.size >= 2, `pads spread over the servers (${[...seenOn].join(', ')})`)
  })

  test("a killed server's pads move to another server and stay there when it returns", async () => {
    const padId = 'bof-memcg-failover'
    const writer = connect(padId, 'edit-ana')
    const reader = connect(padId, 'view-bo')
    await Promise.all([writer.synced(), reader.synced()])
    writer.text.insert(0, '[before]\n')
    await waitFor('the reader to see [before]', () => reader.text.toString().includes('[before]'), RESYNC_MS)
    const first = await serverOf(padId)
    const index = SERVER_NAMES.indexOf(first)
    const killed = servers[index]!
    killed.proc.kill('SIGKILL')
    await killed.exited
    // Typed while the pad has no server: it must arrive once both have reconnected elsewhere.
    writer.text.insert(writer.text.length, '[during]\n')
    await waitFor('the reader to see [during]', () => reader.text.toString().includes('[during]'), RESYNC_MS)
    const second = await serverOf(padId)
    assert.notEqual(second, first, 'the pad moved')

    servers[index] = await spawnServer(dataDirs[index]!, { TRUST_PROXY: '1', PORT: String(killed.port) })
    await waitForState(first, 'up')
    writer.text.insert(writer.text.length, '[after]\n')
    await waitFor('the reader to see [after]', () => reader.text.toString().includes('[after]'), RESYNC_MS)
    // Someone joining now reaches the server that held the pad during the failover: the returning
    // one has only "[before]" in its file.
    const late = connect(padId, 'view-chen')
    await late.synced()
    await waitFor(
      'the late joiner to have everything',
      () => late.text.toString() === reader.text.toString(),
      RESYNC_MS,
    )
    assert.equal(late.text.toString(), '[before]\n[during]\n[after]\n')
    assert.equal(await serverOf(padId), second, 'the returning server did not take the pad back')
  })

  test('a hung server (SIGSTOP) is taken out by the health check; its people carry on elsewhere', async () => {
    const padId = 'kernel-talk-hung'
    const writer = connect(padId, 'edit-ana')
    const reader = connect(padId, 'view-bo')
    await Promise.all([writer.synced(), reader.synced()])
    writer.text.insert(0, '[before]\n')
    await waitFor('the reader to see [before]', () => reader.text.toString().includes('[before]'), RESYNC_MS)
    const hungName = await serverOf(padId)
    const hung = servers[SERVER_NAMES.indexOf(hungName)]!
    hung.proc.kill('SIGSTOP')
    try {
      writer.text.insert(writer.text.length, '[while hung]\n')
      await waitForState(hungName, 'down')
      // on-marked-down shutdown-sessions cut both sockets; the stock clients reconnect elsewhere.
      await waitFor(
        'the reader to see [while hung]',
        () => reader.text.toString().includes('[while hung]'),
        MOVED_OFF_HUNG_MS,
      )
      assert.notEqual(await serverOf(padId), hungName, 'the pad is served by another server')
    } finally {
      hung.proc.kill('SIGCONT')
    }
    await waitForState(hungName, 'up')
  })
})
