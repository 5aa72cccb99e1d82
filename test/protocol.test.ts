/**
 * The wire codec (shared/protocol.ts): what we encode decodes back to the same message, anything
 * cut short or padded is refused without a throw, and our bytes are exactly what y-protocols (the
 * code inside the stock y-websocket client) writes and reads.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import {
  type AwarenessEntry,
  decodeAwarenessUpdate,
  decodeMessage,
  encodeAuthDenied,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  type Message,
} from '../shared/protocol.ts'

/** A doc with some typing in it, so updates and state vectors are not trivially empty. */
function sampleDoc(): Y.Doc {
  const doc = new Y.Doc()
  doc.clientID = 424242
  const text = doc.getText('notes')
  text.insert(0, 'Attendees: Ada, Linus\n')
  text.insert(text.length, 'Decision: ship cgroups v2 — ✅ 🎉\n')
  text.delete(0, 3)
  doc.getMap('meta').set('room', { name: 'BoF 2', seats: 40, ok: true })
  return doc
}

const doc = sampleDoc()
const stateVector = Y.encodeStateVector(doc)
const fullUpdate = Y.encodeStateAsUpdate(doc)

/** Every message we can encode, with the message it must decode to. */
const samples: { name: string; bytes: Uint8Array; message: Message }[] = [
  {
    name: 'sync step 1',
    bytes: encodeSyncStep1(stateVector),
    message: { type: 'sync-step1', stateVector },
  },
  {
    name: 'sync step 1 with an empty state vector',
    bytes: encodeSyncStep1(Y.encodeStateVector(new Y.Doc())),
    message: { type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) },
  },
  {
    name: 'sync step 2',
    bytes: encodeSyncStep2(fullUpdate),
    message: { type: 'sync-step2', update: fullUpdate },
  },
  {
    name: 'sync update',
    bytes: encodeSyncUpdate(fullUpdate),
    message: { type: 'sync-update', update: fullUpdate },
  },
  {
    name: 'awareness',
    bytes: encodeAwareness(
      encodeAwarenessUpdate([{ clientId: 7, clock: 3, state: '{"user":{"name":"Ada"}}' }]),
    ),
    message: {
      type: 'awareness',
      update: encodeAwarenessUpdate([{ clientId: 7, clock: 3, state: '{"user":{"name":"Ada"}}' }]),
    },
  },
  {
    name: 'auth denied',
    bytes: encodeAuthDenied('pad is read-only — sorry'),
    message: { type: 'auth-denied', reason: 'pad is read-only — sorry' },
  },
  { name: 'query awareness', bytes: encodeQueryAwareness(), message: { type: 'query-awareness' } },
]

function decodeOk(bytes: Uint8Array): Message {
  const decoded = decodeMessage(bytes)
  assert.ok(decoded.ok, `expected ${Buffer.from(bytes).toString('hex')} to decode`)
  return decoded.value
}

