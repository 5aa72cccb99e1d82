/**
 * Contract suite for the storage layer on a real SQLite file: server/db.ts (open, migrate),
 * server/store.ts (PadStore) and server/pad-doc.ts (rebuild a Y.Doc from what is stored).
 * Ends with a child process that is SIGKILLed between the steps of writing a log and its snapshots.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { DB_FILE_NAME, type Db, MIGRATIONS, migrate, openDb } from '../server/storage/db.ts'
import { type LogRow, PadStore, type StoredPad } from '../server/storage/store.ts'
import { docFromStored, encodeState } from '../server/sync/pad-doc.ts'
import { encodeSyncStep1 } from '../shared/protocol.ts'
import { connectClient, prng, rawSocket, seedFromEnv, startTestServer, tempDir, waitFor } from './helpers.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function openStore(dataDir = tempDir()): { dataDir: string; db: Db; store: PadStore } {
  const db = openDb(dataDir, 'normal')
  return { dataDir, db, store: new PadStore(db) }
}

function row(padId: string, data: Uint8Array, at = Date.now()): LogRow {
  return { padId, at, conn: 'test-conn', author: 'Ada', data }
}

/** A doc whose every update is captured, as the server's log would capture it. */
function recorder(): { doc: Y.Doc; text: Y.Text; updates: Uint8Array[] } {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  return { doc, text: doc.getText('notes'), updates }
}

/** Random typing: inserts of short words and deletes of short ranges. */
function typeRandomly(text: Y.Text, rand: () => number, edits: number): void {
  for (let i = 0; i < edits; i++) {
    if (text.length > 0 && rand() < 0.35) {
      const at = Math.floor(rand() * text.length)
      text.delete(at, Math.min(1 + Math.floor(rand() * 6), text.length - at))
    } else {
      const word = Math.floor(rand() * 36 ** 4).toString(36) + (rand() < 0.2 ? '\n' : ' ')
      text.insert(Math.floor(rand() * (text.length + 1)), word)
    }
  }
}

function docFromUpdates(updates: Iterable<Uint8Array>): Y.Doc {
  const doc = new Y.Doc()
  Y.transact(doc, () => {
    for (const update of updates) Y.applyUpdate(doc, update)
  })
  return doc
}

/** Same text, same state vector, same deletions: what a user could tell apart is equal. */
function assertSameDoc(actual: Y.Doc, expected: Y.Doc, message?: string): void {
  assert.equal(actual.getText('notes').toString(), expected.getText('notes').toString(), message)
  assert.deepEqual(
    Y.decodeStateVector(Y.encodeStateVector(actual)),
    Y.decodeStateVector(Y.encodeStateVector(expected)),
    message,
  )
  assert.ok(Y.equalSnapshots(Y.snapshot(actual), Y.snapshot(expected)), `delete sets differ ${message ?? ''}`)
}

function count(db: Db, sql: string, ...params: unknown[]): number {
  return (db.prepare(sql).get(...params) as { n: number }).n
}

