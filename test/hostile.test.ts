/**
 * Hostile input against a real server: a bad frame closes only its own socket, with the right
 * close code; the server stays up; the honest stock clients on the same pad keep editing and
 * converging; and nothing of the attack reaches them or the stored pad.
 *
 * Every case: two honest y-websocket clients type into pad P, a raw socket on P sends the hostile
 * frame(s), then we compare the pad's stored rows (log and snapshots) with those from before the
 * attack — the honest clients do not type during that window — and let the honest clients type again.
 *
 * The random-frame case prints its seed; rerun it with FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { describe, test } from 'node:test'
import zlib from 'node:zlib'
import * as encoding from 'lib0/encoding'
import ts from 'typescript'
import * as Y from 'yjs'
import type { Config } from '../server/ops/config.ts'
import { CLOSE_PAD_FULL } from '../server/sync/close-codes.ts'
import { docFromStored, encodeState } from '../server/sync/pad-doc.ts'
import { SERVER_ORIGIN } from '../server/sync/peer.ts'
import { REMEASURE_BYTES, type Room } from '../server/sync/room.ts'
import { checkStateVector, checkUpdate, MAX_CLOCK } from '../server/sync/update-check.ts'
import {
  decodeAwarenessUpdate,
  decodeMessage,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import {
  type ApiReply,
  apiCall,
  type Client,
  connectClient,
  gapThenText,
  okJson,
  prng,
  type RawSocket,
  rawSocket,
  seedFromEnv,
  sleep,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'

const SEED = seedFromEnv('FUZZ_SEED')
console.log(`hostile fuzz seed: FUZZ_SEED=${SEED}`)

const PAD = 'lpc-2026-hostile'
const WARN = 40
const ERROR = 50

interface Scene {
  server: TestServer
  a: Client
  b: Client
  /** Stored rows of PAD (log and snapshots) just before the attack. */
  before: string[]
  /** Text the honest clients had before the attack. */
  textBefore: string
}

/** A server with two honest clients on PAD that have typed and converged; their edits are stored. */
async function setUp(overrides: Partial<Config> = {}): Promise<Scene> {
  const server = await startTestServer(overrides)
  const a = connectClient(server.wsUrl, PAD, { name: 'Ada' })
  const b = connectClient(server.wsUrl, PAD, { name: 'Linus' })
  await Promise.all([a.synced(), b.synced()])
  a.text.insert(0, 'Agenda: io_uring and cgroups\n')
  b.text.insert(0, 'Attendees: Ada, Linus\n')
  await converged(a, b, ['Agenda: io_uring', 'Attendees: Ada'])
  // Each of the two edits is committed before the other client sees it (persist, then broadcast).
  await waitFor('edits stored', () => server.store.load(PAD)?.updates.length === 2)
  return { server, a, b, before: storedRows(server), textBefore: a.text.toString() }
}

async function converged(a: Client, b: Client, markers: string[]): Promise<void> {
  await waitFor(
    `honest clients converge on ${markers.join(', ')}`,
    () => a.text.toString() === b.text.toString() && markers.every((m) => a.text.toString().includes(m)),
    30_000,
  )
}

/** Every stored byte of PAD: log rows with their seqs, then snapshots. */
function storedRows(server: TestServer): string[] {
  const log = server.db
    .prepare('SELECT u.seq, u.data FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ? ORDER BY u.seq')
    .all(PAD) as { seq: number; data: Buffer }[]
  const snapshots = server.db
    .prepare(
      'SELECT s.upto, s.data FROM snapshots s JOIN pads p ON p.pk = s.pad WHERE p.id = ? ORDER BY s.id',
    )
    .all(PAD) as { upto: number; data: Buffer }[]
  return [
    ...log.map((r) => `log ${r.seq} ${r.data.toString('hex')}`),
    ...snapshots.map((r) => `snapshot ${r.upto} ${r.data.toString('hex')}`),
  ]
}

/** Whether `marker` appears in any stored byte of the pad (e.g. the text of a rejected update). */
function storeContains(server: TestServer, marker: string): boolean {
  const hex = Buffer.from(marker).toString('hex')
  return storedRows(server).some((row) => row.includes(hex))
}

/** The stored pad is byte-identical to before the attack, and the live doc holds the same text. */
function assertPadUnchanged(scene: Scene): void {
  void scene.server.rooms.flush()
  assert.deepEqual(storedRows(scene.server), scene.before, 'stored rows changed during the attack')
  assert.equal(scene.server.rooms.get(PAD)?.doc.getText('notes').toString(), scene.textBefore)
  assert.equal(scene.a.text.toString(), scene.textBefore)
  assert.equal(scene.b.text.toString(), scene.textBefore)
}

/** The server is up, and the honest clients still edit and converge, through the server. */
async function assertHonestStillWork(scene: Scene, tag: string): Promise<void> {
  const res = await fetch(`${scene.server.url}/healthz`)
  assert.equal(res.status, 200)
  assert.equal(((await res.json()) as { status: string }).status, 'ok')
  const rowsBefore = scene.server.store.lastSeq(PAD)
  scene.a.text.insert(scene.a.text.length, `Ada after ${tag}\n`)
  scene.b.text.insert(0, `Linus after ${tag}\n`)
  await converged(scene.a, scene.b, [`Ada after ${tag}`, `Linus after ${tag}`])
  assert.ok(scene.server.store.lastSeq(PAD) > rowsBefore, 'the new edits were stored')
  // A newcomer gets the same pad from the server.
  const late = connectClient(scene.server.wsUrl, PAD)
  try {
    await waitFor('late joiner syncs', () => late.provider.synced, 30_000)
    await waitFor('late joiner has the pad', () => late.text.toString() === scene.a.text.toString(), 30_000)
  } finally {
    late.destroy()
  }
}

/** Runs `body` on a fresh scene and always tears it down, so a failed assertion leaves nothing running. */
async function withScene(
  body: (scene: Scene) => Promise<void>,
  overrides: Partial<Config> = {},
): Promise<void> {
  const scene = await setUp(overrides)
  try {
    await body(scene)
  } finally {
    for (const c of [scene.a, scene.b]) {
      try {
        c.destroy()
      } catch {
        // y-websocket's destroy throws if Yjs changed the doc's client id under it; the socket is closed anyway.
      }
    }
    await scene.server.close()
  }
}

/** A raw socket on PAD that has received the server's greeting (its sync step 1). */
async function hostileSocket(server: TestServer): Promise<RawSocket> {
  const raw = await rawSocket(server.wsUrl, PAD)
  await waitFor('server greeting', () => raw.received.length > 0, 30_000)
  assert.deepEqual([...raw.received[0]!.subarray(0, 2)], [0, 0], 'the server greets with sync step 1')
  return raw
}

async function closedWith(raw: RawSocket, code: number, what: string): Promise<void> {
  await waitFor(`socket closed after ${what}`, () => raw.closed !== null, 5000).catch(() => {
    assert.fail(`${what}: the server did not close the socket (it accepted the frame)`)
  })
  assert.equal(raw.closed!.code, code, `${what}: closed with ${raw.closed!.code} "${raw.closed!.reason}"`)
  // ws itself closes an oversize frame's socket, without a reason; every refusal of ours has one.
  if (code !== 1009) assert.ok(raw.closed!.reason.length > 0, 'the close carries a reason')
}

/** Sends each frame on a fresh raw socket and expects each socket closed with `code`. */
async function eachClosesWith(scene: Scene, frames: [string, Uint8Array | string][], code: number) {
  for (const [what, frame] of frames) {
    const raw = await hostileSocket(scene.server)
    raw.ws.send(frame)
    await closedWith(raw, code, what)
  }
}

const warnLines = (server: TestServer) => server.logLines.filter((l) => (l.level as number) >= WARN)

/** An attacker's doc, with its own client id, and the updates it emits. */
function attackerDoc(clientID: number): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  return { doc, updates }
}

/** An update message frame built by hand. */
const updateFrame = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder()
  write(e)
  return encodeSyncUpdate(encoding.toUint8Array(e))
}

// ---------------------------------------------------------------------------------------------

