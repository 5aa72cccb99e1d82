/**
 * The meetings storage contract: what every engine of MeetingsRepo, LinksRepo, SeriesRepo and
 * MaterialsRepo must do, as one suite any engine runs unchanged
 * (`describeMeetingsContract('SQLite', makeRepos)`). It talks only through the interfaces (and
 * the engine's PadLog, to see a pad's rows) and awaits every call.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DomainError } from '../server/lib/domain-errors.ts'
import type { LinksRepo } from '../server/storage/links-store.ts'
import type { MaterialsRepo } from '../server/storage/materials-store.ts'
import type { EventFields, MeetingsRepo, NewPad, PadFields } from '../server/storage/meetings-store.ts'
import type { PadLog } from '../server/storage/pad-log.ts'
import type { SeriesRepo } from '../server/storage/series-store.ts'

export interface ContractRepos {
  meetings: MeetingsRepo
  links: LinksRepo
  series: SeriesRepo
  materials: MaterialsRepo
  /** The same engine's pad log: a pad's rows and whether it exists. */
  log: PadLog
  /** Frees what the repos hold (a file, a connection). */
  close(): Promise<void> | void
}

const event = (slug: string, extra: Partial<EventFields> = {}): EventFields => ({
  slug,
  name: `Event ${slug}`,
  startsOn: '2026-11-10',
  endsOn: '2026-11-12',
  timezone: 'Europe/Prague',
  description: null,
  ...extra,
})

const fields = (title: string, extra: Partial<PadFields> = {}): PadFields => ({
  title,
  kind: 'talk',
  track: null,
  room: null,
  startsAt: null,
  endsAt: null,
  speakers: [],
  links: [],
  cancelled: false,
  ...extra,
})

const newPad = (id: string, ev: string | null, extra: Partial<NewPad> = {}): NewPad => ({
  id,
  event: ev,
  fields: fields(`Title of ${id}`),
  sourceUid: null,
  template: `# ${id}\n`,
  firstRow: { at: Date.now(), data: new Uint8Array([1, 2, 3, id.length]) },
  ...extra,
})

/** Rejects with a domain error of `kind`. */
async function rejectsWith(promise: Promise<unknown>, kind: DomainError['kind']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof DomainError && err.kind === kind)
}

