/**
 * Following from afar, the "now" part: which sessions are under way at a moment (the pure
 * function, with its edge cases), the JSON the page reads and its inputs, the read-only socket
 * the page opens, and a protected event's page and answers holding no secret.
 */
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { after, before, describe, test } from 'node:test'
import { MAX_NOW_SESSIONS, NOW_REFRESH_MAX_MS, type NowAnswer } from '../server/http/now-routes.ts'
import { DEFAULT_SESSION_MINUTES } from '../server/meetings/meetings.ts'
import type { PadInfo } from '../server/meetings/model.ts'
import { type ScheduledPad, sessionsAt } from '../server/meetings/now.ts'
import {
  apiCall,
  assertApiError,
  connectClient,
  okJson,
  sleep,
  startTestServer,
  type TestServer,
  waitFor,
} from './helpers.ts'

const T = Date.parse('2026-11-10T10:00:00Z')
const MIN = 60_000
const iso = (ms: number) => new Date(ms).toISOString()

function pad(id: string, fields: Partial<ScheduledPad> = {}): ScheduledPad {
  return { id, startsAt: null, endsAt: null, cancelled: false, closedAt: null, room: null, ...fields }
}
const slot = (id: string, start: number, end: number | null, room: string | null = 'Main') =>
  pad(id, { startsAt: iso(start), endsAt: end === null ? null : iso(end), room })
const ids = (pads: readonly ScheduledPad[]) => pads.map((p) => p.id)

describe('which sessions are under way (meetings/now.ts)', () => {
  test('sessions without a time never are; a start without an end lasts the default length', () => {
    const pads = [
      pad('no-time'),
      pad('end-only', { endsAt: iso(T + MIN) }),
      slot('start-only', T - MIN, null),
    ]
    assert.deepEqual(ids(sessionsAt(pads, T).now), ['start-only'])
    const over = T - MIN + DEFAULT_SESSION_MINUTES * MIN
    assert.deepEqual(ids(sessionsAt(pads, over - 1).now), ['start-only'])
    assert.deepEqual(ids(sessionsAt(pads, over).now), [])
  })

  test('ending exactly now is over, starting exactly now is on; a zero-length session never is', () => {
    const pads = [
      slot('ends-now', T - 30 * MIN, T),
      slot('starts-now', T, T + 30 * MIN, 'Other'),
      slot('zero', T, T),
    ]
    assert.deepEqual(ids(sessionsAt(pads, T).now), ['starts-now'])
    assert.deepEqual(ids(sessionsAt(pads, T - 1).now), ['ends-now'])
  })

  test('overlapping sessions, in one room or several, are all listed: by room, then start, no room last', () => {
    const pads = [
      slot('b-late', T - 10 * MIN, T + MIN, 'B'),
      slot('nowhere', T - MIN, T + MIN, null),
      slot('b-early', T - 20 * MIN, T + MIN, 'B'),
      slot('a', T - MIN, T + MIN, 'A'),
    ]
    assert.deepEqual(ids(sessionsAt(pads, T).now), ['a', 'b-early', 'b-late', 'nowhere'])
  })

  test('times are instants, whatever offset the schedule wrote', () => {
    // 11:30+02:00 is 09:30Z; 05:00-05:00 is 10:00Z.
    const pads = [
      pad('prague', { startsAt: '2026-11-10T11:30:00+02:00', endsAt: '2026-11-10T12:30:00+02:00' }),
      pad('new-york', { startsAt: '2026-11-10T05:00:00-05:00', endsAt: '2026-11-10T05:30:00-05:00' }),
      pad('garbage', { startsAt: 'not a time', endsAt: 'nor this' }),
    ]
    assert.deepEqual(ids(sessionsAt(pads, T).now).sort(), ['new-york', 'prague'])
    assert.deepEqual(ids(sessionsAt(pads, T - 1).now), ['prague'])
  })

  test('cancelled and closed sessions are not under way', () => {
    const pads = [
      { ...slot('cancelled', T - MIN, T + MIN), cancelled: true },
      { ...slot('closed', T - MIN, T + MIN), closedAt: iso(T - 1) },
      slot('on', T - MIN, T + MIN),
    ]
    assert.deepEqual(ids(sessionsAt(pads, T).now), ['on'])
  })

  test('the next change is the nearest start or end after the moment, null when none is left', () => {
    const pads = [
      slot('on', T - MIN, T + 20 * MIN),
      slot('later', T + 5 * MIN, T + 50 * MIN),
      slot('past', T - 9 * MIN, T - 5 * MIN),
    ]
    assert.equal(sessionsAt(pads, T).nextChange, T + 5 * MIN)
    assert.equal(sessionsAt(pads, T + 5 * MIN).nextChange, T + 20 * MIN)
    assert.equal(sessionsAt(pads, T + 50 * MIN).nextChange, null)
    assert.equal(sessionsAt([], T).nextChange, null)
  })
})

