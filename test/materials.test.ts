/**
 * Session materials: read from the real schedule fixtures (frab JSON attachments and links, frab
 * and Pentabarf XML links, pretalx's talk page, iCalendar URL and ATTACH), kept across re-imports
 * with what editors added or removed by hand, http(s) only, and shown on the pad page, the event
 * page, every export (the text minutes as numbered references) and the event bundle.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, test } from 'node:test'
import { strFromU8, unzipSync } from 'fflate'
import type { Material, PadInfo } from '../server/meetings/model.ts'
import { apiCall, connectClient, okJson, startTestServer, type TestServer, waitFor } from './helpers.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})

after(async () => {
  await server?.close()
})

const fixture = (name: string) => fs.readFileSync(new URL(`./fixtures/schedules/${name}`, import.meta.url))

async function imported(slug: string, body: Uint8Array | string, contentType: string): Promise<PadInfo[]> {
  if ((await apiCall(server, 'GET', `/api/events/${slug}`)).status === 404)
    okJson(await apiCall(server, 'POST', '/api/events', { slug, name: slug, timezone: 'UTC' }), 201)
  okJson(await apiCall(server, 'POST', `/api/events/${slug}/import`, body, contentType))
  return okJson<{ pads: PadInfo[] }>(await apiCall(server, 'GET', `/api/events/${slug}/pads`)).pads
}

const materialsOf = async (padId: string) =>
  okJson<{ materials: Material[] }>(await apiCall(server, 'GET', `/api/pads/${padId}/materials`)).materials

const bySource = (pads: PadInfo[], uid: string) => {
  const pad = pads.find((p) => p.sourceUid === uid)
  assert.ok(pad, `a pad for ${uid}`)
  return pad
}

const CAMP_SLIDES =
  'https://fahrplan.events.ccc.de/system/event_attachments/attachments/000/003/792/original/Hacking_Containers_and_Kubernetes.pdf?1566398735'

test('frab JSON: the talk page, the links and the attachments (read against the talk page)', async () => {
  const pads = await imported('camp2019', fixture('frab-camp2019.json'), 'application/json')
  const containers = bySource(pads, '24b58c74-2bba-412e-84ac-c206f714f0b7')
  assert.deepEqual(await materialsOf(containers.id), [
    {
      kind: 'talk',
      title: null,
      url: 'https://fahrplan.events.ccc.de/camp/2019/Fahrplan/events/10178.html',
      source: 'schedule',
    },
    { kind: 'slides', title: 'Slides', url: CAMP_SLIDES, source: 'schedule' },
  ])
  const fomu = bySource(pads, 'afbc3b87-4156-470d-9385-c18e7b29f97b')
  assert.deepEqual(
    (await materialsOf(fomu.id)).map((m) => [m.kind, m.title]),
    [
      ['talk', null],
      ['other', 'Fomu Website'],
      ['other', 'Fomu Github'],
      ['other', 'Tomu Website'],
    ],
  )
})

test('frab/Pentabarf XML links, pretalx JSON talk page, iCalendar URL and ATTACH', async () => {
  const fosdem = await imported('fosdem-2024', fixture('fosdem-2024-truncated.xml'), 'application/xml')
  const smb = bySource(fosdem, '10758')
  assert.ok(
    (await materialsOf(smb.id)).some(
      (m) =>
        m.url === 'https://gitlab.com/samba-team/smb3-posix-spec' && m.title === 'SMB3 Posix Specification',
    ),
  )
  const democon = await imported('democon', fixture('pretalx-democon.json'), 'application/json')
  const talk = bySource(democon, '8079583e-8321-506c-95af-fd2903a5f075')
  assert.deepEqual(await materialsOf(talk.id), [
    { kind: 'talk', title: null, url: 'http://localhost/democon/talk/G9JGWY/', source: 'schedule' },
  ])
  const pycon = await imported('pycon-2025', fixture('pycon-us-2025-tutorials.ics'), 'text/calendar')
  const tutorial = bySource(pycon, '071beeb1-b1ed-5e7c-87e3-30a0877942b4')
  assert.deepEqual(await materialsOf(tutorial.id), [
    {
      kind: 'talk',
      title: null,
      url: 'https://us.pycon.org/2025/schedule/presentation/60/',
      source: 'schedule',
    },
  ])
  const ics = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//EN',
    'BEGIN:VEVENT',
    'UID:attach-1',
    'DTSTAMP:20260101T000000Z',
    'DTSTART:20261110T090000Z',
    'DTEND:20261110T100000Z',
    'SUMMARY:With attachments',
    'URL:https://example.org/talk/1',
    'ATTACH;FILENAME=slides.pdf:https://example.org/slides.pdf',
    'ATTACH:https://www.youtube.com/watch?v=abc',
    'ATTACH:javascript:alert(1)',
    'ATTACH;ENCODING=BASE64;VALUE=BINARY:aGVsbG8=',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n')
  const attach = bySource(await imported('ics-attach', ics, 'text/calendar'), 'attach-1')
  assert.deepEqual(
    (await materialsOf(attach.id)).map((m) => [m.kind, m.url]),
    [
      ['talk', 'https://example.org/talk/1'],
      ['slides', 'https://example.org/slides.pdf'],
      ['recording', 'https://www.youtube.com/watch?v=abc'],
    ],
  )
})

test('added and removed by hand, kept across a re-import; shown on the pages and in every export', async () => {
  const pads = await imported('camp2019', fixture('frab-camp2019.json'), 'application/json')
  const pad = bySource(pads, '24b58c74-2bba-412e-84ac-c206f714f0b7')
  const added = await apiCall(server, 'POST', `/api/pads/${pad.id}/materials`, {
    kind: 'recording',
    title: 'Video <of> the talk & Q&A',
    url: 'https://media.ccc.de/v/camp2019-10178',
  })
  okJson(added, 201)
  okJson(
    await apiCall(
      server,
      'DELETE',
      `/api/pads/${pad.id}/materials?url=${encodeURIComponent('https://fahrplan.events.ccc.de/camp/2019/Fahrplan/events/10178.html')}`,
    ),
  )
  const expected = [
    { kind: 'slides', title: 'Slides', url: CAMP_SLIDES, source: 'schedule' },
    {
      kind: 'recording',
      title: 'Video <of> the talk & Q&A',
      url: 'https://media.ccc.de/v/camp2019-10178',
      source: 'hand',
    },
  ]
  assert.deepEqual(await materialsOf(pad.id), expected)
  await imported('camp2019', fixture('frab-camp2019.json'), 'application/json')
  assert.deepEqual(await materialsOf(pad.id), expected, 'the same after a re-import')

  const padPage = (await apiCall(server, 'GET', `/p/${pad.id}`)).text
  assert.ok(padPage.includes(`href="${CAMP_SLIDES.replace(/&/g, '&amp;')}"`), 'slides on the pad page')
  assert.ok(padPage.includes('Video &lt;of&gt; the talk &amp; Q&amp;A'), 'escaped title on the pad page')
  assert.ok(!padPage.includes('Fahrplan/events/10178.html'), 'the removed one is gone')
  const eventPage = (await apiCall(server, 'GET', '/e/camp2019')).text
  assert.ok(eventPage.includes('href="https://media.ccc.de/v/camp2019-10178"'), 'on the event page')

  const txt = (await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=txt`)).text
  assert.match(txt, /^Slides: +Slides \[1\]$/m)
  assert.match(txt, /^Recording: +Video <of> the talk & Q&A \[2\]$/m)
  assert.ok(txt.includes(`[1] ${CAMP_SLIDES}\n[2] https://media.ccc.de/v/camp2019-10178`), txt)
  const html = (await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=html`)).text
  assert.ok(
    html.includes(
      '<a href="https://media.ccc.de/v/camp2019-10178" rel="noopener noreferrer">Video &lt;of&gt; the talk &amp; Q&amp;A</a>',
    ),
  )
  const md = (await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=md`)).text
  assert.ok(md.includes('"https://media.ccc.de/v/camp2019-10178"'), md.slice(0, 600))
  const json = okJson<{ pad: PadInfo }>(
    await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=json`),
  )
  assert.deepEqual(
    json.pad.links.map((l) => l.kind),
    ['slides', 'recording'],
  )
  // The bundle holds pads with notes: give this one a line, then read its text file there.
  const client = connectClient(server.wsUrl, pad.id)
  await client.synced()
  client.text.insert(client.text.length, '\nWe talked about namespaces.\n')
  await waitFor('the line stored', async () =>
    ((await server.minutes.text(pad.id)) ?? '').includes('namespaces'),
  )
  client.destroy()
  const files = unzipSync((await apiCall(server, 'GET', '/api/events/camp2019/export')).bytes)
  const own = Object.keys(files).find((f) => f.startsWith('pads/') && f.endsWith('.txt'))
  assert.ok(own, Object.keys(files).join(', '))
  const bundled = strFromU8(files[own]!)
  assert.ok(bundled.includes('[2] https://media.ccc.de/v/camp2019-10178'), bundled)
})

test('hostile: only http(s), a clear message naming the rule; 1 MB titles; long addresses', async () => {
  const pads = await imported('camp2019', fixture('frab-camp2019.json'), 'application/json')
  const pad = pads[0]!
  for (const url of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'file:///etc/passwd',
    'ftp://example.org/x',
    'mailto:a@example.org',
    '//example.org/x',
    'example.org',
  ]) {
    const reply = await apiCall(server, 'POST', `/api/pads/${pad.id}/materials`, { url })
    assert.equal(reply.status, 400, url)
    const error = (reply.json as { error: { code: string; message: string } }).error
    assert.equal(error.code, 'invalid_url', url)
    assert.match(error.message, /^url: materials are http:\/\/ or https:\/\/ links only/, url)
  }
  const big = await apiCall(server, 'POST', `/api/pads/${pad.id}/materials`, {
    title: 'x'.repeat(1024 * 1024),
    url: 'https://example.org/',
  })
  assert.equal(big.status, 413)
  const long = await apiCall(server, 'POST', `/api/pads/${pad.id}/materials`, {
    url: `https://example.org/${'a'.repeat(2100)}`,
  })
  assert.equal(long.status, 400)
  assert.match((long.json as { error: { message: string } }).error.message, /at most 2000 characters/)
  const kind = await apiCall(server, 'POST', `/api/pads/${pad.id}/materials`, {
    kind: 'virus',
    url: 'https://x.org/',
  })
  assert.equal(kind.status, 400)
  const none = await apiCall(server, 'DELETE', `/api/pads/${pad.id}/materials`)
  assert.equal(none.status, 400)
  assert.deepEqual(
    (await materialsOf(pad.id)).filter((m) => m.source === 'hand'),
    [],
    'nothing refused was stored',
  )
})
