/**
 * One request-body policy for the whole HTTP API (server/body-policy.ts, the route table's body
 * rules): each route takes its own types up to its own limit; a wrong type is 415 naming the types
 * it takes, a body too large 413 naming the limit, and no route's parser decides for another's.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { sizeName } from '../server/http/body-policy.ts'
import { ROUTES, SCHEDULE_IMPORT } from '../server/http/route-classes.ts'
import { MAX_SCHEDULE_BYTES } from '../server/meetings/schedule.ts'
import { apiCall, okJson, startTestServer, type TestServer } from './helpers.ts'

const EVENT = 'venue'
const PAD = 'venue-notes'

/** A concrete path of a table row, for the event and pad made in `before`. */
const concrete = (path: string) => path.replace(':slug', EVENT).replace(':id', PAD).replace(':kind', 'bof')

const BODY_ROUTES = ROUTES.filter((r) => r.body !== undefined)

/** Content types a client might send by mistake (or on purpose). */
const TYPES = [
  'application/json',
  'text/plain',
  'text/calendar',
  'text/markdown',
  'application/octet-stream',
  'application/x-yjs',
  'application/xml',
  'text/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/html',
  'image/png',
]

/** A JSON schedule in the README's format: ~530 bytes a session. */
function jsonSchedule(sessions: number): unknown[] {
  return Array.from({ length: sessions }, (_, i) => ({
    id: `session-${i}`,
    title: `Session ${i}: scaling the memory cgroup controller to a thousand containers per host, and what broke`,
    kind: i % 10 === 0 ? 'bof' : 'talk',
    track: `Track ${i % 8}`,
    room: `Room ${i % 40}`,
    start: `2026-11-1${i % 3}T${String(9 + (i % 8)).padStart(2, '0')}:00:00+01:00`,
    end: `2026-11-1${i % 3}T${String(9 + (i % 8)).padStart(2, '0')}:45:00+01:00`,
    speakers: ['Ada Lovelace', 'Grace Hopper', 'Linus Torvalds', `Speaker ${i}`],
    links: [
      `https://example.org/schedule/2026/session-${i}`,
      { title: 'Slides', url: `https://example.org/slides/2026/session-${i}.pdf` },
      { title: 'Recording', url: `https://video.example.org/2026/session-${i}.webm` },
    ],
  }))
}

describe('request bodies', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
    okJson(await apiCall(server, 'POST', '/api/events', { slug: EVENT, name: 'Venue' }), 201)
    okJson(
      await apiCall(server, 'POST', `/api/events/${EVENT}/pads`, {
        id: PAD,
        title: 'Notes',
        kind: 'meeting',
      }),
      201,
    )
  })
  after(() => server.close())

  test('a 1 MB JSON schedule is imported whole', async () => {
    const body = JSON.stringify(jsonSchedule(2000))
    assert.ok(body.length > 1_000_000, `${body.length} bytes`)
    const reply = await apiCall(server, 'POST', `/api/events/${EVENT}/import`, body)
    okJson(reply)
    const pads = okJson<{ pads: { id: string }[] }>(await apiCall(server, 'GET', `/api/events/${EVENT}/pads`))
    assert.equal(pads.pads.length, 2001)
  })

  test('every body-taking route refuses every type it does not take with 415 naming the types it takes', async () => {
    assert.ok(BODY_ROUTES.length >= 10)
    for (const route of BODY_ROUTES) {
      const takes = route.body!.types
      for (const type of TYPES) {
        if (takes.includes(type.split(';')[0]!)) continue
        const reply = await apiCall(server, route.method, concrete(route.path), 'x', type)
        const where = `${route.method} ${route.path} with ${type}`
        assert.equal(reply.status, 415, `${where}: ${reply.text}`)
        const error = (reply.json as { error: { code: string; message: string } }).error
        assert.equal(error.code, 'unsupported_media_type', where)
        for (const t of takes) assert.ok(error.message.includes(t), `${where}: "${error.message}" names ${t}`)
      }
      // A body without any Content-Type is not guessed at.
      const untyped = await fetch(`${server.url}${concrete(route.path)}`, {
        method: route.method,
        body: new Uint8Array([123, 125]),
      })
      assert.equal(untyped.status, 415, `${route.method} ${route.path} without a type`)
      await untyped.arrayBuffer()
    }
  })

  test('every body-taking route refuses a body over its limit with 413 naming the limit', async () => {
    assert.ok(BODY_ROUTES.length >= 10)
    for (const route of BODY_ROUTES) {
      const { limit, types } = route.body!
      const reply = await apiCall(
        server,
        route.method,
        concrete(route.path),
        new Uint8Array(limit + 1).fill(32),
        types[0]!,
      )
      const where = `${route.method} ${route.path}`
      assert.equal(reply.status, 413, `${where}: ${reply.text.slice(0, 200)}`)
      const error = (reply.json as { error: { code: string; message: string } }).error
      assert.equal(error.code, 'too_large')
      assert.ok(error.message.includes(sizeName(limit)), `${where}: "${error.message}"`)
    }
  })

  test('a route that takes no body refuses one (415), and its parser-free neighbours are unaffected', async () => {
    const reply = await apiCall(server, 'POST', `/api/pads/${PAD}/forget-history`, {})
    assert.equal(reply.status, 415)
    assert.match((reply.json as { error: { message: string } }).error.message, /takes no request body/)
    // Without a body it works; a small JSON body still reaches the history routes.
    okJson(await apiCall(server, 'POST', `/api/pads/${PAD}/forget-history`))
    okJson(await apiCall(server, 'POST', `/api/pads/${PAD}/checkpoints`, { name: 'Before lunch' }), 201)
  })

  test('the admin CLI reads a schedule file as large as the API takes', () => {
    // One constant: the CLI reads files up to MAX_SCHEDULE_BYTES (cli-commands.ts), the route takes as much.
    assert.equal(MAX_SCHEDULE_BYTES, SCHEDULE_IMPORT.limit)
    assert.equal(sizeName(SCHEDULE_IMPORT.limit), '32 MiB')
  })

  test('the schedule import takes every schedule type as text: iCalendar imports, XML reaches the importer', async () => {
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'BEGIN:VEVENT',
      'UID:ics-1@example.org',
      'SUMMARY:Kernel maintainers BoF',
      'DTSTART:20261110T140000Z',
      'DTEND:20261110T150000Z',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n')
    okJson(await apiCall(server, 'POST', `/api/events/${EVENT}/import`, ics, 'text/calendar'))
    // Not a 415: the importer (not the body policy) decides what it can read.
    const xml = await apiCall(
      server,
      'POST',
      `/api/events/${EVENT}/import`,
      '<?xml version="1.0"?><schedule/>',
      'application/xml',
    )
    assert.notEqual(xml.status, 415)
    assert.notEqual(xml.status, 413)
  })
})