describe('malformed frames close only their socket', () => {
  test(`random bytes: 500 frames across 5 sockets (seed ${SEED})`, async () => {
    await withScene(async (scene) => {
      const rand = prng(SEED)
      const int = (n: number) => Math.floor(rand() * n)
      const randomBytes = (n: number) => Array.from({ length: n }, () => int(256))
      const randomFrame = (): Uint8Array => {
        switch (int(4)) {
          case 0:
            return new Uint8Array(randomBytes(1 + int(64)))
          case 1: {
            // A sync step 2 / update header, then a random "update".
            const payload = randomBytes(int(60))
            return new Uint8Array([0, 1 + int(2), payload.length, ...payload])
          }
          case 2: {
            const payload = randomBytes(int(60))
            return new Uint8Array([1, payload.length, ...payload])
          }
          default:
            return new Uint8Array([int(8), ...randomBytes(int(20))])
        }
      }
      /** What the server must do with the first frame it refuses: the close code. */
      const expectedCode = (frames: Uint8Array[]): number | null => {
        for (const frame of frames) {
          const decoded = decodeMessage(frame)
          if (!decoded.ok) return 1002
          const m = decoded.value
          if (m.type === 'sync-update' || m.type === 'sync-step2') {
            const shape = checkUpdate(m.update)
            if (!shape.ok) return 1007
            assert.equal(shape.value.structCount, 0, 'a random frame is a real update')
          } else if (m.type === 'sync-step1') {
            if (!checkStateVector(m.stateVector).ok) return 1002
          } else if (m.type === 'awareness') {
            if (!decodeAwarenessUpdate(m.update).ok) return 1002
          } else if (m.type === 'auth-denied') return 1002
        }
        return null
      }
      const warnsBefore = warnLines(scene.server).length
      const sockets: { raw: RawSocket; code: number | null }[] = []
      for (let s = 0; s < 5; s++) {
        const frames = Array.from({ length: 100 }, randomFrame)
        const raw = await hostileSocket(scene.server)
        // A burst: the server has not answered the first frame when the rest arrive.
        for (const frame of frames) raw.ws.send(frame)
        sockets.push({ raw, code: expectedCode(frames) })
      }
      for (const [i, { raw, code }] of sockets.entries()) {
        assert.notEqual(code, null, `socket ${i}: 100 random frames that were all valid`)
        await closedWith(raw, code!, `random frames on socket ${i}`)
      }
      assertPadUnchanged(scene)
      const warns = warnLines(scene.server).slice(warnsBefore)
      assert.ok(warns.length <= 5, `${warns.length} warn/error lines for 5 closed sockets`)
      assert.equal(warns.filter((l) => (l.level as number) >= ERROR).length, 0, 'random frames logged errors')
      await assertHonestStillWork(scene, 'random bytes')
    })
  })

  test('unknown message, sync and auth types: 1002', async () => {
    await withScene(async (scene) => {
      await eachClosesWith(
        scene,
        [
          ['message type 4', new Uint8Array([4])],
          ['message type 127 with payload', new Uint8Array([127, 1, 2, 3])],
          ['message type 128 (two-byte varUint)', new Uint8Array([0x80, 0x01, 0])],
          ['sync type 3', new Uint8Array([0, 3, 1, 0])],
          ['sync type 2 without a payload', new Uint8Array([0, 2])],
          ['auth message from a client', new Uint8Array([2, 0, 1, 0x41])],
          ['query-awareness with trailing bytes', new Uint8Array([3, 0])],
          ['an empty frame', new Uint8Array(0)],
          ['awareness that is not an awareness update', new Uint8Array([1, 2, 0xff, 0xff])],
          ['sync step 1 with a truncated state vector', new Uint8Array([0, 0, 2, 1, 0x85])],
        ],
        1002,
      )
      assertPadUnchanged(scene)
      await assertHonestStillWork(scene, 'unknown types')
    })
  })

  test('text frames: 1003', async () => {
    await withScene(async (scene) => {
      await eachClosesWith(
        scene,
        [
          ['a text frame', 'hello'],
          ['a text frame holding JSON', JSON.stringify({ type: 'sync', update: [1, 2, 3] })],
        ],
        1003,
      )
      assertPadUnchanged(scene)
      await assertHonestStillWork(scene, 'text frames')
    })
  })

  test('a frame over maxFrameBytes: 1009; a frame under it is accepted', async () => {
    await withScene(
      async (scene) => {
        const raw = await hostileSocket(scene.server)
        // A real update that is simply too big: 100 KB of typed text.
        const { doc, updates } = attackerDoc(777_001)
        doc.getText('notes').insert(0, 'OVERSIZE-MARKER '.repeat(6400))
        const frame = encodeSyncUpdate(updates[0]!)
        assert.ok(frame.length > 64 * 1024)
        raw.ws.send(frame)
        await closedWith(raw, 1009, 'an oversize frame')
        assertPadUnchanged(scene)
        assert.equal(storeContains(scene.server, 'OVERSIZE-MARKER'), false)
        // Just under the limit is fine: the same kind of edit, smaller.
        const ok = await hostileSocket(scene.server)
        const small = attackerDoc(777_002)
        small.doc.getText('notes').insert(0, 'fits\n')
        ok.ws.send(encodeSyncUpdate(small.updates[0]!))
        await converged(scene.a, scene.b, ['fits\n'])
        assert.equal(ok.closed, null)
        ok.ws.close()
        await assertHonestStillWork(scene, 'oversize')
      },
      { maxFrameBytes: 64 * 1024 },
    )
  })
})

describe('invalid updates close the socket with 1007 and store nothing', () => {
  test('truncated valid updates', async () => {
    await withScene(async (scene) => {
      const { doc, updates } = attackerDoc(777_003)
      doc.getText('notes').insert(0, 'TRUNCATED-MARKER: this must never land\n')
      doc.getMap('meta').set('owner', { name: 'mallory', seats: [1, 2, 3] })
      const full = Y.mergeUpdates(updates)
      const cuts = [0, 1, 2, 5, 10, full.length >> 1, full.length - 2, full.length - 1]
      await eachClosesWith(
        scene,
        cuts.map((cut) => [
          `update cut to ${cut} of ${full.length} bytes`,
          encodeSyncUpdate(full.subarray(0, cut)),
        ]),
        1007,
      )
      // As a sync step 2, too.
      await eachClosesWith(
        scene,
        [['truncated step 2', encodeSyncStep2(full.subarray(0, full.length - 3))]],
        1007,
      )
      assertPadUnchanged(scene)
      assert.equal(storeContains(scene.server, 'TRUNCATED-MARKER'), false)
      await assertHonestStillWork(scene, 'truncation')
      assert.doesNotMatch(scene.a.text.toString(), /TRUNCATED-MARKER/)
    })
  })

  test('a struct-count bomb', async () => {
    await withScene(async (scene) => {
      const bomb = updateFrame((e) => {
        for (const v of [1, 30_000_000, 777_004, 0]) encoding.writeVarUint(e, v)
        encoding.writeUint8(e, 0)
        encoding.writeVarUint(e, 1)
      })
      assert.ok(bomb.length < 16)
      const clientsBomb = updateFrame((e) => {
        for (const v of [50_000_000, 1, 777_005, 0]) encoding.writeVarUint(e, v)
      })
      await eachClosesWith(
        scene,
        [
          ['30 million structs claimed in a few bytes', bomb],
          ['50 million client sections claimed', clientsBomb],
        ],
        1007,
      )
      assertPadUnchanged(scene)
      await assertHonestStillWork(scene, 'bomb')
    })
  })

  test('valid content with a truncated delete set: none of its text ever reaches anyone', async () => {
    await withScene(async (scene) => {
      const { doc } = attackerDoc(777_006)
      const text = doc.getText('notes')
      text.insert(0, 'xyz DELETESET-MARKER visible if applied halfway\n')
      text.delete(0, 4)
      const full = Y.encodeStateAsUpdate(doc)
      const shape = checkUpdate(full)
      assert.ok(shape.ok && shape.value.deleteRangeCount > 0, 'the update has a delete set')
      const cut = full.subarray(0, full.length - 1)
      // Why this is dangerous: Yjs applies the text, then throws on the delete set.
      const victim = new Y.Doc()
      assert.throws(() => Y.applyUpdate(victim, cut))
      assert.match(victim.getText('notes').toString(), /DELETESET-MARKER/)

      await eachClosesWith(scene, [['update with a truncated delete set', encodeSyncUpdate(cut)]], 1007)
      assertPadUnchanged(scene)
      await assertHonestStillWork(scene, 'delete set')
      for (const c of [scene.a, scene.b]) assert.doesNotMatch(c.text.toString(), /DELETESET-MARKER/)
      assert.doesNotMatch(scene.server.rooms.get(PAD)!.doc.getText('notes').toString(), /DELETESET-MARKER/)
      assert.equal(storeContains(scene.server, 'DELETESET-MARKER'), false)
    })
  })

  test('a subdocument, an unknown content kind and invalid UTF-8', async () => {
    await withScene(async (scene) => {
      const sub = attackerDoc(777_007)
      sub.doc.getMap('meta').set('sub', new Y.Doc())
      const oneItem = (kind: number, content: (e: encoding.Encoder) => void) =>
        updateFrame((e) => {
          for (const v of [1, 1, 777_008, 0]) encoding.writeVarUint(e, v)
          encoding.writeUint8(e, kind)
          encoding.writeVarUint(e, 1)
          encoding.writeVarString(e, 'notes')
          content(e)
          encoding.writeVarUint(e, 0)
        })
      await eachClosesWith(
        scene,
        [
          ['a subdocument', encodeSyncUpdate(sub.updates[0]!)],
          ['content kind 17', oneItem(17, (e) => encoding.writeVarString(e, 'x'))],
          [
            'a string that is not UTF-8',
            oneItem(4, (e) => encoding.writeVarUint8Array(e, new Uint8Array([0x41, 0xff]))),
          ],
          ['an embed that is not JSON', oneItem(5, (e) => encoding.writeVarString(e, '{"image":'))],
        ],
        1007,
      )
      assertPadUnchanged(scene)
      await assertHonestStillWork(scene, 'content')
    })
  })
})

