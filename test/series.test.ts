/**
 * Series: a meeting at one event continued at another, its open action items carried over with
 * their owners and a link back, decisions as context; "start the next meeting" twice gives one
 * pad; an item ticked in the second meeting is not carried to the third; cycles refused; a
 * deleted meeting in the middle leaves the rest linked and named as gone; a series 1,000 long.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { after, before, test } from 'node:test'
import type { PadInfo } from '../server/meetings/model.ts'
import { apiCall, connectClient, okJson, startTestServer, type TestServer, waitFor } from './helpers.ts'

let server: TestServer

before(async () => {
  server = await startTestServer()
  for (const [slug, name] of [
    ['lpc-2026', 'LPC 2026'],
    ['kvm-2027', 'KVM Forum 2027'],
    ['lsfmm-2027', 'LSFMM 2027'],
  ]) {
    okJson(await apiCall(server, 'POST', '/api/events', { slug, name, timezone: 'Europe/Prague' }), 201)
  }
})

after(async () => {
  await server?.close()
})

async function newPad(event: string, title: string, startsAt?: string): Promise<PadInfo> {
  return okJson<PadInfo>(
    await apiCall(server, 'POST', `/api/events/${event}/pads`, { title, kind: 'bof', startsAt }),
    201,
  )
}

/** Appends `lines` to the pad as a note-taker would, and waits for the server to have them. */
async function write(padId: string, lines: string): Promise<void> {
  const client = connectClient(server.wsUrl, padId)
  try {
    await client.synced()
    client.text.insert(client.text.length, `\n${lines}\n`)
    await waitFor('the server to have the lines', () =>
      (server.rooms.get(padId)?.doc.getText('notes').toString() ?? '').includes(lines),
    )
  } finally {
    client.destroy()
  }
}

/** Replaces `from` with `to` in the pad's text (ticking an item). */
async function edit(padId: string, from: string, to: string): Promise<void> {
  const client = connectClient(server.wsUrl, padId)
  try {
    await client.synced()
    const at = client.text.toString().indexOf(from)
    assert.ok(at >= 0, `"${from}" in the pad`)
    client.text.delete(at, from.length)
    client.text.insert(at, to)
    await waitFor('the server to have the edit', () =>
      (server.rooms.get(padId)?.doc.getText('notes').toString() ?? '').includes(to),
    )
  } finally {
    client.destroy()
  }
}

const textOf = async (padId: string) => (await server.minutes.text(padId)) ?? ''
const next = (padId: string, body: unknown = {}) => apiCall(server, 'POST', `/api/pads/${padId}/next`, body)
const page = async (padId: string) => (await apiCall(server, 'GET', `/p/${padId}`)).text

