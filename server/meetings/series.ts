/**
 * Series: a meeting continues another (any pad of this server, in any event), and "start the next
 * meeting" makes the pad that continues one, carrying over its open action items and decisions.
 *
 * Deleting a meeting leaves its link rows in place (series-store.ts): the meetings on either side
 * still reach each other through it, and say it is gone and what it was called.
 */
import { Conflict, NotFound } from '../lib/domain-errors.ts'
import { carryOverMarkdown } from '../minutes/carry-over.ts'
import { findOutcomes } from '../minutes/markers.ts'
import type { SeriesLink, SeriesStore } from '../storage/series-store.ts'
import type { Meetings } from './meetings.ts'
import type { EventInfo, PadInfo } from './model.ts'
import { type SeriesView, seriesView } from './series-view.ts'
import { inZone } from './time.ts'

/**
 * How far a walk along a series goes: a weekly meeting for twenty years is about 1,000 meetings;
 * the bound only keeps a (never stored) loop or an absurd series from holding a request.
 */
export const MAX_SERIES_LENGTH = 5000

export interface MeetingRef {
  id: string
  title: string
  event: string | null
}

/** A neighbour in the series, with the deleted meetings between it and this one (nearest first). */
export interface Neighbour {
  meeting: MeetingRef | null
  gone: { id: string; title: string }[]
}

export interface Neighbours {
  continues: Neighbour | null
  continuedIn: Neighbour | null
}

export interface NextMeetingInput {
  /** Slug of the event to create it in; null = unfiled; undefined = the previous meeting's event. */
  event?: string | null
  title?: string
  startsAt?: number | null
  endsAt?: number | null
  room?: string | null
}

export interface SeriesDeps {
  meetings: Meetings
  store: SeriesStore
  /** The pad's Markdown now (live room or store), null when it has none. */
  textOf(padId: string): Promise<string | null>
}

const ref = (pad: PadInfo): MeetingRef => ({ id: pad.id, title: pad.title ?? pad.id, event: pad.event })

export class Series {
  private readonly d: SeriesDeps

  constructor(deps: SeriesDeps) {
    this.d = deps
  }

  async neighbours(padId: string): Promise<Neighbours> {
    const back = await this.d.store.backFrom(padId, MAX_SERIES_LENGTH)
    const fwd = await this.d.store.forwardFrom(padId, MAX_SERIES_LENGTH)
    return {
      continues: back.length
        ? this.walk(back.map((l) => ({ id: l.continues, title: l.continuesTitle })))
        : null,
      continuedIn: fwd.length ? this.walk(fwd.map((l) => ({ id: l.pad, title: l.padTitle }))) : null,
    }
  }

  /** The first meeting along `steps` that still exists, and the gone ones before it. */
  private walk(steps: { id: string; title: string | null }[]): Neighbour {
    const gone: Neighbour['gone'] = []
    for (const step of steps) {
      const pad = this.d.meetings.findPad(step.id)
      if (pad) return { meeting: ref(pad), gone }
      gone.push({ id: step.id, title: step.title ?? step.id })
    }
    return { meeting: null, gone }
  }

  /**
   * The whole series around `padId`, first meeting first. `canRead` says which meetings the
   * caller's link opens: the others are listed by title only, without their outcomes.
   */
  async view(padId: string, canRead: (padId: string) => boolean): Promise<SeriesView> {
    const pad = this.d.meetings.pad(padId)
    const back = await this.d.store.backFrom(pad.id, MAX_SERIES_LENGTH)
    const fwd = await this.d.store.forwardFrom(pad.id, MAX_SERIES_LENGTH)
    const steps = [
      ...back.map((l) => ({ id: l.continues, title: l.continuesTitle })).reverse(),
      { id: pad.id, title: pad.title },
      ...fwd.map((l) => ({ id: l.pad, title: l.padTitle })),
    ]
    return seriesView(
      await Promise.all(
        steps.map(async (step) => {
          const found = this.d.meetings.findPad(step.id)
          const visible = found !== null && canRead(step.id)
          return {
            id: step.id,
            title: found?.title ?? step.title ?? step.id,
            event: visible ? found.event : null,
            startsAt: visible ? found.startsAt : null,
            room: visible ? found.room : null,
            link: `/p/${step.id}`,
            visible,
            gone: found === null,
            outcomes: visible ? findOutcomes((await this.d.textOf(step.id)) ?? '') : null,
          }
        }),
      ),
    )
  }

