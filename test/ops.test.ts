/**
 * Operations: /metrics, request logs, the admin backup endpoint, online backup and restore while
 * clients type, and every admin CLI command (run as a child process, as an operator would).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { unzipSync } from 'fflate'
import * as Y from 'yjs'
import { type Summitpad, startSummitpad } from '../server/app.ts'
import { isLocalDirect } from '../server/http/http-app.ts'
import { runCli } from '../server/ops/cli-run.ts'
import { DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { frameRejectReason, MAX_REASON_LABELS, Metrics, wsErrorReason } from '../server/ops/metrics.ts'
import { DB_FILE_NAME } from '../server/storage/db.ts'
import {
  type Client,
  type CliResult,
  cli,
  connectClient,
  startTestServer,
  type TestServer,
  tempDir,
  waitFor,
} from './helpers.ts'

const dirs: string[] = []
function scratch(): string {
  const dir = tempDir('summitpad-ops-')
  dirs.push(dir)
  return dir
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

// ------------------------------------------------------------------ helpers

/** One sample of a Prometheus text exposition: `name{labels}` -> value. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const key = labels ? `${name}{${labels}}` : name
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    if (line.slice(0, space) === key) return Number(line.slice(space + 1))
  }
  return undefined
}

async function scrape(server: Summitpad): Promise<string> {
  const res = await fetch(`${server.url}/metrics`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return res.text()
}

const COMMAND_NAMES = [
  'create-event',
  'import-schedule',
  'export-event',
  'backup',
  'compact',
  'forget-history',
  'list-pads',
]

/** An update appending a line to the pad's stored text, made the way an editor would. */
function textUpdateAfter(server: TestServer, padId: string): Uint8Array {
  const doc = new Y.Doc()
  const stored = server.store.load(padId)!
  if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot)
  for (const row of stored.updates) Y.applyUpdate(doc, row.data)
  const before = Y.encodeStateVector(doc)
  const text = doc.getText('notes')
  text.insert(text.length, 'Action: rotate the password\n')
  const update = Y.encodeStateAsUpdate(doc, before)
  doc.destroy()
  return update
}

const TOKEN = /\[c\d+:\d+\]/g
const tokensOf = (text: string) => new Set(text.match(TOKEN) ?? [])

/** Five stock y-websocket clients appending numbered tokens to one pad until stopped. */
async function typists(server: TestServer, padId: string, count = 5) {
  const clients: Client[] = []
  for (let i = 0; i < count; i++) clients.push(connectClient(server.wsUrl, padId, { name: `typist ${i}` }))
  await Promise.all(clients.map((c) => c.synced()))
  let n = 0
  const timers = clients.map((c, i) =>
    setInterval(() => {
      c.text.insert(c.text.length, `[c${i}:${n++}] `)
    }, 8),
  )
  const serverText = () => server.rooms.get(padId)?.doc.getText('notes').toString() ?? ''
  return {
    clients,
    serverText,
    stop: async () => {
      for (const t of timers) clearInterval(t)
      await waitFor('typists to converge with the server', () =>
        clients.every((c) => c.text.toString().length === serverText().length),
      )
    },
    destroy: () => {
      for (const t of timers) clearInterval(t)
      for (const c of clients) c.destroy()
    },
  }
}

function restoreInto(dataDir: string, backupFile: string): void {
  // The documented restore: with the server stopped, the backup becomes the database.
  fs.mkdirSync(dataDir, { recursive: true })
  fs.copyFileSync(backupFile, path.join(dataDir, DB_FILE_NAME))
  fs.rmSync(path.join(dataDir, `${DB_FILE_NAME}-wal`), { force: true })
  fs.rmSync(path.join(dataDir, `${DB_FILE_NAME}-shm`), { force: true })
}

function assertSubset(small: Set<string>, big: Set<string>, what: string): void {
  const missing = [...small].filter((t) => !big.has(t))
  assert.deepEqual(missing.slice(0, 10), [], `${what}: ${missing.length} missing`)
}

// ------------------------------------------------------------------ metrics

