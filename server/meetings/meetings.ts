/**
 * The meetings operations the API, the pages and the CLI share: events, pads with their
 * templates, schedule imports, presence. It keeps the store, the metadata and the live rooms
 * consistent: a pad created while someone has it open gets its template live; a deleted pad's
 * sockets are closed for good.
 */
import { randomBytes } from 'node:crypto'
import { pushAll } from '../lib/arrays.ts'
import { Busy, Conflict, Invalid, NotFound, TooLarge } from '../lib/domain-errors.ts'
import { refusedWrite } from '../lib/refused-write.ts'
import type { ControlEvent } from '../storage/control-events.ts'
import type { LiveCounts } from '../storage/live-counts.ts'
import type {
  EventFields,
  MeetingsRepo,
  NewPad,
  PadFields,
  SchedulePlan,
  StartingText,
} from '../storage/meetings-store.ts'
import { CLOSE_PAD_DELETED, CLOSE_TRY_LATER } from '../sync/close-codes.ts'
import { isValidPadId } from '../sync/pad-id.ts'
import type { Rooms } from '../sync/rooms.ts'
import type { EventInfo, PadInfo, PadKind, PadLink } from './model.ts'
import type { ScheduleEntry } from './schedule.ts'
import { matchSchedule } from './schedule-match.ts'
import { renderTemplate, type Templates, textUpdate } from './templates.ts'
import { inZone } from './time.ts'

export interface PadInput {
  id?: string
  event?: string | null
  title: string
  kind: PadKind
  track?: string | null
  room?: string | null
  startsAt?: number | null
  endsAt?: number | null
  speakers?: string[]
  links?: PadLink[]
}

export type PadPatch = Partial<Omit<PadFields, 'cancelled'>> & { event?: string | null; cancelled?: boolean }

/** A session of an import report: `id` is null for a pad a dry run would create. */
export interface ReportedSession {
  uid: string
  id: string | null
  title: string
}

export interface ImportReport {
  /** True: nothing was written; the report says what an import would do. */
  dryRun: boolean
  /** Sessions read from the file. */
  sessions: number
  created: ReportedSession[]
  updated: (ReportedSession & { changed: string[] })[]
  unchanged: ReportedSession[]
  /** Cancelled in the schedule and never created: no pad needed. */
  skipped: { uid: string; title: string; reason: string }[]
  /** Imported before but missing from this schedule: left alone, never deleted. */
  notInSchedule: ReportedSession[]
  /** Pads found by title and start because their entry's id is new (a rebuilt file). */
  matchedByTitleAndStart: (ReportedSession & { previousUid: string })[]
  /** Entries the file gives no end: they got `minutes`. */
  defaultDuration: (ReportedSession & { minutes: number })[]
  /** Entries starting on a day outside the event's dates (imported all the same). */
  outsideEventDates: (ReportedSession & { startsAt: string })[]
}

export interface ImportOptions {
  dryRun?: boolean
  /** Length given to a session the file gives no end. */
  defaultMinutes?: number
}

/**
 * A session the file gives no end lasts this long: the common slot of the conferences we import
 * (PyCon, FOSDEM devrooms, LPC), and short enough not to hide the session after it.
 */
export const DEFAULT_SESSION_MINUTES = 30

export interface Presence {
  count: number
  people: string[]
}

export interface MeetingsDeps {
  meetings: MeetingsRepo
  rooms: Rooms
  templates: Templates
  /** A pad was created or its metadata changed (search indexes titles and speakers). */
  onPadChanged?: (padId: string) => void
  /**
   * Tells every server (this one included) about a committed change to its live pads: a pad
   * deleted or moved (storage/control-events.ts). Never rejects.
   */
  announce?: (events: readonly ControlEvent[]) => Promise<void>
  /**
   * The people other servers of the same database have on pads (storage/live-counts.ts); absent
   * where this server is the only one (SQLite).
   */
  liveCounts?: Pick<LiveCounts, 'padsElsewhere'>
}

const notFound = (what: string) => new NotFound(what)

function slugify(title: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '')
  return slug || 'pad'
}

export class Meetings {
  private readonly d: MeetingsDeps

  constructor(deps: MeetingsDeps) {
    this.d = deps
  }

  // ------------------------------------------------------------ events