function assertRefused(bytes: Uint8Array, what: string): string {
  let decoded: ReturnType<typeof decodeMessage> | undefined
  assert.doesNotThrow(() => {
    decoded = decodeMessage(bytes)
  }, `decodeMessage threw on ${what}`)
  assert.ok(decoded && !decoded.ok, `${what} was accepted: ${Buffer.from(bytes).toString('hex')}`)
  assert.ok(decoded.error.length > 0, 'a refusal says why')
  return decoded.error
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Bytes written by a lib0 encoder callback, as the stock client builds its frames. */
const written = (write: (encoder: encoding.Encoder) => void): Uint8Array => {
  const encoder = encoding.createEncoder()
  write(encoder)
  return encoding.toUint8Array(encoder)
}

describe('round trips', () => {
  for (const sample of samples) {
    test(`${sample.name}: encode then decode gives the same message`, () => {
      assert.deepEqual(decodeOk(sample.bytes), sample.message)
    })
  }

  test('the payload survives byte for byte (a decoded update still applies)', () => {
    const message = decodeOk(encodeSyncUpdate(fullUpdate))
    assert.equal(message.type, 'sync-update')
    const copy = new Y.Doc()
    Y.applyUpdate(copy, (message as { update: Uint8Array }).update)
    assert.equal(copy.getText('notes').toString(), doc.getText('notes').toString())
  })

  test('awareness updates round trip, including removals, non-ASCII and large ids and clocks', () => {
    const entries: AwarenessEntry[] = [
      { clientId: 1, clock: 0, state: '{}' },
      { clientId: 2 ** 32 - 1, clock: 2 ** 40, state: '{"user":{"name":"Zoë 🦀","color":"#3366cc"}}' },
      { clientId: 99, clock: 12, state: 'null' },
    ]
    const decoded = decodeAwarenessUpdate(encodeAwarenessUpdate(entries))
    assert.ok(decoded.ok)
    assert.deepEqual(decoded.value, entries)
    const empty = decodeAwarenessUpdate(encodeAwarenessUpdate([]))
    assert.deepEqual(empty, { ok: true, value: [] })
  })
})

describe('truncated and padded input is refused, never thrown', () => {
  for (const sample of samples) {
    test(`${sample.name}: every strict prefix is refused`, () => {
      for (let len = 0; len < sample.bytes.length; len++) {
        assertRefused(sample.bytes.subarray(0, len), `${sample.name} cut to ${len} bytes`)
      }
    })

    test(`${sample.name}: trailing bytes are refused`, () => {
      const error = assertRefused(concat(sample.bytes, new Uint8Array([0])), `${sample.name} + 1 byte`)
      assert.match(error, /trailing/)
      assertRefused(concat(sample.bytes, sample.bytes), `${sample.name} twice in one frame`)
    })
  }

  test('every strict prefix of an awareness update is refused', () => {
    const update = encodeAwarenessUpdate([
      { clientId: 7, clock: 3, state: '{"user":{"name":"Ada"}}' },
      { clientId: 8, clock: 1, state: 'null' },
    ])
    for (let len = 0; len < update.length; len++) {
      const decoded = decodeAwarenessUpdate(update.subarray(0, len))
      assert.equal(decoded.ok, false, `prefix of ${len} bytes accepted`)
    }
    assert.equal(decodeAwarenessUpdate(concat(update, new Uint8Array([1]))).ok, false)
  })

  test('an awareness entry count the bytes cannot hold is refused', () => {
    const bomb = written((e) => encoding.writeVarUint(e, 50_000_000))
    const decoded = decodeAwarenessUpdate(bomb)
    assert.equal(decoded.ok, false)
  })

  test('an awareness state that is not UTF-8 is refused', () => {
    const bad = written((e) => {
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint(e, 7)
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, new Uint8Array([0x7b, 0xff, 0x7d]))
    })
    assert.equal(decodeAwarenessUpdate(bad).ok, false)
  })

  test('a payload length past the end of the frame is refused (no read past the frame)', () => {
    // The frame claims 100 bytes of update but carries 2; a lib0 reader would hand out a view
    // past the end instead of failing.
    const pool = new Uint8Array(64).fill(0x55)
    pool.set([0, 2, 100, 0, 0], 0)
    assertRefused(pool.subarray(0, 5), 'overlong payload length')
  })

  test('a length varUint too large for a safe integer is refused', () => {
    assertRefused(new Uint8Array([0, 2, ...new Array(10).fill(0xff), 0x01]), 'huge length')
    assertRefused(new Uint8Array([...new Array(10).fill(0xff), 0x01]), 'huge message type')
  })
})