describe('GET /metrics', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
  })
  after(() => server.close())

  test('connections, pads loaded, updates, bytes and database size follow clients as they connect and type', async () => {
    const idle = await scrape(server)
    assert.equal(sample(idle, 'summitpad_connections'), 0)
    assert.equal(sample(idle, 'summitpad_pads_loaded'), 0)
    assert.ok(sample(idle, 'summitpad_db_bytes')! > 0)
    assert.ok(sample(idle, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag is exported')
    const updates0 = sample(idle, 'summitpad_updates_persisted_total')!
    const commits0 = sample(idle, 'summitpad_persist_seconds_count')!

    const a = connectClient(server.wsUrl, 'metrics-pad')
    const b = connectClient(server.wsUrl, 'metrics-pad')
    await Promise.all([a.synced(), b.synced()])
    const connected = await scrape(server)
    assert.equal(sample(connected, 'summitpad_connections'), 2)
    assert.equal(sample(connected, 'summitpad_pads_loaded'), 1)
    const received0 = sample(connected, 'summitpad_ws_received_bytes_total')!
    const sent0 = sample(connected, 'summitpad_ws_sent_bytes_total')!
    assert.ok(received0 > 0 && sent0 > 0, 'handshake bytes counted')

    for (let i = 0; i < 40; i++) a.text.insert(a.text.length, `line ${i} of the minutes\n`)
    await waitFor('b to see every line', () => b.text.toString().includes('line 39 of the minutes'))
    const typed = await scrape(server)
    assert.ok(sample(typed, 'summitpad_updates_persisted_total')! >= updates0 + 1)
    assert.ok(sample(typed, 'summitpad_persist_seconds_count')! > commits0)
    assert.ok(sample(typed, 'summitpad_persist_seconds_bucket', 'le="+Inf"')! > commits0)
    assert.ok(sample(typed, 'summitpad_ws_received_bytes_total')! > received0 + 40 * 20)
    assert.ok(sample(typed, 'summitpad_ws_sent_bytes_total')! > sent0 + 40 * 20)
    assert.ok(sample(typed, 'summitpad_db_wal_bytes')! > 0, 'the WAL holds the new rows')

    a.destroy()
    b.destroy()
    await waitFor('sockets closed', () => server.rooms.get('metrics-pad')?.peerCount === 0)
    await waitFor('pad unloaded', () => server.rooms.loadedCount === 0)
    const left = await scrape(server)
    assert.equal(sample(left, 'summitpad_connections'), 0)
    assert.equal(sample(left, 'summitpad_pads_loaded'), 0)
    // Counters never go back when sockets close.
    assert.ok(
      sample(left, 'summitpad_ws_received_bytes_total')! >=
        sample(typed, 'summitpad_ws_received_bytes_total')!,
    )
  })

  test('refused frames and connections are counted by reason; reason labels stay few', async () => {
    const metrics = new Metrics({ connections: () => 0, padsLoaded: () => 0 })
    metrics.frameRejected('invalid_update')
    metrics.frameRejected('invalid_update')
    metrics.connectionRefused('Bad Pad-ID!')
    for (let i = 0; i < MAX_REASON_LABELS + 10; i++) metrics.frameRejected(`made up ${i}`)
    const text = await metrics.render()
    assert.equal(sample(text, 'summitpad_frames_rejected_total', 'reason="invalid_update"'), 2)
    assert.equal(sample(text, 'summitpad_connections_refused_total', 'reason="bad_pad_id_"'), 1)
    const reasons = text.split('\n').filter((l) => l.startsWith('summitpad_frames_rejected_total{'))
    assert.ok(reasons.length <= MAX_REASON_LABELS + 1, `${reasons.length} label values`)
    assert.ok(sample(text, 'summitpad_frames_rejected_total', 'reason="other"')! >= 10)
    // The labels the sync path derives from close codes and ws errors.
    assert.deepEqual([1002, 1003, 1007, 1008, 1009, 1011, 1013, 4413, 4000].map(frameRejectReason), [
      'protocol_error',
      'text_frame',
      'invalid_update',
      'policy',
      'too_large',
      'internal_error',
      'try_later',
      'pad_full',
      'other',
    ])
    const tooBig = Object.assign(new Error('Max payload size exceeded'), {
      code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
    })
    assert.equal(wsErrorReason(tooBig), 'too_large')
    assert.equal(
      wsErrorReason(Object.assign(new Error('bad opcode'), { code: 'WS_ERR_INVALID_OPCODE' })),
      'ws_protocol',
    )
  })
})

// ------------------------------------------------------------------ logs