  /** `padId` continues `previousId` (null: it continues nothing). */
  async setContinues(padId: string, previousId: string | null): Promise<Neighbours> {
    const pad = this.d.meetings.pad(padId)
    if (previousId === null) {
      await this.d.store.unlink(padId)
      return this.neighbours(padId)
    }
    const previous = this.d.meetings.findPad(previousId)
    if (!previous) throw new NotFound(`continues: no pad "${previousId}" on this server`)
    if (previous.id === pad.id) throw new Conflict('A meeting cannot continue itself.', 'cycle')
    const before = await this.d.store.backFrom(previous.id, MAX_SERIES_LENGTH)
    if (before.some((l) => l.continues === pad.id)) {
      throw new Conflict(
        `“${previous.title ?? previous.id}” already comes after “${pad.title ?? pad.id}” in this series: a meeting cannot continue a later one.`,
        'cycle',
      )
    }
    const after = await this.d.store.forwardFrom(previous.id, MAX_SERIES_LENGTH)
    if (after.length && after[0]!.pad !== pad.id) {
      const other = this.walk(after.map((l) => ({ id: l.pad, title: l.padTitle }))).meeting
      if (other && other.id !== pad.id) {
        throw new Conflict(
          `“${previous.title ?? previous.id}” is already continued in “${other.title}” (${other.id}).`,
        )
      }
      // Continued only in deleted meetings: this one takes their place.
      await this.d.store.unlink(after[0]!.pad)
    }
    await this.d.store.link(this.linkOf(pad, previous))
    return this.neighbours(pad.id)
  }

  /**
   * The meeting that continues `previousId`: the one there is, or a new pad (same kind) whose
   * first lines carry its open action items and decisions. Twice gives the same pad.
   */
  async startNext(previousId: string, input: NextMeetingInput): Promise<{ pad: PadInfo; created: boolean }> {
    const previous = this.d.meetings.pad(previousId)
    const existing = await this.existingNext(previous.id)
    if (existing) return { pad: existing, created: false }
    const eventSlug = input.event === undefined ? previous.event : input.event
    const event = eventSlug ? this.d.meetings.event(eventSlug) : null
    const prelude = carryOverMarkdown(
      { padId: previous.id, title: previous.title ?? previous.id, context: this.contextOf(previous) },
      findOutcomes((await this.d.textOf(previous.id)) ?? ''),
    )
    const pad = this.d.meetings.createPad(
      {
        event: event?.slug ?? null,
        title: input.title ?? previous.title ?? previous.id,
        kind: previous.kind ?? 'meeting',
        startsAt: input.startsAt ?? null,
        endsAt: input.endsAt ?? null,
        room: input.room ?? null,
      },
      undefined,
      prelude,
    )
    if ((await this.d.store.link(this.linkOf(pad, previous))) === 'linked') return { pad, created: true }
    // Another request made the next meeting meanwhile: that one stands, this one goes.
    this.d.meetings.deletePad(pad.id)
    const winner = await this.existingNext(previous.id)
    if (!winner) throw new Conflict('the next meeting was being started twice: try again')
    return { pad: winner, created: false }
  }

  private async existingNext(previousId: string): Promise<PadInfo | null> {
    const fwd = await this.d.store.forwardFrom(previousId, MAX_SERIES_LENGTH)
    if (fwd.length === 0) return null
    // Past deleted meetings to the first that is there: the series goes on through them.
    const found = this.walk(fwd.map((l) => ({ id: l.pad, title: l.padTitle })))
    if (found.meeting) return this.d.meetings.pad(found.meeting.id)
    // Every later meeting is gone: the new one takes the place of the first of them.
    await this.d.store.unlink(fwd[0]!.pad)
    return null
  }

  private linkOf(pad: PadInfo, previous: PadInfo): SeriesLink {
    return {
      pad: pad.id,
      padTitle: pad.title,
      continues: previous.id,
      continuesTitle: previous.title,
      at: Date.now(),
    }
  }

  /** "LPC 2026, 2026-11-10": the previous meeting's event and day. */
  private contextOf(pad: PadInfo): string | null {
    const event: EventInfo | null = pad.event ? this.d.meetings.event(pad.event) : null
    const when = pad.startsAt ?? pad.createdAt
    const day = inZone(Date.parse(when), event?.timezone ?? 'UTC').date
    return [event?.name, day].filter(Boolean).join(', ') || null
  }
}