describe('updates that are valid but incomplete', () => {
  test('a gap in the sender’s own clocks: no close; the server asks with sync step 1, then accepts', async () => {
    await withScene(async (scene) => {
      const { doc, updates } = attackerDoc(777_009)
      doc.getText('notes').insert(0, 'GAP-FIRST ')
      doc.getText('notes').insert(10, 'GAP-SECOND\n')
      assert.equal(updates.length, 2)
      const raw = await hostileSocket(scene.server)
      const greeted = raw.received.length
      raw.ws.send(encodeSyncUpdate(updates[1]!)) // starts at clock 10: the first 10 are missing
      await waitFor(
        'sync step 1 in answer to the gap',
        () => raw.received.slice(greeted).some((m) => m[0] === 0 && m[1] === 0),
        30_000,
      )
      assert.equal(raw.closed, null, 'a gap is not an attack: the socket stays open')
      assertPadUnchanged(scene)
      assert.equal(scene.server.rooms.get(PAD)!.doc.store.pendingStructs, null)
      // The stock client would answer that step 1 with a step 2 of everything the server lacks.
      const ask = raw.received.slice(greeted).find((m) => m[0] === 0 && m[1] === 0)!
      const decoded = decodeMessage(ask)
      assert.ok(decoded.ok && decoded.value.type === 'sync-step1')
      raw.ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(doc, decoded.value.stateVector)))
      await converged(scene.a, scene.b, ['GAP-FIRST GAP-SECOND\n'])
      assert.equal(raw.closed, null)
      raw.ws.close()
      await assertHonestStillWork(scene, 'gap')
    })
  })

  test('an update referring to another client’s item the server lacks: nothing parked, sync step 1 sent', async () => {
    await withScene(async (scene) => {
      const z = attackerDoc(777_010)
      z.doc.getText('notes').insert(0, 'ZZZ-UNSEEN ')
      const x = attackerDoc(777_011)
      Y.applyUpdate(x.doc, Y.encodeStateAsUpdate(z.doc))
      x.updates.length = 0
      x.doc.getText('notes').insert(11, 'X-AFTER-Z\n') // its origin is Z's last character
      assert.equal(x.updates.length, 1)
      const raw = await hostileSocket(scene.server)
      const greeted = raw.received.length
      raw.ws.send(encodeSyncUpdate(x.updates[0]!))
      await waitFor(
        'sync step 1 in answer to the missing dependency',
        () => raw.received.slice(greeted).some((m) => m[0] === 0 && m[1] === 0),
        30_000,
      )
      const room = scene.server.rooms.get(PAD)!
      assert.equal(room.doc.store.pendingStructs, null, 'the server parked structs it cannot integrate')
      assert.equal(room.doc.store.pendingDs, null)
      assert.equal(raw.closed, null)
      assertPadUnchanged(scene)
      // Snapshots must not carry the parked structs either.
      room.snapshot()
      assert.equal(storeContains(scene.server, 'X-AFTER-Z'), false)
      // Answering the step 1 with everything, as the stock client does, delivers both.
      raw.ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(x.doc)))
      await converged(scene.a, scene.b, ['ZZZ-UNSEEN X-AFTER-Z\n'])
      raw.ws.close()
      await assertHonestStillWork(scene, 'missing dependency')
    })
  })

  test('a delete of items the server lacks: nothing parked, the pad unchanged', async () => {
    await withScene(async (scene) => {
      const z = attackerDoc(777_012)
      z.doc.getText('notes').insert(0, 'never sent')
      const x = attackerDoc(777_013)
      Y.applyUpdate(x.doc, Y.encodeStateAsUpdate(z.doc))
      x.updates.length = 0
      x.doc.getText('notes').delete(0, 5)
      const raw = await hostileSocket(scene.server)
      const greeted = raw.received.length
      raw.ws.send(encodeSyncUpdate(x.updates[0]!))
      await waitFor(
        'sync step 1 in answer to the unknown delete',
        () => raw.received.slice(greeted).some((m) => m[0] === 0 && m[1] === 0),
        30_000,
      )
      const room = scene.server.rooms.get(PAD)!
      assert.equal(room.doc.store.pendingDs, null)
      assert.equal(room.doc.store.pendingStructs, null)
      assert.equal(raw.closed, null)
      assertPadUnchanged(scene)
      raw.ws.close()
      await assertHonestStillWork(scene, 'pending delete')
    })
  })
})

describe('updates Yjs throws on must not hurt anyone else', () => {
  /**
   * Sends `frame` and expects: the sender closed with 1007, the honest clients never disconnected,
   * `marker` nowhere, the pad unchanged, and everyone still editing.
   */
  async function onlySenderClosed(scene: Scene, frame: Uint8Array, marker: string): Promise<void> {
    const closes: number[] = []
    for (const c of [scene.a, scene.b]) {
      c.provider.on('connection-close', (event) => {
        closes.push(event?.code ?? 0)
      })
    }
    const raw = await hostileSocket(scene.server)
    raw.ws.send(frame)
    await waitFor('socket closed', () => raw.closed !== null, 5000).catch(() => {})
    // Give a kicked honest client time to notice.
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.deepEqual(closes, [], 'honest clients were disconnected by one hostile frame')
    assert.notEqual(raw.closed, null, 'the frame was accepted')
    assert.equal(raw.closed!.code, 1007, `closed with ${raw.closed!.code} "${raw.closed!.reason}"`)
    assertPadUnchanged(scene)
    assert.equal(storeContains(scene.server, marker), false)
    await assertHonestStillWork(scene, 'the throw')
    for (const c of [scene.a, scene.b]) assert.doesNotMatch(c.text.toString(), new RegExp(marker))
  }

  test('an update that makes Yjs throw mid-apply closes only its sender', async () => {
    await withScene(async (scene) => {
      // Client 777015 types "PWNED-MARKER" (integrated first: the higher client id), then client
      // 777014's item names its own future clock as origin, which throws inside Y.applyUpdate.
      const frame = updateFrame((e) => {
        encoding.writeVarUint(e, 2)
        for (const v of [1, 777_015, 0]) encoding.writeVarUint(e, v)
        encoding.writeUint8(e, 4)
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'notes')
        encoding.writeVarString(e, 'PWNED-MARKER')
        for (const v of [1, 777_014, 0]) encoding.writeVarUint(e, v)
        encoding.writeUint8(e, 4 | 0x80)
        encoding.writeVarUint(e, 777_014)
        encoding.writeVarUint(e, 3)
        encoding.writeVarString(e, 'x')
        encoding.writeVarUint(e, 0)
      })
      await onlySenderClosed(scene, frame, 'PWNED-MARKER')
    })
  })

  test('an embed nested 10,000 deep (Yjs cannot re-encode it) closes only its sender', async () => {
    await withScene(async (scene) => {
      // 20 KB of brackets: JSON.parse takes them, JSON.stringify overflows the stack, so Yjs throws
      // while encoding the update event, after integrating the embed.
      const deep = '['.repeat(10_000) + ']'.repeat(10_000)
      const frame = updateFrame((e) => {
        for (const v of [1, 2, 777_016, 0]) encoding.writeVarUint(e, v)
        encoding.writeUint8(e, 4)
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'notes')
        encoding.writeVarString(e, 'EMBED-MARKER')
        encoding.writeUint8(e, 5 | 0x80)
        encoding.writeVarUint(e, 777_016)
        encoding.writeVarUint(e, 11)
        encoding.writeVarString(e, deep)
        encoding.writeVarUint(e, 0)
      })
      await onlySenderClosed(scene, frame, 'EMBED-MARKER')
    })
  })
})

