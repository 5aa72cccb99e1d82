/**
 * What a reader of the minutes gets (the mailing list, the event zip): the schedule's facts from
 * the pad's metadata, once, and current after a re-import; what people wrote, without the
 * template's instructions, its untouched sections or a "(BoF)" title; untouched pads listed as
 * "no notes"; and pads from before the template was kept treated the same.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { strFromU8, unzipSync } from 'fflate'
import type { PadInfo } from '../server/meetings/model.ts'
import { apiCall, connectClient, okJson, startTestServer, type TestServer, waitFor } from './helpers.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
})

after(async () => {
  await server?.close()
})

const post = async <T>(path: string, body: unknown, contentType?: string) =>
  okJson<T>(await apiCall(server, 'POST', path, body, contentType), 201)

async function exported(padId: string, format: 'txt' | 'md' | 'html'): Promise<string> {
  const reply = await apiCall(server, 'GET', `/api/pads/${padId}/export?format=${format}`)
  assert.equal(reply.status, 200, reply.text)
  return reply.text
}

/** Types `line` under the pad's `heading`, as a note-taker would, and waits for the server to have it. */
async function writeUnder(padId: string, heading: string, line: string): Promise<void> {
  const client = connectClient(server.wsUrl, padId)
  try {
    await client.synced()
    const text = client.text.toString()
    const at = text.indexOf(`${heading}\n`)
    assert.ok(at >= 0, `${heading} in\n${text}`)
    client.text.insert(at + heading.length + 1, `\n${line}\n`)
    await waitFor('the server to have the line', () =>
      (server.rooms.get(padId)?.doc.getText('notes').toString() ?? '').includes(line),
    )
  } finally {
    client.destroy()
  }
}

const count = (text: string, what: string) => text.split(what).length - 1

test('a session moved by a re-import: the minutes say the new time and room, and nothing says the old ones', async () => {
  await post('/api/events', { slug: 'moved', name: 'Moved Conf', timezone: 'Europe/Prague' })
  const schedule = (start: string, end: string, room: string) => [
    { id: 's1', title: 'sched_ext BoF', kind: 'bof', start, end, room },
  ]
  const first = okJson<{ created: { id: string }[] }>(
    await apiCall(
      server,
      'POST',
      '/api/events/moved/import',
      schedule('2026-11-10T16:00', '2026-11-10T17:00', 'Hall C'),
    ),
  )
  const padId = first.created[0]!.id
  await writeUnder(padId, '## Notes', '- EEVDF lag handling needs a knob')
  okJson(
    await apiCall(
      server,
      'POST',
      '/api/events/moved/import',
      schedule('2026-11-10T17:00', '2026-11-10T18:00', 'Hall D'),
    ),
  )

  for (const format of ['txt', 'md', 'html'] as const) {
    const minutes = await exported(padId, format)
    assert.ok(
      minutes.includes('17:00') || minutes.includes('T16:00:00.000Z'),
      `${format}: the new time\n${minutes}`,
    )
    assert.ok(minutes.includes('Hall D'), `${format}: the new room`)
    assert.ok(!minutes.includes('Hall C'), `${format}: the old room is nowhere\n${minutes}`)
    assert.ok(
      !minutes.includes('16:00–') && !minutes.includes('T15:00:00.000Z'),
      `${format}: the old time is nowhere`,
    )
    assert.equal(count(minutes, 'Hall D'), 1, `${format}: the room once\n${minutes}`)
  }
})

test('the minutes of a BoF hold what people wrote: no instructions, no "(BoF)", no empty template sections, facts once', async () => {
  await post('/api/events', { slug: 'bofs', name: 'BoF Conf', timezone: 'UTC' })
  const pad = await post<PadInfo>('/api/events/bofs/pads', {
    title: 'sched_ext BoF',
    kind: 'bof',
    room: 'Hall C',
    startsAt: '2026-11-10T16:00:00Z',
    speakers: ['Tejun Heo'],
  })
  await writeUnder(pad.id, '## Notes', '- sched_ext is merged; next: cgroup support')
  await writeUnder(pad.id, '## Decisions', 'DECISION: keep the BPF interface stable')

  const txt = await exported(pad.id, 'txt')
  const md = await exported(pad.id, 'md')
  const html = await exported(pad.id, 'html')
  for (const [format, minutes] of [
    ['txt', txt],
    ['md', md],
    ['html', html],
  ] as const) {
    assert.ok(minutes.includes('sched_ext is merged'), `${format}: the notes`)
    assert.ok(minutes.includes('keep the BPF interface stable'), `${format}: the decision`)
    assert.ok(!minutes.includes('Mark outcomes'), `${format}: no instructions for note-takers\n${minutes}`)
    assert.ok(!minutes.includes('(BoF)'), `${format}: no "(BoF)" suffix`)
    assert.ok(!minutes.includes('Topics raised'), `${format}: an untouched section is left out\n${minutes}`)
    assert.ok(!minutes.includes('Action items'), `${format}: an untouched section is left out`)
    assert.equal(count(minutes, 'Hall C'), 1, `${format}: the room once\n${minutes}`)
    assert.equal(count(minutes, 'Tejun Heo'), 1, `${format}: the leads once`)
  }
  // The title once: in the header, not again as the pad's first heading.
  assert.equal(count(txt, 'sched_ext BoF'), 1, txt)
  assert.equal(count(html.slice(html.indexOf('<body>')), 'sched_ext BoF'), 1, html)
  // The pad itself keeps everything for the people typing in it.
  const text = server.rooms.get(pad.id)?.doc.getText('notes').toString() ?? ''
  assert.ok(text.includes('Mark outcomes') && text.includes('## Topics raised'))
})