describe('PadStore append and load', () => {
  test('one append stores rows of several pads, in order, with increasing seqs', () => {
    const { db, store } = openStore()
    const bytes = (n: number) => new Uint8Array([n, n + 1, n + 2])
    const seqs = store.append([
      row('alpha', bytes(1)),
      row('beta', bytes(2)),
      row('alpha', bytes(3)),
      row('gamma', bytes(4)),
    ])
    assert.equal(seqs.length, 4)
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `seqs ${seqs}`)
    const more = store.append([row('beta', bytes(5))])
    assert.ok(more[0]! > seqs[3]!)

    const alpha = store.load('alpha')!
    assert.equal(alpha.snapshot, null)
    assert.equal(alpha.snapshotUpto, 0)
    assert.deepEqual(alpha.updates, [
      { seq: seqs[0], data: bytes(1) },
      { seq: seqs[2], data: bytes(3) },
    ])
    assert.deepEqual(
      store.load('beta')!.updates.map((u) => u.data),
      [bytes(2), bytes(5)],
    )
    assert.equal(store.lastSeq('alpha'), seqs[2])
    assert.equal(store.lastSeq('beta'), more[0])
    assert.deepEqual(store.append([]), [])
    db.close()
  })

  test('an append is one transaction: a bad row stores none of its batch', () => {
    const { db, store } = openStore()
    store.append([row('kept', new Uint8Array([1]))])
    const bad = { ...row('kept', new Uint8Array([3])), conn: null as unknown as string }
    assert.throws(() =>
      store.append([row('kept', new Uint8Array([2])), row('fresh', new Uint8Array([9])), bad]),
    )
    assert.equal(store.load('kept')!.updates.length, 1)
    assert.equal(store.exists('fresh'), false)
    assert.equal(count(db, 'SELECT count(*) AS n FROM updates'), 1)
    db.close()
  })

  test('rows land in their own pad after a failed append, a deleted pad, or another pad taking its key', () => {
    const { db, store } = openStore()
    store.append([row('first', new Uint8Array([1]))])
    const bad = { ...row('fresh', new Uint8Array([3])), conn: null as unknown as string }
    assert.throws(() => store.append([row('fresh', new Uint8Array([2])), bad]))
    store.append([row('fresh', new Uint8Array([4]))])
    assert.deepEqual(
      store.load('fresh')!.updates.map((u) => [...u.data]),
      [[4]],
    )
    // Deleting the newest pad frees its key for the next pad created (SQLite reuses the highest rowid).
    assert.equal(store.delete('fresh'), true)
    db.prepare('INSERT INTO pads (id, created_at, updated_at) VALUES (?, ?, ?)').run('other', 0, 0)
    store.append([row('fresh', new Uint8Array([5]))])
    assert.deepEqual(
      store.load('fresh')!.updates.map((u) => [...u.data]),
      [[5]],
    )
    assert.equal(
      count(db, "SELECT count(*) AS n FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = 'other'"),
      0,
    )
    // Pad rows removed another way (with their event, in a transaction that rolled back, by
    // another process), their key then taken by a new pad: the next append still finds its own pad.
    store.append([row('gone', new Uint8Array([6]))])
    const goneKey = (db.prepare("SELECT pk FROM pads WHERE id = 'gone'").get() as { pk: number }).pk
    db.prepare("DELETE FROM pads WHERE id = 'gone'").run()
    db.prepare('INSERT INTO pads (pk, id, created_at, updated_at) VALUES (?, ?, 0, 0)').run(goneKey, 'taker')
    store.append([row('gone', new Uint8Array([7]))])
    assert.deepEqual(
      store.load('gone')!.updates.map((u) => [...u.data]),
      [[7]],
    )
    assert.equal(
      count(db, "SELECT count(*) AS n FROM updates u JOIN pads p ON p.pk = u.pad WHERE p.id = 'taker'"),
      0,
    )
    db.close()
  })

  test('a pad\'s "updated" time follows its newest row, at most a second behind while typing goes on', () => {
    const { db, store } = openStore()
    const t0 = Date.UTC(2026, 10, 26, 9, 0, 0)
    const updatedAt = () => store.list().find((p) => p.id === 'typed')!.updatedAt
    store.append([row('typed', new Uint8Array([1]), t0)])
    assert.equal(updatedAt(), t0)
    store.append([row('typed', new Uint8Array([2]), t0 + 400)])
    assert.ok(updatedAt() >= t0 && t0 + 400 - updatedAt() < 1000)
    store.append([row('typed', new Uint8Array([3]), t0 + 1500), row('typed', new Uint8Array([4]), t0 + 1700)])
    assert.equal(updatedAt(), t0 + 1700)
    store.append([row('typed', new Uint8Array([5]), t0 + 60_000)])
    assert.equal(updatedAt(), t0 + 60_000)
    db.close()
  })

  test('a pad exists only after its first append', () => {
    const { db, store } = openStore()
    assert.equal(store.exists('later'), false)
    assert.equal(store.load('later'), null)
    assert.equal(store.lastSeq('later'), 0)
    assert.deepEqual(store.list(), [])
    assert.throws(() => store.writeSnapshot('later', 0, new Uint8Array([0, 0])), /no stored updates/)
    assert.equal(count(db, 'SELECT count(*) AS n FROM pads'), 0)
    // An empty Y.Doc rebuilt from "nothing stored" is what a new pad opens as.
    assert.equal(docFromStored(null).getText('notes').toString(), '')

    store.append([row('later', new Uint8Array([0, 0]))])
    assert.equal(store.exists('later'), true)
    assert.notEqual(store.load('later'), null)
    db.close()
  })

  test('the doc rebuilt from the stored rows equals the doc that produced them', () => {
    const { db, store } = openStore()
    const rand = prng(7)
    const source = recorder()
    for (let batch = 0; batch < 40; batch++) {
      typeRandomly(source.text, rand, 1 + Math.floor(rand() * 20))
      store.append(source.updates.splice(0).map((u) => row('rebuilt', u)))
    }
    const stored = store.load('rebuilt')!
    assert.ok(stored.updates.length > 200)
    const rebuilt = docFromStored(stored)
    assertSameDoc(rebuilt, source.doc)
    assert.ok(source.text.length > 50, 'the random typing left some text')
    db.close()
  })
})