describe('request logs', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer({ logLevel: 'debug' })
  })
  after(() => server.close())

  test('one debug line per request, with the request id sent back as X-Request-Id', async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'nginx-42' } })
    assert.equal(res.headers.get('x-request-id'), 'nginx-42')
    const own = await fetch(`${server.url}/api/events?secret=1`)
    const id = own.headers.get('x-request-id')!
    assert.match(id, /^[0-9a-f]{12}$/)
    await waitFor('request lines', () => server.logLines.filter((l) => l.msg === 'request').length >= 2)
    const lines = server.logLines.filter((l) => l.msg === 'request')
    const health = lines.filter((l) => l.reqId === 'nginx-42')
    assert.equal(health.length, 1)
    assert.equal(health[0]!.level, 20)
    assert.equal(health[0]!.status, 200)
    const events = lines.find((l) => l.reqId === id)!
    assert.equal(events.path, '/api/events', 'the query string stays out of the logs')
    // A hostile id is replaced, not logged.
    const evil = await fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'x'.repeat(500) } })
    assert.match(evil.headers.get('x-request-id')!, /^[0-9a-f]{12}$/)
  })

  test('an unexpected error is one error line carrying the request id; the response says nothing of it', async () => {
    const original = server.meetings.events
    server.meetings.events = async () => {
      throw new Error('boom at /srv/secret/path')
    }
    try {
      const res = await fetch(`${server.url}/api/events`)
      assert.equal(res.status, 500)
      const body = await res.text()
      assert.deepEqual(JSON.parse(body), { error: { code: 'internal', message: 'internal server error' } })
      const id = res.headers.get('x-request-id')
      await waitFor('error line', () => server.logLines.some((l) => l.level === 50))
      const errors = server.logLines.filter((l) => l.level === 50)
      assert.equal(errors.length, 1)
      assert.equal(errors[0]!.reqId, id)
      assert.match(JSON.stringify(errors[0]!.err), /boom/)
    } finally {
      server.meetings.events = original
    }
  })

  test('typing logs nothing at info level', async () => {
    const infoBefore = server.logLines.filter((l) => (l.level as number) >= 30).length
    const a = connectClient(server.wsUrl, 'quiet-pad')
    const b = connectClient(server.wsUrl, 'quiet-pad')
    await Promise.all([a.synced(), b.synced()])
    for (let i = 0; i < 100; i++) a.text.insert(a.text.length, 'x')
    await waitFor('b caught up', () => b.text.length === 100)
    a.destroy()
    b.destroy()
    assert.equal(server.logLines.filter((l) => (l.level as number) >= 30).length, infoBefore)
  })
})

describe('behind a reverse proxy', () => {
  test('with TRUST_PROXY the scheme nginx saw is used for links (QR codes say https); without it, not', async () => {
    for (const trustProxy of [true, false]) {
      const server = await startTestServer({ trustProxy })
      dirs.push(server.dataDir)
      try {
        const created = await fetch(`${server.url}/api/pads`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ title: 'Hallway track', kind: 'meeting' }),
        })
        const { id } = (await created.json()) as { id: string }
        const qr = await fetch(`${server.url}/p/${id}/qr`, { headers: { 'X-Forwarded-Proto': 'https' } })
        const link = (await qr.text()).match(/class="url">([^<]*)/)?.[1]
        const scheme = trustProxy ? 'https' : 'http'
        assert.equal(link, `${scheme}://${new URL(server.url).host}/p/${id}`)
      } finally {
        await server.close()
      }
    }
  })
})

// ------------------------------------------------------------------ admin endpoint