export function describeMeetingsContract(engine: string, makeRepos: () => Promise<ContractRepos>): void {
  const withRepos = (body: (r: ContractRepos) => Promise<void>) => async () => {
    const repos = await makeRepos()
    try {
      await body(repos)
    } finally {
      await repos.close()
    }
  }

  describe(`meetings storage contract: ${engine}`, () => {
    test(
      'an event slug is unique: creating or renaming onto a taken one is a Conflict, and changes nothing',
      withRepos(async ({ meetings }) => {
        const a = await meetings.createEvent(event('lpc-2026'))
        assert.equal(a.slug, 'lpc-2026')
        assert.equal(a.timezone, 'Europe/Prague')
        await rejectsWith(meetings.createEvent(event('lpc-2026', { name: 'Again' })), 'conflict')
        assert.equal((await meetings.event('lpc-2026'))?.name, 'Event lpc-2026')
        await meetings.createEvent(event('kr-2026'))
        await rejectsWith(meetings.updateEvent('kr-2026', event('lpc-2026')), 'conflict')
        assert.equal((await meetings.event('kr-2026'))?.name, 'Event kr-2026')
        assert.equal(await meetings.updateEvent('nope', event('nope')), null)
        const renamed = await meetings.updateEvent(
          'kr-2026',
          event('kr-2027', { name: 'Kernel Recipes', startsOn: '2027-09-20', endsOn: '2027-09-22' }),
        )
        assert.equal(renamed?.name, 'Kernel Recipes')
        assert.equal(await meetings.event('kr-2026'), null)
        // Newest first.
        assert.deepEqual(
          (await meetings.events()).map((e) => e.slug),
          ['kr-2027', 'lpc-2026'],
        )
      }),
    )

    test(
      'a pad is created with its metadata and its first log row together, or not at all',
      withRepos(async ({ meetings, log }) => {
        await meetings.createEvent(event('lpc-2026'))
        const seq = await meetings.createPad(newPad('bof-1', 'lpc-2026'))
        assert.ok(seq > 0)
        const pad = await meetings.pad('bof-1')
        assert.equal(pad?.event, 'lpc-2026')
        assert.equal(pad?.title, 'Title of bof-1')
        const stored = await log.load('bof-1')
        assert.deepEqual(
          stored?.updates.map((u) => [u.seq, [...u.data]]),
          [[seq, [1, 2, 3, 5]]],
        )
        assert.deepEqual(await meetings.startingText('bof-1'), { text: '# bof-1\n' })
        // Taken id: nothing changes, neither metadata nor log.
        await rejectsWith(meetings.createPad(newPad('bof-1', null, { fields: fields('Other') })), 'conflict')
        assert.equal((await meetings.pad('bof-1'))?.title, 'Title of bof-1')
        assert.equal((await log.load('bof-1'))?.updates.length, 1)
        // Gone event: no metadata and no row either.
        await rejectsWith(meetings.createPad(newPad('orphan', 'no-such-event')), 'not_found')
        assert.equal(await meetings.pad('orphan'), null)
        assert.equal(await log.exists('orphan'), false)
        assert.equal(await meetings.padExists('orphan'), false)
        // A pad only typed into (a log row, no metadata) exists, unfiled, and its id is taken.
        await log.appendBatch([{ padId: 'typed', at: 1, conn: 'c', author: null, data: new Uint8Array([9]) }])
        assert.equal(await meetings.padExists('typed'), true)
        assert.ok((await meetings.unfiledPads()).some((p) => p.id === 'typed'))
        await rejectsWith(meetings.createPad(newPad('typed', null)), 'conflict')
      }),
    )

    test(
      'pad metadata: update, move between events, schedule order, delete with its log',
      withRepos(async ({ meetings, log }) => {
        await meetings.createEvent(event('a'))
        await meetings.createEvent(event('b'))
        await meetings.createPad(
          newPad('late', 'a', { fields: fields('Late', { startsAt: 2000, room: 'R1' }) }),
        )
        await meetings.createPad(newPad('early', 'a', { fields: fields('Early', { startsAt: 1000 }) }))
        await meetings.createPad(newPad('unscheduled', 'a'))
        assert.deepEqual(
          (await meetings.padsOfEvent('a')).map((p) => p.id),
          ['early', 'late', 'unscheduled'],
        )
        const speakers = ['Ada', 'Linus']
        assert.equal(await meetings.updatePad('early', fields('Early', { startsAt: 3000, speakers })), true)
        const early = await meetings.pad('early')
        assert.equal(early?.startsAt, new Date(3000).toISOString())
        assert.deepEqual(early?.speakers, speakers)
        assert.equal(early?.event, 'a', 'undefined keeps the event')
        assert.equal(await meetings.updatePad('early', fields('Early'), 'b'), true)
        assert.equal((await meetings.pad('early'))?.event, 'b')
        assert.equal(await meetings.updatePad('early', fields('Early'), null), true)
        assert.equal((await meetings.pad('early'))?.event, null)
        await rejectsWith(meetings.updatePad('early', fields('Early'), 'no-such'), 'not_found')
        assert.equal(await meetings.updatePad('nope', fields('Nope')), false)
        await rejectsWith(meetings.padsOfEvent('no-such'), 'not_found')

        assert.equal(await meetings.deletePad('late'), true)
        assert.equal(await meetings.pad('late'), null)
        assert.equal(await log.exists('late'), false)
        assert.equal(await meetings.deletePad('late'), false)
      }),
    )

    test(
      'templates belong to their event',
      withRepos(async ({ meetings }) => {
        await meetings.createEvent(event('a'))
        assert.equal(await meetings.template('a', 'talk'), null)
        assert.equal(await meetings.setTemplate('a', 'talk', '# {{title}}'), true)
        assert.equal(await meetings.setTemplate('a', 'talk', '# {{title}}!'), true)
        assert.equal(await meetings.template('a', 'talk'), '# {{title}}!')
        assert.equal(await meetings.template('a', 'bof'), null)
        assert.equal(await meetings.setTemplate('no-such', 'talk', 'x'), false)
        assert.equal(await meetings.deleteTemplate('a', 'talk'), true)
        assert.equal(await meetings.deleteTemplate('a', 'talk'), false)
        assert.equal(await meetings.template('a', 'talk'), null)
      }),
    )

    test(
      'deleting an event takes its pads with their logs, links, short links, materials and templates; series rows stay',
      withRepos(async ({ meetings, links, series, materials, log }) => {
        await meetings.createEvent(event('doomed'))
        await meetings.createEvent(event('kept'))
        await meetings.createPad(newPad('d1', 'doomed'))
        await meetings.createPad(newPad('d2', 'doomed'))
        await meetings.createPad(newPad('k1', 'kept'))
        await meetings.setTemplate('doomed', 'talk', '# doomed')
        const stored = await links.ofEvent('doomed')
        await links.initialise(stored!.eventPk, 'edit-secret', 'read-secret', 1)
        assert.equal(await links.shortCode('d1', 'read', 'read-secret', 'code-d1', 1), 'code-d1')
        await materials.put('d1', {
          url: 'https://x.example/s.pdf',
          state: 'added',
          kind: 'slides',
          title: null,
          at: 1,
        })
        const at = 1
        await series.link({ pad: 'k1', padTitle: 'K1', continues: 'd1', continuesTitle: 'D1', at })

        assert.deepEqual((await meetings.deleteEvent('doomed'))?.sort(), ['d1', 'd2'])
        assert.equal(await meetings.event('doomed'), null)
        for (const id of ['d1', 'd2']) {
          assert.equal(await meetings.pad(id), null, id)
          assert.equal(await log.exists(id), false, id)
          assert.equal(await log.load(id), null, id)
        }
        assert.equal(await links.ofEvent('doomed'), null)
        assert.equal(await links.short('code-d1'), null)
        assert.deepEqual(await materials.ofPad('d1'), [])
        // The walk along a series passes a deleted meeting by its row (series-store.ts).
        assert.equal((await series.linkOf('k1'))?.continuesTitle, 'D1')
        assert.equal(await meetings.deleteEvent('doomed'), null)
        // Made again under the same slug: nothing of the old one comes back.
        const again = await meetings.createEvent(event('doomed'))
        assert.equal(again.slug, 'doomed')
        assert.equal(await meetings.template('doomed', 'talk'), null)
        const fresh = await links.ofEvent('doomed')
        assert.equal(fresh?.edit, null)
        assert.equal(fresh?.read, null)
        assert.deepEqual(await meetings.padsOfEvent('doomed'), [])
        assert.equal((await meetings.pad('k1'))?.event, 'kept')
      }),
    )

    test(
      'a schedule import applies all or nothing, and not over pads that changed since it read them',
      withRepos(async ({ meetings, log }) => {
        await meetings.createEvent(event('lpc'))
        await meetings.createPad(newPad('s1', 'lpc', { sourceUid: 'uid-1' }))
        const basis = (await meetings.padsOfEvent('lpc')).map((p) => ({ id: p.id, updatedAt: p.updatedAt }))
        const plan = {
          create: [newPad('s2', 'lpc', { sourceUid: 'uid-2' }), newPad('s3', 'lpc', { sourceUid: 'uid-3' })],
          update: [{ id: 's1', fields: fields('Renamed'), sourceUid: 'uid-1b' }],
          basis,
        }
        const applied = await meetings.applySchedule('lpc', plan, Date.now() + 1000)
        assert.notEqual(applied, 'stale')
        if (applied === 'stale') return
        assert.equal(applied.seqs.length, 2)
        assert.deepEqual(
          (await meetings.padsOfEvent('lpc')).map((p) => [p.id, p.title, p.sourceUid]).sort(),
          [
            ['s1', 'Renamed', 'uid-1b'],
            ['s2', 'Title of s2', 'uid-2'],
            ['s3', 'Title of s3', 'uid-3'],
          ],
        )
        for (const [i, id] of ['s2', 's3'].entries())
          assert.deepEqual(
            (await log.load(id))?.updates.map((u) => u.seq),
            [applied.seqs[i]],
          )

        // The same basis again is stale now (s1 changed, s2 and s3 came): nothing is written.
        const late = {
          create: [newPad('s4', 'lpc')],
          update: [{ id: 's1', fields: fields('Late rename') }],
          basis,
        }
        assert.equal(await meetings.applySchedule('lpc', late), 'stale')
        assert.equal(await meetings.pad('s4'), null)
        assert.equal(await log.exists('s4'), false)
        assert.equal((await meetings.pad('s1'))?.title, 'Renamed')

        // A create whose id is taken meanwhile (a pad typed into): stale, and the updates with it are not applied.
        await log.appendBatch([{ padId: 's5', at: 1, conn: 'c', author: null, data: new Uint8Array([7]) }])
        const fresh = (await meetings.padsOfEvent('lpc')).map((p) => ({ id: p.id, updatedAt: p.updatedAt }))
        const clash = {
          create: [newPad('s5', 'lpc')],
          update: [{ id: 's1', fields: fields('Clash rename') }],
          basis: fresh,
        }
        assert.equal(await meetings.applySchedule('lpc', clash), 'stale')
        assert.equal((await meetings.pad('s1'))?.title, 'Renamed')
        await rejectsWith(meetings.applySchedule('gone', { create: [], update: [], basis: [] }), 'not_found')
      }),
    )

    test(
      'links: first secrets once, rotation replaces one secret and drops the short links of the old one',
      withRepos(async ({ meetings, links }) => {
        await meetings.createEvent(event('lpc'))
        await meetings.createPad(newPad('p1', 'lpc'))
        await meetings.createPad(newPad('loose', null))
        const none = await links.ofEvent('lpc')
        assert.equal(none?.edit, null)
        assert.equal(await links.ofEvent('nope'), null)
        const pk = none!.eventPk
        const first = await links.initialise(pk, 'E1', 'R1', 1)
        assert.deepEqual([first?.edit, first?.read], ['E1', 'R1'])
        // A second first use (a concurrent request) does not replace them.
        const second = await links.initialise(pk, 'E2', 'R2', 2)
        assert.deepEqual([second?.edit, second?.read], ['E1', 'R1'])
        assert.equal(await links.initialise(pk + 1000, 'x', 'y', 3), null)
        assert.deepEqual((await links.ofPad('p1'))?.slug, 'lpc')
        assert.equal(await links.ofPad('loose'), null)
        assert.equal((await links.all()).length, 1)

        assert.equal(await links.shortCode('p1', 'read', 'R1', 'read-code', 1), 'read-code')
        assert.equal(await links.shortCode('p1', 'read', 'R1', 'other-code', 1), 'read-code', 'made once')
        assert.equal(await links.shortCode('p1', 'edit', 'E1', 'edit-code', 1), 'edit-code')
        assert.equal(await links.shortCode('no-pad', 'edit', 'E1', 'x-code', 1), null)
        assert.deepEqual(await links.short('read-code'), { padId: 'p1', kind: 'read', secret: 'R1' })

        assert.equal(await links.rotate(pk, 'read', 'R3', 5), true)
        const now = await links.ofEvent('lpc')
        assert.deepEqual([now?.edit, now?.read], ['E1', 'R3'])
        assert.equal(await links.short('read-code'), null, 'the old secret’s short link is gone')
        assert.deepEqual(await links.short('edit-code'), { padId: 'p1', kind: 'edit', secret: 'E1' })
      }),
    )

    test(
      'series: a meeting is continued by at most one; walks both ways',
      withRepos(async ({ series }) => {
        const link = (pad: string, continues: string) => ({
          pad,
          padTitle: pad,
          continues,
          continuesTitle: continues,
          at: 1,
        })
        assert.equal(await series.link(link('w2', 'w1')), 'linked')
        assert.equal(await series.link(link('w3', 'w2')), 'linked')
        assert.equal(await series.link(link('x', 'w2')), 'taken')
        assert.deepEqual(
          (await series.backFrom('w3', 10)).map((l) => l.continues),
          ['w2', 'w1'],
        )
        assert.deepEqual(
          (await series.forwardFrom('w1', 10)).map((l) => l.pad),
          ['w2', 'w3'],
        )
        assert.deepEqual(
          (await series.forwardFrom('w1', 1)).map((l) => l.pad),
          ['w2'],
        )
        assert.equal((await series.nextOf('w1'))?.pad, 'w2')
        assert.equal(await series.unlink('w3'), true)
        assert.equal(await series.unlink('w3'), false)
        assert.equal(await series.nextOf('w2'), null)
      }),
    )

    test(
      'materials: one row per address, replaced; by pad and by event',
      withRepos(async ({ meetings, materials }) => {
        await meetings.createEvent(event('lpc'))
        await meetings.createPad(newPad('p1', 'lpc'))
        const m = {
          url: 'https://x.example/a',
          state: 'added' as const,
          kind: 'slides' as const,
          title: 'A',
          at: 1,
        }
        await materials.put('p1', m)
        await materials.put('p1', { ...m, state: 'removed', at: 2 })
        await materials.put('nope', m)
        assert.deepEqual(await materials.ofPad('p1'), [{ ...m, state: 'removed', at: 2 }])
        assert.deepEqual([...(await materials.ofEvent('lpc')).keys()], ['p1'])
        assert.equal(await materials.remove('p1', m.url), true)
        assert.equal(await materials.remove('p1', m.url), false)
        assert.deepEqual(await materials.ofPad('nope'), [])
      }),
    )
  })
}