describe('snapshots', () => {
  test('load returns the newest snapshot and only the log rows after it; older snapshots stay', () => {
    const { db, store } = openStore()
    const rand = prng(11)
    const source = recorder()
    const appendTyping = (edits: number) => {
      typeRandomly(source.text, rand, edits)
      return store.append(source.updates.splice(0).map((u) => row('snap', u)))
    }
    appendTyping(30)
    const firstUpto = store.lastSeq('snap')
    const firstState = encodeState(source.doc)
    store.writeSnapshot('snap', firstUpto, firstState)
    const tail1 = appendTyping(25)

    let stored = store.load('snap')!
    assert.deepEqual(stored.snapshot, firstState)
    assert.equal(stored.snapshotUpto, firstUpto)
    assert.deepEqual(
      stored.updates.map((u) => u.seq),
      tail1,
    )
    assertSameDoc(docFromStored(stored), source.doc)

    const secondUpto = store.lastSeq('snap')
    store.writeSnapshot('snap', secondUpto, encodeState(source.doc))
    const tail2 = appendTyping(10)
    stored = store.load('snap')!
    assert.equal(stored.snapshotUpto, secondUpto)
    assert.deepEqual(
      stored.updates.map((u) => u.seq),
      tail2,
    )
    assertSameDoc(docFromStored(stored), source.doc)

    // History: both snapshots and every log row are still there.
    assert.equal(count(db, 'SELECT count(*) AS n FROM snapshots'), 2)
    assert.equal(count(db, 'SELECT count(*) AS n FROM updates'), store.list()[0]!.updateCount)
    assertSameDoc(
      docFromUpdates(
        (db.prepare('SELECT data FROM updates ORDER BY seq').all() as { data: Buffer }[]).map(
          (r) => new Uint8Array(r.data),
        ),
      ),
      source.doc,
    )
    db.close()
  })

  test('the snapshot covering the most rows wins, whatever order they were written in', () => {
    const { db, store } = openStore()
    const source = recorder()
    source.text.insert(0, 'one ')
    const [first] = store.append(source.updates.splice(0).map((u) => row('order', u)))
    const early = encodeState(source.doc)
    source.text.insert(4, 'two ')
    const [second] = store.append(source.updates.splice(0).map((u) => row('order', u)))
    store.writeSnapshot('order', second!, encodeState(source.doc))
    // A slow writer finishing late with an older state must not hide the newer one.
    store.writeSnapshot('order', first!, early)
    const stored = store.load('order')!
    assert.equal(stored.snapshotUpto, second)
    assert.deepEqual(stored.updates, [])
    assert.equal(docFromStored(stored).getText('notes').toString(), 'one two ')
    db.close()
  })

  test("a snapshot made from a read is kept only while the log it replayed is still the pad's", () => {
    const { db, store } = openStore()
    const source = recorder()
    source.text.insert(0, 'password: hunter2\n')
    const [seq] = store.append(source.updates.splice(0).map((u) => row('read', u)))
    const replayed = encodeState(source.doc)
    assert.equal(store.writeSnapshotIfCurrent('read', seq!, replayed), true)
    assert.equal(store.writeSnapshotIfCurrent('read', seq!, replayed), false, 'already covered')

    // "Forget history" ran between a reader's load and its write: the secret must stay gone.
    source.text.insert(source.text.length, 'more\n')
    const [later] = store.append(source.updates.splice(0).map((u) => row('read', u)))
    const staleState = encodeState(source.doc)
    source.text.delete(0, 'password: hunter2\n'.length)
    store.forgetHistory('read', encodeState(source.doc))
    assert.equal(store.writeSnapshotIfCurrent('read', later!, staleState), false)
    assert.equal(docFromStored(store.load('read')).getText('notes').toString(), 'more\n')

    // Deleted and made again under the same id: the old content stays out of the new pad.
    store.append([row('again', new Uint8Array([0, 0]))])
    const old = store.lastSeq('again')
    store.delete('again')
    store.append([row('again', new Uint8Array([0, 0]))])
    assert.equal(store.writeSnapshotIfCurrent('again', old, replayed), false)
    assert.equal(store.load('again')!.snapshot, null)
    db.close()
  })

  test('a log written without snapshots is compacted the first time the server reads it', async () => {
    // Rows from another program (a migration, a restored log): no snapshot at all.
    const { dataDir, db, store } = openStore()
    const rand = prng(11)
    const source = recorder()
    while (source.updates.length < 1500) typeRandomly(source.text, rand, 1)
    store.append(source.updates.splice(0).map((u) => row('imported', u)))
    const lastSeq = store.lastSeq('imported')
    db.close()

    // Starting the server indexes the pad for search: that replay is kept as a snapshot, so the
    // first person to open the pad loads one snapshot instead of replaying 1,500 rows again.
    const server = await startTestServer({ dataDir, snapshotEvery: 1000 })
    const client = connectClient(server.wsUrl, 'imported')
    try {
      const stored = server.store.load('imported')!
      assert.equal(stored.snapshotUpto, lastSeq, 'a snapshot covers the whole log')
      assert.deepEqual(stored.updates, [])
      assert.equal(server.store.lastSeq('imported'), lastSeq, 'the log itself is kept: it is the history')
      await client.synced()
      assert.equal(client.text.toString(), source.text.toString())
      assert.ok(source.text.length > 100)
    } finally {
      client.destroy()
      await server.close()
    }
  })
})