  events(): Promise<EventInfo[]> {
    return this.d.meetings.events()
  }

  async event(slug: string): Promise<EventInfo> {
    const event = await this.d.meetings.event(slug)
    if (!event) throw notFound(`no event "${slug}"`)
    return event
  }

  /** Conflict when the slug is taken (the store says so: two requests at once cannot both make it). */
  async createEvent(fields: EventFields): Promise<EventInfo> {
    checkDays(fields)
    return this.d.meetings.createEvent(fields)
  }

  async updateEvent(slug: string, patch: Partial<EventFields>): Promise<EventInfo> {
    const current = await this.event(slug)
    const next: EventFields = {
      slug: patch.slug ?? current.slug,
      name: patch.name ?? current.name,
      startsOn: patch.startsOn !== undefined ? patch.startsOn : current.startsOn,
      endsOn: patch.endsOn !== undefined ? patch.endsOn : current.endsOn,
      timezone: patch.timezone ?? current.timezone,
      description: patch.description !== undefined ? patch.description : current.description,
    }
    checkDays(next)
    const updated = await this.d.meetings.updateEvent(slug, next)
    if (!updated) throw notFound(`no event "${slug}"`)
    return updated
  }

  /** Deletes the event and everything of its pads (documents, logs, snapshots). */
  async deleteEvent(slug: string): Promise<{ deletedPads: number }> {
    const before = await this.d.meetings.padsOfEvent(slug)
    // Commit what the open pads hold, then close them, so no row of theirs comes after the delete.
    await this.d.rooms.flush()
    for (const pad of before) this.d.rooms.closePad(pad.id, CLOSE_PAD_DELETED, 'pad deleted')
    const padIds = await this.d.meetings.deleteEvent(slug)
    if (padIds === null) throw notFound(`no event "${slug}"`)
    for (const id of padIds) this.d.rooms.closePad(id, CLOSE_PAD_DELETED, 'pad deleted')
    await this.d.announce?.(padIds.map((padId) => ({ type: 'pad-deleted', padId })))
    return { deletedPads: padIds.length }
  }

  // ------------------------------------------------------------ pads

  pads(filter: { event: string } | { unfiled: true }): Promise<PadInfo[]> {
    if ('event' in filter) return this.d.meetings.padsOfEvent(filter.event)
    return this.d.meetings.unfiledPads()
  }

  /** The Markdown the pad started from (its filled-in template), or what is needed to find it. */
  startingText(id: string): Promise<StartingText> {
    return this.d.meetings.startingText(id)
  }

  /** The pad's metadata, or null for a pad that has no stored content yet. */
  findPad(id: string): Promise<PadInfo | null> {
    return this.d.meetings.pad(id)
  }

  async pad(id: string): Promise<PadInfo> {
    const pad = await this.d.meetings.pad(id)
    if (!pad) throw notFound(`no pad "${id}"`)
    return pad
  }

  /**
   * Creates a pad whose first log row is its kind's template — or `initialState` (an imported
   * Yjs state) — stored with its metadata in one operation. When someone has the (empty,
   * unstored) pad open, that row goes through the room's checks (closed, size, items, validity);
   * otherwise through the size limit. A refusal is a TooLarge, Conflict or Busy error, and
   * nothing is stored or sent.
   */
  async createPad(input: PadInput, initialState?: Uint8Array, prelude = ''): Promise<PadInfo> {
    // Commit a live room's first keystrokes before deciding whether the id is taken.
    await this.d.rooms.flush()
    const pad = await this.newPad(input, null, initialState, prelude)
    const room = this.d.rooms.get(pad.id)
    if (room) {
      const result = await room.applyCommitted(pad.firstRow.data, () => this.d.meetings.createPad(pad))
      if (!result.ok) throw refusedWrite(result)
    } else {
      // Nobody has it open: the same size limit, without a room to ask.
      const max = this.d.rooms.limits.maxPadBytes
      if (pad.firstRow.data.byteLength > max) throw new TooLarge(`pad is full (${max} bytes)`, 'refused')
      await this.d.meetings.createPad(pad)
    }
    this.d.onPadChanged?.(pad.id)
    return this.pad(pad.id)
  }

