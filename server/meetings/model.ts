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

export interface PadLink {
  title: string | null
  url: string
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