describe('delete and list', () => {
  test('delete removes the pad, its log and its snapshots, and nothing of other pads', () => {
    const { db, store } = openStore()
    const doomed = recorder()
    doomed.text.insert(0, 'secret minutes')
    store.append(doomed.updates.splice(0).map((u) => row('doomed', u)))
    store.writeSnapshot('doomed', store.lastSeq('doomed'), encodeState(doomed.doc))
    doomed.text.insert(0, 'more ')
    store.append(doomed.updates.splice(0).map((u) => row('doomed', u)))
    const other = recorder()
    other.text.insert(0, 'keep me')
    store.append(other.updates.splice(0).map((u) => row('other', u)))
    store.writeSnapshot('other', store.lastSeq('other'), encodeState(other.doc))

    assert.equal(store.delete('doomed'), true)
    assert.equal(store.exists('doomed'), false)
    assert.equal(store.load('doomed'), null)
    assert.equal(store.delete('doomed'), false)
    assert.equal(count(db, 'SELECT count(*) AS n FROM pads'), 1)
    assert.equal(count(db, 'SELECT count(*) AS n FROM updates'), 1)
    assert.equal(count(db, 'SELECT count(*) AS n FROM snapshots'), 1)
    assert.equal(docFromStored(store.load('other')).getText('notes').toString(), 'keep me')

    // A pad created again under the same id starts empty: no old history comes back.
    const reborn = recorder()
    reborn.text.insert(0, 'fresh')
    store.append(reborn.updates.splice(0).map((u) => row('doomed', u)))
    const stored = store.load('doomed')!
    assert.equal(stored.snapshot, null)
    assert.equal(stored.updates.length, 1)
    assert.equal(docFromStored(stored).getText('notes').toString(), 'fresh')
    db.close()
  })

  test('list summarises every stored pad, most recently updated first', () => {
    const { db, store } = openStore()
    store.append([row('old', new Uint8Array(10), 1_000), row('busy', new Uint8Array(20), 2_000)])
    store.append([row('busy', new Uint8Array(30), 3_000)])
    store.writeSnapshot('busy', store.lastSeq('busy'), new Uint8Array(5))
    store.append([row('new', new Uint8Array(1), 4_000)])
    const pads = store.list()
    assert.deepEqual(pads, [
      { id: 'new', createdAt: 4_000, updatedAt: 4_000, updateCount: 1, bytes: 1 },
      { id: 'busy', createdAt: 2_000, updatedAt: 3_000, updateCount: 2, bytes: 55 },
      { id: 'old', createdAt: 1_000, updatedAt: 1_000, updateCount: 1, bytes: 10 },
    ])
    db.close()
  })
})

