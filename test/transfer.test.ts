/**
 * `summitpad import-data` / `export-data`: a real installation (a server on SQLite that people
 * typed into: events, pads with history and snapshots, checkpoints, event links, series,
 * materials, writer claims, search entries) moved into a PostgreSQL of the test's own and back
 * into a new SQLite file comes back row for row; a target holding data is refused, saying so.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { runCli } from '../server/ops/cli-run.ts'
import { DB_FILE_NAME } from '../server/storage/db.ts'
import { type Row, sqliteSide, TABLES, TRANSFER_BATCH_ROWS } from '../server/storage/transfer.ts'
import { apiCall, connectClient, okJson, startTestServer, tempDir, waitFor } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let postgres: TestPostgres
before(async () => {
  postgres = await testPostgres()
})
after(() => postgres.stop())

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await runCli(args, env, { out: (t) => (out += t), err: (t) => (err += t) })
  return { code, out, err }
}

/** Every row of every table of a SQLite file, in key order. */
async function dump(file: string): Promise<Record<string, Row[]>> {
  const side = sqliteSide(file, 'source')
  try {
    const tables: Record<string, Row[]> = {}
    for (const table of TABLES) tables[table.name] = await side.read(table, null, Number.MAX_SAFE_INTEGER)
    return tables
  } finally {
    await side.close()
  }
}

/** An installation people used: what every table holds, made through the server as they would. */
async function usedInstallation(): Promise<string> {
  const server = await startTestServer({ snapshotEvery: 10 })
  try {
    okJson(
      await apiCall(server, 'POST', '/api/events', {
        slug: 'lpc',
        name: 'Plumbers',
        timezone: 'Europe/Prague',
      }),
      201,
    )
    const a = okJson<{ id: string }>(
      await apiCall(server, 'POST', '/api/events/lpc/pads', { title: 'Tracing BoF', kind: 'bof' }),
      201,
    )
    const b = okJson<{ id: string }>(
      await apiCall(server, 'POST', '/api/events/lpc/pads', { title: 'Schedulers', kind: 'talk' }),
      201,
    )
    // Typed by a writer with a key (a writer claim), past SNAPSHOT_EVERY (snapshots), with accents
    // for the search index.
    const typist = connectClient(server.wsUrl, a.id, {
      params: { writer: randomBytes(32).toString('base64url') },
    })
    await typist.synced()
    for (let i = 0; i < 30; i++) typist.text.insert(typist.text.length, `Ångström line ${i}\n`)
    await waitFor('the edits to be stored', async () =>
      ((await server.minutes.text(a.id)) ?? '').includes('line 29'),
    )
    okJson(await apiCall(server, 'POST', `/api/pads/${a.id}/checkpoints`, { name: 'Before lunch' }), 201)
    okJson(
      await apiCall(server, 'POST', `/api/pads/${a.id}/materials`, {
        kind: 'slides',
        title: 'Slides',
        url: 'https://example.org/s.pdf',
      }),
      201,
    )
    await apiCall(server, 'POST', `/api/pads/${b.id}/next`, {})
    await apiCall(server, 'GET', '/api/events/lpc/links')
    typist.destroy()
  } finally {
    await server.close()
  }
  return path.join(server.dataDir, DB_FILE_NAME)
}

test('SQLite -> PostgreSQL -> SQLite gives back every row; a target with data is refused', async () => {
  const original = await usedInstallation()
  const rows = await dump(original)
  for (const table of [
    'events',
    'pads',
    'updates',
    'snapshots',
    'checkpoints',
    'writers',
    'pad_materials',
    'pad_series',
    'pad_search',
  ])
    assert.ok(rows[table]!.length > 0, `the installation has ${table}`)

  const url = await postgres.freshDatabase()
  const imported = await cli(['import-data', '--from', original], { DATABASE_URL: url })
  assert.equal(imported.err, '')
  assert.equal(imported.code, 0)
  assert.match(imported.out, /imported into PostgreSQL: 1 event, \d+ pads, \d+ logged updates/)

  // New keys come after the copied ones.
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const next = await client.query(
      "SELECT nextval(pg_get_serial_sequence('pads', 'pk'))::int AS pad, nextval('updates_seq')::int AS seq",
    )
    assert.ok(next.rows[0].pad > Math.max(...rows.pads!.map((r) => Number(r.pk))))
    assert.ok(next.rows[0].seq > Math.max(...rows.updates!.map((r) => Number(r.seq))))
    // The search index works on what was copied: accents removed, as the server queries it.
    const found = await client.query(
      "SELECT pad FROM pad_search WHERE words @@ to_tsquery('simple', 'angstrom')",
    )
    assert.equal(found.rows.length, 1)
  } finally {
    await client.end()
  }

  // A second import into it is refused, naming what is there; nothing is added.
  const again = await cli(['import-data', '--from', original], { DATABASE_URL: url })
  assert.equal(again.code, 1)
  assert.match(again.err, /not empty \(events has 1 row\)/)

  const exported = path.join(tempDir(), 'laptop.sqlite')
  const back = await cli(['export-data', '--to', exported], { DATABASE_URL: url })
  assert.equal(back.err, '')
  assert.equal(back.code, 0)
  assert.deepEqual(await dump(exported), rows)

  // An existing file is never overwritten.
  const twice = await cli(['export-data', '--to', exported], { DATABASE_URL: url })
  assert.equal(twice.code, 1)
  assert.match(twice.err, /already exists/)

  // And the exported file serves: a server on it has the pads with their text.
  const dataDir = tempDir()
  fs.copyFileSync(exported, path.join(dataDir, DB_FILE_NAME))
  const server = await startTestServer({ dataDir })
  try {
    const pad = rows.pads!.find((r) => r.title === 'Tracing BoF')!
    assert.match((await server.minutes.text(String(pad.id))) ?? '', /Ångström line 29/)
  } finally {
    await server.close()
  }
})

test('more rows than one batch are all copied, in key order', async () => {
  const dataDir = tempDir()
  const server = await startTestServer({ dataDir, maxNewPadsPerIpPerMinute: 10_000 })
  const ids = Array.from({ length: TRANSFER_BATCH_ROWS + 7 }, (_, i) => `p${String(i).padStart(4, '0')}`)
  try {
    okJson(await apiCall(server, 'POST', '/api/events', { slug: 'big', name: 'Big' }), 201)
    for (const id of ids)
      okJson(await apiCall(server, 'POST', '/api/events/big/pads', { id, title: id, kind: 'talk' }), 201)
  } finally {
    await server.close()
  }
  const file = path.join(dataDir, DB_FILE_NAME)
  const url = await postgres.freshDatabase()
  assert.equal((await cli(['import-data', '--from', file], { DATABASE_URL: url })).code, 0)
  const exported = path.join(tempDir(), 'big.sqlite')
  assert.equal((await cli(['export-data', '--to', exported], { DATABASE_URL: url })).code, 0)
  const copied = await dump(exported)
  assert.deepEqual(
    copied.pads!.map((r) => r.id),
    ids,
  )
  assert.deepEqual(copied, await dump(file))
})
