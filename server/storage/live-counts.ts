/**
 * What several servers on one database tell each other about their live sockets, so that the
 * event page's head counts and the per-address limits add up across them (README, "Running
 * several servers"). Each server publishes its own numbers every LIVE_COUNTS_PUBLISH_MS and
 * reads the others'; a server's numbers older than LIVE_COUNTS_STALE_MS count for nothing, so
 * a killed server's people and sockets vanish from the totals by themselves. New pads are counted
 * per address in one shared window instead, atomically where the caller can wait (HTTP).
 *
 * An engine one process owns (SQLite) has nothing to share and no `liveCounts` (storage.ts):
 * its local counters are the whole truth. Nothing here is on the path of a keystroke or a
 * socket's admission: those read what the last publish brought back (sync/shared-counts.ts).
 */

/**
 * How often a server publishes. Also how late the others learn of its sockets: the per-address
 * limits can be passed by what other servers admitted in the last two rounds (theirs and ours).
 */
export const LIVE_COUNTS_PUBLISH_MS = 2_000

/**
 * A server's numbers this old are ignored (and deleted by the next publish of anyone): three
 * rounds, so one slow round or a missed one does not make a busy server's people disappear.
 */
export const LIVE_COUNTS_STALE_MS = 3 * LIVE_COUNTS_PUBLISH_MS

/**
 * A read for the event page waits this long at most; then the page shows this server's counts
 * only (a head count may be low for one refresh, the page never hangs on it).
 */
export const LIVE_COUNTS_READ_TIMEOUT_MS = 1_000

/**
 * Names published per pad: the event page shows them as a tooltip, and a keynote's pad may have
 * hundreds of viewers (the count stays exact).
 */
export const LIVE_COUNTS_MAX_NAMES = 50

/** The people on one pad of one server: sockets (count) and the names they gave. */
export interface PadPeople {
  count: number
  names: readonly string[]
}

/** One client address elsewhere: its open sockets, and the pads it created in the last minute. */
export interface AddressLoad {
  sockets: number
  newPads: number
}

/** Everything one server publishes: people per pad, open sockets per client address (none at 0). */
export interface ServerLoad {
  pads: ReadonlyMap<string, PadPeople>
  sockets: ReadonlyMap<string, number>
}

/**
 * The window of the new-pads limit (MAX_NEW_PADS_PER_IP_PER_MINUTE): a pad counts against its
 * address for this long after it was created, on every server.
 */
export const NEW_PADS_WINDOW_MS = 60_000

export interface LiveCounts {
  /**
   * Replaces this server's published numbers with `load`, in one operation, and answers per
   * address what the others have: the sockets they published within LIVE_COUNTS_STALE_MS, and
   * the pads counted for it by any other server within NEW_PADS_WINDOW_MS (a server that died
   * since still made them). Rejects when the database cannot be reached (the caller keeps
   * counting locally).
   */
  publish(load: ServerLoad): Promise<ReadonlyMap<string, AddressLoad>>
  /**
   * Counts the new pad `key` for `address`, unless `max` pads are counted for it within
   * NEW_PADS_WINDOW_MS on all servers together: atomic, so servers asked at once never admit
   * more than `max` between them. A key counted already is admitted again (one pad, many
   * sockets). Rejects when the database cannot be reached.
   */
  admitNewPad(address: string, key: string, max: number): Promise<boolean>
  /**
   * Counts a new pad this server admitted without asking (a socket's first content, which cannot
   * wait for the database), so that the others count it from their next publish on.
   */
  recordNewPad(address: string, key: string): Promise<void>
  /**
   * The people the other servers published on these pads (fresh only), summed per pad. Never
   * rejects and answers within LIVE_COUNTS_READ_TIMEOUT_MS: a failure or a late answer is an
   * empty map.
   */
  padsElsewhere(padIds: readonly string[]): Promise<ReadonlyMap<string, PadPeople>>
  /** Removes this server's numbers (a graceful shutdown), so they do not linger until stale. */
  withdraw(): Promise<void>
}