describe('schema and migrations', () => {
  test('an empty database is migrated to the newest version; reopening changes nothing', () => {
    const dataDir = tempDir()
    const first = openStore(dataDir)
    assert.equal(first.db.pragma('user_version', { simple: true }), MIGRATIONS.length)
    assert.equal(first.db.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(first.db.pragma('foreign_keys', { simple: true }), 1)
    first.store.append([row('survivor', new Uint8Array([1, 2, 3]))])
    const schema = first.db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY name').all()
    first.db.close()

    for (let i = 0; i < 2; i++) {
      const again = openStore(dataDir)
      assert.equal(again.db.pragma('user_version', { simple: true }), MIGRATIONS.length)
      assert.deepEqual(
        again.db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY name').all(),
        schema,
      )
      assert.deepEqual(again.store.load('survivor')!.updates[0]!.data, new Uint8Array([1, 2, 3]))
      again.db.close()
    }
  })

  test('a later migration is applied once; a failing one leaves the previous version intact', () => {
    const { db } = openStore()
    const extra = 'CREATE TABLE pad_tags (pad INTEGER NOT NULL REFERENCES pads(pk), tag TEXT NOT NULL);'
    migrate(db, [...MIGRATIONS, extra])
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length + 1)
    migrate(db, [...MIGRATIONS, extra]) // would throw "table pad_tags already exists" if re-run
    const broken = 'CREATE TABLE half_done (x INTEGER); THIS IS NOT SQL;'
    assert.throws(() => migrate(db, [...MIGRATIONS, extra, broken]))
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length + 1)
    assert.equal(count(db, "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'half_done'"), 0)
    db.close()
  })

  test('a database from a newer server is refused, and its data stays readable', () => {
    const dataDir = tempDir()
    const { db, store } = openStore(dataDir)
    store.append([row('future', new Uint8Array([4, 2]))])
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
    db.close()
    assert.throws(() => openDb(dataDir, 'normal'), /newer than this server/)
    const plain = new Database(path.join(dataDir, DB_FILE_NAME), { readonly: true })
    assert.equal(plain.pragma('user_version', { simple: true }), MIGRATIONS.length + 1)
    assert.equal(count(plain, 'SELECT count(*) AS n FROM updates'), 1)
    plain.close()
  })

  test('DURABILITY full sets synchronous=FULL; normal sets NORMAL', () => {
    const dataDir = tempDir()
    const full = openDb(dataDir, 'full')
    assert.equal(full.pragma('synchronous', { simple: true }), 2)
    assert.equal(full.pragma('journal_mode', { simple: true }), 'wal')
    const store = new PadStore(full)
    const source = recorder()
    source.text.insert(0, 'power loss proof')
    store.append(source.updates.map((u) => row('full', u)))
    full.close()
    const normal = openDb(dataDir, 'normal')
    assert.equal(normal.pragma('synchronous', { simple: true }), 1)
    assert.equal(
      docFromStored(new PadStore(normal).load('full')).getText('notes').toString(),
      'power loss proof',
    )
    normal.close()
  })
})