describe('GET /api/events/<slug>/now', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
    okJson(
      await apiCall(server, 'POST', '/api/events', { slug: 'lpc', name: 'LPC', timezone: 'Europe/Prague' }),
      201,
    )
  })
  after(async () => {
    await server?.close()
  })

  const now = async (query = '') =>
    okJson<NowAnswer>(await apiCall(server, 'GET', `/api/events/lpc/now${query}`))
  const newPad = async (title: string, startsAt: string, endsAt: string, room = 'Main') =>
    okJson<PadInfo>(
      await apiCall(server, 'POST', '/api/events/lpc/pads', { title, kind: 'talk', startsAt, endsAt, room }),
      201,
    )

  test('the sessions under way by the server clock, with times in the event zone, and when to ask again', async () => {
    const start = Date.now() - 10 * MIN
    const on = await newPad('Under way', iso(start), iso(Date.now() + 60 * MIN))
    const later = await newPad('Later', iso(Date.now() + 120 * MIN), iso(Date.now() + 180 * MIN), 'Other')
    const answer = await now()
    assert.deepEqual(
      answer.sessions.map((s) => s.id),
      [on.id],
    )
    const shown = answer.sessions[0]!
    assert.equal(shown.title, 'Under way')
    assert.equal(shown.link, `/p/${on.id}`)
    assert.equal(shown.room, 'Main')
    const wall = new Date(start).toLocaleTimeString('en-GB', {
      timeZone: 'Europe/Prague',
      hour: '2-digit',
      minute: '2-digit',
    })
    assert.ok(shown.time.startsWith(wall), `${shown.time} starts at ${wall} in Prague`)
    assert.ok(answer.refreshInMs <= NOW_REFRESH_MAX_MS && answer.refreshInMs >= 1000)
    assert.equal(answer.more, 0)
    okJson(await apiCall(server, 'DELETE', `/api/pads/${on.id}`), 204)
    okJson(await apiCall(server, 'DELETE', `/api/pads/${later.id}`), 204)
  })

  test('?at= a wall time in the event zone, or an instant with an offset', async () => {
    const a = await newPad('Morning', '2026-11-10T09:00', '2026-11-10T10:30')
    const b = await newPad('Late morning', '2026-11-10T10:00', '2026-11-10T11:00', 'Hall B')
    const at = async (q: string) => (await now(`?at=${encodeURIComponent(q)}`)).sessions.map((s) => s.id)
    assert.deepEqual(await at('2026-11-10T09:30'), [a.id])
    // By room: Hall B before Main.
    assert.deepEqual(await at('2026-11-10T10:15'), [b.id, a.id])
    // 10:30 in Prague is 09:30Z: the first session ends exactly then.
    assert.deepEqual(await at('2026-11-10T09:30:00Z'), [b.id])
    const answer = await now('?at=2026-11-10T09:30')
    assert.equal(answer.sessions[0]!.time, '09:00–10:30')
    assert.equal(answer.nextChangeAt, '2026-11-10T09:00:00.000Z', '10:00 in Prague')
  })

  test('an unknown event is 404; absurd ?at= values are 400 in plain words', async () => {
    assertApiError(await apiCall(server, 'GET', '/api/events/no-such-event/now'), 404, 'not_found')
    assertApiError(await apiCall(server, 'GET', `/api/events/${'x'.repeat(5000)}/now`), 404)
    assertApiError(await apiCall(server, 'GET', '/e/no-such-event/now'), 404)
    for (const q of [
      'at=yesterday',
      'at=2026-02-30T10:00',
      'at=2026-11-10T25:00',
      `at=${'9'.repeat(10_000)}`,
      'at=2026-11-10T10:00&at=2026-11-11T10:00',
      'at[x]=1',
      'at=%00',
      'at=',
    ]) {
      const message = assertApiError(
        await apiCall(server, 'GET', `/api/events/lpc/now?${q}`),
        400,
        'invalid',
        `${q.slice(0, 40)}: `,
      )
      assert.match(message, /^at must be one date and time/)
    }
    // Other parameters are ignored, as elsewhere.
    okJson(await apiCall(server, 'GET', '/api/events/lpc/now?sessions=999999&refresh=-1'))
  })

  test('a 2,000-session event, a thousand at once: at most MAX_NOW_SESSIONS listed, the rest counted, at the cost of 200', async () => {
    for (const [slug, n] of [
      ['now-small', 200],
      ['now-huge', 2000],
    ] as const) {
      okJson(await apiCall(server, 'POST', '/api/events', { slug, name: slug }), 201)
      for (let i = 0; i < n; i++) {
        const startsAt = Date.parse('2026-11-10T08:00:00Z') + (i % 2) * 24 * 60 * MIN
        await server.meetings.createPad({
          event: slug,
          title: `Session ${i}`,
          kind: 'talk',
          room: `Room ${i}`,
          startsAt,
          endsAt: startsAt + 600 * MIN,
        })
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const q = '?at=2026-11-10T12:00:00Z'
    const huge = okJson<NowAnswer>(await apiCall(server, 'GET', `/api/events/now-huge/now${q}`))
    assert.equal(huge.sessions.length, MAX_NOW_SESSIONS)
    assert.equal(huge.more, 1000 - MAX_NOW_SESSIONS)
    const timeOf = async (slug: string) => {
      let best = Number.POSITIVE_INFINITY
      for (let i = 0; i < 3; i++) {
        const start = performance.now()
        assert.equal((await apiCall(server, 'GET', `/api/events/${slug}/now${q}`)).status, 200)
        best = Math.min(best, performance.now() - start)
      }
      return best
    }
    const small = await timeOf('now-small')
    const big = await timeOf('now-huge')
    assert.ok(big <= 10 * small + 50, `2,000 sessions: ${big.toFixed(1)} ms; 200: ${small.toFixed(1)} ms`)
  })
})