test('the next meeting, at another event, starts with the open action items and the decisions', async () => {
  const first = await newPad('lpc-2026', 'Memory cgroup BoF', '2026-11-10T14:00')
  await write(
    first.id,
    [
      '- [ ] @alice post the v3 series',
      '- [x] @bob ran the benchmarks',
      'ACTION(Jane Doe): ask the MM maintainers',
      'ACTION: find a room for next time',
      'DECISION: per-node accounting stays',
    ].join('\n'),
  )
  const reply = await next(first.id, { event: 'kvm-2027' })
  const { created, pad } = okJson<{ created: boolean; pad: PadInfo }>(reply, 201)
  assert.equal(created, true)
  assert.equal(pad.event, 'kvm-2027')
  assert.equal(pad.kind, 'bof')
  assert.equal(pad.title, 'Memory cgroup BoF')

  const text = await textOf(pad.id)
  const lines = (await textOf(first.id)).split('\n')
  const lineOf = (s: string) => lines.findIndex((l) => l.includes(s)) + 1
  // First lines: the heading that says where they came from.
  assert.match(text, /^## Carried over from “Memory cgroup BoF” \(LPC 2026, 2026-11-10\)\n/)
  const ref = (s: string) => `(recorded at [“Memory cgroup BoF”, line ${lineOf(s)}](/p/${first.id}))`
  assert.ok(text.includes(`- [ ] @alice post the v3 series ${ref('@alice')}`), text)
  assert.ok(text.includes(`- ACTION(Jane Doe): ask the MM maintainers ${ref('Jane Doe')}`), text)
  assert.ok(text.includes(`- ACTION: find a room for next time ${ref('find a room')}`), text)
  assert.ok(!text.includes('ran the benchmarks'), 'a done item is not carried over')
  assert.match(text, /### Decisions taken in “Memory cgroup BoF”\n\n- per-node accounting stays\n/)
  assert.doesNotMatch(text, /^(- )?DECISION:/m, 'old decisions are context, not decisions of the new meeting')
  // The template follows the carried lines.
  assert.ok(text.indexOf('Carried over') < text.indexOf('# Memory cgroup BoF\n'), text)

  // The minutes of the new meeting keep the carried lines (they are not the untouched template).
  const md = (await apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=md`)).text
  assert.ok(md.includes('@alice post the v3 series'), md)

  // Each page names the other.
  assert.match(
    await page(pad.id),
    new RegExp(`Continues: <a href="/p/${first.id}"[^>]*>Memory cgroup BoF</a>`),
  )
  assert.match(
    await page(first.id),
    new RegExp(`Continued in: <a href="/p/${pad.id}"[^>]*>Memory cgroup BoF</a>`),
  )
  const series = okJson<{ continues: { meeting: { id: string } } }>(
    await apiCall(server, 'GET', `/api/pads/${pad.id}/series`),
  )
  assert.equal(series.continues.meeting.id, first.id)

  // Twice gives one pad.
  const again = okJson<{ created: boolean; pad: PadInfo }>(await next(first.id, { event: 'kvm-2027' }))
  assert.deepEqual([again.created, again.pad.id], [false, pad.id])
  const [a, b] = await Promise.all([next(first.id), next(first.id)])
  assert.deepEqual([a.status, b.status], [200, 200])
  const kvm = okJson<{ pads: PadInfo[] }>(await apiCall(server, 'GET', '/api/events/kvm-2027/pads'))
  assert.equal(kvm.pads.length, 1)
})

test('an item ticked in the second meeting is not carried to the third; one still open keeps its first link', async () => {
  const m1 = await newPad('lpc-2026', 'Scheduler MC')
  await write(m1.id, '- [ ] @carol split the patch\n- [ ] @dave write the docs')
  const m2 = okJson<{ pad: PadInfo }>(await next(m1.id), 201).pad
  await edit(m2.id, '- [ ] @carol split the patch', '- [x] @carol split the patch')
  const m3 = okJson<{ pad: PadInfo }>(
    await next(m2.id, { event: 'lsfmm-2027', title: 'Scheduler MC 3' }),
    201,
  ).pad
  const text = await textOf(m3.id)
  assert.ok(!text.includes('@carol'), text)
  const dave = text.split('\n').filter((l) => l.includes('@dave'))
  assert.equal(dave.length, 1)
  assert.match(
    dave[0]!,
    new RegExp(
      `^- \\[ \\] @dave write the docs \\(recorded at \\[“Scheduler MC”, line \\d+\\]\\(/p/${m1.id}\\)\\)$`,
    ),
  )
  assert.match(text, /^## Carried over from “Scheduler MC”/)
})

test('a cycle is refused with a clear error', async () => {
  const a = await newPad('lpc-2026', 'Cycle A')
  const b = okJson<{ pad: PadInfo }>(await next(a.id, { title: 'Cycle B' }), 201).pad
  const c = okJson<{ pad: PadInfo }>(await next(b.id, { title: 'Cycle C' }), 201).pad
  const cycle = await apiCall(server, 'PUT', `/api/pads/${a.id}/continues`, { continues: c.id })
  assert.equal(cycle.status, 409)
  assert.deepEqual(cycle.json, {
    error: {
      code: 'cycle',
      message:
        '“Cycle C” already comes after “Cycle A” in this series: a meeting cannot continue a later one.',
    },
  })
  const self = await apiCall(server, 'PUT', `/api/pads/${a.id}/continues`, { continues: a.id })
  assert.equal(self.status, 409)
  assert.match((self.json as { error: { message: string } }).error.message, /cannot continue itself/)
  const taken = await apiCall(server, 'PUT', `/api/pads/${c.id}/continues`, { continues: a.id })
  assert.equal(taken.status, 409)
  assert.match((taken.json as { error: { message: string } }).error.message, /already continued in/)
  const missing = await apiCall(server, 'PUT', `/api/pads/${a.id}/continues`, { continues: 'no-such-pad' })
  assert.equal(missing.status, 404)
})

test('deleting the meeting in the middle leaves the rest linked and names what is gone', async () => {
  const a = await newPad('lpc-2026', 'Tracing A')
  const b = okJson<{ pad: PadInfo }>(await next(a.id, { title: 'Tracing B' }), 201).pad
  const c = okJson<{ pad: PadInfo }>(await next(b.id, { title: 'Tracing C' }), 201).pad
  assert.equal((await apiCall(server, 'DELETE', `/api/pads/${b.id}`)).status, 204)
  assert.match(
    await page(c.id),
    new RegExp(
      `Continues: <a href="/p/${a.id}"[^>]*>Tracing A</a> <span class="muted">\\(after “Tracing B” — deleted\\)</span>`,
    ),
  )
  assert.match(await page(a.id), new RegExp(`Continued in: <a href="/p/${c.id}"[^>]*>Tracing C</a>`))
  const series = okJson<{ continues: { meeting: { id: string }; gone: { id: string; title: string }[] } }>(
    await apiCall(server, 'GET', `/api/pads/${c.id}/series`),
  )
  assert.deepEqual(series.continues, {
    meeting: { id: a.id, title: 'Tracing A', event: 'lpc-2026' },
    gone: [{ id: b.id, title: 'Tracing B' }],
  })
  // "Next meeting" of A is C now, not a new pad.
  const again = okJson<{ created: boolean; pad: PadInfo }>(await next(a.id))
  assert.deepEqual([again.created, again.pad.id], [false, c.id])
  // The last meeting deleted: the first may be continued anew.
  assert.equal((await apiCall(server, 'DELETE', `/api/pads/${c.id}`)).status, 204)
  assert.match(
    await page(a.id),
    /Continued in: {2}<span class="muted">\(“Tracing B”, “Tracing C” — deleted\)/,
  )
  okJson(await next(a.id), 201)
})

test('hostile: a 1 MB title, a bad pad name, an unknown event, a series 1,000 meetings long', async () => {
  const a = await newPad('lpc-2026', 'Hostile A')
  const big = await next(a.id, { title: 'x'.repeat(1024 * 1024) })
  assert.equal(big.status, 413)
  const long = await next(a.id, { title: 'x'.repeat(301) })
  assert.equal(long.status, 400)
  assert.match((long.json as { error: { message: string } }).error.message, /title/)
  const name = await apiCall(server, 'PUT', `/api/pads/${a.id}/continues`, { continues: '../etc/passwd' })
  assert.equal(name.status, 400)
  const event = await next(a.id, { event: 'no-such-event' })
  assert.equal(event.status, 404)
  assert.equal((await apiCall(server, 'GET', '/api/events/lpc-2026/pads')).json !== null, true)

  // 1,000 meetings, each continuing the one before.
  const ids: string[] = []
  for (let i = 0; i < 1000; i++)
    ids.push((await server.meetings.createPad({ title: `Weekly ${i}`, kind: 'meeting' })).id)
  for (let i = 1; i < ids.length; i++) {
    okJson(await apiCall(server, 'PUT', `/api/pads/${ids[i]}/continues`, { continues: ids[i - 1] }))
  }
  const cycle = await apiCall(server, 'PUT', `/api/pads/${ids[0]}/continues`, { continues: ids[999] })
  assert.equal(cycle.status, 409)
  assert.match(await page(ids[999]!), new RegExp(`Continues: <a href="/p/${ids[998]}"`))
  const made = okJson<{ pad: PadInfo }>(await next(ids[999]!), 201).pad
  assert.match(await textOf(made.id), /^# Weekly 999/)
})

test('hostile: the series view of a 1,000-meeting series lists them all, at ~10× the cost of 100', async () => {
  /** A series of `n` meetings, each with the same open item and a decision; its last meeting. */
  const chain = async (n: number, name: string) => {
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      const prelude = `- [ ] @alice weekly report for ${name}\nDECISION: meet again (${i})\n`
      ids.push(
        (await server.meetings.createPad({ title: `${name} ${i}`, kind: 'meeting' }, undefined, prelude)).id,
      )
      if (i > 0)
        okJson(await apiCall(server, 'PUT', `/api/pads/${ids[i]}/continues`, { continues: ids[i - 1] }))
    }
    return ids[n - 1]!
  }
  const small = await chain(100, 'Small')
  const big = await chain(1000, 'Big')
  interface View {
    meetings: { id: string }[]
    actionItems: { states: unknown[] }[]
  }
  const view = okJson<View>(await apiCall(server, 'GET', `/api/pads/${big}/series/view`))
  assert.equal(view.meetings.length, 1000)
  assert.equal(view.actionItems.length, 1, 'one item, matched across every meeting')
  assert.equal(view.actionItems[0]!.states.length, 1000)
  const html = await apiCall(server, 'GET', `/p/${big}/series`)
  assert.equal(html.status, 200)
  assert.equal(html.text.match(/Decision: meet again/g)?.length, 1000)
  const costOf = async (id: string) => {
    let best = Number.POSITIVE_INFINITY
    for (let i = 0; i < 3; i++) {
      const start = performance.now()
      assert.equal((await apiCall(server, 'GET', `/api/pads/${id}/series/view`)).status, 200)
      assert.equal((await apiCall(server, 'GET', `/p/${id}/series`)).status, 200)
      best = Math.min(best, performance.now() - start)
    }
    return best
  }
  const smallMs = await costOf(small)
  const bigMs = await costOf(big)
  // Linear is 10×; a quadratic step would be 100×.
  assert.ok(
    bigMs <= 25 * smallMs + 100,
    `1,000 meetings: ${bigMs.toFixed(1)} ms; 100: ${smallMs.toFixed(1)} ms`,
  )
})

test('protected: the next meeting in another event needs that event’s edit link; no secret in the series', async () => {
  const ADMIN = 'series-admin-token-0123456789'
  const guarded = await startTestServer({}, { adminToken: ADMIN })
  try {
    const auth = { authorization: `Bearer ${ADMIN}` }
    for (const slug of ['one', 'two'])
      okJson(await apiCall(guarded, 'POST', '/api/events', { slug, name: slug }, undefined, auth), 201)
    const first = okJson<PadInfo>(
      await apiCall(
        guarded,
        'POST',
        '/api/events/one/pads',
        { title: 'Guarded', kind: 'meeting' },
        undefined,
        auth,
      ),
      201,
    )
    const links = okJson<{ edit: string; read: string }>(
      await apiCall(guarded, 'GET', '/api/events/one/links', undefined, undefined, auth),
    )
    const token = (url: string) => new URL(url).searchParams.get('token')!
    const [edit, read] = [token(links.edit), token(links.read)]
    const as = (t: string) => ({ authorization: `Bearer ${t}` })
    const elsewhere = await apiCall(
      guarded,
      'POST',
      `/api/pads/${first.id}/next`,
      { event: 'two' },
      undefined,
      as(edit),
    )
    assert.equal(elsewhere.status, 403)
    assert.match((elsewhere.json as { error: { message: string } }).error.message, /event "two"/)
    const unfiled = await apiCall(
      guarded,
      'POST',
      `/api/pads/${first.id}/next`,
      { event: null },
      undefined,
      as(edit),
    )
    assert.equal(unfiled.status, 403)
    const viewer = await apiCall(guarded, 'POST', `/api/pads/${first.id}/next`, {}, undefined, as(read))
    assert.equal(viewer.status, 403)
    const made = okJson<{ pad: PadInfo }>(
      await apiCall(guarded, 'POST', `/api/pads/${first.id}/next`, {}, undefined, as(edit)),
      201,
    ).pad
    for (const path of [`/api/pads/${made.id}/series`, `/p/${made.id}`, `/p/${first.id}`]) {
      const reply = await apiCall(guarded, 'GET', path, undefined, undefined, as(read))
      assert.equal(reply.status, 200, path)
      for (const s of [edit, read, ADMIN]) assert.ok(!reply.text.includes(s), `no secret in ${path}`)
    }
    const carried = (await apiCall(guarded, 'GET', `/p/${first.id}`, undefined, undefined, as(read))).text
    assert.ok(!carried.includes('Start the next meeting'), 'a viewer gets no button')
  } finally {
    await guarded.close()
  }
})

test('series view: every meeting in order with its decisions, each item’s state over time and how it was matched', async () => {
  const m1 = await newPad('lpc-2026', 'Power MC', '2026-11-11T09:00')
  await write(m1.id, '- [ ] @erin measure idle power\n- [ ] @finn update the docs\nDECISION: one governor')
  const m2 = okJson<{ pad: PadInfo }>(await next(m1.id, { event: 'kvm-2027' }), 201).pad
  await edit(m2.id, '- [ ] @erin measure idle power', '- [x] @erin measure idle power')
  const m3 = okJson<{ pad: PadInfo }>(await next(m2.id, { event: 'lsfmm-2027' }), 201).pad
  interface View {
    meetings: { id: string; event: string | null; decisions: string[]; visible: boolean }[]
    actionItems: {
      owner: string
      text: string
      states: { meeting: string; state: string; matchedBy: string }[]
    }[]
  }
  const view = okJson<View>(await apiCall(server, 'GET', `/api/pads/${m3.id}/series/view`))
  assert.deepEqual(
    view.meetings.map((m) => [m.id, m.event]),
    [
      [m1.id, 'lpc-2026'],
      [m2.id, 'kvm-2027'],
      [m3.id, 'lsfmm-2027'],
    ],
  )
  assert.deepEqual(view.meetings[0]!.decisions, ['one governor'])
  assert.deepEqual(view.meetings[1]!.decisions, [], 'carried decisions are context, not decisions again')
  const erin = view.actionItems.find((i) => i.owner === 'erin')!
  assert.equal(erin.text, 'measure idle power')
  assert.deepEqual(
    erin.states.map((s) => [s.meeting, s.state, s.matchedBy]),
    [
      [m1.id, 'open', 'first recorded here'],
      [m2.id, 'done', 'same owner and text'],
    ],
  )
  const finn = view.actionItems.find((i) => i.owner === 'finn')!
  assert.deepEqual(
    finn.states.map((s) => s.state),
    ['open', 'open', 'open'],
  )
  const fromFirst = okJson<View>(await apiCall(server, 'GET', `/api/pads/${m1.id}/series/view`))
  assert.deepEqual(fromFirst, view, 'the same view from any meeting of the series')
  const html = (await apiCall(server, 'GET', `/p/${m2.id}/series`)).text
  assert.match(html, /done in “Power MC”, line \d+ <span class="muted">\(same owner and text\)<\/span>/)
  assert.ok(html.includes('Decision: one governor'))
})