describe('integrity', () => {
  test('seqs are never reused after the newest rows are deleted, so a snapshot never hides a new row', () => {
    const { db, store } = openStore()
    const source = recorder()
    source.text.insert(0, 'kept ')
    source.text.insert(5, 'pruned ')
    const seqs = store.append(source.updates.splice(0).map((u) => row('history', u)))
    store.append([row('gone', new Uint8Array([0, 0]))])
    const goneSeq = store.lastSeq('gone')
    // A snapshot covering both rows, then the newest rows disappear (pad deleted, history pruned).
    store.writeSnapshot('history', seqs[1]!, encodeState(source.doc))
    db.prepare('DELETE FROM updates WHERE seq = ?').run(seqs[1])
    store.delete('gone')

    const later = recorder()
    Y.applyUpdate(later.doc, encodeState(source.doc))
    later.updates.length = 0
    later.text.insert(later.text.length, 'typed after')
    const [next] = store.append(later.updates.map((u) => row('history', u)))
    assert.ok(next! > goneSeq, `seq ${next} reused (newest ever was ${goneSeq})`)
    const stored = store.load('history')!
    assert.deepEqual(
      stored.updates.map((u) => u.seq),
      [next],
    )
    assert.equal(docFromStored(stored).getText('notes').toString(), 'kept pruned typed after')
    db.close()
  })

  test('a stored pad with missing dependencies is refused, and its bytes stay untouched', async () => {
    const server = await startTestServer()
    const source = recorder()
    source.text.insert(0, 'first line\n')
    const dependency = source.updates.shift()!
    source.text.insert(source.text.length, 'second line depends on the first\n')
    source.text.delete(0, 3) // a deletion of items only the lost row held
    // The rows after a lost one, as damage (or a bad restore) would leave them.
    server.store.append(source.updates.map((u) => row('damaged', u)))
    const rowsBefore = server.db.prepare('SELECT seq, data FROM updates ORDER BY seq').all()

    assert.throws(() => docFromStored(server.store.load('damaged')), /missing dependencies/)
    // The delete-only row alone: its deletions point at items that are not there.
    const deleteOnly: StoredPad = {
      snapshot: null,
      snapshotUpto: 0,
      updates: [{ seq: 1, data: source.updates[1]! }],
    }
    assert.throws(() => docFromStored(deleteOnly), /missing dependencies/)

    // A client gets an error close, never an empty pad that its edits would then overwrite.
    const socket = await rawSocket(server.wsUrl, 'damaged')
    await waitFor('close', () => socket.closed !== null)
    assert.equal(socket.closed!.code, 1011)
    assert.deepEqual(server.db.prepare('SELECT seq, data FROM updates ORDER BY seq').all(), rowsBefore)
    assert.equal(count(server.db, 'SELECT count(*) AS n FROM snapshots'), 0)
    // Its history refuses it too (the same rebuild path), instead of showing a text with holes.
    const revision = await fetch(
      `${server.url}/api/pads/damaged/revisions/${server.store.lastSeq('damaged')}`,
    )
    assert.equal(revision.status, 500)
    assert.equal(((await revision.json()) as { error: { code: string } }).error.code, 'internal')

    // With the missing row restored, the pad loads with everything.
    server.store.append([row('damaged', dependency)])
    assert.equal(
      docFromStored(server.store.load('damaged')).getText('notes').toString(),
      docFromUpdates([dependency, ...source.updates])
        .getText('notes')
        .toString(),
    )
    await server.close()
  })

  test('a pad whose snapshot covers its log: new readers, a returning editor and a damaged snapshot', async () => {
    const { dataDir, db, store } = openStore()
    const source = recorder()
    source.text.insert(0, 'Agenda\n')
    source.text.insert(7, 'Decision: ship the cgroup v2 patches\n')
    store.append(source.updates.splice(0).map((u) => row('decided', u)))
    store.writeSnapshot('decided', store.lastSeq('decided'), encodeState(source.doc))
    // A returning editor: had the pad, typed while away (the stock client does not resend that).
    const away = new Y.Doc()
    Y.applyUpdate(away, encodeState(source.doc))
    away.getText('notes').insert(away.getText('notes').length, 'Action: Ada writes the summary\n')
    // Damaged bytes where the snapshot should be (cut short), and no log row after it.
    const broken = recorder()
    broken.text.insert(0, 'lost words')
    store.append(broken.updates.map((u) => row('damaged-snapshot', u)))
    const whole = encodeState(broken.doc)
    store.writeSnapshot(
      'damaged-snapshot',
      store.lastSeq('damaged-snapshot'),
      whole.subarray(0, whole.length - 4),
    )
    db.close()

    const server = await startTestServer({ dataDir })
    const reader = connectClient(server.wsUrl, 'decided')
    const typist = connectClient(server.wsUrl, 'decided')
    const returning = connectClient(server.wsUrl, 'decided', { doc: away })
    try {
      await reader.synced()
      await typist.synced()
      assert.match(reader.text.toString(), /^Agenda\nDecision: ship the cgroup v2 patches\n/)
      const expected = 'Agenda\nDecision: ship the cgroup v2 patches\nAction: Ada writes the summary\n'
      await waitFor('the offline edit reaches the others', () => reader.text.toString() === expected)
      typist.text.insert(0, '# BoF\n')
      await waitFor('typing reaches the reader', () => reader.text.toString() === `# BoF\n${expected}`)
      await waitFor('stored', async () => (await server.minutes.text('decided')) === `# BoF\n${expected}`)

      // Refused as before: an error close, never the damaged bytes.
      const socket = await rawSocket(server.wsUrl, 'damaged-snapshot')
      await waitFor('close', () => socket.closed !== null)
      assert.equal(socket.closed!.code, 1011)
      assert.equal(socket.received.length, 0)
      // Nor did it stop the server from starting: the search index left that one pad out.
      assert.ok(server.logLines.some((l) => l.msg === 'could not index pad' && l.pad === 'damaged-snapshot'))
    } finally {
      for (const c of [reader, typist, returning]) c.destroy()
      await server.close()
    }
  })

  test('a snapshot that passes the checks but does not rebuild: 1011, then later readers get nothing', async () => {
    const { dataDir, db, store } = openStore()
    const fine = recorder()
    fine.text.insert(0, 'first words')
    store.append(fine.updates.map((u) => row('trap', u)))
    // Well-formed, and no struct refers to anything missing, yet it does not rebuild: its delete
    // set removes five characters of a client the pad never had (Yjs parks that as pending).
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0)
    for (const v of [1, 999, 1, 0, 5]) encoding.writeVarUint(e, v)
    store.writeSnapshot('trap', store.lastSeq('trap'), encoding.toUint8Array(e))
    db.close()

    const server = await startTestServer({ dataDir })
    try {
      // The first reader is answered from the bytes (that is the point of not building first; a
      // repeated empty step 1 is too). A step 1 from a client that holds something needs the doc,
      // whose build fails and closes everyone.
      const first = await rawSocket(server.wsUrl, 'trap')
      first.ws.send(encodeSyncStep1(new Uint8Array([0])))
      await waitFor('answered', () => first.received.some((frame) => frame[0] === 0 && frame[1] === 1))
      const holding = encoding.createEncoder()
      for (const v of [1, 4242, 1]) encoding.writeVarUint(holding, v)
      first.ws.send(encodeSyncStep1(encoding.toUint8Array(holding)))
      await waitFor('closed', () => first.closed !== null)
      assert.equal(first.closed!.code, 1011)
      assert.ok(
        first.received.some((frame) => frame[0] === 0 && frame[1] === 1),
        'the first reader was answered from the snapshot',
      )
      // From then on the pad is loaded the careful way: refused before a single byte.
      for (let i = 0; i < 2; i++) {
        const again = await rawSocket(server.wsUrl, 'trap')
        await waitFor('closed', () => again.closed !== null)
        assert.equal(again.closed!.code, 1011)
        assert.equal(again.received.length, 0)
      }
    } finally {
      await server.close()
    }
  })

  test('encodeState leaves out structs still waiting for dependencies', () => {
    const source = recorder()
    source.text.insert(0, 'a')
    for (let i = 0; i < 200; i++) source.text.insert(source.text.length, 'typed while the first was lost ')
    const doc = new Y.Doc()
    for (const update of source.updates.slice(1)) Y.applyUpdate(doc, update)
    assert.notEqual(doc.store.pendingStructs, null)
    const state = encodeState(doc)
    assert.ok(state.length < 50, `snapshot of an empty doc is ${state.length} bytes`)
    const reloaded = docFromStored({ snapshot: state, snapshotUpto: 1, updates: [] })
    assert.equal(reloaded.getText('notes').toString(), '')
  })
})