describe('the log stays quiet under a flood', () => {
  test('one warn line per refused socket, none per ignored frame', async () => {
    await withScene(async (scene) => {
      const before = warnLines(scene.server).length
      const sockets: RawSocket[] = []
      for (let s = 0; s < 10; s++) {
        const raw = await hostileSocket(scene.server)
        // 50 bad frames in a burst: the first closes the socket, the other 49 must be ignored silently.
        for (let i = 0; i < 50; i++) raw.ws.send(new Uint8Array([9, i]))
        sockets.push(raw)
      }
      for (const raw of sockets) await closedWith(raw, 1002, 'a burst of unknown types')
      const lines = warnLines(scene.server).slice(before)
      assert.equal(lines.length, 10, `${lines.length} warn lines for 10 refused sockets`)
      assertPadUnchanged(scene)
      await assertHonestStillWork(scene, 'flood')
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Budgets (issue 30): every request costs in proportion to what it brings. Each case compares the
// hostile shape with a plain request of the same size (a ratio, never a time).

/** A stored pad holding `text`, created the way an import would (one log row). */
async function storedPad(
  server: TestServer,
  title: string,
  text: string,
  event: string | null = null,
): Promise<string> {
  const doc = new Y.Doc()
  doc.getText('notes').insert(0, text)
  const pad = await server.meetings.createPad({ title, kind: 'meeting', event }, Y.encodeStateAsUpdate(doc))
  doc.destroy()
  server.search.markDirty(pad.id)
  return pad.id
}

async function createEvent(server: TestServer, slug: string): Promise<void> {
  await server.meetings.createEvent({
    slug,
    name: slug,
    startsOn: null,
    endsOn: null,
    timezone: 'UTC',
    description: null,
  })
}

/** `count` paragraphs of `size` characters, about `bytes` in all. */
function paragraphs(bytes: number, size: number): string {
  const words = 'kernel scheduler cgroup memory io_uring tracing'.split(' ')
  const out: string[] = []
  let total = 0
  for (let i = 0; total < bytes; i++) {
    let p = ''
    while (p.length < size) p += `${words[(i + p.length) % words.length]} `
    p = p.slice(0, size).trimEnd() || 'x'
    out.push(p)
    total += p.length + 2
  }
  return out.join('\n\n')
}

/** Wall time of `run`, and the longest the event loop was blocked meanwhile (ms). */
async function measured(run: () => Promise<void>): Promise<{ ms: number; stallMs: number }> {
  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  const started = performance.now()
  await run()
  const ms = performance.now() - started
  loop.disable()
  return { ms, stallMs: loop.max / 1e6 }
}

async function ok200(server: TestServer, url: string): Promise<Uint8Array> {
  const reply = await apiCall(server, 'GET', url)
  assert.equal(reply.status, 200, `${url}: ${reply.status} ${reply.text.slice(0, 300)}`)
  return reply.bytes
}

describe('budgets: exports and diffs', () => {
  test('no array is spread into a call’s arguments in server/, shared/ or client/', () => {
    // `f(...xs)` puts every element on the stack: past ~65k it throws (see shared/arrays.ts).
    const found: string[] = []
    for (const dir of ['server', 'shared', 'client']) {
      for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
        if (!name.endsWith('.ts')) continue
        const file = path.join(dir, name)
        const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
        const visit = (node: ts.Node): void => {
          if (
            ts.isSpreadElement(node) &&
            (ts.isCallExpression(node.parent) || ts.isNewExpression(node.parent))
          ) {
            const { line } = source.getLineAndCharacterOfPosition(node.getStart())
            found.push(`${file}:${line + 1}: ${node.parent.getText().slice(0, 80)}`)
          }
          ts.forEachChild(node, visit)
        }
        visit(source)
      }
    }
    assert.deepEqual(found, [], 'use pushAll / maxOf from shared/arrays.ts, or a loop')
  })

  test('a 300 KB pad of 100,000 short paragraphs: txt export and the event zip answer, in linear time', async () => {
    // Before: `out.push(...lines)` overflowed the stack and both answered 500. markdown-it costs
    // ~20 µs a paragraph, so the reference is the same shape a quarter the size, four times.
    const server = await startTestServer()
    try {
      await createEvent(server, 'paras')
      const many = await storedPad(server, 'Many', paragraphs(300_000, 1), 'paras')
      const quarter = await storedPad(server, 'Quarter', paragraphs(75_000, 1))
      const plain = await storedPad(server, 'Plain', paragraphs(300_000, 600))
      // Warm up the renderer, so neither side pays for compiling it.
      await ok200(server, `/api/pads/${quarter}/export?format=txt`)
      const hostile = await measured(async () => {
        const txt = new TextDecoder().decode(await ok200(server, `/api/pads/${many}/export?format=txt`))
        assert.ok(txt.split('\n').length > 100_000, 'every paragraph is in the txt export')
      })
      const reference = await measured(async () => {
        for (let i = 0; i < 4; i++) await ok200(server, `/api/pads/${quarter}/export?format=txt`)
      })
      const prose = await measured(
        async () => void (await ok200(server, `/api/pads/${plain}/export?format=txt`)),
      )
      const zip = await apiCall(server, 'GET', '/api/events/paras/export')
      assert.equal(zip.status, 200, zip.text.slice(0, 300))
      console.log(
        `BUDGET txt 100k paragraphs=${hostile.ms.toFixed(0)}ms 4x25k=${reference.ms.toFixed(0)}ms prose of 300 KB=${prose.ms.toFixed(0)}ms`,
      )
      assert.ok(
        hostile.ms <= 3 * reference.ms + 500,
        `100,000 paragraphs took ${hostile.ms.toFixed(0)} ms, four times 25,000 ${reference.ms.toFixed(0)} ms`,
      )
    } finally {
      await server.close()
    }
  })

  test('the event zip is made one pad at a time: four big pads block others no longer than one', async () => {
    const server = await startTestServer()
    try {
      await createEvent(server, 'one')
      await createEvent(server, 'four')
      const text = paragraphs(1_000_000, 300)
      await storedPad(server, 'Only', text, 'one')
      for (let i = 0; i < 4; i++) await storedPad(server, `Big ${i}`, text, 'four')
      await ok200(server, '/api/events/one/export')
      // The reference holds the same work and garbage: four zips of one pad each, one after another.
      // A zip made all at once (the old zipSync) blocks for all four pads; one made a pad at a time
      // blocks no longer than a one-pad zip (a major GC of either is in both figures).
      const one = await measured(async () => {
        for (let i = 0; i < 4; i++) await ok200(server, '/api/events/one/export')
      })
      const four = await measured(async () => {
        const zip = await ok200(server, '/api/events/four/export')
        // Every file is there: four pads × 3, index.html, minutes.md, minutes.txt.
        const { unzipSync } = await import('fflate')
        assert.equal(Object.keys(unzipSync(zip)).length, 15)
      })
      console.log(`BUDGET zip stall one=${one.stallMs.toFixed(0)}ms four=${four.stallMs.toFixed(0)}ms`)
      assert.ok(
        four.stallMs <= 2 * one.stallMs + 50,
        `the zip of four pads blocked the server ${four.stallMs.toFixed(0)} ms at once, of one pad ${one.stallMs.toFixed(0)} ms`,
      )
    } finally {
      await server.close()
    }
  })

  test('a diff of more than 65,000 changed lines answers', async () => {
    const server = await startTestServer()
    try {
      const lines = (tag: string) => Array.from({ length: 70_000 }, (_, i) => `${tag}${i}`).join('\n')
      const id = await storedPad(server, 'Long', lines('a'))
      const room = await server.rooms.open(id)
      const ytext = room.doc.getText('notes')
      room.doc.transact(() => {
        ytext.delete(0, ytext.length)
        ytext.insert(0, lines('b'))
      }, SERVER_ORIGIN)
      await server.rooms.flush()
      const diff = JSON.parse(
        new TextDecoder().decode(await ok200(server, `/api/pads/${id}/diff?from=1&to=2`)),
      )
      // It answers (the spread overflowed the stack: 500), with a bounded summary of the change.
      assert.equal(diff.added, 70_000)
      assert.equal(diff.removed, 70_000)
      assert.equal(diff.truncated, true)
      assert.ok(diff.lines.length <= 2_000, `${diff.lines.length} lines`)
    } finally {
      await server.close()
    }
  })
})

describe('budgets: search', () => {
  test('a one-letter query matching everywhere in a 2 MiB pad costs within 5× one match in a pad that size', async () => {
    const server = await startTestServer()
    try {
      await createEvent(server, 'dense')
      await createEvent(server, 'sparse')
      const dense = 'm '.repeat(1024 * 1024)
      const sparse = `${'lorem '.repeat(170_000)}zebra ${'ipsum '.repeat(170_000)}`
      await storedPad(server, 'Dense', dense, 'dense')
      await storedPad(server, 'Sparse', sparse, 'sparse')
      const hits = async (q: string, event: string) => {
        const reply = await apiCall(server, 'GET', `/api/search?q=${q}&event=${event}`)
        assert.equal(reply.status, 200, reply.text.slice(0, 300))
        return (reply.json as { hits: { snippet: string }[] }).hits
      }
      await hits('zebra', 'sparse') // indexes both pads
      const plain = await measured(async () => {
        for (let i = 0; i < 3; i++)
          assert.match((await hits('zebra', 'sparse'))[0]!.snippet, /<mark>zebra<\/mark>/)
      })
      const hostile = await measured(async () => {
        for (let i = 0; i < 3; i++) {
          const [hit] = await hits('m', 'dense')
          assert.ok(hit && hit.snippet.length < 1000, 'a short snippet')
          assert.match(hit.snippet, /^<mark>m<\/mark> <mark>m<\/mark>/)
        }
      })
      console.log(`BUDGET search dense=${hostile.ms.toFixed(0)}ms sparse=${plain.ms.toFixed(0)}ms`)
      assert.ok(
        hostile.ms <= 5 * plain.ms + 100,
        `"m" in a pad full of it: ${hostile.ms.toFixed(0)} ms; one "zebra" in a pad that size: ${plain.ms.toFixed(0)} ms`,
      )
    } finally {
      await server.close()
    }
  })
})

describe('budgets: snapshots', () => {
  /** Bytes of `pad`'s log rows and of its snapshots, as stored. */
  function storedBytes(server: TestServer, pad: string): { log: number; snapshots: number; count: number } {
    const one = (sql: string) => (server.db.prepare(sql).get(pad) as { n: number | null }).n ?? 0
    return {
      log: one('SELECT sum(length(u.data)) AS n FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = ?'),
      snapshots: one(
        'SELECT sum(length(s.data)) AS n FROM snapshots s JOIN pads p ON p.pk = s.pad WHERE p.id = ?',
      ),
      count: one('SELECT count(*) AS n FROM snapshots s JOIN pads p ON p.pk = s.pad WHERE p.id = ?'),
    }
  }

  test('connect, type a character, leave, ten times on a 2 MiB pad: no snapshot per leave', async () => {
    const server = await startTestServer()
    try {
      const id = await storedPad(server, 'Big', paragraphs(2 * 1024 * 1024, 300))
      const visit = async (i: number) => {
        const c = connectClient(server.wsUrl, id, { name: `V${i}` })
        await c.synced()
        c.text.insert(0, 'x')
        const rows = server.store.lastSeq(id)
        await waitFor('the keystroke stored', () => server.store.lastSeq(id) > rows)
        c.destroy()
        await waitFor('the pad unloaded', () => server.rooms.get(id) === undefined)
      }
      await visit(0) // the first leave may snapshot the imported pad: everything since is its log
      const before = storedBytes(server, id)
      for (let i = 1; i <= 10; i++) await visit(i)
      const after = storedBytes(server, id)
      const logged = after.log - before.log
      const snapshotted = after.snapshots - before.snapshots
      console.log(`BUDGET leaves logged=${logged}B snapshots+=${snapshotted}B (${after.count} kept)`)
      assert.ok(
        snapshotted <= 5 * logged,
        `ten one-character visits logged ${logged} bytes and added ${snapshotted} bytes of snapshots`,
      )
      assert.equal(
        (await server.minutes.text(id))!.slice(0, 10),
        'xxxxxxxxxx',
        'every visit’s character is there',
      )
    } finally {
      await server.close()
    }
  })

  test('five typists: snapshots stay within 5× the log, and every revision still opens', async () => {
    const server = await startTestServer({ snapshotEvery: 20 })
    try {
      const id = 'lpc-2026-five-typists'
      const clients = Array.from({ length: 5 }, (_, i) => connectClient(server.wsUrl, id, { name: `T${i}` }))
      await Promise.all(clients.map((c) => c.synced()))
      const seen = new Map<number, string>()
      for (let round = 0; round < 120; round++) {
        for (const [i, c] of clients.entries())
          c.text.insert(c.text.length, round % 12 === 11 ? '\n' : `${i}`)
        await waitFor('the round stored', () => server.store.lastSeq(id) >= (round + 1) * 5, 10_000)
        if (round % 30 === 29) {
          // On the server's text: each client's own newline alone makes five equal texts.
          const serverText = () => server.rooms.get(id)!.doc.getText('notes').toString()
          await waitFor('clients converge', () => clients.every((c) => c.text.toString() === serverText()))
          seen.set(server.store.lastSeq(id), clients[0]!.text.toString())
        }
      }
      const bytes = storedBytes(server, id)
      console.log(`BUDGET five typists log=${bytes.log}B snapshots=${bytes.snapshots}B (${bytes.count} kept)`)
      assert.ok(
        bytes.snapshots <= 5 * bytes.log,
        `${bytes.snapshots} bytes of snapshots for ${bytes.log} of log`,
      )
      for (const [seq, text] of seen) {
        const rev = await apiCall(server, 'GET', `/api/pads/${id}/revisions/${seq}`)
        assert.equal((rev.json as { text: string }).text, text, `revision ${seq}`)
      }
      for (const c of clients) c.destroy()
    } finally {
      await server.close()
    }
  })
})

describe('budgets: event-wide views and new pads', () => {
  test('the outcomes roll-up of 200 pads is read again only for the pad that changed', async () => {
    const server = await startTestServer()
    try {
      await createEvent(server, 'many')
      const ids: string[] = []
      for (let i = 0; i < 200; i++)
        ids.push(
          await storedPad(
            server,
            `S${i}`,
            `${paragraphs(20_000, 200)}\nACTION(ana): item ${i}\nDECISION: d${i}\n`,
            'many',
          ),
        )
      const view = async () => {
        const reply = await apiCall(server, 'GET', '/api/events/many/outcomes')
        assert.equal(reply.status, 200, reply.text.slice(0, 300))
        return reply.json as { actionsByOwner: { items: { text: string }[] }[]; decisions: unknown[] }
      }
      const cold = await measured(async () => void (await view()))
      const warm = await measured(async () => {
        for (let i = 0; i < 3; i++) assert.equal((await view()).decisions.length, 200)
      })
      console.log(`BUDGET rollup cold=${cold.ms.toFixed(0)}ms warm(3 views)=${warm.ms.toFixed(0)}ms`)
      assert.ok(
        warm.ms <= cold.ms,
        `three repeated views took ${warm.ms.toFixed(0)} ms, the first ${cold.ms.toFixed(0)} ms`,
      )
      const room = await server.rooms.open(ids[7]!)
      room.doc.transact(() => room.doc.getText('notes').insert(0, 'ACTION(bo): a new one\n'), SERVER_ORIGIN)
      const items = (await view()).actionsByOwner.flatMap((g) => g.items.map((it) => it.text))
      assert.ok(items.includes('a new one'), 'the edit is in the next view')
    } finally {
      await server.close()
    }
  })

  test('pads made over HTTP share the per-address new-pad limit (429 naming it)', async () => {
    const server = await startTestServer({ maxNewPadsPerIpPerMinute: 5 })
    try {
      await createEvent(server, 'kr-2026')
      const statuses: number[] = []
      for (let i = 0; i < 5; i++)
        statuses.push(
          (await apiCall(server, 'POST', '/api/events/kr-2026/pads', { title: `P${i}`, kind: 'meeting' }))
            .status,
        )
      assert.deepEqual(statuses, [201, 201, 201, 201, 201])
      const refused = await apiCall(server, 'POST', '/api/events/kr-2026/pads', {
        title: 'one too many',
        kind: 'meeting',
      })
      assert.equal(refused.status, 429)
      assert.match((refused.json as { error: { message: string } }).error.message, /too many new pads/)
      const doc = new Y.Doc()
      doc.getText('notes').insert(0, 'imported')
      const imported = await apiCall(
        server,
        'POST',
        '/api/pads/import?title=Imported',
        Y.encodeStateAsUpdate(doc),
        'application/octet-stream',
      )
      assert.equal(imported.status, 429, 'the import door counts too')
      assert.equal((await server.meetings.pads({ event: 'kr-2026' })).length, 5)
    } finally {
      await server.close()
    }
  })
})

describe('budgets: answers and readers that do not read', () => {
  const ADMIN = 'organiser-token-0123456789'

  /** A pad of `n` separate paragraphs typed at the top (one struct each: costly to encode). */
  function manyStructs(n: number): Uint8Array {
    const doc = new Y.Doc()
    const notes = doc.getText('notes')
    for (let i = 0; i < n; i++) notes.insert(0, `${paragraphs(90, 90)} ${i}\n`)
    const update = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    return update
  }

  /**
   * CPU time of the process, and the most ArrayBuffer bytes it held above the start (answers
   * waiting in a socket's queue are ArrayBuffers), while `run` runs.
   */
  async function spent(run: () => Promise<void>): Promise<{ cpuMs: number; peakBytes: number }> {
    const base = process.memoryUsage().arrayBuffers
    let peakBytes = 0
    const sample = () => {
      peakBytes = Math.max(peakBytes, process.memoryUsage().arrayBuffers - base)
    }
    const timer = setInterval(sample, 2)
    const cpu = process.cpuUsage()
    try {
      await run()
    } finally {
      clearInterval(timer)
      sample()
    }
    const used = process.cpuUsage(cpu)
    return { cpuMs: (used.user + used.system) / 1000, peakBytes }
  }

  test('40 step 1s from a read link on a big pad, never read: one answer encoded and held, the socket closed', async () => {
    const server = await startTestServer({ stalledReaderCloseMs: 2000 }, { adminToken: ADMIN })
    const bearer = { authorization: `Bearer ${ADMIN}` }
    try {
      await createEvent(server, 'big')
      const links = okJson<{ read: string }>(
        await apiCall(server, 'GET', '/api/events/big/links', undefined, 'application/json', bearer),
      )
      const read = new URL(links.read).searchParams.get('token')!
      const update = manyStructs(10_000)
      const padOf = async (title: string) =>
        (await server.meetings.createPad({ title, kind: 'meeting', event: 'big' }, update)).id
      const plainPad = await padOf('Plain')
      const bigPad = await padOf('Big')
      // Someone typing on another pad, whose keystrokes must keep arriving.
      const other = 'lpc-2026-other'
      const a = connectClient(server.wsUrl, other, { name: 'Ada', params: { token: ADMIN } })
      const b = connectClient(server.wsUrl, other, { name: 'Linus', params: { token: ADMIN } })
      await Promise.all([a.synced(), b.synced()])
      const ask = encodeSyncStep1(new Uint8Array([0]))
      /** A raw socket on `pad` with the read link that reads nothing after the greeting. */
      const deaf = async (pad: string) => {
        const raw = await rawSocket(server.wsUrl, pad, { query: `token=${read}` })
        await waitFor('greeting', () => raw.received.length > 0, 30_000)
        ;(raw.ws as unknown as { _socket: { pause(): void } })._socket.pause()
        return raw
      }
      // The plain client: one step 1 (what every reader sends when it opens the pad).
      const plainRaw = await deaf(plainPad)
      const plain = await spent(async () => {
        plainRaw.ws.send(ask)
        await sleep(1000)
      })
      const hostileRaw = await deaf(bigPad)
      const hostile = await spent(async () => {
        for (let i = 0; i < 40; i++) hostileRaw.ws.send(ask)
        await sleep(1000)
      })
      // Typing on the other pad still arrives.
      a.text.insert(0, 'still typing\n')
      await waitFor('the other pad converges', () => b.text.toString().includes('still typing'), 30_000)
      const mib = (n: number) => (n / 1024 / 1024).toFixed(1)
      console.log(
        `BUDGET 40 step 1s: ${hostile.cpuMs.toFixed(0)} ms CPU, ${mib(hostile.peakBytes)} MiB held; one step 1: ${plain.cpuMs.toFixed(0)} ms, ${mib(plain.peakBytes)} MiB; the pad ${mib(update.byteLength)} MiB`,
      )
      // Bytes held are sampled ArrayBuffer totals, which a collection in the window lowers and
      // other buffers raise: one step 1 on this 1 MiB pad measured from 0.5 to 6.7 MiB. So one
      // answer is the larger of that figure and a few pads; without the shared answer, 40 step 1s
      // held 9.2 MiB on a quiet machine (not 40 answers: the socket stops being read once 1 MiB
      // waits unsent), which this bound catches whenever the single step 1 measured low.
      const oneAnswer = Math.max(plain.peakBytes, (5 / 3) * update.byteLength)
      assert.ok(
        hostile.peakBytes <= 3 * oneAnswer + 1024 * 1024,
        `40 step 1s held ${mib(hostile.peakBytes)} MiB, one ${mib(plain.peakBytes)} MiB (the pad: ${mib(update.byteLength)} MiB)`,
      )
      assert.ok(
        hostile.cpuMs <= 3 * plain.cpuMs + 50,
        `40 step 1s cost ${hostile.cpuMs.toFixed(0)} ms of CPU, one ${plain.cpuMs.toFixed(0)} ms`,
      )
      // It never reads: it is dropped once its unsent bytes have not shrunk for stalledReaderCloseMs.
      await waitFor('the deaf reader dropped', () => (server.rooms.get(bigPad)?.peerCount ?? 0) === 0, 30_000)
      const dropped = server.logLines.filter((l) => l.msg === 'closing a client that reads too slowly')
      assert.ok(dropped.length >= 1, 'dropped as a slow reader (4001)')
      a.destroy()
      b.destroy()
      plainRaw.ws.terminate()
      hostileRaw.ws.terminate()
    } finally {
      await server.close()
    }
  })
})

describe('budgets: presence in a crowd', () => {
  // Every stock client in node adds a process 'exit' listener; hundreds are expected here.
  process.setMaxListeners(1100)

  /**
   * The shipped rate (300 messages a second), with a burst of one second and a close after 3 s
   * over it instead of 5 s and 10 s: what would close an honest client closes it within the
   * test's 12 s.
   */
  const SHORT_FLOOD_WINDOW = { messageBurst: 300, throttleCloseMs: 3000 }

  /** Stock clients on `pad`, each recording the close codes its connections got. */
  function crowd(server: TestServer, pad: string, n: number): { clients: Client[]; closes: number[] } {
    const closes: number[] = []
    const clients = Array.from({ length: n }, (_, i) => {
      const c = connectClient(server.wsUrl, pad, { name: `Person ${i}` })
      c.provider.on('connection-close', (event) => closes.push(event?.code ?? 0))
      return c
    })
    return { clients, closes }
  }

  /** A cursor as y-codemirror sets it (relative positions are opaque here: any JSON object). */
  const cursorAt = (i: number) => ({
    anchor: { tname: 'notes', item: null, assoc: i },
    head: { tname: 'notes', item: null, assoc: 0 },
  })

  const awarenessFrame = (clientId: number, clock: number, state: string) =>
    encodeAwareness(encodeAwarenessUpdate([{ clientId, clock, state }]))

  test('300 stock clients moving cursors in one room (360 moves a second) are never closed', async () => {
    const server = await startTestServer(SHORT_FLOOD_WINDOW)
    const pad = 'lpc-2026-keynote'
    const { clients, closes } = crowd(server, pad, 300)
    try {
      await waitFor('all 300 synced', () => clients.every((c) => c.provider.synced), 200_000)
      // 36 people move their cursor every 100 ms, each in turn: 360 moves a second, for 12 s.
      const deadline = Date.now() + 60_000
      for (let round = 0; round < 120 && Date.now() < deadline; round++) {
        for (let k = 0; k < 36; k++) {
          const who = (round * 36 + k) % clients.length
          clients[who]!.provider.awareness.setLocalStateField('cursor', cursorAt(round))
        }
        await sleep(100)
      }
      // The last move reaches the others: presence still flows.
      const mover = clients[0]!
      mover.provider.awareness.setLocalStateField('cursor', cursorAt(999_999))
      const seen = (c: Client) =>
        (c.provider.awareness.getStates().get(mover.doc.clientID) as { cursor?: unknown } | undefined)?.cursor
      await waitFor(
        'the last move is seen',
        () => JSON.stringify(seen(clients[299]!)).includes('999999'),
        60_000,
      )
      assert.deepEqual(closes, [], `closed: ${closes.join(', ')}`)
    } finally {
      for (const c of clients) c.destroy()
      await server.close()
    }
  })

  test('two sockets changing their presence 250 times a second close no stock client', async () => {
    const server = await startTestServer(SHORT_FLOOD_WINDOW)
    const pad = 'lpc-2026-presence-storm'
    const { clients, closes } = crowd(server, pad, 6)
    const storm = await Promise.all([rawSocket(server.wsUrl, pad), rawSocket(server.wsUrl, pad)])
    try {
      await waitFor('all synced', () => clients.every((c) => c.provider.synced), 60_000)
      // Each stock client hears 500 changes a second; counted against it, its echoes would keep
      // it over its rate until it is closed (within 5 s with this burst and close delay). The
      // storm keeps to 250 a second each by the clock, catching up after a slow turn.
      const STORM_MS = 12_000
      const started = Date.now()
      let sent = 0
      while (Date.now() - started < STORM_MS && sent < (STORM_MS / 1000) * 250) {
        const due = Math.floor(((Date.now() - started) / 1000) * 250)
        for (; sent < due; sent++) {
          for (const [i, raw] of storm.entries()) {
            const state = JSON.stringify({
              user: { name: `storm ${i}`, color: '#aa0000' },
              cursor: cursorAt(sent),
            })
            raw.ws.send(awarenessFrame(900_000 + i, sent + 1, state))
          }
        }
        await sleep(10)
      }
      // Everyone still types and converges.
      clients[0]!.text.insert(0, 'after the storm\n')
      await waitFor(
        'everyone has the line',
        () => clients.every((c) => c.text.toString() === 'after the storm\n'),
        60_000,
      )
      assert.deepEqual(closes, [], `stock clients closed: ${closes.join(', ')}`)
    } finally {
      for (const raw of storm) raw.ws.terminate()
      for (const c of clients) c.destroy()
      await server.close()
    }
  })
})

describe('budgets: what a pad costs, at every door', () => {
  /** 210,000 one-character items typed at the top, then all deleted: an empty text of 2 MB. */
  function tombstones(): Uint8Array {
    const doc = new Y.Doc()
    const notes = doc.getText('notes')
    doc.transact(() => {
      for (let i = 0; i < 210_000; i++) notes.insert(0, 'x')
    })
    doc.transact(() => notes.delete(0, notes.length))
    const update = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    return update
  }

  /** CPU time of the process while `run` runs. */
  async function cpuOf(run: () => Promise<void>): Promise<number> {
    const start = process.cpuUsage()
    await run()
    const used = process.cpuUsage(start)
    return (used.user + used.system) / 1000
  }

  test('210,000 items inserted and deleted: refused before the apply at the socket (4413) and the import (413), at the cost of a plain update', async () => {
    const server = await startTestServer()
    try {
      const hostile = tombstones()
      // The same size of ordinary text: one item.
      const plainDoc = new Y.Doc()
      plainDoc.getText('notes').insert(0, paragraphs(hostile.byteLength - 40, 300))
      const plain = Y.encodeStateAsUpdate(plainDoc)
      plainDoc.destroy()
      const plainRaw = await rawSocket(server.wsUrl, 'lpc-2026-plain')
      const plainMs = await cpuOf(async () => {
        plainRaw.ws.send(encodeSyncUpdate(plain))
        await waitFor('the plain update stored', () => server.store.lastSeq('lpc-2026-plain') > 0, 30_000)
      })
      const raw = await rawSocket(server.wsUrl, 'lpc-2026-tombstones')
      const hostileMs = await cpuOf(async () => {
        raw.ws.send(encodeSyncUpdate(hostile))
        await waitFor('the socket closed', () => raw.closed !== null, 60_000)
      })
      console.log(
        `BUDGET tombstones refused in ${hostileMs.toFixed(0)} ms CPU, plain update ${plainMs.toFixed(0)} ms`,
      )
      assert.equal(raw.closed?.code, CLOSE_PAD_FULL, raw.closed?.reason)
      assert.match(raw.closed!.reason, /MAX_PAD_ITEMS/)
      assert.equal(server.store.exists('lpc-2026-tombstones'), false, 'nothing stored')
      assert.ok(
        hostileMs <= 3 * plainMs + 100,
        `refusing cost ${hostileMs.toFixed(0)} ms, a plain update ${plainMs.toFixed(0)} ms`,
      )
      // The import door: the same limit, named, and no pad.
      const pads = (await server.meetings.pads({ unfiled: true })).length
      const imported = await apiCall(
        server,
        'POST',
        '/api/pads/import?title=Tombstones',
        hostile,
        'application/octet-stream',
      )
      assert.equal(imported.status, 413, imported.text)
      assert.match((imported.json as { error: { message: string } }).error.message, /MAX_PAD_ITEMS/)
      assert.equal((await server.meetings.pads({ unfiled: true })).length, pads)
      plainRaw.ws.terminate()
    } finally {
      await server.close()
    }
  })

  test('a restore goes through the room’s checks: one that would pass the size limit is refused with 413, the pad unchanged', async () => {
    const maxPadBytes = 64 * 1024
    const server = await startTestServer({ maxPadBytes, maxFrameBytes: maxPadBytes + 1024 * 1024 })
    try {
      const id = await storedPad(server, 'Restore', paragraphs(40_000, 300))
      const room = await server.rooms.open(id)
      const notes = room.doc.getText('notes')
      room.doc.transact(() => {
        notes.delete(0, notes.length)
        notes.insert(0, paragraphs(40_000, 200))
      }, SERVER_ORIGIN)
      await server.rooms.flush()
      const before = notes.toString()
      // Before: the restore edited the doc directly, and the pad passed its limit (about 80 KB).
      const refused = await apiCall(server, 'POST', `/api/pads/${id}/restore`, { seq: 1 })
      assert.equal(refused.status, 413, refused.text.slice(0, 200))
      assert.match((refused.json as { error: { message: string } }).error.message, /pad is full/)
      assert.equal(server.rooms.get(id)!.doc.getText('notes').toString(), before)
      assert.equal(await server.minutes.text(id), before)
    } finally {
      await server.close()
    }
  })

  test('history reads of a pad stored before the item budget (450,000 deleted items) answer 413 at once', async () => {
    const server = await startTestServer()
    try {
      // Items typed one before the other and deleted, written by hand: each names the one before
      // as its right neighbour, so that none merges.
      const N = 450_000
      const e = encoding.createEncoder()
      for (const v of [1, N, 7, 0]) encoding.writeVarUint(e, v)
      encoding.writeUint8(e, 1) // ContentDeleted, parent named
      encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, 'notes')
      encoding.writeVarUint(e, 1)
      for (let clock = 1; clock < N; clock++) {
        encoding.writeUint8(e, 0b0100_0001) // right origin, ContentDeleted
        encoding.writeVarUint(e, 7)
        encoding.writeVarUint(e, clock - 1)
        encoding.writeVarUint(e, 1)
      }
      encoding.writeVarUint(e, 0)
      const old = encoding.toUint8Array(e)
      const id = 'lpc-2026-stored-before'
      server.store.append([{ padId: id, at: Date.now(), conn: 'server', author: null, data: old }])
      const plain = await storedPad(server, 'Plain', paragraphs(old.byteLength, 300))
      const reads = (pad: string) => [
        `/api/pads/${pad}/export?format=md`,
        `/api/pads/${pad}/revisions/1`,
        `/api/pads/${pad}/diff?from=1&to=1`,
      ]
      let plainMs = 0
      for (const url of reads(plain)) plainMs += await cpuOf(async () => void (await ok200(server, url)))
      let hostileMs = 0
      for (const url of reads(id)) {
        hostileMs += await cpuOf(async () => {
          const reply = await apiCall(server, 'GET', url)
          assert.equal(reply.status, 413, `${url}: ${reply.text.slice(0, 200)}`)
          assert.match((reply.json as { error: { message: string } }).error.message, /MAX_READ_ITEMS/)
        })
      }
      console.log(
        `BUDGET reads of 450,000 items refused in ${hostileMs.toFixed(0)} ms CPU, plain ${plainMs.toFixed(0)} ms`,
      )
      assert.ok(
        hostileMs <= 3 * plainMs + 100,
        `refusing cost ${hostileMs.toFixed(0)} ms, plain reads ${plainMs.toFixed(0)} ms`,
      )
    } finally {
      await server.close()
    }
  })
})

describe('budgets: a pad at its size limit', () => {
  test('an edit on a pad at its size limit costs within 5× one on a small pad (no whole-pad measure per edit)', async () => {
    // 20,000 lines typed at the top: a pad whose every measure is a real encode.
    const doc = new Y.Doc()
    const notes = doc.getText('notes')
    for (let i = 0; i < 20_000; i++) notes.insert(0, `line ${i} of the minutes\n`)
    const full = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    // The limit 100 bytes above the pad: a few edits fit, then every one is at the limit.
    const server = await startTestServer({ maxPadBytes: full.byteLength + 100 })
    try {
      const nearId = (await server.meetings.createPad({ title: 'Full', kind: 'meeting', event: null }, full))
        .id
      const smallId = await storedPad(server, 'Small', 'Agenda\n')
      /** One keystroke at the top of the pad by a writer of its own (each stands alone). */
      const keystroke = (room: Room, client: number): Uint8Array => {
        const first = (room.doc.getText('notes') as unknown as { _start: { id: Y.ID } })._start.id
        const e = encoding.createEncoder()
        for (const v of [1, 1, client, 0]) encoding.writeVarUint(e, v)
        encoding.writeUint8(e, 0b0100_0100) // right origin, ContentString
        encoding.writeVarUint(e, first.client)
        encoding.writeVarUint(e, first.clock)
        encoding.writeVarString(e, 'x')
        encoding.writeVarUint(e, 0)
        return encoding.toUint8Array(e)
      }
      /** CPU per edit of 200 edits on `id` (accepted or refused as full). */
      const perEdit = async (id: string, base: number): Promise<number> => {
        const room = await server.rooms.open(id)
        const edits = Array.from({ length: 200 }, (_, i) => keystroke(room, base + i))
        const start = process.cpuUsage()
        for (const edit of edits) {
          await room.receiveUpdate(SERVER_ORIGIN, edit)
          await server.rooms.flush()
        }
        const used = process.cpuUsage(start)
        return (used.user + used.system) / 1000 / edits.length
      }
      const small = await perEdit(smallId, 1_000_000)
      const near = await perEdit(nearId, 2_000_000)
      console.log(`BUDGET per edit: at the limit ${near.toFixed(2)} ms, small pad ${small.toFixed(2)} ms`)
      assert.ok(
        near <= 5 * small + 0.5,
        `an edit at the limit cost ${near.toFixed(2)} ms, on a small pad ${small.toFixed(2)} ms`,
      )
      // The limit still holds, within REMEASURE_BYTES.
      const size = encodeState(server.rooms.get(nearId)!.doc).byteLength
      assert.ok(size <= full.byteLength + 100 + REMEASURE_BYTES, `${size} bytes`)
    } finally {
      await server.close()
    }
  })
})

describe('clocks and lengths near 2^53 are refused whole', () => {
  test('an update reaching past MAX_CLOCK closes its socket with 1007; nothing of it is stored or seen', async () => {
    await withScene(async (scene) => {
      const deleteFar = (() => {
        const e = encoding.createEncoder()
        for (const v of [0, 1, 777_020, 1, 2 ** 53 - 2, 3]) encoding.writeVarUint(e, v)
        return encoding.toUint8Array(e)
      })()
      await eachClosesWith(
        scene,
        [
          [
            'text at clock 2^53 - 16',
            encodeSyncUpdate(gapThenText(777_021, 2 ** 53 - 16, 'CLOCK-MARKER one')),
          ],
          ['text just past MAX_CLOCK', encodeSyncUpdate(gapThenText(777_022, MAX_CLOCK, 'CLOCK-MARKER two'))],
          ['the same as sync step 2', encodeSyncStep2(gapThenText(777_023, 2 ** 50, 'CLOCK-MARKER three'))],
          ['a deletion past 2^53', encodeSyncUpdate(deleteFar)],
        ],
        1007,
      )
      assertPadUnchanged(scene)
      assert.equal(storeContains(scene.server, 'CLOCK-MARKER'), false)
      await assertHonestStillWork(scene, 'far clocks')
      assert.doesNotMatch(scene.a.text.toString(), /CLOCK-MARKER/)
    })
  })

  test('a Yjs import reaching past MAX_CLOCK is refused with 400, in plain words', async () => {
    const server = await startTestServer()
    try {
      const reply = await apiCall(
        server,
        'POST',
        '/api/pads/import?title=Far',
        gapThenText(777_025, 2 ** 53 - 16, 'far away\n'),
        'application/octet-stream',
      )
      assert.equal(reply.status, 400)
      assert.deepEqual(reply.json, {
        error: { code: 'invalid_yjs', message: 'not a Yjs document state: clock out of range' },
      })
      assert.deepEqual(server.store.list(), [])
    } finally {
      await server.close()
    }
  })

  test('a pad stored before the bound, with a clock past it, still loads', async () => {
    const first = await startTestServer()
    const dataDir = first.dataDir
    first.store.append([
      {
        padId: PAD,
        at: Date.now(),
        conn: 'old',
        author: null,
        data: gapThenText(777_024, 2 ** 45, 'stored long ago\n'),
      },
    ])
    await first.close()
    const server = await startTestServer({ dataDir })
    const reader = connectClient(server.wsUrl, PAD)
    try {
      await reader.synced()
      await waitFor('the stored text arrives', () => reader.text.toString() === 'stored long ago\n', 30_000)
      // Next to the old item (its id is past the bound) and deleting part of it: both go through.
      reader.text.insert(0, 'and still edited\n')
      reader.text.delete(reader.text.length - 5, 4)
      await waitFor(
        'the edit is stored',
        () =>
          docFromStored(server.store.load(PAD)).getText('notes').toString() ===
          'and still edited\nstored long\n',
        30_000,
      )
    } finally {
      reader.destroy()
      await server.close()
    }
  })
})

describe('hostile requests over HTTP get bounded, plain answers', () => {
  /** Every file under `dir`, recursively. */
  const filesUnder = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))

  test('forget history leaves the deleted secret in no file of the data directory (WAL, free pages, search index)', async () => {
    const SECRET = 'Hunter2CorrectHorseBatteryStaple'
    const server = await startTestServer()
    const ada = connectClient(server.wsUrl, PAD, { name: 'Ada' })
    try {
      await ada.synced()
      ada.text.insert(0, `Agenda\npassword: ${SECRET}\nio_uring\n`)
      await waitFor('secret stored', () => storeContains(server, SECRET), 30_000)
      // The search index learns it too (a search indexes stale pads first).
      const found = okJson<{ hits: unknown[] }>(await apiCall(server, 'GET', `/api/search?q=${SECRET}`))
      assert.equal(found.hits.length, 1)
      const at = ada.text.toString().indexOf('password')
      ada.text.delete(at, `password: ${SECRET}\n`.length)
      await waitFor('deletion stored', () => (server.store.load(PAD)?.updates.length ?? 0) === 2, 30_000)
      const haystack = () =>
        filesUnder(server.dataDir).filter((f) =>
          fs.readFileSync(f).toString('latin1').toLowerCase().includes(SECRET.toLowerCase()),
        )
      assert.ok(haystack().length > 0, 'before forgetting, the secret is on disk')

      okJson(await apiCall(server, 'POST', `/api/pads/${PAD}/forget-history`))
      assert.deepEqual(haystack(), [], 'files holding the forgotten secret')
      const none = okJson<{ hits: unknown[] }>(await apiCall(server, 'GET', `/api/search?q=${SECRET}`))
      assert.deepEqual(none.hits, [])
      // The pad itself is intact and still edited.
      assert.equal(ada.text.toString(), 'Agenda\nio_uring\n')
      ada.text.insert(0, 'after\n')
      await waitFor(
        'edited after',
        () => docFromStored(server.store.load(PAD)).getText('notes').toString().startsWith('after\n'),
        30_000,
      )
    } finally {
      ada.destroy()
      await server.close()
    }
  })

  test('/ is sent with private, no-store in protected mode', async () => {
    const server = await startTestServer({}, { adminToken: 'organiser-token-0123456789' })
    try {
      const visitor = await apiCall(server, 'GET', '/')
      assert.equal(visitor.status, 200)
      assert.equal(visitor.headers.get('cache-control'), 'private, no-store')
      const organiser = await apiCall(server, 'GET', '/', undefined, undefined, {
        authorization: 'Bearer organiser-token-0123456789',
      })
      assert.equal(organiser.headers.get('cache-control'), 'private, no-store')
    } finally {
      await server.close()
    }
  })

  test('the html export loads no image: no tracking pixel, the image is a link', async () => {
    const server = await startTestServer()
    const ada = connectClient(server.wsUrl, PAD)
    try {
      await ada.synced()
      ada.text.insert(0, '# Notes\n![pixel](https://tracker.example/p.gif?reader=1)\n')
      await waitFor('stored', () => storeContains(server, 'tracker.example'), 30_000)
      const page = await apiCall(server, 'GET', `/api/pads/${PAD}/export?format=html`)
      assert.equal(page.status, 200)
      const csp = page.headers.get('content-security-policy') ?? ''
      assert.doesNotMatch(csp, /img-src[^;]*https/, csp)
      assert.match(csp, /default-src 'none'/)
      assert.doesNotMatch(page.text, /<img/i)
      assert.match(
        page.text,
        /<a href="https:\/\/tracker\.example\/p\.gif\?reader=1"[^>]*>\[image: pixel\]<\/a>/,
      )
      assert.doesNotMatch(page.text, /img-src[^;"]*https/, 'nor in the page’s own CSP')
    } finally {
      ada.destroy()
      await server.close()
    }
  })

  test('parser errors answer in plain words, never with JavaScript’s (JSON.parse, zlib, URL decoding)', async () => {
    const server = await startTestServer()
    try {
      const json = 'application/json'
      const cases: [string, () => Promise<ApiReply>][] = [
        ['bad JSON', () => apiCall(server, 'POST', '/api/events', '{"name":', json)],
        [
          'bad UTF-8 in JSON',
          () => apiCall(server, 'POST', '/api/events', new Uint8Array([0x7b, 0xff, 0x7d]), json),
        ],
        [
          'damaged gzip',
          () => apiCall(server, 'POST', '/api/events', 'not gzip', json, { 'content-encoding': 'gzip' }),
        ],
        [
          'damaged deflate',
          () => apiCall(server, 'POST', '/api/events', 'xx', json, { 'content-encoding': 'deflate' }),
        ],
        [
          'truncated gzip',
          () =>
            apiCall(server, 'POST', '/api/events', zlib.gzipSync('{"a":1}').subarray(0, 12), json, {
              'content-encoding': 'gzip',
            }),
        ],
        [
          'unknown encoding',
          () => apiCall(server, 'POST', '/api/events', '{}', json, { 'content-encoding': 'x-evil' }),
        ],
        [
          'unknown charset',
          () => apiCall(server, 'POST', '/api/events', '{}', 'application/json; charset=x-evil'),
        ],
        ['bad percent-encoding', () => apiCall(server, 'GET', '/api/pads/%E0%A4%A')],
        [
          'bad percent-encoding, page',
          () => apiCall(server, 'GET', '/p/%ZZ', undefined, undefined, { accept: 'application/json' }),
        ],
        ['bad JSON, history', () => apiCall(server, 'POST', `/api/pads/${PAD}/checkpoints`, '{bad', json)],
      ]
      const internals =
        /unexpected|token|position|header check|end of file|decode param|x-evil|%E0|%ZZ|syntaxerror|at \w+ \(/i
      for (const [what, send] of cases) {
        const r = await send()
        assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status}`)
        const body = r.json as { error: { code: string; message: string } }
        assert.equal(typeof body?.error?.message, 'string', `${what}: ${r.text}`)
        assert.doesNotMatch(body.error.message, internals, what)
      }
      assert.equal((await apiCall(server, 'GET', '/healthz')).status, 200)
    } finally {
      await server.close()
    }
  })

  test('/diff between two revisions of a 2 MB pad is a bounded summary, not the whole texts', async () => {
    const server = await startTestServer()
    const ada = connectClient(server.wsUrl, PAD)
    try {
      await ada.synced()
      const lines = 50_000
      const version = (v: string) =>
        Array.from({ length: lines }, (_, i) => `${v} line ${i} ${'x'.repeat(24)}`).join('\n')
      ada.text.insert(0, version('first'))
      await waitFor('first stored', () => server.store.lastSeq(PAD) >= 1, 20_000)
      const first = server.store.lastSeq(PAD)
      ada.doc.transact(() => {
        ada.text.delete(0, ada.text.length)
        ada.text.insert(0, version('second'))
      })
      await waitFor('second stored', () => server.store.lastSeq(PAD) > first, 20_000)
      const second = server.store.lastSeq(PAD)
      const reply = await apiCall(server, 'GET', `/api/pads/${PAD}/diff?from=${first}&to=${second}`)
      const diff = okJson<{
        lines: { op: string; text: string }[]
        added: number
        removed: number
        truncated: boolean
        from: { seq: number; text?: string }
      }>(reply)
      assert.ok(reply.bytes.length < 512 * 1024, `a diff answer of ${reply.bytes.length} bytes`)
      assert.equal(diff.truncated, true)
      assert.equal(diff.added, lines)
      assert.equal(diff.removed, lines)
      assert.ok(diff.lines.length <= 2000)
      assert.equal(diff.lines[0]?.text, 'first line 0 xxxxxxxxxxxxxxxxxxxxxxxx')
      assert.equal(diff.from.text, undefined, 'the revisions’ texts are not repeated')
      assert.equal((await apiCall(server, 'GET', '/healthz')).status, 200)
    } finally {
      ada.destroy()
      await server.close()
    }
  })
})
