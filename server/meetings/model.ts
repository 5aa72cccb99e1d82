/** The meetings model as the API returns it: events and the pads (sessions) they hold. */

export const PAD_KINDS = ['mini-summit', 'bof', 'talk', 'meeting'] as const
export type PadKind = (typeof PAD_KINDS)[number]

export interface EventInfo {
  slug: string
  name: string
  /** YYYY-MM-DD, in the event's time zone. */
  startsOn: string | null
  endsOn: string | null
  /** IANA time zone, e.g. "Europe/Prague". */
  timezone: string
  description: string | null
  createdAt: string
  updatedAt: string
}

/** What a session's link is: its talk page, slides, paper, recording, or something else. */
export const MATERIAL_KINDS = ['talk', 'slides', 'paper', 'recording', 'other'] as const
export type MaterialKind = (typeof MATERIAL_KINDS)[number]

export interface PadLink {
  title: string | null
  url: string
  /** Set by the schedule readers; links stored before materials have none (sorted on reading). */
  kind?: MaterialKind
}

/** A session's material as shown: a schedule link or one added by hand. */
export interface Material {
  kind: MaterialKind
  title: string | null
  url: string
  /** 'schedule': comes and goes with re-imports; 'hand': added on the event page or by the API. */
  source: 'schedule' | 'hand'
}

export interface PadInfo {
  id: string
  /** Null for a pad opened by a bare websocket name and never given one. */
  title: string | null
  kind: PadKind | null
  /** Slug of the event it belongs to; null = unfiled. */
  event: string | null
  track: string | null
  room: string | null
  /** ISO 8601, UTC. */
  startsAt: string | null
  endsAt: string | null
  speakers: string[]
  links: PadLink[]
  cancelled: boolean
  /** When the session was closed (read-only, minutes final); null while open. */
  closedAt: string | null
  /** The schedule's key (iCal UID, JSON id) when imported. */
  sourceUid: string | null
  createdAt: string
  updatedAt: string
}