  /**
   * The pad to store: its metadata and its template as its first log row. `prelude` (what a
   * series carries over) goes first in that row; the template alone is kept as what the pad
   * started from, so the minutes keep the carried lines.
   */
  private async newPad(
    input: PadInput,
    sourceUid: string | null,
    initialState?: Uint8Array,
    prelude = '',
  ): Promise<NewPad> {
    const event = input.event ? await this.event(input.event) : null
    const id = input.id ?? (await this.freshId(input.title))
    if (!isValidPadId(id)) throw new Invalid('pad id must be 1-100 of A-Z a-z 0-9 . _ -')
    if (await this.d.meetings.padExists(id)) throw new Conflict(`pad "${id}" already exists`)
    const fields: PadFields = {
      title: input.title,
      kind: input.kind,
      track: input.track ?? null,
      room: input.room ?? null,
      startsAt: input.startsAt ?? null,
      endsAt: input.endsAt ?? null,
      speakers: input.speakers ?? [],
      links: input.links ?? [],
      cancelled: false,
    }
    checkSlot(fields)
    const body =
      (event && (await this.d.meetings.template(event.slug, input.kind))) || this.d.templates[input.kind]
    // '' for an imported state: the pad started from someone's notes, not a template.
    const template = initialState ? '' : renderTemplate(body, fields, event)
    const data = initialState ?? textUpdate(prelude + template)
    return { id, event: event?.slug ?? null, fields, sourceUid, template, firstRow: { at: Date.now(), data } }
  }

  /** Changes a pad's metadata; never its text. */
  async updatePad(id: string, patch: PadPatch): Promise<PadInfo> {
    const current = await this.pad(id)
    const fields = patchedFields(current, patch)
    checkSlot(fields)
    if (patch.event) await this.event(patch.event)
    if (!(await this.d.meetings.updatePad(id, fields, patch.event))) throw notFound(`no pad "${id}"`)
    this.d.onPadChanged?.(id)
    const updated = await this.pad(id)
    // Sockets that came in with the old event's link lose the pad (control-effects.ts).
    if (updated.event !== current.event) await this.d.announce?.([{ type: 'pad-moved', padId: id }])
    return updated
  }

  /** Removes the pad's document, log, snapshots and metadata; its open sockets are closed for good. */
  async deletePad(id: string): Promise<void> {
    await this.d.rooms.flush()
    const existed = await this.d.meetings.padExists(id)
    this.d.rooms.closePad(id, CLOSE_PAD_DELETED, 'pad deleted')
    if (!existed) throw notFound(`no pad "${id}"`)
    await this.d.meetings.deletePad(id)
    await this.d.announce?.([{ type: 'pad-deleted', padId: id }])
  }

  /** Who is on the pad on this server (the live room's sockets and the names they gave). */
  presence(id: string): Presence {
    const room = this.d.rooms.get(id)
    if (!room) return { count: 0, people: [] }
    const people = room.people()
    return {
      count: Math.max(people.length, room.peerCount),
      people: people.map((p) => p.name).filter((n): n is string => n !== null),
    }
  }

  /**
   * Who is on each pad on every server: this one's plus what the others published
   * (storage/live-counts.ts; bounded in time, this server's alone when the others cannot be read).
   */
  async presenceOf(ids: readonly string[]): Promise<Map<string, Presence>> {
    const elsewhere = this.d.liveCounts ? await this.d.liveCounts.padsElsewhere(ids) : new Map()
    const all = new Map<string, Presence>()
    for (const id of ids) {
      const here = this.presence(id)
      const there = elsewhere.get(id)
      all.set(
        id,
        there ? { count: here.count + there.count, people: pushAll([...here.people], there.names) } : here,
      )
    }
    return all
  }

  // ------------------------------------------------------------ templates

  async template(
    slug: string | null,
    kind: PadKind,
  ): Promise<{ kind: PadKind; source: 'event' | 'default'; body: string }> {
    const override = slug ? await this.d.meetings.template((await this.event(slug)).slug, kind) : null
    return override !== null
      ? { kind, source: 'event', body: override }
      : { kind, source: 'default', body: this.d.templates[kind] }
  }

  async setTemplate(slug: string, kind: PadKind, body: string): Promise<void> {
    if (!(await this.d.meetings.setTemplate(slug, kind, body))) throw notFound(`no event "${slug}"`)
  }