describe('POST /api/admin/backup access', () => {
  test('the open-mode rule: loopback and not through a proxy (a token when configured: over HTTP below)', () => {
    const local = { remoteAddress: '127.0.0.1', proxied: false }
    assert.equal(isLocalDirect(local), true)
    assert.equal(isLocalDirect({ ...local, remoteAddress: '::1' }), true)
    assert.equal(isLocalDirect({ ...local, remoteAddress: '::ffff:127.0.0.1' }), true)
    assert.equal(isLocalDirect({ ...local, remoteAddress: '192.168.1.20' }), false)
    assert.equal(isLocalDirect({ ...local, remoteAddress: undefined }), false)
    assert.equal(isLocalDirect({ ...local, proxied: true }), false)
  })

  test('over HTTP: loopback works without a token, a proxied request does not; with ADMIN_TOKEN only the token works', async () => {
    const open = await startTestServer()
    try {
      const ok = await fetch(`${open.url}/api/admin/backup`, { method: 'POST' })
      assert.equal(ok.status, 201)
      const backup = (await ok.json()) as { path: string; bytes: number; pads: number }
      assert.equal(path.dirname(backup.path), path.join(open.dataDir, 'backups'))
      assert.match(path.basename(backup.path), /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.sqlite$/)
      assert.equal(fs.statSync(backup.path).size, backup.bytes)
      const proxied = await fetch(`${open.url}/api/admin/backup`, {
        method: 'POST',
        headers: { 'X-Forwarded-For': '203.0.113.7' },
      })
      assert.equal(proxied.status, 403)
      assert.equal(((await proxied.json()) as { error: { code: string } }).error.code, 'forbidden')
      const metrics = await scrape(open)
      assert.equal(sample(metrics, 'summitpad_backups_total', 'result="ok"'), 1)
      assert.ok(sample(metrics, 'summitpad_backup_last_success_timestamp_seconds')! > 0)
    } finally {
      await open.close()
    }

    const dataDir = scratch()
    const config = { ...DEFAULTS, port: 0, host: '127.0.0.1', dataDir }
    const guarded = await startSummitpad(config, createLogger('silent'), { adminToken: 's3cret' })
    try {
      const url = `${guarded.url}/api/admin/backup`
      const none = await fetch(url, { method: 'POST' })
      assert.equal(none.status, 401)
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/)
      assert.equal(
        (await fetch(url, { method: 'POST', headers: { Authorization: 'Bearer nope' } })).status,
        401,
      )
      const ok = await fetch(url, { method: 'POST', headers: { Authorization: 'Bearer s3cret' } })
      assert.equal(ok.status, 201)
    } finally {
      await guarded.close()
    }
  })
})

// ------------------------------------------------------------------ backup and restore