test('an event template of its own: what nobody touched is left out of the minutes just the same', async () => {
  await post('/api/events', { slug: 'own', name: 'Own Conf', timezone: 'UTC' })
  const template =
    '# {{title}}\n\n> Chatham House rules: no names in the minutes.\n\n## Discussion\n\n## Follow-ups\n\n- \n'
  okJson(await apiCall(server, 'PUT', '/api/events/own/templates/meeting', template, 'text/markdown'))
  const pad = await post<PadInfo>('/api/events/own/pads', { title: 'Board meeting', kind: 'meeting' })
  await writeUnder(pad.id, '## Discussion', 'The budget passed.')
  const md = await exported(pad.id, 'md')
  assert.ok(md.includes('## Discussion') && md.includes('The budget passed.'), md)
  assert.ok(!md.includes('Chatham House') && !md.includes('Follow-ups'), md)
  // Changing the event's template later does not change what counts as untouched for this pad.
  okJson(
    await apiCall(
      server,
      'PUT',
      '/api/events/own/templates/meeting',
      '# {{title}}\n\n## Other\n',
      'text/markdown',
    ),
  )
  assert.equal(await exported(pad.id, 'md'), md)
})

test('the event zip: pads nobody wrote in are listed as "no notes", without files; the index page is styled', async () => {
  await post('/api/events', { slug: 'zip', name: 'Zip Conf', startsOn: '2026-11-10', timezone: 'UTC' })
  const written = await post<PadInfo>('/api/events/zip/pads', {
    title: 'Memory cgroup BoF',
    kind: 'bof',
    startsAt: '2026-11-10T09:00:00Z',
  })
  const empty: PadInfo[] = []
  for (const [i, kind] of ['bof', 'talk', 'mini-summit', 'meeting'].entries()) {
    empty.push(
      await post<PadInfo>('/api/events/zip/pads', {
        title: `Untouched ${kind}`,
        kind,
        startsAt: `2026-11-10T1${i}:00:00Z`,
      }),
    )
  }
  await writeUnder(written.id, '## Notes', '- memory.high throttling is too aggressive')
  const reply = await apiCall(server, 'GET', '/api/events/zip/export')
  assert.equal(reply.status, 200)
  const files = new Map(Object.entries(unzipSync(reply.bytes)).map(([n, d]) => [n, strFromU8(d)]))
  const padFiles = [...files.keys()].filter((n) => n.startsWith('pads/'))
  assert.equal(padFiles.length, 3, `only the pad with notes has files: ${padFiles.join(', ')}`)
  const index = files.get('index.html')!
  assert.match(index, /<style>[^<]*font[^<]*<\/style>/, 'the index page has a style')
  for (const pad of empty) {
    const line = index.split('\n').find((l) => l.includes(pad.title!)) ?? ''
    assert.match(line, /no notes/, `${pad.title} listed as "no notes"`)
  }
  const combined = files.get('minutes.md')!
  assert.equal(count(combined, 'memory.high throttling'), 1)
  assert.ok(!combined.includes('Mark outcomes') && !combined.includes('Topics raised'), combined)
  assert.ok(combined.split('\n').length < 40, `a short file for one pad of notes:\n${combined}`)
  const headings = combined.split('\n').filter((l) => l.startsWith('#'))
  assert.equal(new Set(headings).size, headings.length, `every heading once: ${headings.join(' | ')}`)
})

test('a pad from before templates were kept, with schedule facts in its text: its minutes leave the untouched facts out', async () => {
  await post('/api/events', { slug: 'legacy', name: 'Legacy Conf', timezone: 'UTC' })
  // What templates wrote before: the facts as a list in the text.
  const old =
    '# {{title}} (BoF)\n\n- **When:** Tue 2026-11-10, 16:00–17:00 (UTC)\n- **Room:** Hall C\n\n## Notes\n\n## Decisions\n'
  okJson(await apiCall(server, 'PUT', '/api/events/legacy/templates/bof', old, 'text/markdown'))
  const pad = await post<PadInfo>('/api/events/legacy/pads', {
    title: 'Old BoF',
    kind: 'bof',
    room: 'Hall D',
  })
  // As a database from before this version has it: no template kept.
  server.db.prepare('UPDATE pads SET template = NULL WHERE id = ?').run(pad.id)
  await writeUnder(pad.id, '## Notes', '- notes typed in the old days')
  const txt = await exported(pad.id, 'txt')
  assert.ok(txt.includes('notes typed in the old days'), txt)
  assert.ok(!txt.includes('Hall C') && !txt.includes('(BoF)') && !txt.includes('Decisions'), txt)
  assert.equal(count(txt, 'Hall D'), 1, txt)
})

test('a pad imported from a Yjs backup is all notes: nothing of it is taken for an untouched template, then or after an upgrade', async () => {
  await post('/api/events', { slug: 'moving', name: 'Moving Conf', timezone: 'UTC' })
  const source = await post<PadInfo>('/api/events/moving/pads', { title: 'Old server BoF', kind: 'bof' })
  await writeUnder(source.id, '## Notes', '- moved from the old server')
  const state = (await apiCall(server, 'GET', `/api/pads/${source.id}/export?format=yjs`)).bytes
  const imported = await post<PadInfo>(
    '/api/pads/import?title=Moved%20BoF&kind=bof&event=moving',
    state,
    'application/octet-stream',
  )
  const whole = server.rooms.get(source.id)?.doc.getText('notes').toString() ?? ''
  const before = await exported(imported.id, 'md')
  assert.ok(before.endsWith(whole), `the imported text whole:\n${before}`)
  // As a database from before this version has it: the imported state is its first log row.
  server.db.prepare('UPDATE pads SET template = NULL WHERE id = ?').run(imported.id)
  assert.equal(await exported(imported.id, 'md'), before)
})
