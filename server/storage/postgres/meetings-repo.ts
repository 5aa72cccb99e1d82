/**
 * The MeetingsRepo interface (../meetings-store.ts) on PostgreSQL, with SQLite's semantics:
 * SQLite's queries, NULLs and text ordered as SQLite orders them (NULLS FIRST, COLLATE "C"), the
 * same Conflict/NotFound errors. Every multi-step operation is one transaction (transaction.ts).
 *
 * Lock order, the same in every operation, so two servers' operations wait for each other
 * instead of deadlocking (a deadlock would still be retried whole):
 *   1. the event row (FOR KEY SHARE to file a pad under it, FOR UPDATE to delete it or import a
 *      schedule into it: an import then sees no pad appear or change under it, as SQLite's
 *      IMMEDIATE transaction did),
 *   2. the pads' advisory locks (pad-lock.ts), sorted, as PgPadLog takes them: whatever writes a
 *      pad's log rows (createPad's first row, deleteEvent's deletions, applySchedule's creations)
 *      holds them, so one pad's seqs follow commit order whichever server writes,
 *   3. pad rows.
 */
import { Conflict, NotFound } from '../../lib/domain-errors.ts'
import type { EventInfo, PadInfo, PadKind } from '../../meetings/model.ts'
import {
  type EventFields,
  type EventRow,
  iso,
  type MeetingsRepo,
  type NewPad,
  type PadFields,
  type PadRow,
  type SchedulePlan,
  type StartingText,
  toEvent,
  toPad,
} from '../meetings-store.ts'
import { fromBytea, toBytea } from './bytes.ts'
import { lockPads } from './pad-lock.ts'
import type { PgPadLog } from './pad-log.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

const READ = { isolation: 'repeatable read', readOnly: true } as const

/** PostgreSQL's SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = '23505'
const isUnique = (err: unknown) => (err as { code?: string }).code === UNIQUE_VIOLATION

const EVENT_COLUMNS = 'pk, slug, name, starts_on, ends_on, timezone, description, created_at, updated_at'
const PAD_SELECT = `SELECT p.pk, p.id, e.slug AS event_slug, p.title, p.kind, p.track, p.room, p.starts_at, p.ends_at,
  p.speakers, p.links, p.cancelled, p.closed_at, p.source_uid, p.created_at, p.updated_at
  FROM pads p LEFT JOIN events e ON e.pk = p.event`
// SQLite's schedule order: by start time (unscheduled last), then room, then title; SQLite sorts
// NULLs first and compares text bytewise.
const PAD_ORDER = `ORDER BY p.starts_at IS NULL, p.starts_at, p.room COLLATE "C" NULLS FIRST,
  p.title COLLATE "C" NULLS FIRST, p.id COLLATE "C"`

/** padParams' values in the order of the $n of PAD_SET (from $2). */
function padValues(fields: PadFields): unknown[] {
  return [
    fields.title,
    fields.kind,
    fields.track,
    fields.room,
    fields.startsAt,
    fields.endsAt,
    JSON.stringify(fields.speakers),
    JSON.stringify(fields.links),
    fields.cancelled ? 1 : 0,
  ]
}
/** `UPDATE pads SET` of padValues, $1 being the pad's id and $10 the time. */
const PAD_SET = `title = $2, kind = $3, track = $4, room = $5, starts_at = $6, ends_at = $7, speakers = $8,
  links = $9, cancelled = $10, updated_at = $11`

async function eventPk(client: PgClient | PgPool, slug: string, lock = ''): Promise<number> {
  const { rows } = await client.query<{ pk: number }>(`SELECT pk FROM events WHERE slug = $1 ${lock}`, [slug])
  if (rows[0] === undefined) throw new NotFound(`no event "${slug}"`)
  return rows[0].pk
}

export class PgMeetingsRepo implements MeetingsRepo {
  private readonly pool: PgPool
  private readonly padLog: PgPadLog

  constructor(pool: PgPool, padLog: PgPadLog) {
    this.pool = pool
    this.padLog = padLog
  }

  async createEvent(fields: EventFields, now = Date.now()): Promise<EventInfo> {
    try {
      const { rows } = await this.pool.query<EventRow>(
        `INSERT INTO events (slug, name, starts_on, ends_on, timezone, description, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ${EVENT_COLUMNS}`,
        [fields.slug, fields.name, fields.startsOn, fields.endsOn, fields.timezone, fields.description, now],
      )
      return toEvent(rows[0]!)
    } catch (err) {
      if (isUnique(err)) throw new Conflict(`event "${fields.slug}" already exists`)
      throw err
    }
  }