describe('unknown kinds are refused', () => {
  test('unknown message types', () => {
    for (const type of [4, 5, 17, 127, 128, 300, 2 ** 31]) {
      const error = assertRefused(
        written((e) => encoding.writeVarUint(e, type)),
        `message type ${type}`,
      )
      assert.match(error, /unknown message type/)
      assertRefused(
        written((e) => {
          encoding.writeVarUint(e, type)
          encoding.writeVarUint8Array(e, fullUpdate)
        }),
        `message type ${type} with a payload`,
      )
    }
  })

  test('unknown sync types', () => {
    for (const syncType of [3, 4, 100, 1000]) {
      const error = assertRefused(
        written((e) => {
          encoding.writeVarUint(e, 0)
          encoding.writeVarUint(e, syncType)
          encoding.writeVarUint8Array(e, fullUpdate)
        }),
        `sync type ${syncType}`,
      )
      assert.match(error, /unknown sync message type/)
    }
  })

  test('unknown auth types and a non-UTF-8 reason', () => {
    assertRefused(
      written((e) => {
        encoding.writeVarUint(e, 2)
        encoding.writeVarUint(e, 1)
        encoding.writeVarString(e, 'granted?')
      }),
      'auth type 1',
    )
    assertRefused(new Uint8Array([2, 0, 2, 0xc3, 0x28]), 'auth reason with invalid UTF-8')
  })

  test('an empty frame', () => {
    assertRefused(new Uint8Array(0), 'empty frame')
  })
})

