/**
 * The WAL checkpointer (server/wal-checkpointer.ts) as an operator sees it: the WAL file next to the
 * database stays small while people keep typing, commits no longer carry SQLite's checkpoint, and
 * whatever was committed is there after a crash or a restart, checkpointed or not.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import * as Y from 'yjs'
import { createLogger } from '../server/ops/logger.ts'
import { DB_FILE_NAME, openDb } from '../server/storage/db.ts'
import { type LogRow, PadStore } from '../server/storage/store.ts'
import { IDLE_TRUNCATE_BYTES, WalCheckpointer } from '../server/storage/wal-checkpointer.ts'
import { sleep, startTestServer, tempDir } from './helpers.ts'

const walSize = (dataDir: string): number => {
  const file = path.join(dataDir, `${DB_FILE_NAME}-wal`)
  return fs.existsSync(file) ? fs.statSync(file).size : 0
}

const row = (padId: string, i: number): LogRow => ({
  padId,
  at: Date.now(),
  conn: 'test-conn',
  author: null,
  data: Buffer.from(`keystroke ${i}`),
})

/** A pad the server can load: each row is a Yjs update that adds a 500-character line (at the top: cheap for Yjs). */
function typist(padId: string): (i: number) => LogRow {
  const doc = new Y.Doc()
  const text = doc.getText('notes')
  let last: Uint8Array = new Uint8Array()
  doc.on('update', (update: Uint8Array) => {
    last = update
  })
  return (i) => {
    text.insert(0, `line ${i} `.padEnd(499, '.') + '\n')
    return { padId, at: Date.now(), conn: 'test-conn', author: null, data: last }
  }
}

