/**
 * Meetings end to end: the JSON API and its one error shape, schema migrations, schedule import
 * (.ics and JSON), templates applied exactly once, deletes that leave nothing behind, presence, and
 * the server-rendered pages. Everything goes through a real server on port 0 with real HTTP and
 * stock y-websocket clients.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, afterEach, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import type { ImportReport, Presence } from '../server/meetings/meetings.ts'
import type { EventInfo, PadInfo } from '../server/meetings/model.ts'
import { DB_FILE_NAME, MIGRATIONS, migrate } from '../server/storage/db.ts'
import { PadStore } from '../server/storage/store.ts'
import {
  type ApiReply,
  apiCall,
  assertApiError,
  assertNoInternals,
  type Client,
  connectClient,
  okJson,
  sleep,
  startTestServer,
  type TestServer,
  tempDir,
  waitFor,
} from './helpers.ts'
import { countPadRows, padPk, queryRows } from './stored-rows.ts'

const ICS = fs.readFileSync(new URL('./fixtures/lpc-2026.ics', import.meta.url), 'utf8')

// ------------------------------------------------------------------ a tiny HTTP vocabulary

const call = apiCall
const ok = okJson

async function createEvent(server: TestServer, fields: Record<string, unknown>): Promise<EventInfo> {
  return ok<EventInfo>(await call(server, 'POST', '/api/events', fields), 201)
}

async function createPad(
  server: TestServer,
  fields: Record<string, unknown>,
  event?: string,
): Promise<PadInfo> {
  const url = event ? `/api/events/${event}/pads` : '/api/pads'
  return ok<PadInfo>(await call(server, 'POST', url, fields), 201)
}

async function importSchedule(server: TestServer, slug: string, schedule: string | unknown[]) {
  const type = typeof schedule === 'string' ? 'text/calendar' : 'application/json'
  return ok<ImportReport>(await call(server, 'POST', `/api/events/${slug}/import`, schedule, type))
}

async function eventPads(server: TestServer, slug: string): Promise<PadInfo[]> {
  return ok<{ pads: PadInfo[] }>(await call(server, 'GET', `/api/events/${slug}/pads`)).pads
}

async function unfiledPads(server: TestServer): Promise<PadInfo[]> {
  return ok<{ pads: PadInfo[] }>(await call(server, 'GET', '/api/pads')).pads
}

async function getPage(server: TestServer, urlPath: string): Promise<ApiReply> {
  return call(server, 'GET', urlPath, undefined, undefined, { accept: 'text/html' })
}

// ------------------------------------------------------------------ cleanup that survives failures

// What a test opened is closed after it even when an assertion failed mid-way: a client left
// connected keeps reconnecting and would keep the run from ever ending.
const openClients = new Set<Client>()
const openServers = new Set<TestServer>()

function connect(wsUrl: string, padId: string, options?: Parameters<typeof connectClient>[2]): Client {
  const c = connectClient(wsUrl, padId, options)
  let destroyed = false
  const tracked: Client = {
    ...c,
    destroy: () => {
      openClients.delete(tracked)
      if (destroyed) return
      destroyed = true
      c.destroy()
    },
  }
  openClients.add(tracked)
  return tracked
}

/** A server owned by one test (describe-level servers are closed by their own `after`). */
async function ownServer(overrides?: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(overrides)
  openServers.add(server)
  return server
}

afterEach(async () => {
  for (const c of [...openClients]) c.destroy()
  await Promise.all([...openServers].map((s) => s.close()))
  openServers.clear()
})

// ------------------------------------------------------------------ pads as people see them

/** What a person opening the pad sees right now. */
async function padText(server: TestServer, id: string): Promise<string> {
  const c = connect(server.wsUrl, id)
  try {
    await c.synced()
    return c.text.toString()
  } finally {
    c.destroy()
  }
}

const linesEqualTo = (text: string, line: string) => text.split('\n').filter((l) => l === line).length

/** The pad's log rows, oldest first (none for a pad never stored). */
function logRows(server: TestServer, id: string): Promise<{ conn: string }[]> {
  return server.storage.history.rows(id)
}

