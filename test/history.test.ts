/**
 * History: the pad at any revision, authors, diffs, restore, checkpoints, and closing a session.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as Y from 'yjs'
import { connectClient, sleep, startTestServer, type TestServer, waitFor } from './helpers.ts'

async function api<T>(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as T }
}

interface Timeline {
  firstSeq: number
  lastSeq: number
  steps: { seq: number; firstSeq: number; authors: string[]; edits: number; restoredSeq?: number }[]
  checkpoints: { seq: number; name: string }[]
  closedAt: string | null
}

const stored = (server: TestServer, pad: string) => server.storage.padLog.lastSeq(pad)

describe('history', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer({ snapshotEvery: 10 })
  })
  after(() => server.close())

  test('the pad at three moments equals what a client saw then; authors are named', async () => {
    const ada = connectClient(server.wsUrl, 'moments', { name: 'Ada' })
    const bob = connectClient(server.wsUrl, 'moments', { name: 'Bob' })
    await Promise.all([ada.synced(), bob.synced()])
    await waitFor('names known', () => (server.rooms.get('moments')?.people().length ?? 0) === 2)
    const seen: { seq: number; text: string }[] = []
    // Enough edits to cross several snapshots (SNAPSHOT_EVERY=10): revisions start from one.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 8; i++) ada.text.insert(ada.text.length, `a${round}${i} `)
      await waitFor('bob sees ada', () => bob.text.toString() === ada.text.toString())
      for (let i = 0; i < 5; i++) bob.text.insert(0, `b${round}${i} `)
      if (round === 1) bob.text.delete(0, 4)
      await waitFor('ada sees bob', () => ada.text.toString() === bob.text.toString())
      await waitFor(
        'stored',
        () => server.rooms.get('moments')!.doc.getText('notes').toString() === ada.text.toString(),
      )
      await server.rooms.flush()
      seen.push({ seq: await stored(server, 'moments'), text: ada.text.toString() })
    }
    for (const moment of seen) {
      const rev = await api<{ seq: number; text: string }>(
        server,
        'GET',
        `/api/pads/moments/revisions/${moment.seq}`,
      )
      assert.equal(rev.status, 200)
      assert.equal(rev.json.text, moment.text, `revision ${moment.seq}`)
    }
    const timeline = await api<Timeline>(server, 'GET', '/api/pads/moments/history')
    // Edits without a 20 s pause are one step, whoever typed them (not one per turn: 3 rounds x 2).
    assert.equal(timeline.json.steps.length, 1)
    assert.deepEqual(timeline.json.steps[0]!.authors, ['Ada', 'Bob'])
    ada.destroy()
    bob.destroy()
  })

  test('a diff between two revisions shows added and removed lines and who changed them', async () => {
    const ada = connectClient(server.wsUrl, 'diff', { name: 'Ada' })
    await ada.synced()
    await waitFor('name', () => (server.rooms.get('diff')?.people().length ?? 0) === 1)
    ada.text.insert(0, 'Agenda\nold line\nkeep\n')
    await waitFor('stored 1', async () => (await stored(server, 'diff')) > 0)
    await server.rooms.flush()
    const first = await stored(server, 'diff')
    const start = ada.text.toString().indexOf('old line')
    ada.text.delete(start, 'old line'.length)
    ada.text.insert(start, 'new line')
    await waitFor('stored 2', () =>
      server.rooms.get('diff')!.doc.getText('notes').toString().includes('new line'),
    )
    await server.rooms.flush()
    const second = await stored(server, 'diff')
    const diff = await api<{ lines: { op: string; text: string }[]; authors: string[] }>(
      server,
      'GET',
      `/api/pads/diff/diff?from=${first}&to=${second}`,
    )
    assert.deepEqual(
      diff.json.lines.filter((l) => l.op !== 'same'),
      [
        { op: 'del', text: 'old line' },
        { op: 'add', text: 'new line' },
      ],
    )
    assert.deepEqual(diff.json.authors, ['Ada'])
    ada.destroy()
  })

  test('restore brings an old text back as a new revision, live, and keeps everything after it', async () => {
    const ada = connectClient(server.wsUrl, 'restore', { name: 'Ada' })
    const bob = connectClient(server.wsUrl, 'restore', { name: 'Bob' })
    await Promise.all([ada.synced(), bob.synced()])
    ada.text.insert(0, 'Decisions: none yet\n')
    await waitFor('stored', async () => (await stored(server, 'restore')) > 0)
    // Bob wipes what he sees: he must have seen Ada's line first (stored is not yet delivered).
    await waitFor("Bob has Ada's line", () => bob.text.toString() === 'Decisions: none yet\n')
    await server.rooms.flush()
    const good = await stored(server, 'restore')
    bob.text.delete(0, bob.text.length)
    bob.text.insert(0, 'oops, wiped\n')
    await waitFor(
      'wipe stored',
      () => server.rooms.get('restore')!.doc.getText('notes').toString() === 'oops, wiped\n',
    )
    await server.rooms.flush()
    const wiped = await stored(server, 'restore')
    const res = await api<{ text: string }>(server, 'POST', '/api/pads/restore/restore', { seq: good })
    assert.equal(res.status, 200)
    assert.equal(res.json.text, 'Decisions: none yet\n')
    await waitFor(
      'both editors see the restore',
      () => ada.text.toString() === 'Decisions: none yet\n' && bob.text.toString() === ada.text.toString(),
    )
    // Nothing of the history is lost: the wiped revision is still there, and the restore is newer.
    const wipedRev = await api<{ text: string }>(server, 'GET', `/api/pads/restore/revisions/${wiped}`)
    assert.equal(wipedRev.json.text, 'oops, wiped\n')
    assert.ok((await stored(server, 'restore')) > wiped)
    ada.destroy()
    bob.destroy()
  })

  test('a restore is credited to who asked, is a step of its own, and tells open editors which version came back', async () => {
    const pad = 'restore-credit'
    const ada = connectClient(server.wsUrl, pad, { name: 'Ada' })
    await ada.synced()
    ada.text.insert(0, 'v1\n')
    await waitFor('v1 stored', async () => (await stored(server, pad)) > 0)
    await server.rooms.flush()
    const v1 = await stored(server, pad)
    ada.text.insert(ada.text.length, 'v2\n')
    await waitFor('v2 stored', () => server.rooms.get(pad)!.doc.getText('notes').toString() === 'v1\nv2\n')
    await server.rooms.flush()
    const v2 = await stored(server, pad)

    const first = await api<{ changed: boolean }>(server, 'POST', `/api/pads/${pad}/restore`, {
      seq: v1,
      name: 'Carol <b>',
    })
    assert.equal(first.json.changed, true)
    await waitFor('Ada sees v1', () => ada.text.toString() === 'v1\n')
    const notice = ada.doc.getMap('summitpad').get('restore') as { by: string; seq: number }
    assert.equal(notice.by, 'Carol b')
    assert.equal(notice.seq, v1)
    // At once, a second restore: two steps, not one "no visible change".
    await api(server, 'POST', `/api/pads/${pad}/restore`, { seq: v2, name: 'Dan' })
    await waitFor('Ada sees v2', () => ada.text.toString() === 'v1\nv2\n')
    assert.equal((ada.doc.getMap('summitpad').get('restore') as { by: string }).by, 'Dan')
    const same = await api<{ changed: boolean }>(server, 'POST', `/api/pads/${pad}/restore`, { seq: v2 })
    assert.equal(same.json.changed, false, 'restoring the current text changes nothing')

    const timeline = (await api<Timeline>(server, 'GET', `/api/pads/${pad}/history`)).json
    const tail = timeline.steps.slice(-2).map((s) => ({ authors: s.authors, restoredSeq: s.restoredSeq }))
    assert.deepEqual(tail, [
      { authors: ['Carol b'], restoredSeq: v1 },
      { authors: ['Dan'], restoredSeq: v2 },
    ])
    ada.destroy()
  })

  test('closing refuses every update (never stored), tells clients once, reopening allows them again', async () => {
    const ada = connectClient(server.wsUrl, 'close-me', { name: 'Ada' })
    const bob = connectClient(server.wsUrl, 'close-me', { name: 'Bob' })
    await Promise.all([ada.synced(), bob.synced()])
    ada.text.insert(0, 'final minutes\n')
    await waitFor(
      'stored',
      () => server.rooms.get('close-me')?.doc.getText('notes').toString() === 'final minutes\n',
    )
    const closed = await api<{ closed: boolean; checkpoint: { name: string; seq: number } }>(
      server,
      'POST',
      '/api/pads/close-me/close',
      {},
    )
    assert.equal(closed.status, 200)
    assert.equal(closed.json.checkpoint.name, 'end of session')
    const before = (await server.storage.history.rows('close-me')).length
    bob.text.insert(0, 'sneaky edit ')
    ada.text.insert(ada.text.length, 'late addition')
    await new Promise((r) => setTimeout(r, 400))
    assert.equal(server.rooms.get('close-me')!.doc.getText('notes').toString(), 'final minutes\n')
    const afterClose = (await server.storage.history.rows('close-me')).length
    assert.equal(afterClose, before, 'no refused edit reached storage')
    const event = await api<{ closedAt: string | null }>(server, 'GET', '/api/pads/close-me')
    assert.ok(event.json.closedAt)
    // A fresh reader still gets the pad.
    const reader = connectClient(server.wsUrl, 'close-me')
    await reader.synced()
    assert.equal(reader.text.toString(), 'final minutes\n')
    reader.destroy()
    ada.destroy()
    bob.destroy()
    const reopened = await api<{ closed: boolean }>(server, 'POST', '/api/pads/close-me/reopen', {})
    assert.equal(reopened.json.closed, false)
    const carol = connectClient(server.wsUrl, 'close-me', { name: 'Carol' })
    await carol.synced()
    carol.text.insert(carol.text.length, 'reopened\n')
    await waitFor(
      'stored again',
      () => server.rooms.get('close-me')?.doc.getText('notes').toString() === 'final minutes\nreopened\n',
    )
    const timeline = await api<Timeline>(server, 'GET', '/api/pads/close-me/history')
    assert.deepEqual(
      timeline.json.checkpoints.map((c) => c.name),
      ['end of session'],
    )
    assert.equal(timeline.json.closedAt, null)
    carol.destroy()
  })

  test('a named checkpoint is listed and opens the text of its moment', async () => {
    const ada = connectClient(server.wsUrl, 'cp', { name: 'Ada' })
    await ada.synced()
    ada.text.insert(0, 'after the agenda\n')
    await waitFor('stored', async () => (await stored(server, 'cp')) > 0)
    const cp = await api<{ seq: number; name: string }>(server, 'POST', '/api/pads/cp/checkpoints', {
      name: 'after the agenda',
    })
    assert.equal(cp.status, 201)
    ada.text.insert(ada.text.length, 'more\n')
    await waitFor('stored more', () =>
      server.rooms.get('cp')!.doc.getText('notes').toString().includes('more'),
    )
    const rev = await api<{ text: string }>(server, 'GET', `/api/pads/cp/revisions/${cp.json.seq}`)
    assert.equal(rev.json.text, 'after the agenda\n')
    const bad = await api<{ error: { code: string } }>(server, 'POST', '/api/pads/cp/checkpoints', {
      name: '',
    })
    assert.equal(bad.status, 400)
    const missing = await api<{ error: { code: string } }>(server, 'GET', '/api/pads/nope/history')
    assert.equal(missing.status, 404)
    ada.destroy()
  })

  test('the history page and a 50,000-update pad opened at an arbitrary revision', async () => {
    const doc = new Y.Doc()
    const text = doc.getText('notes')
    const rows: Uint8Array[] = []
    const expectedAt = new Map<number, string>()
    doc.on('update', (u: Uint8Array) => rows.push(u))
    for (let i = 0; i < 50_000; i++) {
      text.insert(i % 5 === 0 ? 0 : text.length, String.fromCharCode(97 + (i % 26)))
      if (i === 12_344 || i === 37_777) expectedAt.set(i, text.toString())
    }
    let firstSeq = 0
    for (let i = 0; i < rows.length; i += 5000) {
      const seqs = await server.storage.padLog.appendBatch(
        rows
          .slice(i, i + 5000)
          .map((data) => ({ padId: 'huge', at: Date.now(), conn: 'bench', author: null, data })),
      )
      if (i === 0) firstSeq = seqs[0]!
    }
    // Dense snapshots, as the live server writes them (every SNAPSHOT_EVERY rows).
    const replay = new Y.Doc()
    for (const [i, u] of rows.entries()) {
      Y.applyUpdate(replay, u)
      if ((i + 1) % 1000 === 0)
        await server.storage.padLog.writeSnapshot('huge', firstSeq + i, Y.encodeStateAsUpdate(replay))
    }
    // The writes above ran synchronously on SQLite, in this process, for longer than the server's
    // keep-alive timeout: let the server's close of the idle HTTP connection reach fetch's pool,
    // which would otherwise send the next request on it ("other side closed").
    await sleep(100)
    for (const [i, expected] of expectedAt) {
      const rev = await api<{ seq: number; text: string }>(
        server,
        'GET',
        `/api/pads/huge/revisions/${firstSeq + i}`,
      )
      assert.equal(rev.json.seq, firstSeq + i)
      assert.equal(rev.json.text, expected)
    }
    const page = await fetch(`${server.url}/p/huge/history`)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /Drag through the meeting/)
  })
})