interface ChildRun {
  lastAppended: number
  snapshots: { padId: string; upto: number }[]
  signal: NodeJS.Signals | null
  code: number | null
}

/** Runs the store-writer fixture and SIGKILLs it `killAfterMs` after it starts writing. */
async function runWriterUntilKilled(
  dataDir: string,
  seed: number,
  durability: string,
  killAfterMs: number,
): Promise<ChildRun> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/store-writer.ts', dataDir, String(seed), durability],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  try {
    await waitFor('writer ready', () => stdout.includes('ready\n') || child.exitCode !== null, 20_000)
    assert.ok(stdout.includes('ready\n'), `writer failed to start: ${stderr}`)
    // The kill falls while it writes: a starved machine may not have committed anything 20 ms in.
    await waitFor('a first commit', () => stdout.includes('appended ') || child.exitCode !== null, 20_000)
    await new Promise((resolve) => setTimeout(resolve, killAfterMs))
  } finally {
    child.kill('SIGKILL')
  }
  const { code, signal } = await exited
  assert.equal(signal, 'SIGKILL', `writer ended before the kill (code ${code}): ${stderr}`)
  const lines = stdout.split('\n')
  const appended = lines.filter((l) => l.startsWith('appended ')).map((l) => Number(l.split(' ')[1]))
  const snapshots = lines
    .filter((l) => l.startsWith('snapshot '))
    .map((l) => {
      const [, padId, upto] = l.split(' ')
      return { padId: padId!, upto: Number(upto) }
    })
  return { lastAppended: appended.at(-1) ?? 0, snapshots, signal, code }
}

