/**
 * What this server publishes for the others on the same database (storage/live-counts.ts): the
 * people on each pad it holds, and per client address its open sockets. Read from the live
 * structures as they are, once per publish round.
 */
import type { Meetings } from '../meetings/meetings.ts'
import { LIVE_COUNTS_MAX_NAMES, type PadPeople, type ServerLoad } from '../storage/live-counts.ts'
import type { Rooms } from './rooms.ts'
import type { SyncEndpoint } from './sync-endpoint.ts'

export function liveLoad(
  rooms: Rooms,
  meetings: Pick<Meetings, 'presence'>,
  endpoint: Pick<SyncEndpoint, 'socketsByAddress'>,
): ServerLoad {
  const pads = new Map<string, PadPeople>()
  for (const padId of rooms.padIds()) {
    const { count, people } = meetings.presence(padId)
    // A room kept loaded for a while after its last person left has nobody to count.
    if (count > 0) pads.set(padId, { count, names: people.slice(0, LIVE_COUNTS_MAX_NAMES) })
  }
  return { pads, sockets: new Map(endpoint.socketsByAddress()) }
}
