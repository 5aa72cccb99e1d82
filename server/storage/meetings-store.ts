/**
 * Events and pad metadata in SQLite, next to the documents. Rows in, typed records out; it knows
 * nothing of Yjs or HTTP. Statements are prepared once.
 */
import type { EventInfo, PadInfo, PadKind, PadLink } from '../meetings/model.ts'
import type { Db } from './db.ts'

interface EventRow {
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

interface PadRow {
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

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

function toEvent(row: EventRow): EventInfo {
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

function toPad(row: PadRow): PadInfo {
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

export class MeetingsStore {
  private readonly s

  constructor(db: Db) {
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
      deleteEvent: db.prepare<[string]>('DELETE FROM events WHERE slug = ?'),
      padIdsOfEvent: db.prepare<[number], { id: string }>('SELECT id FROM pads WHERE event = ?'),
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

  createEvent(fields: EventFields, now = Date.now()): EventInfo {
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
    return this.event(fields.slug)!
  }

  event(slug: string): EventInfo | null {
    const row = this.s.eventBySlug.get(slug)
    return row ? toEvent(row) : null
  }

  eventPk(slug: string): number | null {
    return this.s.eventBySlug.get(slug)?.pk ?? null
  }

  events(): EventInfo[] {
    return this.s.events.all().map(toEvent)
  }

  /** Replaces the event's fields (slug included); returns null if there is no such event. */
  updateEvent(slug: string, fields: EventFields, now = Date.now()): EventInfo | null {
    const changed = this.s.updateEvent.run(
      fields.slug,
      fields.name,
      fields.startsOn,
      fields.endsOn,
      fields.timezone,
      fields.description,
      now,
      slug,
    ).changes
    return changed ? this.event(fields.slug) : null
  }

  padIdsOfEvent(eventPk: number): string[] {
    return this.s.padIdsOfEvent.all(eventPk).map((r) => r.id)
  }

  /** Deletes the event row; its pads cascade. */
  deleteEvent(slug: string): boolean {
    return this.s.deleteEvent.run(slug).changes > 0
  }

  insertPad(
    id: string,
    eventPk: number | null,
    fields: PadFields,
    sourceUid: string | null,
    template: string | null = null,
    now = Date.now(),
  ): void {
    this.s.insertPad.run({ id, event: eventPk, sourceUid, template, now, ...this.padParams(fields) })
  }

  /**
   * The Markdown a pad started from. Pads from before it was kept (NULL) answer with their
   * first log row when the server wrote it (the template), for the caller to decode.
   */
  startingText(id: string): { text: string } | { firstUpdate: Uint8Array } | null {
    const row = this.s.templateText.get(id)
    if (!row) return null
    if (row.template !== null) return { text: row.template }
    const first = this.s.firstRow.get(id)
    if (first?.conn !== 'server' || first.author !== null) return null
    return this.s.forgotten.get(id)!.n === 0 ? { firstUpdate: first.data } : null
  }

  /** Replaces the pad's metadata; `eventPk` undefined keeps its event, null unfiles it. */
  updatePad(id: string, fields: PadFields, eventPk?: number | null, now = Date.now()): boolean {
    const move = { moveEvent: eventPk === undefined ? 0 : 1, event: eventPk ?? null }
    return this.s.updatePad.run({ id, now, ...move, ...this.padParams(fields) }).changes > 0
  }

  pad(id: string): PadInfo | null {
    const row = this.s.padById.get(id)
    return row ? toPad(row) : null
  }

  /** The pad now follows another id of the schedule (a rebuilt file with fresh UIDs). */
  setSourceUid(id: string, sourceUid: string): void {
    this.s.setSourceUid.run(sourceUid, id)
  }

  padsOfEvent(eventPk: number): PadInfo[] {
    return this.s.padsOfEvent.all(eventPk).map(toPad)
  }

  unfiledPads(): PadInfo[] {
    return this.s.unfiledPads.all().map(toPad)
  }

  template(eventPk: number, kind: PadKind): string | null {
    return this.s.templateOf.get(eventPk, kind)?.body ?? null
  }

  setTemplate(eventPk: number, kind: PadKind, body: string): void {
    this.s.setTemplate.run(eventPk, kind, body)
  }

  deleteTemplate(eventPk: number, kind: PadKind): boolean {
    return this.s.deleteTemplate.run(eventPk, kind).changes > 0
  }

  private padParams(fields: PadFields) {
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
}