describe('the "now" page of a protected event', () => {
  const ADMIN = 'now-admin-token-0123456789'
  let server: TestServer
  let links: { edit: string; read: string }
  let padId: string
  const auth = { authorization: `Bearer ${ADMIN}` }
  before(async () => {
    server = await startTestServer({}, { adminToken: ADMIN })
    okJson(
      await apiCall(
        server,
        'POST',
        '/api/events',
        { slug: 'closed-door', name: 'Closed door' },
        undefined,
        auth,
      ),
      201,
    )
    padId = okJson<PadInfo>(
      await apiCall(
        server,
        'POST',
        '/api/events/closed-door/pads',
        {
          title: 'Secret BoF',
          kind: 'bof',
          startsAt: iso(Date.now() - 5 * MIN),
          endsAt: iso(Date.now() + 60 * MIN),
        },
        undefined,
        auth,
      ),
      201,
    ).id
    const urls = okJson<{ edit: string; read: string }>(
      await apiCall(server, 'GET', '/api/events/closed-door/links', undefined, undefined, auth),
    )
    const secret = (url: string) => new URL(url).searchParams.get('token')!
    links = { edit: secret(urls.edit), read: secret(urls.read) }
  })
  after(async () => {
    await server?.close()
  })

  test("needs the viewer's link; neither the page nor its JSON holds a secret", async () => {
    assert.equal((await apiCall(server, 'GET', '/api/events/closed-door/now')).status, 401)
    assert.equal((await apiCall(server, 'GET', '/e/closed-door/now')).status, 401)
    for (const [who, token] of [
      ['read link', links.read],
      ['edit link', links.edit],
      ['admin token', ADMIN],
    ] as const) {
      const headers = { authorization: `Bearer ${token}` }
      for (const path of ['/e/closed-door/now', '/api/events/closed-door/now']) {
        const reply = await apiCall(server, 'GET', path, undefined, undefined, headers)
        assert.equal(reply.status, 200, `${who} ${path}`)
        assert.match(reply.headers.get('cache-control') ?? '', /no-store/)
        for (const s of [links.edit, links.read, ADMIN])
          assert.ok(!reply.text.includes(s), `no secret in ${path} (${who})`)
      }
      const answer = okJson<NowAnswer>(
        await apiCall(server, 'GET', '/api/events/closed-door/now', undefined, undefined, headers),
      )
      assert.deepEqual(
        answer.sessions.map((s) => s.id),
        [padId],
      )
    }
  })

  test('a socket asking ?view=only is read-only even on the edit link: what it types is never stored', async () => {
    const writer = connectClient(server.wsUrl, padId, { params: { token: links.edit } })
    const follower = connectClient(server.wsUrl, padId, { params: { token: links.edit, view: 'only' } })
    try {
      await writer.synced()
      await follower.synced()
      writer.text.insert(0, 'Agreed: ship it.\n')
      await waitFor('the follower sees the writer live', () =>
        follower.text.toString().includes('Agreed: ship it.'),
      )
      follower.text.insert(0, 'FORGED ')
      await sleep(500)
      assert.ok(!writer.text.toString().includes('FORGED'), 'the writer never sees it')
      assert.ok(!((await server.minutes.text(padId)) ?? '').includes('FORGED'), 'never stored')
    } finally {
      writer.destroy()
      follower.destroy()
    }
  })
})