describe('bytes identical to y-protocols, so the stock client interoperates', () => {
  test('sync step 1 = messageSync + syncProtocol.writeSyncStep1', () => {
    const theirs = written((e) => {
      encoding.writeVarUint(e, 0)
      syncProtocol.writeSyncStep1(e, doc)
    })
    assert.deepEqual(encodeSyncStep1(Y.encodeStateVector(doc)), theirs)
  })

  test('sync step 2 = messageSync + syncProtocol.writeSyncStep2', () => {
    const partialSv = Y.encodeStateVector(new Y.Doc())
    const theirs = written((e) => {
      encoding.writeVarUint(e, 0)
      syncProtocol.writeSyncStep2(e, doc, partialSv)
    })
    assert.deepEqual(encodeSyncStep2(Y.encodeStateAsUpdate(doc, partialSv)), theirs)
  })

  test('sync update = messageSync + syncProtocol.writeUpdate', () => {
    const update = Y.encodeStateAsUpdate(doc)
    const theirs = written((e) => {
      encoding.writeVarUint(e, 0)
      syncProtocol.writeUpdate(e, update)
    })
    assert.deepEqual(encodeSyncUpdate(update), theirs)
  })

  test('awareness = messageAwareness + awarenessProtocol.encodeAwarenessUpdate', () => {
    const peerDoc = new Y.Doc()
    peerDoc.clientID = 31337
    const awareness = new awarenessProtocol.Awareness(peerDoc)
    awareness.setLocalState({ user: { name: 'Ada Lovelace ✍', color: '#3366cc' }, cursor: null })
    awareness.setLocalStateField('user', { name: 'Ada', color: '#cc3366' })
    const theirUpdate = awarenessProtocol.encodeAwarenessUpdate(awareness, [peerDoc.clientID])
    const clock = awareness.meta.get(peerDoc.clientID)!.clock
    const ours = encodeAwarenessUpdate([
      { clientId: peerDoc.clientID, clock, state: JSON.stringify(awareness.getLocalState()) },
    ])
    assert.deepEqual(ours, theirUpdate)
    const theirFrame = written((e) => {
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, theirUpdate)
    })
    assert.deepEqual(encodeAwareness(ours), theirFrame)

    // What they write, we read; the removal they send on close is the state "null".
    const decoded = decodeAwarenessUpdate(theirUpdate)
    assert.ok(decoded.ok)
    assert.equal(decoded.value[0]!.clientId, 31337)
    assert.deepEqual(JSON.parse(decoded.value[0]!.state), awareness.getLocalState())
    awarenessProtocol.removeAwarenessStates(awareness, [peerDoc.clientID], 'test')
    const removal = decodeAwarenessUpdate(
      awarenessProtocol.encodeAwarenessUpdate(awareness, [peerDoc.clientID]),
    )
    assert.ok(removal.ok)
    assert.equal(removal.value[0]!.state, 'null')
    awareness.destroy()
  })

  test('what we encode, y-protocols applies: awareness states appear in a stock Awareness', () => {
    const listener = new awarenessProtocol.Awareness(new Y.Doc())
    const ours = encodeAwarenessUpdate([{ clientId: 555, clock: 4, state: '{"user":{"name":"Linus"}}' }])
    awarenessProtocol.applyAwarenessUpdate(listener, ours, 'server')
    assert.deepEqual(listener.getStates().get(555), { user: { name: 'Linus' } })
    awarenessProtocol.applyAwarenessUpdate(
      listener,
      encodeAwarenessUpdate([{ clientId: 555, clock: 5, state: 'null' }]),
      'server',
    )
    assert.equal(listener.getStates().has(555), false)
    listener.destroy()
  })

  test('auth denied = messageAuth + authProtocol.writePermissionDenied', () => {
    const theirs = written((e) => {
      encoding.writeVarUint(e, 2)
      authProtocol.writePermissionDenied(e, 'read-only pad')
    })
    assert.deepEqual(encodeAuthDenied('read-only pad'), theirs)
    let reason = ''
    const decoder = decoding.createDecoder(encodeAuthDenied('read-only pad'))
    assert.equal(decoding.readVarUint(decoder), 2)
    authProtocol.readAuthMessage(decoder, new Y.Doc(), (_y, r) => {
      reason = r
    })
    assert.equal(reason, 'read-only pad')
  })

  test('query awareness is the single byte 3', () => {
    assert.deepEqual(encodeQueryAwareness(), new Uint8Array([3]))
  })

  test('the stock sync reader answers our step 1 with a step 2 we decode, and applies our step 2', () => {
    // The client side: it holds the text, the server is empty.
    const client = sampleDoc()
    const server = new Y.Doc()
    const stepOne = decoding.createDecoder(encodeSyncStep1(Y.encodeStateVector(server)))
    assert.equal(decoding.readVarUint(stepOne), 0)
    const reply = encoding.createEncoder()
    encoding.writeVarUint(reply, 0)
    const kind = syncProtocol.readSyncMessage(stepOne, reply, client, null)
    assert.equal(kind, syncProtocol.messageYjsSyncStep1)
    const answer = decodeOk(encoding.toUint8Array(reply))
    assert.equal(answer.type, 'sync-step2')
    Y.applyUpdate(server, (answer as { update: Uint8Array }).update)
    assert.equal(server.getText('notes').toString(), client.getText('notes').toString())

    // And the other way: a late client applies the server's step 2 and update messages.
    const late = new Y.Doc()
    for (const frame of [encodeSyncStep2(Y.encodeStateAsUpdate(server)), encodeSyncUpdate(fullUpdate)]) {
      const decoder = decoding.createDecoder(frame)
      assert.equal(decoding.readVarUint(decoder), 0)
      syncProtocol.readSyncMessage(decoder, encoding.createEncoder(), late, null)
      assert.equal(decoding.hasContent(decoder), false, 'the stock reader consumed the whole frame')
    }
    assert.equal(late.getText('notes').toString(), doc.getText('notes').toString())
  })

  test('frames the stock client writes decode to the message it meant', () => {
    const client = sampleDoc()
    const stepOne = written((e) => {
      encoding.writeVarUint(e, 0)
      syncProtocol.writeSyncStep1(e, client)
    })
    assert.deepEqual(decodeOk(stepOne), { type: 'sync-step1', stateVector: Y.encodeStateVector(client) })
    const update = Y.encodeStateAsUpdate(client)
    const updateFrame = written((e) => {
      encoding.writeVarUint(e, 0)
      syncProtocol.writeUpdate(e, update)
    })
    assert.deepEqual(decodeOk(updateFrame), { type: 'sync-update', update })
  })
})