  async event(slug: string): Promise<EventInfo | null> {
    const { rows } = await this.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE slug = $1`, [
      slug,
    ])
    return rows[0] ? toEvent(rows[0]) : null
  }

  async events(): Promise<EventInfo[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events ORDER BY starts_on IS NULL, starts_on COLLATE "C" DESC, name COLLATE "C"`,
    )
    return rows.map(toEvent)
  }

  async updateEvent(slug: string, fields: EventFields, now = Date.now()): Promise<EventInfo | null> {
    try {
      const { rows } = await this.pool.query<EventRow>(
        `UPDATE events SET slug = $1, name = $2, starts_on = $3, ends_on = $4, timezone = $5, description = $6,
           updated_at = $7
         WHERE slug = $8 RETURNING ${EVENT_COLUMNS}`,
        [
          fields.slug,
          fields.name,
          fields.startsOn,
          fields.endsOn,
          fields.timezone,
          fields.description,
          now,
          slug,
        ],
      )
      return rows[0] ? toEvent(rows[0]) : null
    } catch (err) {
      if (isUnique(err)) throw new Conflict(`event "${fields.slug}" already exists`)
      throw err
    }
  }

  deleteEvent(slug: string): Promise<string[] | null> {
    return inTransaction(this.pool, async (client) => {
      // FOR UPDATE: no pad can be filed under the event (that takes FOR KEY SHARE) until this
      // commits, so the pads read next are all of them.
      const event = await client.query<{ pk: number }>('SELECT pk FROM events WHERE slug = $1 FOR UPDATE', [
        slug,
      ])
      const pk = event.rows[0]?.pk
      if (pk === undefined) return null
      const pads = await client.query<{ id: string }>('SELECT id FROM pads WHERE event = $1', [pk])
      const ids = pads.rows.map((r) => r.id)
      // Their logs go too: after any append in flight to them, as PgPadLog.delete does.
      await lockPads(client, ids)
      // Cascades: the pads (with their logs, snapshots, claims, short links, materials, search
      // entries), the templates, the links.
      await client.query('DELETE FROM events WHERE pk = $1', [pk])
      return ids
    })
  }

  async padExists(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM pads WHERE id = $1', [id])
    return (rowCount ?? 0) > 0
  }

  createPad(pad: NewPad, now = Date.now()): Promise<number> {
    const data = toBytea(pad.firstRow.data)
    return inTransaction(this.pool, async (client) => {
      const event = pad.event === null ? null : await eventPk(client, pad.event, 'FOR KEY SHARE')
      return this.insertPad(client, pad, event, data, now)
    })
  }

  async pad(id: string): Promise<PadInfo | null> {
    const { rows } = await this.pool.query<PadRow>(`${PAD_SELECT} WHERE p.id = $1`, [id])
    return rows[0] ? toPad(rows[0]) : null
  }

  updatePad(id: string, fields: PadFields, event?: string | null, now = Date.now()): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const values = [id, ...padValues(fields), now]
      if (event === undefined) {
        const { rowCount } = await client.query(`UPDATE pads SET ${PAD_SET} WHERE id = $1`, values)
        return (rowCount ?? 0) > 0
      }
      const pk = event === null ? null : await eventPk(client, event, 'FOR KEY SHARE')
      const { rowCount } = await client.query(`UPDATE pads SET ${PAD_SET}, event = $12 WHERE id = $1`, [
        ...values,
        pk,
      ])
      return (rowCount ?? 0) > 0
    })
  }

  deletePad(id: string): Promise<boolean> {
    // Everything of a pad hangs on its row (cascades); PgPadLog deletes it under the pad's lock.
    return this.padLog.delete(id)
  }

  padsOfEvent(slug: string): Promise<PadInfo[]> {
    return inTransaction(
      this.pool,
      async (client) => {
        const pk = await eventPk(client, slug)
        const { rows } = await client.query<PadRow>(`${PAD_SELECT} WHERE p.event = $1 ${PAD_ORDER}`, [pk])
        return rows.map(toPad)
      },
      READ,
    )
  }

  async unfiledPads(): Promise<PadInfo[]> {
    const { rows } = await this.pool.query<PadRow>(
      `${PAD_SELECT} WHERE p.event IS NULL ORDER BY p.updated_at DESC, p.id COLLATE "C"`,
    )
    return rows.map(toPad)
  }

  startingText(id: string): Promise<StartingText> {
    return inTransaction(
      this.pool,
      async (client): Promise<StartingText> => {
        const pad = await client.query<{ pk: number; template: string | null }>(
          'SELECT pk, template FROM pads WHERE id = $1',
          [id],
        )
        const row = pad.rows[0]
        if (!row) return null
        if (row.template !== null) return { text: row.template }
        // A pad from before templates were kept: its first log row, if the server wrote it.
        const first = (
          await client.query<{ conn: string; author: string | null; data: Buffer }>(
            'SELECT conn, author, data FROM updates WHERE pad = $1 ORDER BY seq LIMIT 1',
            [row.pk],
          )
        ).rows[0]
        if (first?.conn !== 'server' || first.author !== null) return null
        // After "forget history" the log starts with later rows, after a snapshot: no template there.
        const forgotten = await client.query(
          'SELECT 1 FROM snapshots WHERE pad = $1 AND upto < (SELECT min(seq) FROM updates WHERE pad = $1) LIMIT 1',
          [row.pk],
        )
        return (forgotten.rowCount ?? 0) === 0 ? { firstUpdate: fromBytea(first.data) } : null
      },
      READ,
    )
  }

  template(event: string, kind: PadKind): Promise<string | null> {
    return inTransaction(
      this.pool,
      async (client) => {
        const pk = await eventPk(client, event)
        const { rows } = await client.query<{ body: string }>(
          'SELECT body FROM event_templates WHERE event = $1 AND kind = $2',
          [pk, kind],
        )
        return rows[0]?.body ?? null
      },
      READ,
    )
  }

  async setTemplate(event: string, kind: PadKind, body: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO event_templates (event, kind, body) SELECT pk, $2, $3 FROM events WHERE slug = $1
       ON CONFLICT (event, kind) DO UPDATE SET body = excluded.body`,
      [event, kind, body],
    )
    return (rowCount ?? 0) > 0
  }

  async deleteTemplate(event: string, kind: PadKind): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM event_templates t USING events e WHERE t.event = e.pk AND e.slug = $1 AND t.kind = $2',
      [event, kind],
    )
    return (rowCount ?? 0) > 0
  }

  applySchedule(event: string, plan: SchedulePlan, now = Date.now()): Promise<{ seqs: number[] } | 'stale'> {
    const firstRows = plan.create.map((pad) => toBytea(pad.firstRow.data))
    return inTransaction(this.pool, async (client): Promise<{ seqs: number[] } | 'stale'> => {
      // The event first (another import waits here, then finds its basis stale; no pad is filed
      // under it meanwhile), then every pad this reads or writes, then their rows.
      const pk = await eventPk(client, event, 'FOR UPDATE')
      const filed = await client.query<{ id: string }>('SELECT id FROM pads WHERE event = $1', [pk])
      await lockPads(client, [
        ...filed.rows.map((r) => r.id),
        ...plan.create.map((p) => p.id),
        ...plan.update.map((p) => p.id),
      ])
      // Locked: an edit of their metadata waits for this import rather than slipping in between
      // the comparison and the writes (NO KEY: their log rows' keys need not wait).
      const pads = await client.query<{ id: string; updated_at: number }>(
        'SELECT id, updated_at FROM pads WHERE event = $1 FOR NO KEY UPDATE',
        [pk],
      )
      const current = new Map(pads.rows.map((p) => [p.id, iso(p.updated_at)]))
      if (current.size !== plan.basis.length) return 'stale'
      if (plan.basis.some((b) => current.get(b.id) !== b.updatedAt)) return 'stale'
      if (plan.create.length > 0) {
        const taken = await client.query('SELECT 1 FROM pads WHERE id = ANY($1::text[]) LIMIT 1', [
          plan.create.map((p) => p.id),
        ])
        if ((taken.rowCount ?? 0) > 0) return 'stale'
      }
      const seqs: number[] = []
      for (const [i, pad] of plan.create.entries())
        seqs.push(await this.insertPad(client, pad, pk, firstRows[i]!, now, false))
      for (const { id, fields, sourceUid } of plan.update) {
        await client.query(`UPDATE pads SET ${PAD_SET} WHERE id = $1`, [id, ...padValues(fields), now])
        if (sourceUid !== undefined)
          await client.query('UPDATE pads SET source_uid = $1 WHERE id = $2', [sourceUid, id])
      }
      return { seqs }
    })
  }

  /**
   * The pad row and its first log row, in the caller's transaction (which holds the event's row
   * when it has one). Takes the pad's lock first (unless `lock` is false: the caller holds it), so
   * the row's seq is drawn after any other writer of that id committed.
   */
  private async insertPad(
    client: PgClient,
    pad: NewPad,
    event: number | null,
    data: Buffer,
    now: number,
    lock = true,
  ): Promise<number> {
    if (lock) await lockPads(client, [pad.id])
    const inserted = await client.query<{ pk: number }>(
      `INSERT INTO pads (id, event, title, kind, track, room, starts_at, ends_at, speakers, links, cancelled,
                         source_uid, template, created_at, updated_at)
       VALUES ($1, $12, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13, $14, $11, $11)
       ON CONFLICT (id) DO NOTHING RETURNING pk`,
      [pad.id, ...padValues(pad.fields), now, event, pad.sourceUid, pad.template],
    )
    const pk = inserted.rows[0]?.pk
    if (pk === undefined) throw new Conflict(`pad "${pad.id}" already exists`)
    const row = await client.query<{ seq: number }>(
      `INSERT INTO updates (pad, at, conn, author, data) VALUES ($1, $2, 'server', NULL, $3) RETURNING seq`,
      [pk, pad.firstRow.at, data],
    )
    return row.rows[0]!.seq
  }
}