describe('WAL checkpoints off the commit path', () => {
  test('writes that never pause: the WAL file stays bounded, and a crash copy of the files loses nothing', {
    timeout: 60_000,
  }, async () => {
    const dataDir = tempDir()
    const db = openDb(dataDir, 'normal')
    const store = new PadStore(db)
    const maxWalBytes = 1024 * 1024
    const checkpointer = new WalCheckpointer({ db, log: createLogger('silent'), intervalMs: 50, maxWalBytes })
    checkpointer.start()
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0)

    // 10,000 commits, a few per event-loop turn with a millisecond between turns, like a server whose
    // pads never go quiet.
    const pageSize = db.pragma('page_size', { simple: true }) as number
    let written = 0
    let maxWal = 0
    const deadline = Date.now() + 40_000
    while (written < 10_000 && Date.now() < deadline) {
      store.append([row('busy', written)])
      written++
      // From the worker's first checkpoint on: starting its thread and loading SQLite there is a
      // one-off that a starved machine can stretch.
      if (written % 4 === 0) {
        if (checkpointer.stats.worker > 0) maxWal = Math.max(maxWal, walSize(dataDir))
        await sleep(1)
      }
    }
    // Each one-row commit adds at least 2 pages to the WAL: without checkpoints it would hold all of them.
    const unchecked = written * 2 * pageSize
    // The bound is soft: past maxWalBytes, plus what is written while one background round runs
    // (on this 2-core host under load, up to a few MB at this rate), then the file size limit.
    const ceiling = 12 * maxWalBytes
    assert.ok(unchecked > 4 * ceiling, `too few writes to tell (${written})`)
    assert.ok(checkpointer.stats.worker > 0, 'the worker never checkpointed')
    assert.ok(
      maxWal <= ceiling,
      `WAL grew to ${maxWal} bytes (${written} commits, ${JSON.stringify(checkpointer.stats)})`,
    )

    // A crash leaves the files as they are on disk: copy them (not -shm, which SQLite rebuilds).
    checkpointer.stop()
    await sleep(100)
    const crashDir = tempDir()
    fs.copyFileSync(path.join(dataDir, DB_FILE_NAME), path.join(crashDir, DB_FILE_NAME))
    fs.copyFileSync(path.join(dataDir, `${DB_FILE_NAME}-wal`), path.join(crashDir, `${DB_FILE_NAME}-wal`))
    db.close()
    const reopened = openDb(crashDir, 'normal')
    try {
      const updates = new PadStore(reopened).load('busy')?.updates ?? []
      assert.equal(updates.length, written)
      assert.equal(Buffer.from(updates.at(-1)!.data).toString(), `keystroke ${written - 1}`)
    } finally {
      reopened.close()
    }
  })

  test('a running server: commits carry no checkpoint, a quiet server cuts the WAL back, nothing lost on restart', {
    timeout: 60_000,
  }, async () => {
    const server = await startTestServer()
    const { dataDir } = server
    let written = 0
    const type = typist('notes')
    try {
      assert.equal(server.db.pragma('wal_autocheckpoint', { simple: true }), 0)
      // ~3,000 one-row commits: the automatic checkpoint would have run inside about ten of them.
      for (let i = 0; i < 3000; i++) server.store.append([type(i)])
      assert.ok(walSize(dataDir) > 4 * 1024 * 1024, 'the commits did not reach the WAL')
      // Then nobody types: within a round or two the background checkpoint has copied the WAL into the
      // database (this connection never checkpoints: the commits run on it), and the next quiet round
      // cuts the file back.
      const deadline = Date.now() + 10_000
      while (walSize(dataDir) > IDLE_TRUNCATE_BYTES && Date.now() < deadline) await sleep(50)
      assert.ok(walSize(dataDir) <= IDLE_TRUNCATE_BYTES, `WAL still ${walSize(dataDir)} bytes`)
      assert.ok(
        fs.statSync(path.join(dataDir, DB_FILE_NAME)).size > 3000 * 500,
        'the rows are not in the database file',
      )
      // Typing again after that: the WAL starts from the beginning.
      let appended = 3000
      for (; appended < 3010; appended++) server.store.append([type(appended)])
      assert.ok(walSize(dataDir) <= IDLE_TRUNCATE_BYTES)
      written = appended
    } finally {
      await server.close()
    }
    assert.equal(walSize(dataDir), 0, 'graceful shutdown no longer truncates the WAL')
    const again = await startTestServer({ dataDir })
    try {
      // Every row is in the log (startup may have added a snapshot over them: the log stays).
      assert.equal((again.db.prepare('SELECT count(*) AS n FROM updates').get() as { n: number }).n, written)
      assert.equal((await again.minutes.text('notes'))?.split('\n').length, written + 1)
    } finally {
      await again.close()
    }
  })

  test('a scrub (after forget-history) while background rounds run: each waits its turn and cuts the WAL to nothing', {
    timeout: 60_000,
  }, async () => {
    const dataDir = tempDir()
    const db = openDb(dataDir, 'normal')
    const store = new PadStore(db)
    // A round every millisecond while rows keep coming: most scrubs find a round of ours in flight,
    // which holds SQLite's checkpoint lock (a scrub that did not wait for it failed at once: busy).
    const checkpointer = new WalCheckpointer({ db, log: createLogger('silent'), intervalMs: 1 })
    checkpointer.start()
    try {
      const refused: number[] = []
      let metRound = 0
      for (let i = 0; i < 200; i++) {
        store.append([row('busy', i)])
        await sleep(1)
        if (checkpointer.stats.worker === 0) continue
        if ((checkpointer as unknown as { inFlight: boolean }).inFlight) metRound++
        if (!(await checkpointer.scrub())) refused.push(i)
        else assert.equal(walSize(dataDir), 0, `scrub ${i} left the WAL`)
      }
      assert.deepEqual(refused, [], 'scrubs refused with no reader in the way')
      assert.ok(metRound > 0, 'no scrub met a round in flight: the test proves nothing')
    } finally {
      checkpointer.stop()
      db.close()
    }
  })
})