/** Everything a killed writer left must load, and match its log replayed from the first row. */
function checkStoreAfterKill(dataDir: string, run: ChildRun): void {
  const { db, store } = openStore(dataDir)
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    const maxSeq = count(db, 'SELECT coalesce(max(seq), 0) AS n FROM updates')
    assert.ok(maxSeq >= run.lastAppended, `committed row ${run.lastAppended} lost (max seq ${maxSeq})`)
    // Each pad's newest committed snapshot is there; older ones may have been thinned
    // (server/snapshot-policy.ts), in the same transaction that wrote a newer one.
    const newest = new Map<string, { padId: string; upto: number }>()
    for (const snap of run.snapshots) newest.set(snap.padId, snap)
    for (const snap of newest.values()) {
      assert.equal(
        count(
          db,
          'SELECT count(*) AS n FROM snapshots s JOIN pads p ON p.pk = s.pad WHERE p.id = ? AND s.upto = ?',
          snap.padId,
          snap.upto,
        ),
        1,
        `committed snapshot ${snap.padId}@${snap.upto} lost`,
      )
    }
    const pads = db.prepare('SELECT pk, id FROM pads ORDER BY id').all() as { pk: number; id: string }[]
    assert.ok(pads.length > 0, 'the writer stored nothing before the kill')
    for (const pad of pads) {
      const rows = db.prepare('SELECT seq, data FROM updates WHERE pad = ? ORDER BY seq').all(pad.pk) as {
        seq: number
        data: Buffer
      }[]
      const snaps = db
        .prepare('SELECT upto, data FROM snapshots WHERE pad = ? ORDER BY upto, id')
        .all(pad.pk) as {
        upto: number
        data: Buffer
      }[]
      const lastRow = rows.at(-1)?.seq ?? 0
      // Replay the whole log once, comparing each snapshot with the log up to its `upto`.
      const replay = new Y.Doc()
      let next = 0
      for (const snap of snaps) {
        assert.ok(snap.upto <= lastRow, `${pad.id}: snapshot claims row ${snap.upto}, log ends at ${lastRow}`)
        Y.transact(replay, () => {
          while (next < rows.length && rows[next]!.seq <= snap.upto) Y.applyUpdate(replay, rows[next++]!.data)
        })
        const fromSnapshot = docFromStored({
          snapshot: new Uint8Array(snap.data),
          snapshotUpto: snap.upto,
          updates: [],
        })
        assertSameDoc(fromSnapshot, replay, `${pad.id}: snapshot @${snap.upto} differs from its log`)
      }
      Y.transact(replay, () => {
        while (next < rows.length) Y.applyUpdate(replay, rows[next++]!.data)
      })
      assert.equal(replay.store.pendingStructs, null, `${pad.id}: the log has a gap`)
      assertSameDoc(docFromStored(store.load(pad.id)), replay, `${pad.id}: load differs from the full log`)
    }
  } finally {
    db.close()
  }
}

describe('crash between compact steps', () => {
  test('a writer SIGKILLed at random moments leaves a store that loads exactly its log', {
    timeout: 80_000,
  }, async (t) => {
    const seed = seedFromEnv('FUZZ_SEED')
    t.diagnostic(`FUZZ_SEED=${seed}`)
    console.log(`store crash test: FUZZ_SEED=${seed}`)
    const rand = prng(seed)
    const dataDir = tempDir()
    const rounds = 5
    for (let round = 0; round < rounds; round++) {
      const killAfterMs = 20 + Math.floor(rand() * 400)
      const durability = round === 1 ? 'full' : 'normal'
      const run = await runWriterUntilKilled(dataDir, Math.floor(rand() * 2 ** 31), durability, killAfterMs)
      t.diagnostic(
        `round ${round}: killed after ${killAfterMs} ms at row ${run.lastAppended}, ${run.snapshots.length} snapshots this run`,
      )
      checkStoreAfterKill(dataDir, run)
    }
  })
})
