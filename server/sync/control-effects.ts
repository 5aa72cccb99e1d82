/**
 * What a control event (storage/control-events.ts) changes on this server: the live rooms and the
 * sockets that hold them. The same for an event this server published and one from another
 * server, so each effect is idempotent, and for a re-check after the channel was down (events
 * lost meanwhile): every loaded pad and every socket opened with a link is compared with the
 * store, which is the truth; the events only say where to look.
 */
import { linkStillOpens, type Via } from '../access/access.ts'
import type { EventSecrets } from '../access/event-links.ts'
import type { Logger } from '../ops/logger.ts'
import type { ControlEvent, ControlHandler } from '../storage/control-events.ts'
import { CLOSE_FORBIDDEN, CLOSE_PAD_DELETED, CLOSE_UNAUTHORIZED } from './close-codes.ts'
import type { Rooms } from './rooms.ts'
import type { LiveGrant } from './sync-endpoint.ts'

/** What the effects need of the sync endpoint: the sockets opened with a link. */
export interface LinkedSockets {
  padsOpenedByLink(): Set<string>
  closeWhere(matches: (grant: LiveGrant) => boolean, code: number, reason: string): number
}

export interface ControlEffectsOptions {
  rooms: Rooms
  sockets: LinkedSockets
  /** The pad's stored state (history log): null when not stored (deleted, or not yet created). */
  padState(padId: string): Promise<{ closedAt: number | null } | null>
  /** The current secrets of the event the pad is filed under; null for an unfiled or unknown pad. */
  linksOfPad(padId: string): Promise<EventSecrets | null>
  log: Logger
}

const PAD_DELETED = 'pad deleted'
const LINK_REPLACED = 'this link was replaced by the organisers'
const PAD_MOVED = 'this pad moved to another event'

export function controlEffects(options: ControlEffectsOptions): ControlHandler {
  const { rooms, sockets, log } = options

  /** The session's closed flag as stored, applied to the room unless it changed here meanwhile. */
  const recheckSession = async (padId: string): Promise<void> => {
    const room = rooms.get(padId)
    if (!room) return
    const before = room.isReadOnly
    const state = await options.padState(padId)
    // Closed or reopened here while we read: that newer change stands.
    if (state === null || rooms.get(padId) !== room || room.isReadOnly !== before) return
    const closed = state.closedAt !== null
    if (closed !== before) room.setReadOnly(closed)
  }

  /** Whoever came in with a link may not follow the pad into another event (or out of any). */
  const closeMoved = (padId: string, current: EventSecrets | null): void => {
    sockets.closeWhere(
      (grant) => grant.padId === padId && grant.via !== null && grant.via.eventPk !== current?.eventPk,
      CLOSE_FORBIDDEN,
      PAD_MOVED,
    )
  }

  /** Closes the sockets of `padId` whose link no longer opens it (the pad moved, or it was rotated). */
  const recheckLinks = async (padId: string): Promise<void> => {
    const current = await options.linksOfPad(padId)
    closeMoved(padId, current)
    const stale = (via: Via) => !linkStillOpens(via, current)
    sockets.closeWhere(
      (grant) => grant.padId === padId && grant.via !== null && stale(grant.via),
      CLOSE_UNAUTHORIZED,
      LINK_REPLACED,
    )
  }

  /** A loaded pad against the store: deleted meanwhile, or its session closed or reopened. */
  const recheckPad = async (padId: string): Promise<void> => {
    const room = rooms.get(padId)
    if (!room) return
    const state = await options.padState(padId)
    // Not stored and never was here: a new pad someone opened, not a deleted one.
    if (state === null && room.hasStoredRows && rooms.get(padId) === room) {
      log.info({ pad: padId }, 'a pad held here was deleted meanwhile')
      rooms.closePad(padId, CLOSE_PAD_DELETED, PAD_DELETED)
      return
    }
    await recheckSession(padId)
  }

  const apply = async (event: ControlEvent): Promise<void> => {
    switch (event.type) {
      case 'pad-deleted':
        rooms.closePad(event.padId, CLOSE_PAD_DELETED, PAD_DELETED)
        return
      case 'session-changed':
        return recheckSession(event.padId)
      case 'pad-moved':
        return closeMoved(event.padId, await options.linksOfPad(event.padId))
      case 'link-rotated': {
        const n = sockets.closeWhere(
          (grant) => grant.via?.eventPk === event.eventPk && grant.via.link === event.link,
          CLOSE_UNAUTHORIZED,
          LINK_REPLACED,
        )
        log.info({ eventPk: event.eventPk, link: event.link, socketsClosed: n }, 'event link rotated')
        return
      }
      default: {
        const never: never = event
        throw new Error(`unknown control event ${JSON.stringify(never)}`)
      }
    }
  }

  return {
    event: apply,
    async resync() {
      // Pads first: a deleted pad's sockets are closed as deleted (4410), not as moved (4403) by
      // the links' check, which finds no event for it.
      const pads = await Promise.allSettled(rooms.padIds().map(recheckPad))
      const links = await Promise.allSettled([...sockets.padsOpenedByLink()].map(recheckLinks))
      const failed = [...pads, ...links].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
      if (failed.length > 0)
        throw new AggregateError(failed, `${failed.length} re-checks of held pads failed`)
    },
  }
}
