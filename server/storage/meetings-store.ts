/**
 * Events, pad metadata, templates and schedule ids: what meetings.ts needs of storage, as an
 * interface whose every call returns a promise (the next engine is PostgreSQL, over the network),
 * and its SQLite implementation. Plain values in, typed records out; nothing here knows Yjs or
 * HTTP, and no engine type leaks through the interface.
 *
 * Every multi-step change is one operation, atomic in the engine: a pad is created with its
 * metadata and its first log row together; an event is deleted with everything of its pads; a
 * schedule import's creations and updates are applied all or none. A caller never holds a
 * transaction open across an await.
 */
import { Conflict, NotFound } from '../lib/domain-errors.ts'
import type { EventInfo, PadInfo, PadKind, PadLink } from '../meetings/model.ts'
import type { Db } from './db.ts'
import { settled } from './settled.ts'
import type { PadStore } from './store.ts'

/** An event's row as both engines return it (same column names). */
export interface EventRow {
  pk: number
  slug: string
  name: string
  starts_on: string | null
  ends_on: string | null
  timezone: string
  description: string | null
  created_at: number
  updated_at: number
}

/** A pad's row joined with its event's slug, as both engines return it. */
export interface PadRow {
  pk: number
  id: string
  event_slug: string | null
  title: string | null
  kind: string | null
  track: string | null
  room: string | null
  starts_at: number | null
  ends_at: number | null
  speakers: string
  links: string
  cancelled: number
  closed_at: number | null
  source_uid: string | null
  created_at: number
  updated_at: number
}

export interface EventFields {
  slug: string
  name: string
  startsOn: string | null
  endsOn: string | null
  timezone: string
  description: string | null
}