  async resetTemplate(slug: string, kind: PadKind): Promise<void> {
    await this.event(slug)
    await this.d.meetings.deleteTemplate(slug, kind)
  }

  // ------------------------------------------------------------ schedule import

  /**
   * Creates or updates the event's pads from a schedule (schedule-match.ts pairs entries with
   * pads). Never touches text, never deletes. A dry run reads the same and writes nothing.
   */
  async importSchedule(
    slug: string,
    entries: readonly ScheduleEntry[],
    options: ImportOptions = {},
  ): Promise<ImportReport> {
    const event = await this.event(slug)
    // Refused before anything is written, and the same in a dry run.
    const backwards = entries.find((e) => e.startsAt !== null && e.endsAt !== null && e.endsAt < e.startsAt)
    if (backwards) {
      throw new Invalid(
        `session "${backwards.title}" (id "${backwards.uid}") ends before it starts`,
        'invalid_schedule',
      )
    }
    for (let attempt = 1; ; attempt++) {
      const pads = await this.d.meetings.padsOfEvent(slug)
      const { report, plan } = await this.planImport(event, entries, pads, options)
      if (report.dryRun) return report
      const applied = await this.d.meetings.applySchedule(slug, plan)
      if (applied !== 'stale') {
        for (const pad of plan.create) {
          // Its id was fresh, so nobody had it open, unless they guessed it meanwhile: they reload
          // it from the store (the row went in without the room, which never saw it).
          this.d.rooms.closePad(pad.id, CLOSE_TRY_LATER, 'the pad was just created: reconnect')
          this.d.onPadChanged?.(pad.id)
        }
        for (const { id } of plan.update) this.d.onPadChanged?.(id)
        return report
      }
      // Another import or an edit of these pads came in between: match again against what is there.
      if (attempt >= MAX_IMPORT_ATTEMPTS)
        throw new Busy("the event's sessions keep changing during the import: try again")
    }
  }

  /** What an import would do to the event's `pads` now: the report, and the writes that do it. */
  private async planImport(
    event: EventInfo,
    entries: readonly ScheduleEntry[],
    pads: readonly PadInfo[],
    options: ImportOptions,
  ): Promise<{ report: ImportReport; plan: SchedulePlan & { create: NewPad[] } }> {
    const dryRun = options.dryRun ?? false
    const minutes = options.defaultMinutes ?? DEFAULT_SESSION_MINUTES
    const report: ImportReport = {
      dryRun,
      sessions: entries.length,
      created: [],
      updated: [],
      unchanged: [],
      skipped: [],
      notInSchedule: [],
      matchedByTitleAndStart: [],
      defaultDuration: [],
      outsideEventDates: [],
    }
    const plan = {
      create: [] as NewPad[],
      update: [] as { id: string; fields: PadFields; sourceUid?: string }[],
      basis: pads.map((p) => ({ id: p.id, updatedAt: p.updatedAt })),
    }
    const withEnds = entries.map((entry) => {
      if (entry.endsAt !== null || entry.startsAt === null) return entry
      return { ...entry, endsAt: entry.startsAt + minutes * 60_000 }
    })
    const { matches, unmatched } = matchSchedule(withEnds, pads)
    for (const [i, { entry, pad, by }] of matches.entries()) {
      if (entry.cancelled && !pad) {
        report.skipped.push({ uid: entry.uid, title: entry.title, reason: 'cancelled' })
        continue
      }
      let id = pad?.id ?? null
      if (!pad) {
        if (!dryRun) {
          const created = await this.newPad({ event: event.slug, ...entry }, entry.uid)
          // Two new sessions with the same title must not draw the same fresh id.
          if (plan.create.some((p) => p.id === created.id)) throw new Busy('try the import again')
          plan.create.push(created)
          id = created.id
        }
        report.created.push({ uid: entry.uid, id, title: entry.title })
      } else {
        const changed = changedFields(pad, entry)
        const ref = { uid: entry.uid, id: pad.id, title: entry.title }
        if (by === 'title-and-start') {
          report.matchedByTitleAndStart.push({ ...ref, previousUid: pad.sourceUid ?? '' })
          changed.unshift('uid')
        }
        if (changed.length === 0) report.unchanged.push(ref)
        else {
          report.updated.push({ ...ref, changed })
          const fields = patchedFields(pad, entryPatch(entry))
          checkSlot(fields)
          plan.update.push(
            by === 'title-and-start' ? { id: pad.id, fields, sourceUid: entry.uid } : { id: pad.id, fields },
          )
        }
      }
      const ref = { uid: entry.uid, id, title: entry.title }
      if (entries[i]!.endsAt === null && entry.startsAt !== null)
        report.defaultDuration.push({ ...ref, minutes })
      if (entry.startsAt !== null && !withinDays(entry.startsAt, event)) {
        report.outsideEventDates.push({ ...ref, startsAt: new Date(entry.startsAt).toISOString() })
      }
    }
    for (const pad of unmatched) {
      report.notInSchedule.push({ uid: pad.sourceUid!, id: pad.id, title: pad.title ?? pad.id })
    }
    return { report, plan }
  }

