/**
 * Schedules as conferences publish them: real published files of every format (test/fixtures/
 * schedules, see SOURCES.md), repeated UIDs, a rebuilt file with fresh UIDs, the dry run, a
 * 2,000-session file, every error message, the CLI doing what the API does, the schema migration
 * keeping old pads matched, and untrusted files read under a budget (a runaway recurrence rule
 * gets a 4xx while /healthz keeps answering).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import Database from 'better-sqlite3'
import { STATUS_OF_KIND } from '../server/http/http-errors.ts'
import { Invalid } from '../server/lib/domain-errors.ts'
import type { ImportReport } from '../server/meetings/meetings.ts'
import type { PadInfo } from '../server/meetings/model.ts'
import { MAX_SCHEDULE_ENTRIES } from '../server/meetings/schedule.ts'
import { DB_FILE_NAME, MIGRATIONS, migrate } from '../server/storage/db.ts'
import { readUntrusted } from '../server/untrusted/untrusted-files.ts'
import {
  BudgetExceeded,
  MAX_RUNNING,
  MAX_WAITING,
  runInWorker,
  workerTask,
} from '../server/untrusted/worker-budget.ts'
import {
  assertApiError,
  assertNoInternals,
  apiCall as call,
  cli,
  okJson as ok,
  sleep,
  startTestServer,
  type TestServer,
  tempDir,
} from './helpers.ts'

type Report = ImportReport & { format: string }

const fixture = (name: string) => fs.readFileSync(new URL(`./fixtures/schedules/${name}`, import.meta.url))

const dirs: string[] = []
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

let eventCount = 0
async function newEvent(
  server: TestServer,
  fields: { timezone: string; startsOn?: string; endsOn?: string },
): Promise<string> {
  const slug = `conf-${++eventCount}`
  ok(await call(server, 'POST', '/api/events', { slug, name: `Conference ${eventCount}`, ...fields }), 201)
  return slug
}

async function importFile(
  server: TestServer,
  slug: string,
  body: string | Uint8Array,
  contentType: string,
  query = '',
): Promise<Report> {
  return ok<Report>(await call(server, 'POST', `/api/events/${slug}/import${query}`, body, contentType))
}

async function padsOf(server: TestServer, slug: string): Promise<PadInfo[]> {
  return ok<{ pads: PadInfo[] }>(await call(server, 'GET', `/api/events/${slug}/pads`)).pads
}

const bySource = (pads: PadInfo[], uid: string) => pads.filter((p) => p.sourceUid === uid)

// ---------------------------------------------------------------- a calendar with repeated UIDs

/** A VEVENT in UTC; `end` null leaves DTEND out. */
function vevent(uid: string, title: string, start: string, end: string | null, extra = ''): string {
  return [
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTART:${start}`,
    ...(end ? [`DTEND:${end}`] : []),
    `SUMMARY:${title}`,
    ...(extra ? [extra] : []),
    'END:VEVENT',
  ].join('\r\n')
}

const calendar = (...events: string[]) =>
  [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//repeated uids//EN',
    ...events,
    'END:VCALENDAR',
    '',
  ].join('\r\n')

/**
 * As three generators seen in the wild write them: one UID per track, a session's UID repeated on
 * each of its days, and one UID on its own.
 */
const REPEATED = [
  vevent('track-kernel@gen', 'Scheduler talk', '20261110T090000Z', '20261110T093000Z'),
  vevent('track-kernel@gen', 'Memory talk', '20261110T100000Z', '20261110T103000Z'),
  vevent('track-kernel@gen', 'IO talk', '20261111T090000Z', '20261111T093000Z'),
  vevent('daily-bof@gen', 'Daily BoF', '20261110T170000Z', '20261110T180000Z'),
  vevent('daily-bof@gen', 'Daily BoF', '20261111T170000Z', '20261111T180000Z'),
  vevent('solo@gen', 'Closing', '20261112T160000Z', '20261112T163000Z'),
]

describe('schedules', () => {
  let server: TestServer
  before(async () => {
    server = await startTestServer()
    dirs.push(server.dataDir)
  })
  after(() => server.close())

  // ---------------------------------------------------------------- budget

  describe('untrusted files are read with a budget', () => {
    const tasks = new URL('./fixtures/runaway-tasks.ts', import.meta.url)

    test('a worker that never returns is stopped at the time limit, one that hoards memory at the memory limit', async () => {
      const reason = (expected: string) => (err: unknown) => {
        assert.ok(err instanceof BudgetExceeded, String(err))
        assert.equal(err.reason, expected, err.message)
        return true
      }
      await assert.rejects(
        runInWorker(workerTask<null, never>(tasks, 'spinForever'), null, { timeMs: 300 }),
        reason('time'),
      )
      await assert.rejects(
        runInWorker(workerTask<null, never>(tasks, 'hoardMemory'), null, { memoryMb: 64 }),
        reason('memory'),
      )
      assert.deepEqual(await runInWorker(workerTask<string, string>(tasks, 'echo'), 'still works'), {
        ok: true,
        value: 'STILL WORKS',
      })
    })

    test(`at most ${MAX_RUNNING} readers run and ${MAX_WAITING} wait; one more is told the server is busy`, async () => {
      const echo = workerTask<string, string>(tasks, 'echo')
      const runs = Array.from({ length: MAX_RUNNING + MAX_WAITING + 1 }, (_, i) =>
        runInWorker(echo, `file ${i}`).then(
          (outcome) => (outcome.ok ? outcome.value : outcome.error),
          (err: unknown) => (err instanceof BudgetExceeded ? err.reason : String(err)),
        ),
      )
      const results = await Promise.all(runs)
      assert.deepEqual(
        results.slice(0, -1),
        results.slice(0, -1).map((_, i) => `FILE ${i}`),
      )
      assert.equal(results.at(-1), 'busy')
      assert.equal(
        await runInWorker(echo, 'after').then((o) => o.ok && o.value),
        'AFTER',
        'the slots are free again',
      )
    })

    test('a reader that crashes is a plain 400: no JavaScript message reaches the user', async () => {
      const crash = workerTask<{ secret: string }, never>(tasks, 'crash')
      await assert.rejects(
        readUntrusted(crash, { secret: 'propertyGroups' }, { code: 'invalid_schedule', what: 'schedule' }),
        (err: unknown) => {
          assert.ok(err instanceof Invalid)
          assert.equal(STATUS_OF_KIND[err.kind], 400)
          assert.equal(err.code, 'invalid_schedule')
          assert.equal(err.message, 'schedule: the file could not be read')
          return true
        },
      )
    })

    for (const freq of ['DAILY', 'SECONDLY', 'MINUTELY', 'HOURLY']) {
      test(`RRULE:FREQ=${freq};BYMONTH=2;BYMONTHDAY=30 (no date ever matches) is a 400 while /healthz keeps answering`, async () => {
        const slug = await newEvent(server, { timezone: 'UTC' })
        // The 167-byte file of the report, with each frequency.
        const ics = calendar(
          vevent(
            'never@x',
            'Never',
            '20261110T090000Z',
            '20261110T100000Z',
            `RRULE:FREQ=${freq};BYMONTH=2;BYMONTHDAY=30`,
          ),
        )
        let done = false
        const pending = call(server, 'POST', `/api/events/${slug}/import`, ics, 'text/calendar').finally(
          () => {
            done = true
          },
        )
        let answered = 0
        while (!done) {
          const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) })
          assert.equal(health.status, 200)
          answered++
          await sleep(20)
        }
        const message = assertApiError(await pending, 400, 'invalid_schedule')
        assert.match(message, /^iCalendar \(\.ics\): VEVENT "never@x": RRULE: no occurrence/)
        assert.ok(answered >= 1, 'the health check answered while the file was read')
        assert.equal((await padsOf(server, slug)).length, 0)
      })
    }

    test('a Yjs import is checked in the worker too: a broken state is a 400, a good one a pad', async () => {
      const bad = await call(
        server,
        'POST',
        '/api/pads/import?title=Broken&kind=meeting',
        new Uint8Array([1, 200, 200, 200, 200, 15]),
        'application/octet-stream',
      )
      assertApiError(bad, 400, 'invalid_yjs')
      const source = await newEvent(server, { timezone: 'UTC' })
      const created = ok<PadInfo>(
        await call(server, 'POST', `/api/events/${source}/pads`, { title: 'Copied', kind: 'talk' }),
        201,
      )
      const state = (await call(server, 'GET', `/api/pads/${created.id}/export?format=yjs`)).bytes
      const copy = ok<PadInfo>(
        await call(
          server,
          'POST',
          '/api/pads/import?title=Copy&kind=talk',
          state,
          'application/octet-stream',
        ),
        201,
      )
      assert.equal(copy.title, 'Copy')
    })
  })

  // ---------------------------------------------------------------- formats

  describe('every format, from real published files', () => {
    test('frab schedule.xml (31C3): guid keys, tracks, types, speakers; after-midnight sessions on the next day', async () => {
      const slug = await newEvent(server, {
        timezone: 'Europe/Berlin',
        startsOn: '2014-12-27',
        endsOn: '2014-12-30',
      })
      // Sent as text/plain: the content decides the format.
      const report = await importFile(server, slug, fixture('31c3-schedule.xml'), 'text/plain')
      assert.equal(report.format, 'frab-xml')
      assert.equal(report.created.length, 138)
      assert.equal(report.outsideEventDates.length, 0)
      const pads = await padsOf(server, slug)
      const opening = bySource(pads, '29aecfd7-2e44-4f49-ab86-29b5e0877325')[0]!
      assert.equal(opening.title, '31C3 Opening Event')
      assert.equal(opening.startsAt, '2014-12-27T10:00:00.000Z')
      assert.equal(opening.endsAt, '2014-12-27T10:30:00.000Z')
      assert.equal(opening.room, 'Saal 1')
      assert.equal(opening.track, 'CCC')
      assert.equal(opening.kind, 'talk')
      assert.deepEqual(opening.speakers, ['erdgeist', 'Geraldine de Bastion'])
      // Listed under day 1 (27 December) at 00:00: the night after, 28 December.
      const late = bySource(pads, '77aea78c-f2d2-461a-92b3-82929a79d598')[0]!
      assert.equal(late.title, 'Citizenfour')
      assert.equal(late.startsAt, '2014-12-27T23:00:00.000Z')
      assert.deepEqual(late.speakers, ['Laura Poitras'])
      const again = await importFile(server, slug, fixture('31c3-schedule.xml'), 'application/xml')
      assert.equal(again.unchanged.length, 138)
    })

    test('Pentabarf schedule.xml (FOSDEM 2024): id keys, no <date>: day plus start in the event zone', async () => {
      const slug = await newEvent(server, {
        timezone: 'Europe/Brussels',
        startsOn: '2024-02-03',
        endsOn: '2024-02-04',
      })
      const report = await importFile(
        server,
        slug,
        fixture('fosdem-2024-truncated.xml'),
        'application/octet-stream',
      )
      assert.equal(report.format, 'frab-xml')
      assert.equal(report.created.length, 41)
      const pad = bySource(await padsOf(server, slug), '10528')[0]!
      assert.equal(pad.title, 'Creative Coding with TurtleStitch')
      assert.equal(pad.startsAt, '2024-02-03T09:30:00.000Z')
      assert.equal(pad.endsAt, '2024-02-03T10:30:00.000Z')
      assert.equal(pad.track, 'FOSS Educational Programming Languages devroom')
      assert.deepEqual(pad.speakers, ['Pauline Maas'])
    })

    test('pretalx schedule.xml (FOSDEM 2026): the conference time zone, links', async () => {
      // The event's own zone differs: the file's time_zone_name is what counts.
      const slug = await newEvent(server, { timezone: 'America/New_York' })
      const report = await importFile(server, slug, fixture('fosdem-2026-pretalx-truncated.xml'), 'text/xml')
      assert.equal(report.created.length, 12)
      const welcome = bySource(await padsOf(server, slug), '9c3ebb8c-7716-5130-b9fe-ff8544f5636d')[0]!
      assert.equal(welcome.startsAt, '2026-01-31T08:30:00.000Z')
      assert.equal(welcome.endsAt, '2026-01-31T08:50:00.000Z')
      assert.equal(welcome.track, 'Main Track')
      assert.deepEqual(welcome.speakers, ['FOSDEM Staff'])
      assert.ok(
        welcome.links.some(
          (l) => l.url === 'https://fosdem.org/2026/schedule/event/SFKNTZ-welcome_to_fosdem_2026/',
        ),
      )
    })

    test('Pentabarf without <date>: a start before day_change is after midnight, on the next calendar day', async () => {
      const slug = await newEvent(server, { timezone: 'Europe/Brussels' })
      // Synthetic, in FOSDEM's shape: real FOSDEM files have no session after midnight.
      const xml = `<?xml version="1.0" encoding="UTF-8"?>
<schedule><conference><title>X</title><day_change>09:00:00</day_change></conference>
<day index="1" date="2024-02-03"><room name="Bar">
<event id="1"><start>23:30</start><duration>01:00</duration><title>Late</title><type>other</type></event>
<event id="2"><start>01:30</start><duration>00:30</duration><title>Later</title><type>bof</type></event>
</room></day></schedule>`
      await importFile(server, slug, xml, 'application/xml')
      const pads = await padsOf(server, slug)
      assert.equal(bySource(pads, '1')[0]!.startsAt, '2024-02-03T22:30:00.000Z')
      assert.equal(bySource(pads, '2')[0]!.startsAt, '2024-02-04T00:30:00.000Z')
      assert.equal(bySource(pads, '2')[0]!.kind, 'bof')
    })

    test('frab schedule.json (pretalx DemoCon, CCC camp 2019): types map to kinds, speakers from persons', async () => {
      const democon = await newEvent(server, { timezone: 'UTC' })
      const report = await importFile(server, democon, fixture('pretalx-democon.json'), 'application/json')
      assert.equal(report.format, 'frab-json')
      assert.equal(report.created.length, 36)
      const pads = await padsOf(server, democon)
      const workshop = bySource(pads, '3a74bb53-ef1a-57ce-9ba7-904d27e9eb5f')[0]!
      assert.equal(workshop.title, 'Managed stable function')
      assert.equal(workshop.kind, 'meeting', 'a Workshop is a working session')
      const talk = bySource(pads, '8079583e-8321-506c-95af-fd2903a5f075')[0]!
      assert.equal(talk.startsAt, '2020-12-14T08:00:00.000Z')
      assert.equal(talk.endsAt, '2020-12-14T08:30:00.000Z')
      assert.deepEqual(talk.speakers, ['Brian Robinson'])
      assert.equal(talk.track, 'Phased')

      const camp = await newEvent(server, { timezone: 'Europe/Berlin' })
      const campReport = await importFile(server, camp, fixture('frab-camp2019.json'), 'text/plain')
      assert.equal(campReport.created.length, 79)
      const opening = bySource(await padsOf(server, camp), 'a0a0fcfe-b7fb-46e3-84b6-97a5406016b4')[0]!
      assert.deepEqual(opening.speakers, ['jinxx', 'smtw'])
    })

    test('iCalendar (PyCon US 2025 tutorials) and the README JSON list', async () => {
      const slug = await newEvent(server, { timezone: 'America/Chicago' })
      const report = await importFile(server, slug, fixture('pycon-us-2025-tutorials.ics'), 'text/calendar')
      assert.equal(report.format, 'ics')
      assert.equal(report.created.length, 24)
      const pad = bySource(await padsOf(server, slug), '071beeb1-b1ed-5e7c-87e3-30a0877942b4')[0]!
      assert.equal(pad.room, 'Room 319')
      assert.equal(pad.startsAt, '2025-05-15T13:00:00.000Z')

      const list = await newEvent(server, { timezone: 'Europe/Prague' })
      const json = JSON.stringify([
        {
          id: 'a',
          title: 'Kernel BoF',
          kind: 'bof',
          start: '2026-11-10T09:00',
          end: '2026-11-10T10:00',
          speakers: ['Ada'],
        },
      ])
      // JSON sent as text/plain used to fail with "Cannot read properties of undefined".
      const listReport = await importFile(server, list, json, 'text/plain')
      assert.equal(listReport.format, 'json-list')
      const [bof] = await padsOf(server, list)
      assert.equal(bof!.startsAt, '2026-11-10T08:00:00.000Z')
    })
  })

  // ---------------------------------------------------------------- re-import

  describe('re-import', () => {
    test('repeated UIDs are separate sessions; re-import settles at once; a moved session keeps its pad', async () => {
      const slug = await newEvent(server, { timezone: 'UTC', startsOn: '2026-11-10', endsOn: '2026-11-12' })
      const first = await importFile(server, slug, calendar(...REPEATED), 'text/calendar')
      assert.equal(first.created.length, 6)
      const pads = await padsOf(server, slug)
      assert.deepEqual(
        bySource(pads, 'track-kernel@gen')
          .map((p) => p.title)
          .sort(),
        ['IO talk', 'Memory talk', 'Scheduler talk'],
      )
      assert.equal(bySource(pads, 'daily-bof@gen').length, 2)

      const second = await importFile(server, slug, calendar(...REPEATED), 'text/calendar')
      assert.equal(second.unchanged.length, 6)
      assert.deepEqual([second.created.length, second.updated.length, second.notInSchedule.length], [0, 0, 0])

      // The memory talk moves to the next morning; the IO talk leaves the schedule.
      const memory = pads.find((p) => p.title === 'Memory talk')!
      const io = pads.find((p) => p.title === 'IO talk')!
      const moved = REPEATED.map((v) =>
        v.replace('20261110T100000Z', '20261111T110000Z').replace('20261110T103000Z', '20261111T113000Z'),
      ).filter((v) => !v.includes('IO talk'))
      const third = await importFile(server, slug, calendar(...moved), 'text/calendar')
      assert.equal(third.created.length, 0)
      assert.deepEqual(
        third.updated.map((u) => [u.id, u.changed]),
        [[memory.id, ['startsAt', 'endsAt']]],
      )
      assert.deepEqual(
        third.notInSchedule.map((p) => p.id),
        [io.id],
      )
      const after = await padsOf(server, slug)
      assert.equal(after.length, 6, 'nothing is deleted')
      assert.equal(after.find((p) => p.id === memory.id)!.startsAt, '2026-11-11T11:00:00.000Z')
      const fourth = await importFile(server, slug, calendar(...moved), 'text/calendar')
      assert.equal(fourth.unchanged.length, 5)
    })

    test('a rebuilt file with fresh UIDs matches the pads by title and start and says so, never doubling', async () => {
      const slug = await newEvent(server, { timezone: 'UTC' })
      await importFile(server, slug, fixture('pretalx-democon.json'), 'application/json')
      const rebuilt = fixture('pretalx-democon.json')
        .toString('utf8')
        .replace(/"guid": "[^"]+"/g, () => `"guid": "${randomUUID()}"`)
      const report = await importFile(server, slug, rebuilt, 'application/json')
      assert.equal(report.created.length, 0)
      assert.equal(report.matchedByTitleAndStart.length, 36)
      assert.ok(report.updated.every((u) => u.changed.join() === 'uid'))
      assert.equal(report.notInSchedule.length, 0)
      assert.equal((await padsOf(server, slug)).length, 36)
      const again = await importFile(server, slug, rebuilt, 'application/json')
      assert.equal(again.unchanged.length, 36)
      assert.equal(again.matchedByTitleAndStart.length, 0)
    })

    test('?dryRun=1 reports what an import would do and writes nothing', async () => {
      const slug = await newEvent(server, { timezone: 'UTC' })
      const dry = await importFile(
        server,
        slug,
        fixture('pretalx-democon.json'),
        'application/json',
        '?dryRun=1',
      )
      assert.equal(dry.dryRun, true)
      assert.equal(dry.created.length, 36)
      assert.ok(dry.created.every((c) => c.id === null))
      assert.equal((await padsOf(server, slug)).length, 0)

      const real = await importFile(server, slug, fixture('pretalx-democon.json'), 'application/json')
      assert.equal(real.dryRun, false)
      const pads = await padsOf(server, slug)
      const changed = JSON.parse(fixture('pretalx-democon.json').toString('utf8'))
      const rooms = changed.schedule.conference.days[0].rooms
      const first = rooms['Gray Room'][0]
      first.title = 'Renamed talk'
      rooms['Gray Room'].splice(1, 1)
      const preview = await importFile(server, slug, JSON.stringify(changed), 'application/json', '?dryRun=1')
      assert.deepEqual(
        preview.updated.map((u) => [u.uid, u.changed]),
        [[first.guid, ['title']]],
      )
      assert.equal(preview.notInSchedule.length, 1)
      assert.equal(preview.created.length, 0)
      assert.deepEqual(await padsOf(server, slug), pads, 'a dry run changes nothing')
    })

    test('an entry without an end gets the default length, reported; one outside the event dates is reported', async () => {
      const slug = await newEvent(server, { timezone: 'UTC', startsOn: '2026-11-10', endsOn: '2026-11-11' })
      const ics = calendar(
        vevent('no-end@x', 'Open end', '20261110T193000Z', null),
        vevent('early@x', 'Way too early', '20261001T090000Z', '20261001T100000Z'),
      )
      const report = await importFile(server, slug, ics, 'text/calendar')
      assert.deepEqual(
        report.defaultDuration.map((d) => [d.uid, d.minutes]),
        [['no-end@x', 30]],
      )
      assert.deepEqual(
        report.outsideEventDates.map((d) => [d.uid, d.startsAt]),
        [['early@x', '2026-10-01T09:00:00.000Z']],
      )
      const pads = await padsOf(server, slug)
      const open = bySource(pads, 'no-end@x')[0]!
      assert.equal(open.endsAt, '2026-11-10T20:00:00.000Z', 'not 19:30–19:30')
      assert.equal(bySource(pads, 'early@x').length, 1, 'imported all the same')
      const again = await importFile(server, slug, ics, 'text/calendar')
      assert.equal(again.unchanged.length, 2)
      const longer = await importFile(server, slug, ics, 'text/calendar', '?defaultMinutes=45')
      assert.deepEqual(
        longer.updated.map((u) => [u.uid, u.changed]),
        [['no-end@x', ['endsAt']]],
      )
    })

    test('a generated 2,000-session frab file with abstracts imports whole, and again unchanged', async () => {
      const slug = await newEvent(server, { timezone: 'Europe/Berlin' })
      const abstract = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(55)
      const events = Array.from({ length: 2000 }, (_, i) => {
        const minutes = 10 * 60 + (i % 40) * 15
        const hh = String(Math.floor(minutes / 60)).padStart(2, '0')
        const mm = String(minutes % 60).padStart(2, '0')
        return `<event guid="gen-${i}" id="${i}"><start>${hh}:${mm}</start><duration>00:15</duration><room>Room ${i % 50}</room><title>Session ${i}</title><track>Track ${i % 12}</track><type>lecture</type><abstract>${abstract}</abstract><description>${abstract}</description><persons><person id="${i}">Speaker ${i}</person></persons><links/></event>`
      })
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<schedule><conference><title>Big</title></conference><day index="1" date="2026-11-10"><room name="All">\n${events.join('\n')}\n</room></day></schedule>\n`
      assert.ok(xml.length > 6 * 1024 * 1024, `a large file: ${xml.length} bytes`)
      const report = await importFile(server, slug, xml, 'application/xml')
      assert.equal(report.created.length, 2000)
      assert.equal((await padsOf(server, slug)).length, 2000)
      const again = await importFile(server, slug, xml, 'application/xml')
      assert.equal(again.unchanged.length, 2000)
    })
  })

  // ---------------------------------------------------------------- errors

  test('each error names the format expected and the line or field, never JavaScript internals', async () => {
    const slug = await newEvent(server, { timezone: 'UTC' })
    const frabXml = (event: string) =>
      `<?xml version="1.0"?>\n<schedule>\n<day index="1" date="2026-11-10"><room name="Main">\n${event}\n</room></day>\n</schedule>`
    const frabJson = (conference: unknown) => JSON.stringify({ schedule: { version: '1', conference } })
    const cases: [string, string, string, RegExp][] = [
      [
        'JSON of no known shape, as text/plain',
        '{"sessions": []}',
        'text/plain',
        /^JSON: neither a frab schedule\.json .* nor a list of sessions/,
      ],
      [
        'broken JSON',
        '[{"id": "a", "title": "x"},\n {"id": "b" "title": "y"}]',
        'application/json',
        /^JSON list of sessions: line 2, column \d+: not valid JSON$/,
      ],
      [
        'broken XML',
        '<?xml version="1.0"?>\n<schedule>\n<day date="2026-11-10">\n</schedule>',
        'application/xml',
        /^frab schedule\.xml: line \d+, column \d+: /,
      ],
      [
        'an HTML page',
        '<html><body>Schedule</body></html>',
        'text/xml',
        /^frab schedule\.xml: the root element is <html>, expected <schedule>$/,
      ],
      [
        'a bad start',
        frabXml(
          '<event guid="g1" id="1"><start>9h30</start><duration>00:30</duration><title>T</title></event>',
        ),
        'application/xml',
        /^frab schedule\.xml: day 1 \(2026-11-10\), room "Main", event guid "g1": <start> "9h30" is not HH:MM$/,
      ],
      [
        'an event without a title',
        frabXml('<event id="7"><start>09:30</start><duration>00:30</duration></event>'),
        'application/xml',
        /^frab schedule\.xml: day 1 \(2026-11-10\), room "Main", event id "7": no <title>$/,
      ],
      [
        'no days',
        frabJson({ title: 'x', days: {} }),
        'application/json',
        /^frab schedule\.json: schedule\.conference\.days: must be a list$/,
      ],
      [
        'rooms as a list',
        frabJson({ days: [{ date: '2026-11-10', rooms: [] }] }),
        'application/json',
        /^frab schedule\.json: schedule\.conference\.days\[0\]\.rooms: must be an object/,
      ],
      [
        'a bad duration',
        frabJson({
          days: [
            {
              date: '2026-11-10',
              rooms: { Main: [{ guid: 'g', title: 't', start: '09:00', duration: 'long' }] },
            },
          ],
        }),
        'application/json',
        /^frab schedule\.json: schedule\.conference\.days\[0\]\.rooms\["Main"\]\[0\]: <duration> "long" is not HH:MM$/,
      ],
      [
        'no conference',
        '{"schedule": {}}',
        'text/plain',
        /^frab schedule\.json: schedule\.conference: missing$/,
      ],
      [
        'a line without a colon',
        'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nthis line has no colon\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n',
        'text/calendar',
        /^iCalendar \(\.ics\): line 4: /,
      ],
      [
        'a garbage DTSTART',
        calendar('BEGIN:VEVENT\r\nUID:bad-start@x\r\nDTSTART:garbage\r\nSUMMARY:x\r\nEND:VEVENT'),
        'text/calendar',
        /^iCalendar \(\.ics\): VEVENT "bad-start@x": DTSTART: /,
      ],
      [
        'no UID',
        calendar('BEGIN:VEVENT\r\nDTSTART:20261110T090000Z\r\nSUMMARY:x\r\nEND:VEVENT'),
        'text/calendar',
        /^iCalendar \(\.ics\): VEVENT #1: no UID/,
      ],
      [
        'a bad list entry',
        '[{"id": "a", "title": "x", "start": "soon"}]',
        'application/json',
        /^JSON list of sessions: \[0\]\.start: must be an ISO 8601 date-time/,
      ],
      [
        'not a schedule, sent as text/calendar',
        'hello',
        'text/calendar',
        /^iCalendar \(\.ics\) was declared, but line 1 is not the start of any schedule format: expected an iCalendar file/,
      ],
    ]
    const tooMany = JSON.stringify(
      Array.from({ length: MAX_SCHEDULE_ENTRIES + 1 }, (_, i) => ({ id: `s${i}`, title: `Session ${i}` })),
    )
    cases.push(['too many sessions', tooMany, 'application/json', /^JSON list of sessions: the list: .*5000/])
    const backwards = calendar(vevent('back@x', 'Backwards', '20261110T100000Z', '20261110T090000Z'))
    cases.push([
      'an end before the start',
      backwards,
      'text/calendar',
      /^session "Backwards" \(id "back@x"\) ends before it starts$/,
    ])
    const failures: string[] = []
    for (const [what, body, type, expected] of cases) {
      const reply = await call(server, 'POST', `/api/events/${slug}/import`, body, type)
      try {
        const message = assertApiError(reply, 400, 'invalid_schedule', `${what}: `)
        assert.match(message, expected, `${what}: ${message}`)
        assert.doesNotMatch(message, /undefined|Unexpected token|position \d|Cannot read/, what)
      } catch (err) {
        failures.push((err as Error).message.split('\n')[0]!)
      }
    }
    assert.deepEqual(failures, [])
    const dryBackwards = await call(
      server,
      'POST',
      `/api/events/${slug}/import?dryRun=1`,
      backwards,
      'text/calendar',
    )
    assert.match(
      assertApiError(dryBackwards, 400, 'invalid_schedule'),
      /ends before it starts/,
      'a dry run refuses it too',
    )
    const empty = await call(server, 'POST', `/api/events/${slug}/import`, '', 'text/calendar')
    assert.match(assertApiError(empty, 415), /send the schedule file/)
    assert.equal((await padsOf(server, slug)).length, 0)
  })

  // ---------------------------------------------------------------- CLI

  test('the CLI import-schedule does what the API does, and ends a runaway file with a clear message', async () => {
    const work = tempDir('summitpad-schedules-')
    dirs.push(work)
    const file = path.join(work, 'schedule.xml')
    fs.writeFileSync(file, fixture('31c3-schedule.xml'))
    const viaApi = await newEvent(server, { timezone: 'Europe/Berlin' })
    const apiReport = await importFile(server, viaApi, fixture('31c3-schedule.xml'), 'application/xml')
    const viaCli = await newEvent(server, { timezone: 'Europe/Berlin' })
    const run = (...args: string[]) =>
      cli([...args, '--data-dir', server.dataDir], { cwd: work, viaBin: true })

    const dry = await run('import-schedule', viaCli, file, '--dry-run')
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(
      dry.stdout,
      /^would import 138 sessions \(frab-xml\) into conf-\d+: 138 created, .*\(dry run: nothing was changed\)/,
    )
    assert.equal((await padsOf(server, viaCli)).length, 0)

    const real = await run('import-schedule', viaCli, file, '--json')
    assert.equal(real.code, 0, real.stderr)
    const cliReport = JSON.parse(real.stdout) as Report
    assert.deepEqual(
      cliReport.created.map((c) => c.uid),
      apiReport.created.map((c) => c.uid),
    )
    const strip = (pads: PadInfo[]) =>
      pads.map(({ id: _i, event: _e, createdAt: _c, updatedAt: _u, ...rest }) => rest)
    assert.deepEqual(strip(await padsOf(server, viaCli)), strip(await padsOf(server, viaApi)))

    const never = path.join(work, 'never.ics')
    fs.writeFileSync(
      never,
      calendar(
        vevent(
          'never@x',
          'Never',
          '20261110T090000Z',
          '20261110T100000Z',
          'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30',
        ),
      ),
    )
    const runaway = await run('import-schedule', viaCli, 'never.ics')
    assert.equal(runaway.code, 1)
    assert.match(
      runaway.stderr,
      /^summitpad import-schedule: never\.ics: iCalendar \(\.ics\): VEVENT "never@x": RRULE: no occurrence/,
    )
    assertNoInternals(runaway.stderr)
  })

  // ---------------------------------------------------------------- migration

  test('a database of the old schema keeps its imported pads matched after the upgrade: nothing doubles', async () => {
    const dataDir = tempDir('summitpad-upgrade-')
    dirs.push(dataDir)
    const db = new Database(path.join(dataDir, DB_FILE_NAME))
    migrate(db, MIGRATIONS.slice(0, 6))
    db.prepare(
      `INSERT INTO events (slug, name, starts_on, ends_on, timezone, description, created_at, updated_at)
       VALUES ('old', 'Old', NULL, NULL, 'UTC', NULL, 0, 0)`,
    ).run()
    const eventPk = (db.prepare("SELECT pk FROM events WHERE slug = 'old'").get() as { pk: number }).pk
    // What the old import left: one pad per UID, holding the last entry that had it. Written with
    // the columns of that schema (today's store prepares statements for columns added since).
    const oldInsert = db.prepare(
      `INSERT INTO pads (id, event, title, kind, track, room, starts_at, ends_at, speakers, links, cancelled,
                         source_uid, created_at, updated_at)
       VALUES (@id, @event, @title, @kind, @track, @room, @startsAt, @endsAt, '[]', '[]', 0, @sourceUid, 0, 0)`,
    )
    const store = {
      insertPad(id: string, event: number, f: ReturnType<typeof fields>, sourceUid: string) {
        const { title, kind, track, room, startsAt, endsAt } = f
        oldInsert.run({ id, event, sourceUid, title, kind, track, room, startsAt, endsAt })
      },
    }
    const fields = (title: string, start: string, end: string) => ({
      title,
      kind: title.includes('BoF') ? ('bof' as const) : ('talk' as const),
      track: null,
      room: null,
      startsAt: Date.parse(start),
      endsAt: Date.parse(end),
      speakers: [],
      links: [],
      cancelled: false,
    })
    store.insertPad(
      'io-talk-aaaaa',
      eventPk,
      fields('IO talk', '2026-11-11T09:00:00Z', '2026-11-11T09:30:00Z'),
      'track-kernel@gen',
    )
    store.insertPad(
      'daily-bof-bbbbb',
      eventPk,
      fields('Daily BoF', '2026-11-11T17:00:00Z', '2026-11-11T18:00:00Z'),
      'daily-bof@gen',
    )
    store.insertPad(
      'closing-ccccc',
      eventPk,
      fields('Closing', '2026-11-12T16:00:00Z', '2026-11-12T16:30:00Z'),
      'solo@gen',
    )
    assert.throws(
      () =>
        store.insertPad(
          'x',
          eventPk,
          fields('x', '2026-11-10T09:00:00Z', '2026-11-10T09:30:00Z'),
          'solo@gen',
        ),
      /UNIQUE/,
      'the old schema allowed one pad per UID',
    )
    db.close()

    const upgraded = await startTestServer({ dataDir })
    try {
      const first = await importFile(upgraded, 'old', calendar(...REPEATED), 'text/calendar')
      assert.equal(first.created.length, 3, 'only the sessions the old import lost are new')
      assert.deepEqual(first.unchanged.map((p) => p.id).sort(), [
        'closing-ccccc',
        'daily-bof-bbbbb',
        'io-talk-aaaaa',
      ])
      const pads = await padsOf(upgraded, 'old')
      assert.equal(pads.length, 6)
      assert.equal(new Set(pads.map((p) => `${p.title}@${p.startsAt}`)).size, 6, 'no session twice')
      const second = await importFile(upgraded, 'old', calendar(...REPEATED), 'text/calendar')
      assert.equal(second.created.length, 0)
      assert.equal(second.unchanged.length, 6)
    } finally {
      await upgraded.close()
    }
  })
})
