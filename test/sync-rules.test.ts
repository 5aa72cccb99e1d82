/**
 * The sync rules, each a few lines of test/sync-script.ts: real rooms, connections and store,
 * in-memory sockets. The same rules are tested end to end, over real websockets and the stock
 * client, in sync.test.ts, ownership.test.ts, limits.test.ts and access.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CLOSE_NOT_YOUR_EDITS, CLOSE_PAD_FULL } from '../server/sync/close-codes.ts'
import { READ_ONLY_REASON } from '../server/sync/room.ts'
import { onPad } from './sync-script.ts'

describe('sync rules', () => {
  test('a typist’s keystrokes reach the others and the store', async () => {
    await onPad({}, async (pad) => {
      const ann = pad.typist('ann')
      const bob = pad.typist('bob')
      await pad.settle()
      ann.types('Agenda: ')
      bob.types('minutes')
      await pad.settle()
      assert.equal(ann.text, bob.text)
      assert.equal(await pad.stored(), ann.text)
      assert.equal(ann.text.length, 'Agenda: minutes'.length)
    })
  })

  test('persist, then broadcast: nobody sees an edit before it is stored', async () => {
    await onPad({}, async (pad) => {
      const ann = pad.typist('ann')
      const bob = pad.typist('bob')
      await pad.settle()
      ann.types('a')
      ann.types('b')
      ann.types('c')
      // Applied to the room, not yet committed: nothing went out, nothing is in the log.
      assert.equal(bob.socket.inbox.length, 0)
      assert.equal(await pad.storedRows(), 0)
      await pad.settle()
      assert.equal(await pad.storedRows(), 3)
      assert.equal(bob.text, 'abc', 'in the order typed')
    })
  })

  test('a read-only link cannot write: its typing is told "read-only", never stored nor relayed', async () => {
    await onPad({}, async (pad) => {
      const ann = pad.typist('ann')
      const viewer = pad.typist('viewer', { readOnly: true })
      ann.types('the notes')
      await pad.settle()
      viewer.types('GRAFFITI ')
      await pad.settle()
      assert.equal(viewer.text.includes('the notes'), true, 'it still follows')
      assert.equal(ann.text, 'the notes')
      assert.equal(await pad.stored(), 'the notes')
      assert.deepEqual(viewer.told, [READ_ONLY_REASON])
      assert.equal(viewer.closedWith, null, 'kept connected')
    })
  })

  test('the size limit: an update that would pass MAX_PAD_BYTES closes its sender and is not stored', async () => {
    await onPad({ maxPadBytes: 1000 }, async (pad) => {
      const ann = pad.typist('ann')
      const bob = pad.typist('bob')
      ann.types('short notes')
      await pad.settle()
      bob.types('x'.repeat(2000))
      await pad.settle()
      assert.equal(bob.closedWith, CLOSE_PAD_FULL)
      assert.equal(ann.text, 'short notes')
      assert.equal(await pad.stored(), 'short notes')
    })
  })

  test('presence: someone who leaves while an editor’s client echoes her state is gone for everyone', async () => {
    await onPad({}, async (pad) => {
      const ann = pad.typist('ann')
      ann.present({ user: { name: 'Ann' } })
      await pad.settle()
      // More visitors than the ids one socket may introduce (MAX_AWARENESS_CLIENTS_PER_SOCKET, 4).
      for (const name of ['Bob', 'Cid', 'Dee', 'Eve', 'Fay']) {
        const visitor = pad.typist(name)
        visitor.present({ user: { name } })
        await pad.settle({ unread: [ann] })
        // Ann's client reads the visitor's presence just after she left: its echo of her state
        // reaches the server before her removal has gone out.
        visitor.leaves()
        ann.deliver()
        await pad.settle()
        assert.deepEqual(ann.sees(), [], `${name} left`)
      }
      assert.equal(ann.closedWith, null, 'Ann stays connected')
      const newcomer = pad.typist('newcomer')
      await pad.settle()
      assert.deepEqual(newcomer.sees(), ['Ann'], 'a newcomer sees only who is here')
    })
  })

  test('presence: an echo is judged in its turn, after the frames its client sent before it', async () => {
    await onPad({}, async (pad) => {
      const ann = pad.typist('ann')
      ann.present({ user: { name: 'Ann' } })
      await pad.settle()
      const bob = pad.typist('bob')
      bob.present({ user: { name: 'Bob' } })
      await pad.settle({ unread: [ann] })
      // Ann types and her editor checks it is saved: her next frames wait for that answer.
      ann.types('x')
      ann.checksSaved()
      bob.leaves()
      // Her client reads Bob's state (and echoes it, behind the save check), then, once the
      // keystroke is stored, his removal (and echoes that, before the first echo had its turn).
      ann.deliver()
      await new Promise((resolve) => setImmediate(resolve))
      ann.deliver()
      await pad.settle()
      assert.deepEqual(ann.sees(), [])
      const newcomer = pad.typist('newcomer')
      await pad.settle()
      assert.deepEqual(newcomer.sees(), ['Ann'], 'a newcomer sees only who is here')
      assert.equal(ann.closedWith, null)
    })
  })

  test('ownership: typing under another writer’s client id closes the squatter; the owner’s text stands', async () => {
    await onPad({}, async (pad) => {
      const ann = pad.typist('ann')
      ann.types('Ann wrote this')
      await pad.settle()
      const squatter = pad.typist('squatter', { clientId: ann.doc.clientID })
      await pad.settle()
      squatter.types(' and Mallory this')
      await pad.settle()
      assert.equal(squatter.closedWith, CLOSE_NOT_YOUR_EDITS)
      assert.equal(await pad.stored(), 'Ann wrote this')
      // The same client id with the owner's key is the owner, e.g. another tab: it may continue.
      const annAgain = pad.typist('ann', { clientId: ann.doc.clientID })
      await pad.settle()
      annAgain.types(', twice')
      await pad.settle()
      assert.equal(annAgain.closedWith, null)
      assert.equal(await pad.stored(), 'Ann wrote this, twice')
    })
  })
})