  private async freshId(title: string): Promise<string> {
    const base = slugify(title)
    for (;;) {
      // 20 random bits: short enough to read off a projector, checked for collisions anyway.
      const id = `${base}-${randomBytes(3).toString('hex').slice(0, 5)}`
      if (!this.d.rooms.get(id) && !(await this.d.meetings.padExists(id))) return id
    }
  }
}

/** An import may find its event's pads changed under it (another import): it matches again, this often. */
const MAX_IMPORT_ATTEMPTS = 5

/** A pad's fields after a patch: what the patch leaves out stays as it is. */
function patchedFields(current: PadInfo, patch: PadPatch): PadFields {
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso))
  return {
    title: patch.title !== undefined ? patch.title : current.title,
    kind: patch.kind !== undefined ? patch.kind : current.kind,
    track: patch.track !== undefined ? patch.track : current.track,
    room: patch.room !== undefined ? patch.room : current.room,
    startsAt: patch.startsAt !== undefined ? patch.startsAt : ms(current.startsAt),
    endsAt: patch.endsAt !== undefined ? patch.endsAt : ms(current.endsAt),
    speakers: patch.speakers ?? current.speakers,
    links: patch.links ?? current.links,
    cancelled: patch.cancelled ?? current.cancelled,
  }
}

/** What a schedule entry sets of a pad it updates. */
function entryPatch(entry: ScheduleEntry): PadPatch {
  return {
    title: entry.title,
    kind: entry.kind,
    track: entry.track,
    room: entry.room,
    startsAt: entry.startsAt,
    endsAt: entry.endsAt,
    speakers: entry.speakers,
    links: entry.links,
    cancelled: entry.cancelled,
  }
}

function checkSlot(fields: { startsAt: number | null; endsAt: number | null }): void {
  if (fields.startsAt !== null && fields.endsAt !== null && fields.endsAt < fields.startsAt) {
    throw new Invalid('The session ends before it starts: check the start and end times.')
  }
}

function checkDays(fields: { startsOn: string | null; endsOn: string | null }): void {
  if (fields.startsOn && fields.endsOn && fields.endsOn < fields.startsOn) {
    throw new Invalid('The last day is before the first day.')
  }
}

/** Whether the session starts on one of the event's days (in the event's zone); true if it has none. */
function withinDays(startsAt: number, event: EventInfo): boolean {
  const day = inZone(startsAt, event.timezone).date
  if (event.startsOn && day < event.startsOn) return false
  if (event.endsOn && day > event.endsOn) return false
  return true
}

function changedFields(pad: PadInfo, entry: ScheduleEntry): string[] {
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso))
  const changed: string[] = []
  if (pad.title !== entry.title) changed.push('title')
  if (pad.kind !== entry.kind) changed.push('kind')
  if (pad.track !== entry.track) changed.push('track')
  if (pad.room !== entry.room) changed.push('room')
  if (ms(pad.startsAt) !== entry.startsAt) changed.push('startsAt')
  if (ms(pad.endsAt) !== entry.endsAt) changed.push('endsAt')
  if (JSON.stringify(pad.speakers) !== JSON.stringify(entry.speakers)) changed.push('speakers')
  if (JSON.stringify(pad.links) !== JSON.stringify(entry.links)) changed.push('links')
  if (pad.cancelled !== entry.cancelled) changed.push('cancelled')
  return changed
}
