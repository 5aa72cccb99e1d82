/**
 * The meetings operations the API, the pages and the CLI share: events, pads with their
 * templates, schedule imports, presence. It keeps the store, the metadata and the live rooms
 * consistent: a pad created while someone has it open gets its template live; a deleted pad's
 * sockets are closed for good.
 */
import { randomBytes } from 'node:crypto'
import { Conflict, Invalid, NotFound } from '../lib/domain-errors.ts'
import type { Db } from '../storage/db.ts'
import type { EventFields, MeetingsStore, PadFields } from '../storage/meetings-store.ts'
import type { PadStore } from '../storage/store.ts'
import { CLOSE_PAD_DELETED } from '../sync/close-codes.ts'
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
  db: Db
  store: PadStore
  meetings: MeetingsStore
  rooms: Rooms
  templates: Templates
  /** A pad was created or its metadata changed (search indexes titles and speakers). */
  onPadChanged?: (padId: string) => void
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

  events(): EventInfo[] {
    return this.d.meetings.events()
  }

  event(slug: string): EventInfo {
    const event = this.d.meetings.event(slug)
    if (!event) throw notFound(`no event "${slug}"`)
    return event
  }

  createEvent(fields: EventFields): EventInfo {
    checkDays(fields)
    if (this.d.meetings.event(fields.slug)) throw new Conflict(`event "${fields.slug}" already exists`)
    return this.d.meetings.createEvent(fields)
  }

  updateEvent(slug: string, patch: Partial<EventFields>): EventInfo {
    const current = this.event(slug)
    const next: EventFields = {
      slug: patch.slug ?? current.slug,
      name: patch.name ?? current.name,
      startsOn: patch.startsOn !== undefined ? patch.startsOn : current.startsOn,
      endsOn: patch.endsOn !== undefined ? patch.endsOn : current.endsOn,
      timezone: patch.timezone ?? current.timezone,
      description: patch.description !== undefined ? patch.description : current.description,
    }
    checkDays(next)
    if (next.slug !== slug && this.d.meetings.event(next.slug)) {
      throw new Conflict(`event "${next.slug}" already exists`)
    }
    return this.d.meetings.updateEvent(slug, next)!
  }

  /** Deletes the event and everything of its pads (documents, logs, snapshots). */
  deleteEvent(slug: string): { deletedPads: number } {
    const pk = this.eventPk(slug)
    const padIds = this.d.meetings.padIdsOfEvent(pk)
    this.d.rooms.flush()
    for (const id of padIds) this.d.rooms.closePad(id, CLOSE_PAD_DELETED, 'pad deleted')
    this.d.meetings.deleteEvent(slug)
    return { deletedPads: padIds.length }
  }

  // ------------------------------------------------------------ pads

  pads(filter: { event: string } | { unfiled: true }): PadInfo[] {
    if ('event' in filter) return this.d.meetings.padsOfEvent(this.eventPk(filter.event))
    return this.d.meetings.unfiledPads()
  }

  /** The Markdown the pad started from (its filled-in template), or what is needed to find it. */
  startingText(id: string): ReturnType<MeetingsStore['startingText']> {
    return this.d.meetings.startingText(id)
  }

  /** The pad's metadata, or null for a pad that has no stored content yet. */
  findPad(id: string): PadInfo | null {
    return this.d.meetings.pad(id)
  }

  pad(id: string): PadInfo {
    const pad = this.d.meetings.pad(id)
    if (!pad) throw notFound(`no pad "${id}"`)
    return pad
  }

  /**
   * Creates a pad whose first log row is its kind's template — or `initialState` (an imported
   * Yjs state) — in one transaction.
   */
  createPad(input: PadInput, initialState?: Uint8Array, prelude = ''): PadInfo {
    // Commit a live room's first keystrokes before deciding whether the id is taken.
    this.d.rooms.flush()
    const created = this.d.db.transaction(() => this.insertPad(input, null, initialState, prelude))()
    this.sendTemplateLive(created)
    this.d.onPadChanged?.(created.id)
    return this.pad(created.id)
  }

  /**
   * Inserts the pad row and its template as its first log row; call inside a transaction.
   * `prelude` (what a series carries over) goes first in that row; the template alone is kept
   * as what the pad started from, so the minutes keep the carried lines.
   */
  private insertPad(
    input: PadInput,
    sourceUid: string | null,
    initialState?: Uint8Array,
    prelude = '',
  ): { id: string; update: Uint8Array; seq: number } {
    const eventPk = input.event ? this.eventPk(input.event) : null
    const event = input.event ? this.d.meetings.event(input.event) : null
    const id = input.id ?? this.freshId(input.title)
    if (!isValidPadId(id)) throw new Invalid('pad id must be 1-100 of A-Z a-z 0-9 . _ -')
    if (this.d.store.exists(id)) throw new Conflict(`pad "${id}" already exists`)
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
      (eventPk !== null && this.d.meetings.template(eventPk, input.kind)) || this.d.templates[input.kind]
    // '' for an imported state: the pad started from someone's notes, not a template.
    const template = initialState ? '' : renderTemplate(body, fields, event)
    const update = initialState ?? textUpdate(prelude + template)
    this.d.meetings.insertPad(id, eventPk, fields, sourceUid, template)
    const [seq] = this.d.store.append([
      { padId: id, at: Date.now(), conn: 'server', author: null, data: update },
    ])
    return { id, update, seq: seq! }
  }

  /** After the commit: someone who had the (empty, unstored) pad open gets the template live. */
  private sendTemplateLive(created: { id: string; update: Uint8Array; seq: number }): void {
    this.d.rooms.get(created.id)?.applyStored(created.update, created.seq)
  }

  /** Changes a pad's metadata; never its text. */
  updatePad(id: string, patch: PadPatch): PadInfo {
    const current = this.pad(id)
    const fields: PadFields = {
      title: patch.title !== undefined ? patch.title : current.title,
      kind: patch.kind !== undefined ? patch.kind : current.kind,
      track: patch.track !== undefined ? patch.track : current.track,
      room: patch.room !== undefined ? patch.room : current.room,
      startsAt:
        patch.startsAt !== undefined
          ? patch.startsAt
          : current.startsAt
            ? Date.parse(current.startsAt)
            : null,
      endsAt: patch.endsAt !== undefined ? patch.endsAt : current.endsAt ? Date.parse(current.endsAt) : null,
      speakers: patch.speakers ?? current.speakers,
      links: patch.links ?? current.links,
      cancelled: patch.cancelled ?? current.cancelled,
    }
    checkSlot(fields)
    const eventPk =
      patch.event === undefined ? undefined : patch.event === null ? null : this.eventPk(patch.event)
    this.d.meetings.updatePad(id, fields, eventPk)
    this.d.onPadChanged?.(id)
    return this.pad(id)
  }

  /** Removes the pad's document, log, snapshots and metadata; its open sockets are closed for good. */
  deletePad(id: string): void {
    this.d.rooms.flush()
    const existed = this.d.store.exists(id)
    this.d.rooms.closePad(id, CLOSE_PAD_DELETED, 'pad deleted')
    if (!existed) throw notFound(`no pad "${id}"`)
    this.d.store.delete(id)
  }

  presence(id: string): Presence {
    const room = this.d.rooms.get(id)
    if (!room) return { count: 0, people: [] }
    const people = room.people()
    return {
      count: Math.max(people.length, room.peerCount),
      people: people.map((p) => p.name).filter((n): n is string => n !== null),
    }
  }

  // ------------------------------------------------------------ templates

  template(slug: string | null, kind: PadKind): { kind: PadKind; source: 'event' | 'default'; body: string } {
    const override = slug ? this.d.meetings.template(this.eventPk(slug), kind) : null
    return override !== null
      ? { kind, source: 'event', body: override }
      : { kind, source: 'default', body: this.d.templates[kind] }
  }

  setTemplate(slug: string, kind: PadKind, body: string): void {
    this.d.meetings.setTemplate(this.eventPk(slug), kind, body)
  }

  resetTemplate(slug: string, kind: PadKind): void {
    this.d.meetings.deleteTemplate(this.eventPk(slug), kind)
  }

  // ------------------------------------------------------------ schedule import

  /**
   * Creates or updates the event's pads from a schedule (schedule-match.ts pairs entries with
   * pads). Never touches text, never deletes. A dry run reads the same and writes nothing.
   */
  importSchedule(slug: string, entries: readonly ScheduleEntry[], options: ImportOptions = {}): ImportReport {
    const event = this.event(slug)
    const eventPk = this.eventPk(slug)
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
    // Refused before anything is written, and the same in a dry run.
    const backwards = entries.find((e) => e.startsAt !== null && e.endsAt !== null && e.endsAt < e.startsAt)
    if (backwards) {
      throw new Invalid(
        `session "${backwards.title}" (id "${backwards.uid}") ends before it starts`,
        'invalid_schedule',
      )
    }
    const createdPads: { id: string; update: Uint8Array; seq: number }[] = []
    this.d.rooms.flush()
    // IMMEDIATE: the write lock before the pads are read, so a concurrent import (the CLI while
    // the server runs) waits instead of matching against pads about to change.
    this.d.db
      .transaction(() => {
        const withEnds = entries.map((entry) => {
          if (entry.endsAt !== null || entry.startsAt === null) return entry
          return { ...entry, endsAt: entry.startsAt + minutes * 60_000 }
        })
        const { matches, unmatched } = matchSchedule(withEnds, this.d.meetings.padsOfEvent(eventPk))
        for (const [i, { entry, pad, by }] of matches.entries()) {
          if (entry.cancelled && !pad) {
            report.skipped.push({ uid: entry.uid, title: entry.title, reason: 'cancelled' })
            continue
          }
          let id = pad?.id ?? null
          if (!pad) {
            if (!dryRun) {
              const created = this.insertPad({ event: slug, ...entry }, entry.uid)
              createdPads.push(created)
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
              if (!dryRun) this.applyEntry(pad.id, entry, by === 'title-and-start')
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
      })
      .immediate()
    for (const pad of createdPads) {
      this.sendTemplateLive(pad)
      this.d.onPadChanged?.(pad.id)
    }
    return report
  }

  private applyEntry(padId: string, entry: ScheduleEntry, newUid: boolean): void {
    this.updatePad(padId, {
      title: entry.title,
      kind: entry.kind,
      track: entry.track,
      room: entry.room,
      startsAt: entry.startsAt,
      endsAt: entry.endsAt,
      speakers: entry.speakers,
      links: entry.links,
      cancelled: entry.cancelled,
    })
    if (newUid) this.d.meetings.setSourceUid(padId, entry.uid)
  }

  private eventPk(slug: string): number {
    const pk = this.d.meetings.eventPk(slug)
    if (pk === null) throw notFound(`no event "${slug}"`)
    return pk
  }

  private freshId(title: string): string {
    const base = slugify(title)
    for (;;) {
      // 20 random bits: short enough to read off a projector, checked for collisions anyway.
      const id = `${base}-${randomBytes(3).toString('hex').slice(0, 5)}`
      if (!this.d.store.exists(id) && !this.d.rooms.get(id)) return id
    }
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