/** Polls an async condition, bounded. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

function closeCodes(client: Client): number[] {
  const codes: number[] = []
  client.provider.on('connection-close', (event) => {
    if (event) codes.push(event.code)
  })
  return codes
}

// ==================================================================== API validation

describe('API validation: one error shape, 4xx for the client, never internals', () => {
  let server: TestServer
  let pad: PadInfo
  before(async () => {
    server = await startTestServer()
    await createEvent(server, { slug: 'lpc-2026', name: 'Linux Plumbers 2026', timezone: 'Europe/Prague' })
    pad = await createPad(server, { title: 'Memory cgroup BoF', kind: 'bof' }, 'lpc-2026')
  })
  after(() => server.close())

  test('malformed JSON is a 400 invalid_json, without echoing parser internals', async () => {
    for (const [method, url] of [
      ['POST', '/api/events'],
      ['POST', '/api/pads'],
      ['PATCH', `/api/pads/${pad.id}`],
      ['PATCH', '/api/events/lpc-2026'],
    ] as const) {
      for (const broken of ['{"slug":', '{slug: "x"}', "{'a': 1}", '[1,2', '{"a":1}}']) {
        assertApiError(await call(server, method, url, broken), 400, 'invalid_json')
      }
    }
  })

  test('unknown fields are refused and named', async () => {
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['POST', '/api/events', { slug: 'osmc', name: 'OSMC', colour: 'red' }, 'colour'],
      ['PATCH', '/api/events/lpc-2026', { venue: 'Prague' }, 'venue'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', notes: '# injected' }, 'notes'],
      ['POST', '/api/events/lpc-2026/pads', { title: 'x', kind: 'talk', startTime: '09:00' }, 'startTime'],
      // A pad's text is edited by typing, never by PATCH.
      ['PATCH', `/api/pads/${pad.id}`, { text: 'replaced' }, 'text'],
      ['PUT', '/api/events/lpc-2026/templates/bof', { body: '# x', format: 'md' }, 'format'],
    ]
    for (const [method, url, body, field] of cases) {
      const message = assertApiError(await call(server, method, url, body), 400, 'invalid')
      assert.match(message, new RegExp(field), `${method} ${url}: ${message}`)
    }
    assert.equal(await padText(server, pad.id).then((t) => t.includes('replaced')), false)
    const events = ok<{ events: EventInfo[] }>(await call(server, 'GET', '/api/events')).events
    assert.deepEqual(
      events.map((e) => e.slug),
      ['lpc-2026'],
    )
  })

  test('wrong types are refused and the field is named as the forms name it', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/events', { slug: 'x-1', name: 5 }, 'name'],
      ['POST', '/api/events', { slug: 'Linux Plumbers', name: 'LPC' }, 'short name for the URL'],
      ['POST', '/api/events', { slug: 'x-2', name: 'X', startsOn: '10.11.2026' }, 'first day'],
      ['POST', '/api/events', ['slug', 'name'], ''],
      ['POST', '/api/events', 'null', ''],
      ['POST', '/api/pads', { title: 'x', kind: 'workshop' }, 'kind'],
      ['POST', '/api/pads', { title: '   ', kind: 'talk' }, 'title'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', speakers: 'Ada' }, 'speakers'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', startsAt: 1_700_000_000_000 }, 'start time'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', startsAt: 'tomorrow 9am' }, 'start time'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', links: [{ url: 'javascript:alert(1)' }] }, 'link'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', id: 'a/b' }, 'pad name'],
      ['PATCH', `/api/pads/${pad.id}`, { cancelled: 'yes' }, 'Cancelled'],
      ['PATCH', `/api/pads/${pad.id}`, { title: null }, 'title'],
      ['PUT', '/api/events/lpc-2026/templates/bof', { body: 5 }, 'template'],
      ['POST', '/api/events/lpc-2026/import', { sessions: [] }, ''],
      ['POST', '/api/events/lpc-2026/import', [{ id: 'a', title: 'x', start: 'soon' }], 'start'],
    ]
    for (const [method, url, body, field] of cases) {
      const reply = await call(server, method, url, body)
      const message = assertApiError(reply, 400)
      if (field) assert.match(message, new RegExp(field), `${method} ${url}: ${message}`)
    }
    assertApiError(
      await call(server, 'PUT', '/api/events/lpc-2026/templates/workshop', '# x', 'text/markdown'),
      400,
    )
    assertApiError(await call(server, 'POST', '/api/events/lpc-2026/import?kind=keynote', []), 400)
    assert.equal((await eventPads(server, 'lpc-2026')).length, 1, 'nothing was created by a refused request')
  })

  test('a bad time zone is refused on create and on update', async () => {
    for (const timezone of ['Europe/Atlantis', 'CET+1', '', 'W. Europe Standard Time']) {
      const created = await call(server, 'POST', '/api/events', { slug: 'tz-test', name: 'TZ', timezone })
      assert.match(assertApiError(created, 400, 'invalid'), /time zone/)
      const patched = await call(server, 'PATCH', '/api/events/lpc-2026', { timezone })
      assert.match(assertApiError(patched, 400, 'invalid'), /time zone/)
    }
    assertApiError(await call(server, 'GET', '/api/events/tz-test'), 404)
    assert.equal(ok<EventInfo>(await call(server, 'GET', '/api/events/lpc-2026')).timezone, 'Europe/Prague')
  })

  test('unknown ids are 404 not_found', async () => {
    const cases: [string, string, unknown?][] = [
      ['GET', '/api/events/no-such-event'],
      ['PATCH', '/api/events/no-such-event', { name: 'x' }],
      ['DELETE', '/api/events/no-such-event'],
      ['GET', '/api/events/no-such-event/pads'],
      ['POST', '/api/events/no-such-event/pads', { title: 'x', kind: 'talk' }],
      ['POST', '/api/events/no-such-event/import', []],
      ['GET', '/api/events/no-such-event/presence'],
      ['GET', '/api/events/no-such-event/templates/bof'],
      ['PUT', '/api/events/no-such-event/templates/bof', { body: '# x' }],
      ['GET', '/api/pads?event=no-such-event'],
      ['POST', '/api/pads', { title: 'x', kind: 'talk', event: 'no-such-event' }],
      ['GET', '/api/pads/no-such-pad'],
      ['PATCH', '/api/pads/no-such-pad', { title: 'x' }],
      ['DELETE', '/api/pads/no-such-pad'],
      ['GET', '/api/pads/no-such-pad/presence'],
      ['PATCH', `/api/pads/${pad.id}`, { event: 'no-such-event' }],
      ['GET', '/api/no-such-route'],
    ]
    for (const [method, url, body] of cases) {
      assertApiError(await call(server, method, url, body), 404, 'not_found')
    }
    assert.equal(ok<PadInfo>(await call(server, 'GET', `/api/pads/${pad.id}`)).event, 'lpc-2026')
  })

  test('a duplicate slug or pad id is a 409 conflict and changes nothing', async () => {
    assertApiError(
      await call(server, 'POST', '/api/events', { slug: 'lpc-2026', name: 'Another LPC' }),
      409,
      'conflict',
    )
    await createEvent(server, { slug: 'osmc-2026', name: 'OSMC' })
    assertApiError(
      await call(server, 'PATCH', '/api/events/osmc-2026', { slug: 'lpc-2026' }),
      409,
      'conflict',
    )
    assert.equal(ok<EventInfo>(await call(server, 'GET', '/api/events/lpc-2026')).name, 'Linux Plumbers 2026')
    assert.equal(ok<EventInfo>(await call(server, 'GET', '/api/events/osmc-2026')).name, 'OSMC')

    const dup = await call(server, 'POST', '/api/pads', { id: pad.id, title: 'Hijack', kind: 'talk' })
    assertApiError(dup, 409, 'conflict')
    assert.equal(ok<PadInfo>(await call(server, 'GET', `/api/pads/${pad.id}`)).title, 'Memory cgroup BoF')
    assert.equal(linesEqualTo(await padText(server, pad.id), '# Hijack'), 0)
  })

  test('a body that is not JSON is 415 unsupported_media_type', async () => {
    const form = await call(
      server,
      'POST',
      '/api/events',
      'slug=x&name=y',
      'application/x-www-form-urlencoded',
    )
    assertApiError(form, 415, 'unsupported_media_type')
    const plain = await call(server, 'POST', '/api/pads', 'title: x', 'text/plain')
    assertApiError(plain, 415, 'unsupported_media_type')
    const patch = await call(
      server,
      'PATCH',
      `/api/pads/${pad.id}`,
      'title=x',
      'application/x-www-form-urlencoded',
    )
    assertApiError(patch, 415, 'unsupported_media_type')
  })

  test('an impossible calendar date is refused, not rolled over into another day', async () => {
    // 31 February would silently become 3 March: a session on the wrong day.
    const created = await call(server, 'POST', '/api/pads', {
      title: 'Leap day BoF',
      kind: 'bof',
      startsAt: '2026-02-31T09:00:00Z',
    })
    assert.match(assertApiError(created, 400, 'invalid'), /start time/)
    const imported = await call(server, 'POST', '/api/events/lpc-2026/import', [
      { id: 'feb31', title: 'Impossible', start: '2026-02-31T09:00' },
    ])
    assertApiError(imported, 400, 'invalid_schedule')
  })

  test('a session that ends before it starts is refused', async () => {
    const reply = await call(server, 'POST', '/api/pads', {
      title: 'Backwards talk',
      kind: 'talk',
      startsAt: '2026-11-10T10:00:00Z',
      endsAt: '2026-11-10T09:00:00Z',
    })
    assert.match(assertApiError(reply, 400, 'invalid'), /ends before it starts/)
  })

  test('a broken .ics is a 400 invalid_schedule with no internals, never a 500', async () => {
    const calendar = (vevent: string) =>
      `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n${vevent}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`
    const broken: [string, string][] = [
      ['not iCalendar', 'not a calendar at all'],
      ['no UID', calendar('SUMMARY:No UID\r\nDTSTART:20261110T090000Z')],
      ['no DTSTART', calendar('UID:no-start@x\r\nSUMMARY:No DTSTART')],
      ['garbage DTSTART', calendar('UID:bad-start@x\r\nDTSTART:garbage\r\nSUMMARY:Garbage DTSTART')],
      [
        'bad RRULE',
        calendar('UID:bad-rule@x\r\nDTSTART:20261110T090000Z\r\nRRULE:FREQ=SOMETIMES\r\nSUMMARY:x'),
      ],
    ]
    const failures: string[] = []
    for (const [what, ics] of broken) {
      const reply = await call(server, 'POST', '/api/events/lpc-2026/import', ics, 'text/calendar')
      try {
        assertApiError(reply, 400, 'invalid_schedule', `${what}: `)
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0]!)
      }
    }
    assert.deepEqual(failures, [])
    assert.equal((await eventPads(server, 'lpc-2026')).length, 1)
  })

  test('a bad URL escape is a 400 in the same shape', async () => {
    assertApiError(await call(server, 'GET', '/api/pads/%E0%A4%A'), 400)
  })
})

// ==================================================================== CRUD

describe('events and pads: create, list, get, update, delete', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
  })
  after(() => server.close())

  test('an event goes through its whole life', async () => {
    const created = await createEvent(server, {
      slug: 'lpc-2026',
      name: 'Linux Plumbers 2026',
      startsOn: '2026-11-10',
      endsOn: '2026-11-12',
      timezone: 'Europe/Prague',
      description: 'Prague, Clarion Congress Hotel',
    })
    assert.equal(created.slug, 'lpc-2026')
    assert.equal(created.timezone, 'Europe/Prague')
    await createEvent(server, { slug: 'kr-2026', name: 'Kernel Recipes 2026' })
    const utc = ok<EventInfo>(await call(server, 'GET', '/api/events/kr-2026'))
    assert.equal(utc.timezone, 'UTC', 'the time zone defaults to UTC')

    const listed = ok<{ events: EventInfo[] }>(await call(server, 'GET', '/api/events')).events
    assert.deepEqual(listed.map((e) => e.slug).sort(), ['kr-2026', 'lpc-2026'])
    assert.deepEqual(ok<EventInfo>(await call(server, 'GET', '/api/events/lpc-2026')), created)

    const renamed = ok<EventInfo>(
      await call(server, 'PATCH', '/api/events/kr-2026', { slug: 'kernel-recipes', name: 'Kernel Recipes' }),
    )
    assert.equal(renamed.slug, 'kernel-recipes')
    assert.equal(renamed.name, 'Kernel Recipes')
    assertApiError(await call(server, 'GET', '/api/events/kr-2026'), 404)
    const pad = await createPad(server, { title: 'Opening', kind: 'talk' }, 'kernel-recipes')
    assert.equal(pad.event, 'kernel-recipes')

    assert.deepEqual(ok(await call(server, 'DELETE', '/api/events/kernel-recipes')), { deletedPads: 1 })
    assertApiError(await call(server, 'GET', '/api/events/kernel-recipes'), 404)
    assertApiError(await call(server, 'GET', `/api/pads/${pad.id}`), 404)
    const after = ok<{ events: EventInfo[] }>(await call(server, 'GET', '/api/events')).events
    assert.deepEqual(
      after.map((e) => e.slug),
      ['lpc-2026'],
    )
  })

  test('a pad goes through its whole life, starting from its template', async () => {
    await createEvent(server, { slug: 'osmc', name: 'OSMC', timezone: 'Europe/Berlin' })
    const pad = await createPad(
      server,
      {
        title: 'Scheduler BoF',
        kind: 'bof',
        track: 'Core',
        room: 'Room 2.1',
        // No offset: the event's zone (Berlin, CET in November).
        startsAt: '2026-11-10T16:00',
        endsAt: '2026-11-10T17:00:00+01:00',
        speakers: ['Peter Zijlstra', 'Vincent Guittot'],
        links: [{ title: 'Slides', url: 'https://example.org/slides.pdf' }],
      },
      'osmc',
    )
    assert.match(pad.id, /^scheduler-bof-[0-9a-f]{5}$/)
    assert.equal(pad.event, 'osmc')
    assert.equal(pad.kind, 'bof')
    assert.equal(pad.startsAt, '2026-11-10T15:00:00.000Z')
    assert.equal(pad.endsAt, '2026-11-10T16:00:00.000Z')
    assert.deepEqual(pad.speakers, ['Peter Zijlstra', 'Vincent Guittot'])
    assert.deepEqual(pad.links, [{ title: 'Slides', url: 'https://example.org/slides.pdf' }])

    const text = await padText(server, pad.id)
    assert.equal(linesEqualTo(text, '# Scheduler BoF'), 1)
    assert.ok(text.includes('## Topics raised'), text)
    assert.ok(text.includes('## Action items'), text)
    // Schedule facts live in the metadata (shown by the editor and the minutes), not in the text.
    for (const fact of ['16:00', 'Room 2.1', 'Peter Zijlstra', 'Core', 'slides.pdf'])
      assert.ok(!text.includes(fact), `${fact} is not copied into the text:\n${text}`)

    const own = await createPad(server, { id: 'hallway-42', title: 'Hallway', kind: 'meeting' })
    assert.equal(own.id, 'hallway-42')
    assert.equal(own.event, null)

    assert.deepEqual(
      (await eventPads(server, 'osmc')).map((p) => p.id),
      [pad.id],
    )
    assert.deepEqual(
      ok<{ pads: PadInfo[] }>(await call(server, 'GET', '/api/pads?event=osmc')).pads.map((p) => p.id),
      [pad.id],
    )
    assert.ok((await unfiledPads(server)).some((p) => p.id === 'hallway-42'))
    assert.deepEqual(ok<PadInfo>(await call(server, 'GET', `/api/pads/${pad.id}`)), pad)

    const patched = ok<PadInfo>(
      await call(server, 'PATCH', `/api/pads/${pad.id}`, { room: 'Hall B', cancelled: true, track: null }),
    )
    assert.equal(patched.room, 'Hall B')
    assert.equal(patched.cancelled, true)
    assert.equal(patched.track, null)
    assert.equal(patched.title, 'Scheduler BoF', 'fields not in the patch are kept')
    assert.equal(patched.startsAt, pad.startsAt)

    assert.equal((await call(server, 'DELETE', `/api/pads/${pad.id}`)).status, 204)
    assertApiError(await call(server, 'GET', `/api/pads/${pad.id}`), 404)
    assert.deepEqual(await eventPads(server, 'osmc'), [])
  })

  test('PATCH changes a pad’s metadata and never its text', async () => {
    await createEvent(server, { slug: 'kvm-forum', name: 'KVM Forum', timezone: 'Europe/Prague' })
    const pad = await createPad(server, { title: 'VFIO BoF', kind: 'bof', room: 'Room 1' }, 'kvm-forum')
    const writer = connect(server.wsUrl, pad.id, { name: 'Alex' })
    await writer.synced()
    writer.text.insert(writer.text.length, '\nDECISION: keep the legacy ioctl for one more release\n')
    await waitFor('typing stored', async () => (await logRows(server, pad.id)).length === 2)
    const before = writer.text.toString()

    const patched = ok<PadInfo>(
      await call(server, 'PATCH', `/api/pads/${pad.id}`, {
        title: 'VFIO and IOMMUFD BoF',
        room: 'Room 3',
        startsAt: '2026-11-11T14:00',
        speakers: ['Alex Williamson'],
      }),
    )
    assert.equal(patched.title, 'VFIO and IOMMUFD BoF')
    assert.equal(patched.room, 'Room 3')
    assert.equal(patched.startsAt, '2026-11-11T13:00:00.000Z', 'a time without offset is in the event’s zone')
    await sleep(200)
    assert.equal(writer.text.toString(), before, 'the open pad did not change')
    assert.equal(await padText(server, pad.id), before, 'a newcomer sees the same text')
    assert.equal((await logRows(server, pad.id)).length, 2, 'nothing was written to the pad’s log')
    writer.destroy()
  })

  test('a pad can be moved to another event and unfiled', async () => {
    await createEvent(server, { slug: 'from-ev', name: 'From' })
    await createEvent(server, { slug: 'to-ev', name: 'To', timezone: 'America/New_York' })
    const pad = await createPad(server, { title: 'Wandering pad', kind: 'meeting' }, 'from-ev')
    const moved = ok<PadInfo>(
      await call(server, 'PATCH', `/api/pads/${pad.id}`, { event: 'to-ev', startsAt: '2026-11-10T09:00' }),
    )
    assert.equal(moved.event, 'to-ev')
    assert.equal(moved.startsAt, '2026-11-10T14:00:00.000Z', 'read in the new event’s zone')
    assert.deepEqual(await eventPads(server, 'from-ev'), [])
    assert.deepEqual(
      (await eventPads(server, 'to-ev')).map((p) => p.id),
      [pad.id],
    )
    const unfiled = ok<PadInfo>(await call(server, 'PATCH', `/api/pads/${pad.id}`, { event: null }))
    assert.equal(unfiled.event, null)
    assert.ok((await unfiledPads(server)).some((p) => p.id === pad.id))
    assert.deepEqual(await eventPads(server, 'to-ev'), [])
  })
})

// ==================================================================== migrations

// SQLite's own migrations (user_version, a file of the previous schema): they run on SQLite
// whatever SUMMITPAD_TEST_STORAGE says. PostgreSQL's (migrate.ts: concurrent migrators, a newer
// schema refused) are postgres-engine.test.ts's.
describe('schema migrations', () => {
  test('an empty database is brought to the current schema', async () => {
    const server = await ownServer({ databaseUrl: null })
    try {
      assert.equal(server.db.pragma('user_version', { simple: true }), MIGRATIONS.length)
      const tables = (
        server.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      ).map((t) => t.name)
      for (const t of ['pads', 'updates', 'snapshots', 'events', 'event_templates'])
        assert.ok(tables.includes(t), t)
      assert.deepEqual(ok<{ events: EventInfo[] }>(await call(server, 'GET', '/api/events')).events, [])
      assert.deepEqual(await unfiledPads(server), [])
      await createEvent(server, { slug: 'fresh', name: 'Fresh' })
    } finally {
      await server.close()
    }
  })

  test('pads of the previous schema are kept, with their text, and show up as unfiled', async () => {
    const dataDir = tempDir()
    const old = new Database(path.join(dataDir, DB_FILE_NAME))
    migrate(old, MIGRATIONS.slice(0, 1))
    assert.equal(old.pragma('user_version', { simple: true }), 1)
    const oldStore = new PadStore(old)
    const doc = new Y.Doc()
    const rows: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => rows.push(u))
    const text = doc.getText('notes')
    text.insert(0, 'Hallway track, day 1\n')
    const createdAt = Date.UTC(2025, 11, 12, 9, 0)
    const [first] = oldStore.append([
      { padId: 'hallway-day1', at: createdAt, conn: 'abc', author: 'Ada', data: rows[0]! },
    ])
    oldStore.writeSnapshot('hallway-day1', first!, Y.encodeStateAsUpdate(doc))
    text.insert(text.length, 'DECISION: meet again tomorrow\n')
    oldStore.append([
      { padId: 'hallway-day1', at: createdAt + 60_000, conn: 'abc', author: 'Ada', data: rows[1]! },
    ])
    old.close()

    const server = await ownServer({ dataDir, databaseUrl: null })
    try {
      assert.equal(server.db.pragma('user_version', { simple: true }), MIGRATIONS.length)
      const unfiled = await unfiledPads(server)
      assert.equal(unfiled.length, 1)
      const pad = unfiled[0]!
      assert.equal(pad.id, 'hallway-day1')
      assert.equal(pad.event, null)
      assert.equal(pad.title, null)
      assert.equal(pad.kind, null)
      assert.deepEqual(pad.speakers, [])
      assert.equal(pad.cancelled, false)
      assert.equal(pad.createdAt, new Date(createdAt).toISOString())
      const pk = (await padPk(server, 'hallway-day1'))!
      assert.equal(await countPadRows(server, 'snapshots', pk), 1, 'the old snapshot is kept')
      assert.equal(await countPadRows(server, 'updates', pk), 2, 'the old log is kept')
      assert.equal(
        await padText(server, 'hallway-day1'),
        'Hallway track, day 1\nDECISION: meet again tomorrow\n',
      )
      const home = await getPage(server, '/')
      assert.ok(home.text.includes('href="/p/hallway-day1"'), 'the home page lists it')

      // It can be filed into an event like any pad; its text stays as it was.
      await createEvent(server, { slug: 'lpc-2025', name: 'LPC 2025' })
      const filed = ok<PadInfo>(
        await call(server, 'PATCH', '/api/pads/hallway-day1', {
          event: 'lpc-2025',
          title: 'Hallway',
          kind: 'meeting',
        }),
      )
      assert.equal(filed.event, 'lpc-2025')
      assert.equal(
        await padText(server, 'hallway-day1'),
        'Hallway track, day 1\nDECISION: meet again tomorrow\n',
      )
    } finally {
      await server.close()
    }
  })

  test('a migration that fails leaves the previous version intact', () => {
    const db = new Database(path.join(tempDir(), DB_FILE_NAME))
    migrate(db, MIGRATIONS.slice(0, 1))
    db.prepare('INSERT INTO pads (id, created_at, updated_at) VALUES (?, 1, 1)').run('kept')
    assert.throws(() => migrate(db, [MIGRATIONS[0]!, 'CREATE TABLE half (x); SELECT * FROM missing_table;']))
    assert.equal(db.pragma('user_version', { simple: true }), 1)
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").all(), [])
    assert.deepEqual(db.prepare('SELECT id FROM pads').all(), [{ id: 'kept' }])
    db.close()
  })

  test('a database from a newer server is refused, not touched', async () => {
    const dataDir = tempDir()
    const db = new Database(path.join(dataDir, DB_FILE_NAME))
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
    db.close()
    await assert.rejects(ownServer({ dataDir, databaseUrl: null }), /newer/)
    const again = new Database(path.join(dataDir, DB_FILE_NAME))
    assert.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length + 1)
    again.close()
  })
})

// ==================================================================== schedule import

describe('schedule import', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
  })
  after(() => server.close())

  const byUid = (pads: PadInfo[]) => new Map(pads.map((p) => [p.sourceUid, p]))

  test('the real .ics imported twice gives the same pads, with times converted correctly', async () => {
    await createEvent(server, {
      slug: 'lpc-2026',
      name: 'Linux Plumbers 2026',
      startsOn: '2026-11-10',
      endsOn: '2026-11-12',
      timezone: 'Europe/Prague',
    })
    const first = await importSchedule(server, 'lpc-2026', ICS)
    assert.equal(first.created.length, 5, JSON.stringify(first))
    assert.deepEqual(first.updated, [])
    assert.deepEqual(first.unchanged, [])
    assert.deepEqual(first.skipped, [
      { uid: 'lpc2026-cancelled@pretalx', title: 'eBPF office hours', reason: 'cancelled' },
    ])
    const pads = await eventPads(server, 'lpc-2026')
    assert.equal(pads.length, 5)
    const uid = byUid(pads)

    const containers = uid.get('lpc2026-containers@pretalx')!
    assert.equal(containers.title, 'Containers and Checkpoint/Restore MC')
    assert.equal(containers.kind, 'mini-summit')
    assert.equal(containers.track, 'Containers')
    assert.equal(containers.room, 'Hall A')
    // Europe/Prague 09:00 in November (CET, +01:00) is 08:00 UTC.
    assert.equal(containers.startsAt, '2026-11-10T08:00:00.000Z')
    assert.equal(containers.endsAt, '2026-11-10T11:30:00.000Z')
    assert.deepEqual(containers.speakers, ['Stéphane Graber', 'Christian Brauner'])
    assert.deepEqual(containers.links, [
      { title: null, url: 'https://lpc.events/event/20/sessions/1234/', kind: 'talk' },
    ])

    const bof = uid.get('lpc2026-memcg-bof@pretalx')!
    assert.equal(bof.kind, 'bof')
    assert.equal(bof.startsAt, '2026-11-10T15:00:00.000Z')
    assert.equal(bof.endsAt, '2026-11-10T16:00:00.000Z')

    // "W. Europe Standard Time" is no IANA name: its VTIMEZONE in the file says +01:00 in November.
    const rust = uid.get('lpc2026-rust-talk@pretalx')!
    assert.equal(rust.kind, 'talk')
    assert.equal(rust.room, 'Hall B')
    assert.equal(rust.startsAt, '2026-11-11T13:00:00.000Z')
    assert.equal(rust.endsAt, '2026-11-11T13:45:00.000Z')
    assert.deepEqual(rust.speakers, ['Andreas Hindborg'])

    // The daily meeting: Tuesday as scheduled, Wednesday excluded (EXDATE), Thursday moved to 08:15.
    const hallway = pads.filter((p) => p.sourceUid?.startsWith('lpc2026-hallway@pretalx'))
    assert.deepEqual(
      hallway.map((p) => [p.title, p.kind, p.room, p.startsAt, p.endsAt]),
      [
        [
          'Morning maintainers sync',
          'meeting',
          'Foyer',
          '2026-11-10T07:00:00.000Z',
          '2026-11-10T07:30:00.000Z',
        ],
        [
          'Morning maintainers sync (moved)',
          'meeting',
          'Foyer',
          '2026-11-12T07:15:00.000Z',
          '2026-11-12T07:45:00.000Z',
        ],
      ],
    )
    assert.ok(!pads.some((p) => p.startsAt?.startsWith('2026-11-11T07:')), 'the EXDATE occurrence is skipped')
    assert.ok(!pads.some((p) => p.title === 'eBPF office hours'), 'the cancelled entry is skipped')

    const text = await padText(server, containers.id)
    assert.equal(linesEqualTo(text, '# Containers and Checkpoint/Restore MC'), 1)
    assert.ok(!text.includes('09:00') && !text.includes('When'), `no schedule facts in the text:\n${text}`)

    const second = await importSchedule(server, 'lpc-2026', ICS)
    assert.deepEqual(second.created, [])
    assert.deepEqual(second.updated, [])
    assert.equal(second.unchanged.length, 5)
    assert.deepEqual(
      second.skipped.map((s) => s.uid),
      ['lpc2026-cancelled@pretalx'],
    )
    assert.deepEqual(second.notInSchedule, [])
    const again = await eventPads(server, 'lpc-2026')
    assert.deepEqual(
      again.map((p) => [p.id, p.sourceUid, p.title, p.room, p.startsAt, p.endsAt]),
      pads.map((p) => [p.id, p.sourceUid, p.title, p.room, p.startsAt, p.endsAt]),
    )
    assert.equal(await padText(server, containers.id), text, 'the second import wrote nothing into the pad')
    for (const p of again)
      assert.equal((await logRows(server, p.id)).length, 1, `${p.id}: only its template row`)
  })

  test('a changed .ics updates that pad, reports it, and leaves its text alone', async () => {
    await createEvent(server, { slug: 'lpc-moved', name: 'LPC', timezone: 'Europe/Prague' })
    await importSchedule(server, 'lpc-moved', ICS)
    const bof = byUid(await eventPads(server, 'lpc-moved')).get('lpc2026-memcg-bof@pretalx')!

    const notes = connect(server.wsUrl, bof.id, { name: 'Shakeel' })
    await notes.synced()
    notes.text.insert(notes.text.length, '\nACTION(Johannes): post the memcg v2 RFC\n')
    await waitFor('notes stored', async () => (await logRows(server, bof.id)).length === 2)
    const typed = notes.text.toString()

    const changed = ICS.replace('LOCATION:Room 2.1', 'LOCATION:Room 3.3')
      .replace('DTSTART:20261110T150000Z', 'DTSTART:20261110T153000Z')
      .replace('DTEND:20261110T160000Z', 'DTEND:20261110T163000Z')
    assert.notEqual(changed, ICS)
    const report = await importSchedule(server, 'lpc-moved', changed)
    assert.deepEqual(report.created, [])
    assert.deepEqual(report.updated, [
      {
        uid: 'lpc2026-memcg-bof@pretalx',
        id: bof.id,
        title: 'Memory cgroup BoF',
        changed: ['room', 'startsAt', 'endsAt'],
      },
    ])
    assert.equal(report.unchanged.length, 4)

    const updated = ok<PadInfo>(await call(server, 'GET', `/api/pads/${bof.id}`))
    assert.equal(updated.room, 'Room 3.3')
    assert.equal(updated.startsAt, '2026-11-10T15:30:00.000Z')
    assert.equal(updated.endsAt, '2026-11-10T16:30:00.000Z')
    assert.equal((await eventPads(server, 'lpc-moved')).length, 5, 'no pad was added')

    await sleep(200)
    assert.equal(notes.text.toString(), typed, 'the open pad did not change')
    assert.equal(await padText(server, bof.id), typed)
    assert.equal((await logRows(server, bof.id)).length, 2)
    notes.destroy()
  })

  test('a JSON schedule is keyed on its ids: imported twice, then changed', async () => {
    await createEvent(server, { slug: 'lsfmm', name: 'LSF/MM/BPF', timezone: 'Europe/Prague' })
    const schedule = [
      {
        id: 'mm-1',
        title: 'Kernel testing mini-summit',
        room: 'Hall C',
        track: 'Testing',
        start: '2026-11-10T14:00',
        end: '2026-11-10T17:30',
      },
      {
        id: 42,
        title: 'sched_ext BoF',
        room: 'Room 2.1',
        start: '2026-11-11T16:00:00+01:00',
        end: '2026-11-11T17:00:00+01:00',
        speakers: ['Tejun Heo'],
        links: ['https://lpc.events/event/20/contributions/42/'],
      },
      { id: 'talk-9', title: 'io_uring at scale', kind: 'talk', start: '2026-11-12T10:00:00Z' },
    ]
    const first = await importSchedule(server, 'lsfmm', schedule)
    assert.deepEqual(
      first.created.map((c) => c.uid),
      ['mm-1', '42', 'talk-9'],
    )
    const pads = byUid(await eventPads(server, 'lsfmm'))
    assert.equal(pads.get('mm-1')!.kind, 'mini-summit')
    assert.equal(pads.get('mm-1')!.startsAt, '2026-11-10T13:00:00.000Z', 'no offset: the event’s zone')
    assert.equal(pads.get('42')!.kind, 'bof')
    assert.equal(pads.get('42')!.startsAt, '2026-11-11T15:00:00.000Z')
    assert.deepEqual(pads.get('42')!.links, [
      { title: null, url: 'https://lpc.events/event/20/contributions/42/' },
    ])
    assert.equal(pads.get('talk-9')!.startsAt, '2026-11-12T10:00:00.000Z')
    assert.equal(linesEqualTo(await padText(server, pads.get('42')!.id), '# sched_ext BoF'), 1)

    const second = await importSchedule(server, 'lsfmm', schedule)
    assert.deepEqual(second.created, [])
    assert.deepEqual(second.updated, [])
    assert.equal(second.unchanged.length, 3)
    assert.equal((await eventPads(server, 'lsfmm')).length, 3)

    // The BoF is renamed, the talk dropped from the schedule, a new session added.
    const third = await importSchedule(server, 'lsfmm', [
      schedule[0]!,
      { ...schedule[1]!, title: 'sched_ext and EEVDF BoF' },
      { id: 'new-1', title: 'Closing', start: '2026-11-12T17:00' },
    ])
    assert.deepEqual(
      third.updated.map((u) => [u.uid, u.changed]),
      [['42', ['title']]],
    )
    assert.deepEqual(
      third.created.map((c) => c.uid),
      ['new-1'],
    )
    assert.deepEqual(
      third.notInSchedule.map((n) => n.uid),
      ['talk-9'],
    )
    const now = byUid(await eventPads(server, 'lsfmm'))
    assert.equal(now.size, 4, 'a session missing from the schedule is left alone, never deleted')
    assert.equal(now.get('42')!.id, pads.get('42')!.id)
    assert.equal(now.get('42')!.title, 'sched_ext and EEVDF BoF')
    assert.equal(
      linesEqualTo(await padText(server, now.get('42')!.id), '# sched_ext BoF'),
      1,
      'a rename changes metadata, not the text',
    )
  })
})

// ==================================================================== templates

describe('templates are applied exactly once', () => {
  test('5 clients connecting at once to a pad made through the API, and again after a restart', async () => {
    const first = await ownServer()
    await createEvent(first, { slug: 'lpc-2026', name: 'Linux Plumbers 2026', timezone: 'Europe/Prague' })
    const pad = await createPad(
      first,
      { title: 'Kernel Maintainers Summit', kind: 'meeting', room: 'Hall A', startsAt: '2026-11-12T09:00' },
      'lpc-2026',
    )
    const title = '# Kernel Maintainers Summit'
    const clients = Array.from({ length: 5 }, (_, i) =>
      connect(first.wsUrl, pad.id, { name: `Note-taker ${i + 1}` }),
    )
    await Promise.all(clients.map((c) => c.synced()))
    // Everyone adds themselves to the attendees as soon as they are in.
    clients.forEach((c, i) => {
      const at = c.text.toString().indexOf('## Attendees\n')
      assert.ok(at >= 0, c.text.toString())
      c.text.insert(at + '## Attendees\n'.length, `- Note-taker ${i + 1}\n`)
    })
    const text0 = () => clients[0]!.text.toString()
    await waitFor('5 clients converge', () =>
      clients.every((c) => c.text.toString() === text0() && text0().includes('Note-taker 5')),
    )
    await sleep(300)
    for (const [i, c] of clients.entries()) {
      const text = c.text.toString()
      assert.equal(linesEqualTo(text, title), 1, `client ${i + 1} sees the template once:\n${text}`)
      assert.equal(text.split('## Agenda').length, 2)
      for (let n = 1; n <= 5; n++) assert.equal(linesEqualTo(text, `- Note-taker ${n}`), 1)
    }
    const rows = await logRows(first, pad.id)
    assert.equal(rows[0]!.conn, 'server', 'the template is the first log row, written by the server')
    assert.equal(rows.filter((r) => r.conn === 'server').length, 1)
    const final = text0()
    for (const c of clients) c.destroy()
    await first.close()

    const second = await ownServer({ dataDir: first.dataDir })
    try {
      const again = Array.from({ length: 5 }, () => connect(second.wsUrl, pad.id))
      await Promise.all(again.map((c) => c.synced()))
      await sleep(300)
      for (const c of again) {
        assert.equal(c.text.toString(), final)
        assert.equal(linesEqualTo(c.text.toString(), title), 1)
      }
      assert.equal((await logRows(second, pad.id)).filter((r) => r.conn === 'server').length, 1)
      for (const c of again) c.destroy()
    } finally {
      await second.close()
    }
  })

  test('5 clients opening the pad at the moment the API creates it each see the template once', async () => {
    const server = await ownServer()
    try {
      const clients = Array.from({ length: 5 }, () => connect(server.wsUrl, 'kms-2026'))
      const [created] = await Promise.all([
        call(server, 'POST', '/api/pads', { id: 'kms-2026', title: 'Maintainers summit', kind: 'meeting' }),
        ...clients.map((c) => c.synced()),
      ])
      ok(created, 201)
      await waitFor('template reaches all 5', () =>
        clients.every((c) => c.text.toString().startsWith('# Maintainers summit\n')),
      )
      await sleep(300)
      const text = await padText(server, 'kms-2026')
      for (const c of clients) {
        assert.equal(c.text.toString(), text)
        assert.equal(linesEqualTo(c.text.toString(), '# Maintainers summit'), 1)
      }
      assert.equal((await logRows(server, 'kms-2026')).length, 1)
      for (const c of clients) c.destroy()
    } finally {
      await server.close()
    }
  })

  test('an import or a template into a pad someone has open goes through the room (with nobody in it, the size limit): over it, refused; nothing stored or sent', async () => {
    // 64 KiB pads; a 100 KB document or template is over it.
    const server = await ownServer({ maxPadBytes: 64 * 1024 })
    try {
      const big = new Y.Doc()
      big.getText('notes').insert(0, 'x'.repeat(100_000))
      const state = Y.encodeStateAsUpdate(big)
      big.destroy()
      const watcher = connect(server.wsUrl, 'open-import')
      await watcher.synced()
      const refused = await call(
        server,
        'POST',
        '/api/pads/import?id=open-import&title=Big',
        state,
        'application/octet-stream',
      )
      assert.match(assertApiError(refused, 413, 'refused'), /pad is full/)

      await createEvent(server, { slug: 'tpl', name: 'Templates' })
      ok(
        await call(
          server,
          'PUT',
          '/api/events/tpl/templates/talk',
          `# {{title}}\n${'y'.repeat(100_000)}\n`,
          'text/markdown',
        ),
      )
      const tplWatcher = connect(server.wsUrl, 'open-template')
      await tplWatcher.synced()
      const tooBig = await call(server, 'POST', '/api/events/tpl/pads', {
        id: 'open-template',
        title: 'Talk',
        kind: 'talk',
      })
      assert.match(assertApiError(tooBig, 413, 'refused'), /pad is full/)
      // With nobody in the pad, the same limit holds.
      const unopened = await call(
        server,
        'POST',
        '/api/pads/import?id=nobody-here&title=Big',
        state,
        'application/octet-stream',
      )
      assert.match(assertApiError(unopened, 413, 'refused'), /pad is full/)
      assertApiError(await call(server, 'GET', '/api/pads/nobody-here'), 404)

      await sleep(200)
      for (const [id, c] of [
        ['open-import', watcher],
        ['open-template', tplWatcher],
      ] as const) {
        assert.equal(c.text.toString(), '', `${id}: the room's clients saw nothing`)
        assertApiError(await call(server, 'GET', `/api/pads/${id}`), 404, undefined, `${id}: no metadata: `)
        assert.equal((await logRows(server, id)).length, 0, `${id}: no row`)
      }
      // Within the limit the same door works, live.
      const small = new Y.Doc()
      small.getText('notes').insert(0, 'imported notes\n')
      ok(
        await call(
          server,
          'POST',
          '/api/pads/import?id=open-import&title=Small',
          Y.encodeStateAsUpdate(small),
          'application/octet-stream',
        ),
        201,
      )
      small.destroy()
      await waitFor('the import reaches the open room', () => watcher.text.toString() === 'imported notes\n')
      assert.equal((await logRows(server, 'open-import')).length, 1)
      watcher.destroy()
      tplWatcher.destroy()
    } finally {
      await server.close()
    }
  })

  test('a pad opened by a bare websocket name starts empty and shows up as unfiled once it has content', async () => {
    const server = await ownServer()
    try {
      const c = connect(server.wsUrl, 'hallway-sched-ext')
      await c.synced()
      await sleep(100)
      assert.equal(c.text.toString(), '', 'no template for a bare pad')
      assert.ok(!(await unfiledPads(server)).some((p) => p.id === 'hallway-sched-ext'))
      c.text.insert(0, 'sched_ext hallway chat\n')
      await eventually('listed as unfiled', async () =>
        (await unfiledPads(server)).some((p) => p.id === 'hallway-sched-ext'),
      )
      const pad = ok<PadInfo>(await call(server, 'GET', '/api/pads/hallway-sched-ext'))
      assert.equal(pad.event, null)
      assert.equal(pad.title, null)
      assert.equal(c.text.toString(), 'sched_ext hallway chat\n')
      c.destroy()
    } finally {
      await server.close()
    }
  })

  test('an event’s template override is used for that event’s new pads only', async () => {
    const server = await ownServer()
    try {
      await createEvent(server, { slug: 'lpc-2026', name: 'Linux Plumbers 2026', timezone: 'Europe/Prague' })
      await createEvent(server, { slug: 'osmc', name: 'OSMC' })
      const override = '# {{title}}: BoF notes for {{event}}\n\n{{details}}\n\nChatham House rules apply.\n'
      const put = ok<{ kind: string; source: string; body: string }>(
        await call(server, 'PUT', '/api/events/lpc-2026/templates/bof', override, 'text/markdown'),
      )
      assert.deepEqual(put, { kind: 'bof', source: 'event', body: override })

      const bof = await createPad(server, { title: 'Memcg', kind: 'bof', room: 'Room 2.1' }, 'lpc-2026')
      const text = await padText(server, bof.id)
      assert.ok(text.startsWith('# Memcg: BoF notes for Linux Plumbers 2026\n'), text)
      assert.equal(linesEqualTo(text, 'Chatham House rules apply.'), 1)
      assert.ok(
        !text.includes('{{details}}') && !text.includes('Room 2.1'),
        `{{details}} writes nothing:\n${text}`,
      )

      const imported = await importSchedule(server, 'lpc-2026', [
        { id: 'b1', title: 'Rust BoF', kind: 'bof' },
      ])
      const importedText = await padText(server, imported.created[0]!.id!)
      assert.ok(importedText.startsWith('# Rust BoF: BoF notes for Linux Plumbers 2026\n'), importedText)

      const talk = await createPad(server, { title: 'A talk', kind: 'talk' }, 'lpc-2026')
      assert.ok((await padText(server, talk.id)).startsWith('# A talk\n'), 'other kinds keep the default')
      const elsewhere = await createPad(server, { title: 'Other BoF', kind: 'bof' }, 'osmc')
      const elsewhereText = await padText(server, elsewhere.id)
      assert.ok(elsewhereText.startsWith('# Other BoF\n'), elsewhereText)
      assert.ok(elsewhereText.includes('## Topics raised'), elsewhereText)
      assert.ok(!elsewhereText.includes('Chatham House'))

      const reset = ok<{ source: string }>(await call(server, 'DELETE', '/api/events/lpc-2026/templates/bof'))
      assert.equal(reset.source, 'default')
      const later = await createPad(server, { title: 'Late BoF', kind: 'bof' }, 'lpc-2026')
      const laterText = await padText(server, later.id)
      assert.ok(laterText.startsWith('# Late BoF\n') && laterText.includes('## Topics raised'), laterText)
      assert.equal(await padText(server, bof.id), text, 'existing pads keep their text')
    } finally {
      await server.close()
    }
  })
})

// ==================================================================== delete

describe('delete removes everything', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
    await createEvent(server, { slug: 'lpc-2026', name: 'Linux Plumbers 2026', timezone: 'Europe/Prague' })
  })
  after(() => server.close())

  test('deleting a pad removes its rows and closes its sockets for good (4410, no reconnect)', async () => {
    const pad = await createPad(server, { title: 'Secret BoF', kind: 'bof' }, 'lpc-2026')
    // The first note-taker writes and leaves (a snapshot is written); the second stays connected.
    const first = connect(server.wsUrl, pad.id, { name: 'Ada' })
    await first.synced()
    first.text.insert(first.text.length, '\nconfidential: embargoed CVE details\n')
    await waitFor('stored', async () => (await logRows(server, pad.id)).length === 2)
    first.destroy()
    const pk = (await padPk(server, pad.id))!
    await waitFor('snapshot on leave', async () => (await countPadRows(server, 'snapshots', pk)) > 0)
    const stays = connect(server.wsUrl, pad.id, { name: 'Linus' })
    const codes = closeCodes(stays)
    await stays.synced()
    assert.ok(stays.text.toString().includes('embargoed'))
    assert.ok((await countPadRows(server, 'updates', pk)) >= 2)

    assert.equal((await call(server, 'DELETE', `/api/pads/${pad.id}`)).status, 204)
    await waitFor('socket closed', () => codes.length > 0)
    assert.deepEqual(codes, [4410])

    assert.equal(await padPk(server, pad.id), undefined)
    assert.equal(await countPadRows(server, 'updates', pk), 0)
    assert.equal(await countPadRows(server, 'snapshots', pk), 0)
    assertApiError(await call(server, 'GET', `/api/pads/${pad.id}`), 404)
    assert.ok(!(await eventPads(server, 'lpc-2026')).some((p) => p.id === pad.id))

    // A client that reconnected would send its copy back and re-create the pad.
    await sleep(1200)
    assert.deepEqual(codes, [4410])
    assert.equal(stays.provider.wsconnected, false)
    assert.equal(await server.storage.padLog.exists(pad.id), false)
    assert.equal(ok<{ connections: number }>(await call(server, 'GET', '/healthz')).connections, 0)
    stays.destroy()

    // The id is free again: a new pad under it starts from the template, not from the old notes.
    const reborn = await createPad(server, { id: pad.id, title: 'Secret BoF', kind: 'bof' })
    assert.ok(!(await padText(server, reborn.id)).includes('embargoed'))
  })

  test('deleting an event removes its pads, their rows and its templates, and closes their sockets', async () => {
    await createEvent(server, { slug: 'doomed', name: 'Doomed Conf', timezone: 'Europe/Prague' })
    await call(server, 'PUT', '/api/events/doomed/templates/talk', '# {{title}}\n', 'text/markdown')
    const report = await importSchedule(server, 'doomed', ICS)
    const ids = report.created.map((c) => c.id!)
    assert.equal(ids.length, 5)
    const pks = (await Promise.all(ids.map((id) => padPk(server, id)))).map((pk) => pk!)
    const inRoom = connect(server.wsUrl, ids[0]!, { name: 'Ada' })
    const codes = closeCodes(inRoom)
    await inRoom.synced()
    inRoom.text.insert(0, 'live notes\n')
    await waitFor('stored', async () => (await logRows(server, ids[0]!)).length === 2)
    const keep = await createPad(server, { title: 'Survivor', kind: 'talk' }, 'lpc-2026')

    assert.deepEqual(ok(await call(server, 'DELETE', '/api/events/doomed')), { deletedPads: 5 })
    await waitFor('socket closed', () => codes.length > 0)
    assert.deepEqual(codes, [4410])
    for (const [i, id] of ids.entries()) {
      assert.equal(await padPk(server, id), undefined, id)
      assert.equal(await countPadRows(server, 'updates', pks[i]!), 0, id)
      assert.equal(await countPadRows(server, 'snapshots', pks[i]!), 0, id)
      assertApiError(await call(server, 'GET', `/api/pads/${id}`), 404)
    }
    assert.deepEqual(await queryRows(server, 'SELECT * FROM event_templates'), [])
    assertApiError(await call(server, 'GET', '/api/events/doomed'), 404)
    assert.deepEqual(
      (await eventPads(server, 'lpc-2026')).map((p) => p.id),
      [keep.id],
      'other events are untouched',
    )
    await sleep(800)
    assert.equal(
      await server.storage.padLog.exists(ids[0]!),
      false,
      'the client did not reconnect and re-create it',
    )
    inRoom.destroy()
  })
})

// ==================================================================== presence

describe('presence', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
    await createEvent(server, { slug: 'lpc-2026', name: 'Linux Plumbers 2026', timezone: 'Europe/Prague' })
  })
  after(() => server.close())

  test('a pad and its event report the count and names of the people connected', async () => {
    const busy = await createPad(server, { title: 'Busy BoF', kind: 'bof' }, 'lpc-2026')
    const quiet = await createPad(server, { title: 'Quiet talk', kind: 'talk' }, 'lpc-2026')
    const empty = ok<Presence>(await call(server, 'GET', `/api/pads/${busy.id}/presence`))
    assert.deepEqual(empty, { count: 0, people: [] })

    const people = [
      connect(server.wsUrl, busy.id, { name: 'Ada' }),
      connect(server.wsUrl, busy.id, { name: 'Linus' }),
      connect(server.wsUrl, busy.id),
    ]
    await Promise.all(people.map((c) => c.synced()))
    const presence = async () => ok<Presence>(await call(server, 'GET', `/api/pads/${busy.id}/presence`))
    await eventually('both names', async () => (await presence()).people.length === 2)
    const now = await presence()
    assert.equal(now.count, 3)
    assert.deepEqual([...now.people].sort(), ['Ada', 'Linus'])

    const ofEvent = ok<{ pads: Record<string, Presence> }>(
      await call(server, 'GET', '/api/events/lpc-2026/presence'),
    ).pads
    assert.deepEqual(Object.keys(ofEvent).sort(), [busy.id, quiet.id].sort())
    assert.equal(ofEvent[busy.id]!.count, 3)
    assert.deepEqual([...ofEvent[busy.id]!.people].sort(), ['Ada', 'Linus'])
    assert.deepEqual(ofEvent[quiet.id], { count: 0, people: [] })

    people[1]!.destroy()
    await eventually('Linus left', async () => (await presence()).count === 2)
    assert.deepEqual((await presence()).people, ['Ada'])
    people[0]!.destroy()
    people[2]!.destroy()
    await eventually('everyone left', async () => (await presence()).count === 0)
    assert.deepEqual(await presence(), { count: 0, people: [] })
  })
})

// ==================================================================== pages

describe('pages', () => {
  let server: TestServer
  let hostile: PadInfo
  before(async () => {
    server = await startTestServer()
    await createEvent(server, {
      slug: 'lpc-2026',
      name: 'Linux Plumbers <b>2026</b>',
      startsOn: '2026-11-10',
      endsOn: '2026-11-12',
      timezone: 'Europe/Prague',
    })
    await importSchedule(server, 'lpc-2026', ICS)
    hostile = await createPad(
      server,
      {
        title: '<script>alert(1)</script>',
        kind: 'bof',
        room: '<img src=x onerror=alert(1)>',
        track: '"><svg onload=alert(2)>',
        // 23:30 UTC on the 10th is already the 11th in Prague.
        startsAt: '2026-11-10T23:30:00Z',
      },
      'lpc-2026',
    )
    await createPad(server, { id: 'unfiled-notes', title: 'Unfiled hallway notes', kind: 'meeting' })
  })
  after(() => server.close())

  const noHostileMarkup = (text: string) => {
    assert.ok(!text.includes('<script>alert'), 'a title became a script tag')
    assert.ok(!text.includes('<img src=x'), 'a room became an img tag')
    assert.ok(!text.includes('<svg onload'), 'a track became an svg tag')
    assert.ok(!text.includes('<b>2026</b>'), 'an event name became markup')
  }

  test('/ lists the events and the unfiled pads', async () => {
    const reply = await getPage(server, '/')
    assert.equal(reply.status, 200)
    assert.match(reply.contentType, /^text\/html/)
    assert.ok(reply.text.includes('href="/e/lpc-2026"'))
    assert.ok(reply.text.includes('Linux Plumbers &lt;b&gt;2026&lt;/b&gt;'))
    assert.ok(reply.text.includes('href="/p/unfiled-notes"'))
    assert.ok(reply.text.includes('Unfiled hallway notes'))
    assert.ok(!reply.text.includes(`href="/p/${hostile.id}"`), 'filed pads are not listed as unfiled')
    noHostileMarkup(reply.text)
  })

  test('/e/<slug> shows the sessions grouped by day, then room, in the event’s zone', async () => {
    const reply = await getPage(server, '/e/lpc-2026')
    assert.equal(reply.status, 200)
    assert.match(reply.contentType, /^text\/html/)
    const days = [...reply.text.matchAll(/<section><h2>([^<]+)<\/h2>([\s\S]*?)<\/section>/g)]
    assert.deepEqual(
      days.map((d) => d[1]),
      ['Tue 2026-11-10', 'Wed 2026-11-11', 'Thu 2026-11-12'],
    )
    const roomsOf = (section: string) => [...section.matchAll(/<h3>([^<]*)<\/h3>/g)].map((m) => m[1])
    const [tue, wed, thu] = days.map((d) => d[2]!)
    assert.deepEqual(roomsOf(tue!), ['Foyer', 'Hall A', 'Room 2.1'])
    assert.deepEqual(roomsOf(wed!), ['&lt;img src=x onerror=alert(1)&gt;', 'Hall B'])
    assert.deepEqual(roomsOf(thu!), ['Foyer'])
    assert.ok(tue!.includes('Containers and Checkpoint/Restore MC'))
    assert.ok(tue!.includes('09:00–12:30'), 'times in Prague time')
    assert.ok(wed!.includes('Rust in the block layer'))
    assert.ok(wed!.includes('14:00–14:45'))
    assert.ok(
      wed!.includes('&lt;script&gt;alert(1)&lt;/script&gt;'),
      'the 23:30 UTC session is on Prague’s Wednesday',
    )
    assert.ok(!wed!.includes('Morning maintainers sync'), 'no occurrence on the EXDATE')
    assert.ok(thu!.includes('Morning maintainers sync (moved)'))
    assert.ok(thu!.includes('08:15–08:45'))
    assert.ok(!reply.text.includes('eBPF office hours'), 'the cancelled entry is not shown')
    noHostileMarkup(reply.text)
  })

  test('an unknown event is a 404 HTML page', async () => {
    const reply = await getPage(server, '/e/no-such-event')
    assert.equal(reply.status, 404)
    assert.match(reply.contentType, /^text\/html/)
    assert.ok(reply.text.includes('Not found'))
    assert.ok(!reply.text.includes('"error"'))
    assertNoInternals(reply.text)
  })

  test('/p/<id>/qr shows the pad URL and a QR code for the projector', async () => {
    const pads = await eventPads(server, 'lpc-2026')
    const pad = pads.find((p) => p.title === 'Rust in the block layer')!
    const reply = await getPage(server, `/p/${pad.id}/qr`)
    assert.equal(reply.status, 200)
    assert.match(reply.contentType, /^text\/html/)
    assert.ok(reply.text.includes('<svg'), 'an inline SVG QR code')
    assert.ok(reply.text.includes(`${server.url}/p/${pad.id}`), 'the URL people type')
    assert.ok(reply.text.includes('Rust in the block layer'))

    const evil = await getPage(server, `/p/${hostile.id}/qr`)
    assert.equal(evil.status, 200)
    assert.ok(evil.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'))
    noHostileMarkup(evil.text)

    const missing = await getPage(server, '/p/no-such-pad/qr')
    assert.equal(missing.status, 404)
    assert.match(missing.contentType, /^text\/html/)
  })
})
