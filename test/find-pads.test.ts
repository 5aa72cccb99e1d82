/**
 * Finding a session's pad before anyone opened it: search knows every pad's title and speakers
 * from the moment the pad is created or imported, and follows a re-import; the search box of an
 * event says that it searches that event.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiCall, okJson, startTestServer, type TestServer } from './helpers.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})

after(async () => {
  await server?.close()
})

const hits = async (q: string, event?: string) =>
  okJson<{ hits: { padId: string; title: string }[] }>(
    await apiCall(server, 'GET', `/api/search?q=${encodeURIComponent(q)}${event ? `&event=${event}` : ''}`),
  ).hits.map((h) => h.title)

test('search finds pads by title and speaker before they were ever opened, and follows a re-import', async () => {
  okJson(await apiCall(server, 'POST', '/api/events', { slug: 'lpc', name: 'LPC', timezone: 'UTC' }), 201)
  const schedule = [
    { id: 't1', title: 'io_uring for networking', kind: 'talk', speakers: ['Jens Axboe'] },
    { id: 't2', title: 'Tracing BoF', kind: 'bof', speakers: ['Steven Rostedt', 'Masami Hiramatsu'] },
  ]
  okJson(await apiCall(server, 'POST', '/api/events/lpc/import', schedule))
  assert.deepEqual(await hits('io_uring'), ['io_uring for networking'])
  assert.deepEqual(await hits('Rostedt'), ['Tracing BoF'])
  assert.deepEqual(await hits('Axboe', 'lpc'), ['io_uring for networking'])

  // A pad made by hand is found at once too.
  okJson(
    await apiCall(server, 'POST', '/api/events/lpc/pads', { title: 'Hallway: sched_ext', kind: 'meeting' }),
    201,
  )
  assert.deepEqual(await hits('sched_ext'), ['Hallway: sched_ext'])

  // The schedule changes: search follows the metadata.
  okJson(
    await apiCall(server, 'POST', '/api/events/lpc/import', [
      schedule[0],
      { ...schedule[1], title: 'Tracing and eBPF BoF', speakers: ['Masami Hiramatsu'] },
    ]),
  )
  assert.deepEqual(await hits('eBPF'), ['Tracing and eBPF BoF'])
  assert.deepEqual(await hits('Rostedt'), [])
})

test('the search box of an event says it searches that event', async () => {
  okJson(
    await apiCall(server, 'POST', '/api/events', { slug: 'osmc', name: 'OSMC 2026', timezone: 'UTC' }),
    201,
  )
  const page = (
    await apiCall(server, 'GET', '/search?event=osmc&q=x', undefined, undefined, { accept: 'text/html' })
  ).text
  assert.match(page, /Search this event/)
  assert.doesNotMatch(page, /Search all pads/)
  assert.match(page, /<h1>Search OSMC 2026<\/h1>/)
  const site = (await apiCall(server, 'GET', '/search?q=x', undefined, undefined, { accept: 'text/html' }))
    .text
  assert.match(site, /Search all pads/)
})