export interface PadFields {
  title: string | null
  kind: PadKind | null
  track: string | null
  room: string | null
  /** UTC ms. */
  startsAt: number | null
  endsAt: number | null
  speakers: string[]
  links: PadLink[]
  cancelled: boolean
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export function toEvent(row: EventRow): EventInfo {
  return {
    slug: row.slug,
    name: row.name,
    startsOn: row.starts_on,
    endsOn: row.ends_on,
    timezone: row.timezone,
    description: row.description,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  }
}

export function toPad(row: PadRow): PadInfo {
  return {
    id: row.id,
    title: row.title,
    kind: row.kind as PadKind | null,
    event: row.event_slug,
    track: row.track,
    room: row.room,
    startsAt: iso(row.starts_at),
    endsAt: iso(row.ends_at),
    speakers: JSON.parse(row.speakers) as string[],
    links: JSON.parse(row.links) as PadLink[],
    cancelled: row.cancelled === 1,
    closedAt: iso(row.closed_at),
    sourceUid: row.source_uid,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  }
}

const PAD_SELECT = `SELECT p.pk, p.id, e.slug AS event_slug, p.title, p.kind, p.track, p.room, p.starts_at, p.ends_at,
  p.speakers, p.links, p.cancelled, p.closed_at, p.source_uid, p.created_at, p.updated_at
  FROM pads p LEFT JOIN events e ON e.pk = p.event`
// Schedule order: by start time (unscheduled last), then room, then title.
const PAD_ORDER = 'ORDER BY p.starts_at IS NULL, p.starts_at, p.room, p.title, p.id'

/** A pad to create: its metadata and its first log row (the server's), stored together. */
export interface NewPad {
  id: string
  /** Slug of the event it is filed under; null = unfiled. */
  event: string | null
  fields: PadFields
  /** The schedule's id of the session, when imported. */
  sourceUid: string | null
  /** The Markdown it started from (its filled-in template); '' for an imported document. */
  template: string | null
  /** The first row of its log, written by the server (conn "server", no author). */
  firstRow: { at: number; data: Uint8Array }
}

/** A schedule import's writes, applied by `applySchedule` all or none. */
export interface SchedulePlan {
  create: readonly NewPad[]
  /** Replaces these pads' metadata (their event stays); `sourceUid` set: it follows that id now. */
  update: readonly { id: string; fields: PadFields; sourceUid?: string }[]
  /**
   * The event's pads as the plan was made from them (id and updatedAt): when they differ at
   * apply time (another import or an edit came in between), nothing is written and the
   * operation resolves 'stale', for the caller to read again and make a new plan.
   */
  basis: readonly { id: string; updatedAt: string }[]
}

/** The Markdown a pad started from, or its first row (server-written) for pads from before it was kept. */
export type StartingText = { text: string } | { firstUpdate: Uint8Array } | null

export interface MeetingsRepo {
  /** Rejects with Conflict when the slug is taken. */
  createEvent(fields: EventFields, now?: number): Promise<EventInfo>
  event(slug: string): Promise<EventInfo | null>
  /** Newest first (by first day), events without days last. */
  events(): Promise<EventInfo[]>
  /**
   * Replaces the event's fields, slug included. Null when there is no such event; rejects with
   * Conflict when the new slug is another event's.
   */
  updateEvent(slug: string, fields: EventFields, now?: number): Promise<EventInfo | null>
  /**
   * Deletes the event with its templates, links and every pad filed under it (metadata, log,
   * snapshots, claims, short links, materials), atomically. Resolves with the deleted pads' ids,
   * or null when there is no such event. Series rows stay (series-store.ts says why).
   */
  deleteEvent(slug: string): Promise<string[] | null>
  /** Whether the pad has stored anything (metadata or a log row). */
  padExists(id: string): Promise<boolean>
  /**
   * Stores the pad's metadata and its first log row atomically; resolves with that row's seq.
   * Rejects with Conflict when the id is taken, NotFound when its event is gone.
   */
  createPad(pad: NewPad, now?: number): Promise<number>
  pad(id: string): Promise<PadInfo | null>
  /**
   * Replaces the pad's metadata; `event` undefined keeps its event, null unfiles it (the slug
   * must exist: NotFound otherwise). Resolves with whether the pad exists.
   */
  updatePad(id: string, fields: PadFields, event?: string | null, now?: number): Promise<boolean>
  /** Deletes the pad: metadata, log, snapshots, claims, short links, materials. Whether it existed. */
  deletePad(id: string): Promise<boolean>
  /** The event's pads in schedule order (start, room, title); NotFound when there is no such event. */
  padsOfEvent(slug: string): Promise<PadInfo[]>
  /** Pads filed under no event, most recently changed first (including pads only typed into). */
  unfiledPads(): Promise<PadInfo[]>
  /**
   * The Markdown a pad started from. Pads from before it was kept answer with their first log
   * row when the server wrote it and its history was never forgotten (the caller decodes it).
   */
  startingText(id: string): Promise<StartingText>
  /** The event's own template of a kind, or null (the default applies). */
  template(event: string, kind: PadKind): Promise<string | null>
  /** Resolves false when there is no such event. */
  setTemplate(event: string, kind: PadKind, body: string): Promise<boolean>
  deleteTemplate(event: string, kind: PadKind): Promise<boolean>
  /**
   * Applies a schedule import's creations and updates atomically, unless the event's pads have
   * changed since `plan.basis` was read ('stale': nothing written). Resolves with the created
   * pads' first-row seqs, in plan order. NotFound when the event is gone.
   */
  applySchedule(event: string, plan: SchedulePlan, now?: number): Promise<{ seqs: number[] } | 'stale'>
}

const isUnique = (err: unknown) => (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE'

/**
 * MeetingsRepo on SQLite, next to the documents (the pads table holds both a pad's metadata and
 * the key its log hangs on). Each call runs one synchronous transaction at once and returns its
 * settled result. Statements are prepared once.
 */
export class SqliteMeetingsRepo implements MeetingsRepo {
  private readonly s
  private readonly db: Db
  private readonly store: PadStore

  constructor(db: Db, store: PadStore) {
    this.db = db
    this.store = store
    this.s = {
      insertEvent: db.prepare<
        [string, string, string | null, string | null, string, string | null, number, number]
      >(
        `INSERT INTO events (slug, name, starts_on, ends_on, timezone, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      updateEvent: db.prepare<
        [string, string, string | null, string | null, string, string | null, number, string]
      >(
        `UPDATE events SET slug = ?, name = ?, starts_on = ?, ends_on = ?, timezone = ?, description = ?, updated_at = ?
         WHERE slug = ?`,
      ),
      eventBySlug: db.prepare<[string], EventRow>('SELECT * FROM events WHERE slug = ?'),
      events: db.prepare<[], EventRow>(
        'SELECT * FROM events ORDER BY starts_on IS NULL, starts_on DESC, name',
      ),
      deleteEvent: db.prepare<[number]>('DELETE FROM events WHERE pk = ?'),
      padIdsOfEvent: db.prepare<[number], { id: string }>('SELECT id FROM pads WHERE event = ?'),
      padPk: db.prepare<[string], { pk: number }>('SELECT pk FROM pads WHERE id = ?'),
      insertPad: db.prepare(
        `INSERT INTO pads (id, event, title, kind, track, room, starts_at, ends_at, speakers, links, cancelled, source_uid,
                           template, created_at, updated_at)
         VALUES (@id, @event, @title, @kind, @track, @room, @startsAt, @endsAt, @speakers, @links, @cancelled, @sourceUid,
                 @template, @now, @now)`,
      ),
      updatePad: db.prepare(
        `UPDATE pads SET title = @title, kind = @kind, track = @track, room = @room, starts_at = @startsAt,
           ends_at = @endsAt, speakers = @speakers, links = @links, cancelled = @cancelled, updated_at = @now,
           event = CASE WHEN @moveEvent THEN @event ELSE event END
         WHERE id = @id`,
      ),
      padById: db.prepare<[string], PadRow>(`${PAD_SELECT} WHERE p.id = ?`),
      setSourceUid: db.prepare<[string, string]>('UPDATE pads SET source_uid = ? WHERE id = ?'),
      templateText: db.prepare<[string], { template: string | null }>(
        'SELECT template FROM pads WHERE id = ?',
      ),
      // A pad from before templates were kept: its first log row, if the server wrote it, is its template.
      firstRow: db.prepare<[string], { conn: string; author: string | null; data: Buffer }>(
        `SELECT u.conn, u.author, u.data FROM updates u JOIN pads p ON p.pk = u.pad
         WHERE p.id = ? ORDER BY u.seq LIMIT 1`,
      ),
      // After "forget history" the log starts with later rows, after a snapshot: no template there.
      forgotten: db.prepare<[string], { n: number }>(
        `SELECT count(*) AS n FROM snapshots s JOIN pads p ON p.pk = s.pad
         WHERE p.id = ? AND s.upto < (SELECT min(seq) FROM updates WHERE pad = p.pk)`,
      ),
      padsOfEvent: db.prepare<[number], PadRow>(`${PAD_SELECT} WHERE p.event = ? ${PAD_ORDER}`),
      unfiledPads: db.prepare<[], PadRow>(`${PAD_SELECT} WHERE p.event IS NULL ORDER BY p.updated_at DESC`),
      templateOf: db.prepare<[number, string], { body: string }>(
        'SELECT body FROM event_templates WHERE event = ? AND kind = ?',
      ),
      setTemplate: db.prepare<[number, string, string]>(
        'INSERT INTO event_templates (event, kind, body) VALUES (?, ?, ?) ON CONFLICT(event, kind) DO UPDATE SET body = excluded.body',
      ),
      deleteTemplate: db.prepare<[number, string]>(
        'DELETE FROM event_templates WHERE event = ? AND kind = ?',
      ),
    }
  }

  createEvent(fields: EventFields, now = Date.now()): Promise<EventInfo> {
    return settled(() => {
      try {
        this.s.insertEvent.run(
          fields.slug,
          fields.name,
          fields.startsOn,
          fields.endsOn,
          fields.timezone,
          fields.description,
          now,
          now,
        )
      } catch (err) {
        if (isUnique(err)) throw new Conflict(`event "${fields.slug}" already exists`)
        throw err
      }
      return this.eventNow(fields.slug)!
    })
  }

  event(slug: string): Promise<EventInfo | null> {
    return settled(() => this.eventNow(slug))
  }

  events(): Promise<EventInfo[]> {
    return settled(() => this.s.events.all().map(toEvent))
  }

  updateEvent(slug: string, fields: EventFields, now = Date.now()): Promise<EventInfo | null> {
    return settled(() => {
      let changed: number
      try {
        changed = this.s.updateEvent.run(
          fields.slug,
          fields.name,
          fields.startsOn,
          fields.endsOn,
          fields.timezone,
          fields.description,
          now,
          slug,
        ).changes
      } catch (err) {
        if (isUnique(err)) throw new Conflict(`event "${fields.slug}" already exists`)
        throw err
      }
      return changed ? this.eventNow(fields.slug) : null
    })
  }

  deleteEvent(slug: string): Promise<string[] | null> {
    return settled(() =>
      this.db.transaction(() => {
        const pk = this.s.eventBySlug.get(slug)?.pk
        if (pk === undefined) return null
        const ids = this.s.padIdsOfEvent.all(pk).map((r) => r.id)
        // Through the pad store, so it forgets what it cached of them (a pad made again later
        // under the same id is a new pad).
        for (const id of ids) this.store.delete(id)
        this.s.deleteEvent.run(pk)
        return ids
      })(),
    )
  }

  padExists(id: string): Promise<boolean> {
    return settled(() => this.s.padPk.get(id) !== undefined)
  }

  createPad(pad: NewPad, now = Date.now()): Promise<number> {
    return settled(() => this.db.transaction(() => this.insertPad(pad, now))())
  }

  pad(id: string): Promise<PadInfo | null> {
    return settled(() => this.padNow(id))
  }

  updatePad(id: string, fields: PadFields, event?: string | null, now = Date.now()): Promise<boolean> {
    return settled(() => {
      const eventPk = event === undefined || event === null ? event : this.eventPk(event)
      const move = { moveEvent: eventPk === undefined ? 0 : 1, event: eventPk ?? null }
      return this.s.updatePad.run({ id, now, ...move, ...padParams(fields) }).changes > 0
    })
  }

  deletePad(id: string): Promise<boolean> {
    return settled(() => this.store.delete(id))
  }

  padsOfEvent(slug: string): Promise<PadInfo[]> {
    return settled(() => this.s.padsOfEvent.all(this.eventPk(slug)).map(toPad))
  }

  unfiledPads(): Promise<PadInfo[]> {
    return settled(() => this.s.unfiledPads.all().map(toPad))
  }

  startingText(id: string): Promise<StartingText> {
    return settled(() =>
      this.db.transaction((): StartingText => {
        const row = this.s.templateText.get(id)
        if (!row) return null
        if (row.template !== null) return { text: row.template }
        const first = this.s.firstRow.get(id)
        if (first?.conn !== 'server' || first.author !== null) return null
        return this.s.forgotten.get(id)!.n === 0 ? { firstUpdate: first.data } : null
      })(),
    )
  }

  template(event: string, kind: PadKind): Promise<string | null> {
    return settled(() => this.s.templateOf.get(this.eventPk(event), kind)?.body ?? null)
  }

  setTemplate(event: string, kind: PadKind, body: string): Promise<boolean> {
    return settled(() => {
      const pk = this.s.eventBySlug.get(event)?.pk
      if (pk === undefined) return false
      this.s.setTemplate.run(pk, kind, body)
      return true
    })
  }

  deleteTemplate(event: string, kind: PadKind): Promise<boolean> {
    return settled(() => {
      const pk = this.s.eventBySlug.get(event)?.pk
      return pk !== undefined && this.s.deleteTemplate.run(pk, kind).changes > 0
    })
  }

  applySchedule(event: string, plan: SchedulePlan, now = Date.now()): Promise<{ seqs: number[] } | 'stale'> {
    return settled(() =>
      // IMMEDIATE: the write lock before the pads are compared, so a concurrent import (the CLI
      // while the server runs) waits, then finds its basis stale.
      this.db
        .transaction((): { seqs: number[] } | 'stale' => {
          const pads = this.s.padsOfEvent.all(this.eventPk(event))
          const current = new Map(pads.map((p) => [p.id, iso(p.updated_at)]))
          if (current.size !== plan.basis.length) return 'stale'
          if (plan.basis.some((b) => current.get(b.id) !== b.updatedAt)) return 'stale'
          if (plan.create.some((p) => this.s.padPk.get(p.id) !== undefined)) return 'stale'
          const seqs = plan.create.map((pad) => this.insertPad(pad, now))
          for (const { id, fields, sourceUid } of plan.update) {
            this.s.updatePad.run({ id, now, moveEvent: 0, event: null, ...padParams(fields) })
            if (sourceUid !== undefined) this.s.setSourceUid.run(sourceUid, id)
          }
          return { seqs }
        })
        .immediate(),
    )
  }

  /** The pad row and its first log row; call inside a transaction. */
  private insertPad(pad: NewPad, now: number): number {
    const eventPk = pad.event === null ? null : this.eventPk(pad.event)
    if (this.s.padPk.get(pad.id) !== undefined) throw new Conflict(`pad "${pad.id}" already exists`)
    this.s.insertPad.run({
      id: pad.id,
      event: eventPk,
      sourceUid: pad.sourceUid,
      template: pad.template,
      now,
      ...padParams(pad.fields),
    })
    const [seq] = this.store.append([
      { padId: pad.id, at: pad.firstRow.at, conn: 'server', author: null, data: pad.firstRow.data },
    ])
    return seq!
  }

  private eventNow(slug: string): EventInfo | null {
    const row = this.s.eventBySlug.get(slug)
    return row ? toEvent(row) : null
  }

  /**
   * The pad's metadata at once: for the SQLite search index, which reads its titles
   * synchronously inside its own transactions. Not part of MeetingsRepo.
   */
  padNow(id: string): PadInfo | null {
    const row = this.s.padById.get(id)
    return row ? toPad(row) : null
  }

  private eventPk(slug: string): number {
    const pk = this.s.eventBySlug.get(slug)?.pk
    if (pk === undefined) throw new NotFound(`no event "${slug}"`)
    return pk
  }
}

function padParams(fields: PadFields) {
  return {
    title: fields.title,
    kind: fields.kind,
    track: fields.track,
    room: fields.room,
    startsAt: fields.startsAt,
    endsAt: fields.endsAt,
    speakers: JSON.stringify(fields.speakers),
    links: JSON.stringify(fields.links),
    cancelled: fields.cancelled ? 1 : 0,
  }
}