describe('online backup while five clients type, then restore', () => {
  test('HTTP backup; stop; restore in place; every edit made before the backup is there', async () => {
    const server = await startTestServer()
    const dataDir = server.dataDir
    dirs.push(dataDir)
    const padId = 'keynote-live'
    let final: Set<string>
    let before: Set<string>
    let backupFile: string
    try {
      const created = await fetch(`${server.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ slug: 'lpc-2026', name: 'Linux Plumbers 2026' }),
      })
      assert.equal(created.status, 201)
      const typing = await typists(server, padId)
      try {
        await waitFor('some typing', () => tokensOf(typing.serverText()).size >= 100)
        // Everything the server has applied now is committed by the endpoint before it copies.
        before = tokensOf(typing.serverText())
        const res = await fetch(`${server.url}/api/admin/backup`, { method: 'POST' })
        assert.equal(res.status, 201)
        backupFile = ((await res.json()) as { path: string }).path
        const afterBackup = tokensOf(typing.serverText()).size
        await waitFor('typing after the backup', () => tokensOf(typing.serverText()).size >= afterBackup + 50)
        await typing.stop()
        final = tokensOf(typing.serverText())
      } finally {
        typing.destroy()
      }
    } finally {
      await server.close()
    }

    restoreInto(dataDir, backupFile)
    const restored = await startTestServer({ dataDir })
    try {
      const text = await restored.minutes.text(padId)
      assert.ok(text !== null, 'the pad is in the backup')
      const got = tokensOf(text)
      assertSubset(before, got, 'edits made before the backup')
      assertSubset(got, final, 'restored edits are real edits')
      assert.ok(
        got.size < final.size,
        'edits made after the backup are not in it: the restore replaced the data',
      )
      assert.equal((await restored.meetings.event('lpc-2026')).name, 'Linux Plumbers 2026')
      // A stock client sees the restored pad.
      const reader = connectClient(restored.wsUrl, padId)
      await reader.synced()
      await waitFor('reader sees the restored text', () => reader.text.toString() === text)
      reader.destroy()
    } finally {
      await restored.close()
    }
  })

  test('CLI backup from another process; restore into a new data directory', async () => {
    const server = await startTestServer()
    dirs.push(server.dataDir)
    const padId = 'bof-live'
    const backupFile = path.join(scratch(), 'nightly.sqlite')
    let before: Set<string>
    let final: Set<string>
    try {
      const typing = await typists(server, padId)
      try {
        await waitFor('some typing', () => tokensOf(typing.serverText()).size >= 100)
        await server.rooms.flush()
        before = tokensOf(typing.serverText())
        const result = await cli(['backup', backupFile, '--data-dir', server.dataDir])
        assert.equal(result.code, 0, result.stderr)
        assert.match(result.stdout, /^backup written: .*nightly\.sqlite \(.*1 pad, \d+ ms\)$/m)
        await typing.stop()
        final = tokensOf(typing.serverText())
      } finally {
        typing.destroy()
      }
    } finally {
      await server.close()
    }

    const dataDir = scratch()
    restoreInto(dataDir, backupFile)
    const restored = await startTestServer({ dataDir })
    try {
      const got = tokensOf((await restored.minutes.text(padId)) ?? '')
      assertSubset(before, got, 'edits made before the backup')
      assertSubset(got, final, 'restored edits are real edits')
    } finally {
      await restored.close()
    }
  })
})

// ------------------------------------------------------------------ CLI

const SCHEDULE_JSON = [
  {
    id: 'k1',
    title: 'Keynote: the kernel in 2030',
    kind: 'talk',
    room: 'Hall A',
    start: '2026-11-10T09:00',
    end: '2026-11-10T10:00',
    speakers: ['Ada'],
  },
  { id: 'b1', title: 'Containers BoF', room: 'Room 2', start: '2026-11-10T14:00:00+01:00' },
]

const SCHEDULE_ICS = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:rust-mc@lpc
SUMMARY:Rust microconference
CATEGORIES:Microconference
LOCATION:Room 3
DTSTART:20261111T080000Z
DTEND:20261111T113000Z
END:VEVENT
END:VCALENDAR
`

describe('admin CLI', () => {
  let server: TestServer
  let work: string
  before(async () => {
    server = await startTestServer()
    dirs.push(server.dataDir)
    work = scratch()
    fs.writeFileSync(path.join(work, 'schedule.json'), JSON.stringify(SCHEDULE_JSON))
    fs.writeFileSync(path.join(work, 'schedule.ics'), SCHEDULE_ICS)
    fs.writeFileSync(path.join(work, 'broken.json'), '[{"id": 1}]')
  })
  after(() => server.close())

  /** As an operator runs it: a child process, next to the running server, on its data directory. */
  const run = (...args: string[]) => cli([...args, '--data-dir', server.dataDir], { cwd: work })
  /** The same code in this process (no entry point), for the many cases that need no new process. */
  const runHere = async (...args: string[]): Promise<CliResult> => {
    let stdout = ''
    let stderr = ''
    const code = await runCli(
      [...args, '--data-dir', server.dataDir],
      {},
      {
        out: (text) => {
          stdout += text
        },
        err: (text) => {
          stderr += text
        },
      },
    )
    return { code, stdout, stderr }
  }

  test('--help for the CLI and for every command; usage errors exit 2', async () => {
    const [main, unknown] = await Promise.all([
      cli(['--help'], { viaBin: true, cwd: work }),
      cli(['frobnicate'], { cwd: work }),
    ])
    assert.equal(main.code, 0, main.stderr)
    assert.match(main.stdout, /^Usage: summitpad <command>/)
    for (const name of COMMAND_NAMES) assert.match(main.stdout, new RegExp(`^  ${name} `, 'm'))
    assert.equal(unknown.code, 2)
    assert.equal(
      unknown.stderr,
      'summitpad: unknown command "frobnicate"\nRun "summitpad --help" for usage.\n',
    )

    for (const name of COMMAND_NAMES) {
      for (const args of [
        [name, '--help'],
        ['help', name],
        ['--help', name],
      ]) {
        const r = await runHere(...args)
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
        assert.match(r.stdout, new RegExp(`^Usage: summitpad ${name}`), args.join(' '))
        assert.match(r.stdout, /--data-dir/)
        assert.equal(r.stderr, '')
      }
    }
    const none = await runCli([], {}, { out: () => {}, err: () => {} })
    assert.equal(none, 2, 'no command: usage on stderr, exit 2')
    const badOption = await runHere('list-pads', '--bogus')
    assert.equal(badOption.code, 2)
    assert.match(badOption.stderr, /^summitpad list-pads: unknown option --bogus$/m)
    const extra = await runHere('compact', 'a', 'b')
    assert.equal(extra.code, 2)
    assert.match(extra.stderr, /too many arguments; usage: summitpad compact <pad>/)
    const missing = await runHere('import-schedule', 'lpc-2026')
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /missing arguments/)
    const badEnv = await runCli(['list-pads'], { PORT: 'eighty' }, { out: () => {}, err: () => {} })
    assert.equal(badEnv, 2, 'a bad environment is a usage error, as for the server')
  })

  test('create-event, import-schedule (JSON and iCalendar) and list-pads, next to a running server', async () => {
    const created = await run(
      'create-event',
      'lpc-2026',
      '--name',
      'Linux Plumbers 2026',
      '--timezone',
      'Europe/Prague',
      '--starts',
      '2026-11-10',
      '--ends',
      '2026-11-12',
    )
    assert.equal(created.code, 0, created.stderr)
    assert.equal(created.stdout, 'created event lpc-2026: Linux Plumbers 2026 (Europe/Prague)\n')
    // The running server sees what the CLI wrote: same database.
    const event = (await (await fetch(`${server.url}/api/events/lpc-2026`)).json()) as { timezone: string }
    assert.equal(event.timezone, 'Europe/Prague')

    const dup = await runHere('create-event', 'lpc-2026', '--name', 'Again')
    assert.equal(dup.code, 1)
    assert.equal(dup.stderr, 'summitpad create-event: event "lpc-2026" already exists\n')
    for (const [args, message] of [
      [['LPC 2026', '--name', 'x'], /slug must be/],
      [['other'], /--name is required/],
      [['other', '--name', 'x', '--timezone', 'Mars/Olympus'], /--timezone must be an IANA time zone/],
      [['other', '--name', 'x', '--starts', '2026-02-30'], /--starts must be a date/],
      [
        ['other', '--name', 'x', '--starts', '2026-02-03', '--ends', '2026-02-01'],
        /--ends is before --starts/,
      ],
    ] as const) {
      const r = await runHere('create-event', ...args)
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, message)
    }

    const [json, missing, unknownEvent] = await Promise.all([
      run('import-schedule', 'lpc-2026', 'schedule.json'),
      run('import-schedule', 'lpc-2026', 'nope.ics'),
      run('import-schedule', 'no-such-event', 'schedule.json'),
    ])
    assert.equal(json.code, 0, json.stderr)
    assert.match(json.stdout, /^imported 2 sessions \(json-list\) into lpc-2026: 2 created, 0 updated/)
    assert.match(
      json.stdout,
      /^ {2}\+ keynote-the-kernel-in-2030-[0-9a-f]{5} {2}Keynote: the kernel in 2030$/m,
    )
    assert.equal(missing.code, 1)
    assert.equal(missing.stderr, 'summitpad import-schedule: cannot read nope.ics: no such file\n')
    assert.equal(unknownEvent.code, 1)
    assert.equal(unknownEvent.stderr, 'summitpad import-schedule: no event "no-such-event"\n')

    const again = await runHere('import-schedule', 'lpc-2026', path.join(work, 'schedule.json'), '--json')
    assert.equal(again.code, 0, again.stderr)
    const report = JSON.parse(again.stdout) as { created: unknown[]; unchanged: unknown[] }
    assert.equal(report.created.length, 0)
    assert.equal(report.unchanged.length, 2)
    const ics = await runHere('import-schedule', 'lpc-2026', path.join(work, 'schedule.ics'))
    assert.equal(ics.code, 0, ics.stderr)
    assert.match(ics.stdout, /1 created/)
    const pads = (await (await fetch(`${server.url}/api/events/lpc-2026/pads`)).json()) as {
      pads: { title: string; kind: string; room: string }[]
    }
    assert.deepEqual(pads.pads.map((p) => p.title).sort(), [
      'Containers BoF',
      'Keynote: the kernel in 2030',
      'Rust microconference',
    ])
    assert.equal(pads.pads.find((p) => p.title === 'Rust microconference')!.kind, 'mini-summit')
    const broken = await runHere('import-schedule', 'lpc-2026', path.join(work, 'broken.json'))
    assert.equal(broken.code, 1)
    assert.match(
      broken.stderr,
      /^summitpad import-schedule: .*broken\.json: JSON list of sessions: \[0\]\.title: /,
    )
    const badKind = await runHere('import-schedule', 'lpc-2026', 'schedule.json', '--kind', 'party')
    assert.equal(badKind.code, 2)
    const notAFile = await runHere('import-schedule', 'lpc-2026', work)
    assert.equal(notAFile.code, 1)
    assert.match(notAFile.stderr, /not a file/)

    // A pad someone typed into, for the size column.
    const typist = connectClient(server.wsUrl, 'hallway-chat')
    await typist.synced()
    typist.text.insert(0, 'Notes from the hallway\n'.repeat(50))
    await waitFor('stored', () => server.store.exists('hallway-chat'))
    typist.destroy()

    const list = await run('list-pads')
    assert.equal(list.code, 0, list.stderr)
    const lines = list.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^PAD +EVENT +UPDATES +SIZE +LAST ACTIVITY \(UTC\) +TITLE$/)
    assert.match(list.stdout, /^hallway-chat +- +\d+ +[\d.]+ (B|KiB) +\d{4}-\d\d-\d\d \d\d:\d\d$/m)
    assert.match(list.stdout, /^containers-bof-[0-9a-f]{5} +lpc-2026 +1 +\d+ B +.* Containers BoF$/m)
    assert.match(lines.at(-1)!, /^4 pads, /)
    const listed = await runHere('list-pads', '--event', 'lpc-2026', '--json')
    const rows = JSON.parse(listed.stdout) as {
      id: string
      bytes: number
      lastActivity: string
      updates: number
    }[]
    assert.equal(rows.length, 3)
    for (const row of rows) {
      assert.ok(row.bytes > 0 && row.updates >= 1)
      assert.ok(Date.now() - Date.parse(row.lastActivity) < 600_000)
    }
    const unfiled = await runHere('list-pads', '--unfiled', '--json')
    assert.deepEqual(
      (JSON.parse(unfiled.stdout) as { id: string }[]).map((r) => r.id),
      ['hallway-chat'],
    )
    const noEvent = await runHere('list-pads', '--event', 'nope')
    assert.equal(noEvent.code, 1)
    assert.equal(noEvent.stderr, 'summitpad list-pads: no event "nope"\n')
  })

  test('export-event writes the minutes zip; an existing file needs --force', async () => {
    assert.equal((await runHere('create-event', 'kr-2026', '--name', 'Kernel Recipes')).code, 0)
    assert.equal((await runHere('import-schedule', 'kr-2026', path.join(work, 'schedule.json'))).code, 0)
    const out = await run('export-event', 'kr-2026')
    assert.equal(out.code, 0, out.stderr)
    const target = path.join(work, 'kr-2026-minutes.zip')
    assert.match(out.stdout, new RegExp(`^wrote ${target} \\([\\d.]+ KiB, 2 pads\\)\\n$`))
    const files = unzipSync(new Uint8Array(fs.readFileSync(target)))
    assert.ok(files['minutes.md'] && files['index.html'])
    // Nobody wrote in the imported pads yet: listed as "no notes", without files of their own.
    assert.equal(Object.keys(files).filter((f) => f.startsWith('pads/')).length, 0)
    assert.match(new TextDecoder().decode(files['minutes.md']), /Keynote: the kernel in 2030 — .* — no notes/)
    assert.equal(new TextDecoder().decode(files['index.html']).split('no notes').length - 1, 2)

    const exists = await runHere('export-event', 'kr-2026', target)
    assert.equal(exists.code, 1)
    assert.match(exists.stderr, /already exists \(add --force to overwrite it\)/)
    const forced = await runHere('export-event', 'kr-2026', target, '--force')
    assert.equal(forced.code, 0, forced.stderr)
    const unknown = await runHere('export-event', 'no-such-event', path.join(work, 'x.zip'))
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr, 'summitpad export-event: no event "no-such-event"\n')
    assert.equal(fs.existsSync(path.join(work, 'x.zip')), false)
  })

  test('compact writes a snapshot; forget-history drops the log and keeps the text', async () => {
    const padId = 'secret-pasted'
    const c = connectClient(server.wsUrl, padId)
    await c.synced()
    c.text.insert(0, 'Agenda\n')
    c.text.insert(c.text.length, 'password: hunter2\n')
    c.text.insert(c.text.length, 'Decisions\n')
    c.text.delete(7, 'password: hunter2\n'.length)
    await waitFor('stored', async () => (await server.minutes.text(padId)) === 'Agenda\nDecisions\n')
    c.destroy()
    // Nobody has it open any more: the case these commands are for.
    await waitFor('pad unloaded', () => server.rooms.get(padId) === undefined)
    const text = await server.minutes.text(padId)

    // Rows logged after the server's own last snapshot, as after a crash.
    server.store.append([
      { padId, at: Date.now(), conn: 'server', author: null, data: textUpdateAfter(server, padId) },
    ])
    assert.ok(server.store.load(padId)!.updates.length > 0)
    const compacted = await run('compact', padId)
    assert.equal(compacted.code, 0, compacted.stderr)
    assert.match(compacted.stdout, /^compacted secret-pasted: a \d+ B snapshot now covers 1 logged update$/m)
    const stored = server.store.load(padId)!
    assert.equal(stored.updates.length, 0, 'the newest snapshot covers the whole log')
    assert.equal(stored.snapshotUpto, server.store.lastSeq(padId))
    const textNow = await server.minutes.text(padId)
    assert.equal(textNow, `${text}Action: rotate the password\n`)
    const again = await runHere('compact', padId)
    assert.equal(again.stdout, 'secret-pasted is already compact: its newest snapshot covers every update\n')

    const history = () =>
      server.db
        .prepare<[string], { n: number }>(
          'SELECT count(*) AS n FROM updates WHERE pad = (SELECT pk FROM pads WHERE id = ?)',
        )
        .get(padId)!.n
    assert.ok(history() > 0)
    const unconfirmed = await runHere('forget-history', padId)
    assert.equal(unconfirmed.code, 2)
    assert.match(unconfirmed.stderr, /add --yes/)
    assert.ok(history() > 0, 'nothing happened without --yes')
    const forgot = await run('forget-history', padId, '--yes')
    assert.equal(forgot.code, 0, forgot.stderr)
    assert.match(forgot.stdout, /^forgot the history of secret-pasted: \d+ logged updates? dropped/)
    assert.equal(history(), 0)
    assert.equal(await server.minutes.text(padId), textNow)
    const everything = server.db
      .prepare<[], { data: Buffer }>('SELECT data FROM snapshots UNION ALL SELECT data FROM updates')
      .all()
    assert.ok(
      !everything.some((r) => r.data.includes('hunter2')),
      'the deleted secret is gone from the database',
    )

    for (const args of [
      ['compact', 'no-such-pad'],
      ['forget-history', 'no-such-pad', '--yes'],
    ]) {
      const r = await runHere(...args)
      assert.equal(r.code, 1)
      assert.equal(r.stderr, `summitpad ${args[0]}: no stored pad "no-such-pad"\n`)
    }
  })

  test('backup refuses an existing file; commands refuse a directory without a database', async () => {
    const target = path.join(work, 'once.sqlite')
    const first = await runHere('backup', target, '--json')
    assert.equal(first.code, 0, first.stderr)
    const result = JSON.parse(first.stdout) as { path: string; bytes: number; pads: number }
    assert.equal(result.path, target)
    assert.equal(fs.statSync(target).size, result.bytes)
    assert.ok(result.pads >= 1)
    const second = await runHere('backup', target)
    assert.equal(second.code, 1)
    assert.match(second.stderr, /already exists; choose a new file name/)
    const noDir = await runHere('backup', path.join(work, 'no', 'such', 'dir.sqlite'))
    assert.equal(noDir.code, 1)
    assert.match(noDir.stderr, /does not exist/)
    assert.deepEqual(
      fs.readdirSync(work).filter((f) => f.includes('partial')),
      [],
      'no partial files left behind',
    )

    const empty = scratch()
    const quiet = { out: () => {}, err: () => {} }
    let stderr = ''
    const noDb = await runCli(['backup', path.join(work, 'x.sqlite'), '--data-dir', empty], {}, quiet)
    assert.equal(noDb, 1)
    const list = await runCli(
      ['list-pads'],
      { DATA_DIR: empty },
      { out: () => {}, err: (t) => (stderr += t) },
    )
    assert.equal(list, 1)
    assert.equal(
      stderr,
      `summitpad list-pads: no database at ${path.join(empty, DB_FILE_NAME)} (set DATA_DIR or --data-dir to the server's data directory)\n`,
    )
    assert.deepEqual(fs.readdirSync(empty), [], 'a mistyped data directory is not filled with a new database')
  })
})
