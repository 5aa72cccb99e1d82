/**
 * This server's side of the live counts several servers share (storage/live-counts.ts): every
 * LIVE_COUNTS_PUBLISH_MS it publishes its people per pad and sockets per address, and keeps what
 * the others have per address (sockets, new pads this minute), so that a socket's admission and
 * a socket's new pad add the other servers' share to the local count without waiting for the
 * database.
 *
 * The bound: a check sees the others as of their last publish, read at our last publish, so the
 * total can pass a limit by what the other servers admitted in the last two rounds. Without a
 * database the others' share is taken as 0 once it is LIVE_COUNTS_STALE_MS old: the limits fail
 * open to this server's own count (each server still caps its own share), because refusing a
 * venue's sockets for want of a head count would take the meeting down with the database.
 */

import type { Logger } from '../ops/logger.ts'
import {
  type AddressLoad,
  LIVE_COUNTS_PUBLISH_MS,
  LIVE_COUNTS_STALE_MS,
  type LiveCounts,
  type ServerLoad,
} from '../storage/live-counts.ts'

/** A graceful shutdown waits this long for its numbers to be removed, then leaves them to go stale. */
export const WITHDRAW_TIMEOUT_MS = 2_000

const NOTHING: AddressLoad = { sockets: 0, newPads: 0 }

export interface SharedCountsOptions {
  store: LiveCounts
  log: Logger
}

export class SharedCounts {
  private readonly options: SharedCountsOptions
  private elsewhere: ReadonlyMap<string, AddressLoad> = new Map()
  /** When `elsewhere` was read (this machine's clock), 0 before the first round. */
  private readAt = 0
  private timer: NodeJS.Timeout | null = null
  /** What this server has now (called once per round). */
  private collect: () => ServerLoad = () => ({ pads: new Map(), sockets: new Map() })
  private round: Promise<void> | null = null
  /** Whether the last round failed: a database outage is logged once, not every round. */
  private failing = false

  constructor(options: SharedCountsOptions) {
    this.options = options
  }

  /**
   * Publishes what `collect` says now and then every LIVE_COUNTS_PUBLISH_MS, until `stop`. Given
   * here, not at construction: the counts come from the sync endpoint, which is built after the
   * checks that read `of`.
   */
  start(collect: () => ServerLoad): void {
    this.collect = collect
    this.publish()
    this.timer = setInterval(() => this.publish(), LIVE_COUNTS_PUBLISH_MS)
    this.timer.unref()
  }

  /** What `ip` has on the other servers, as last read; nothing once that is stale. */
  of(ip: string, now = Date.now()): AddressLoad {
    if (now - this.readAt > LIVE_COUNTS_STALE_MS) return NOTHING
    return this.elsewhere.get(ip) ?? NOTHING
  }

  /**
   * Stops publishing and removes this server's numbers, after the round in flight; bounded by
   * WITHDRAW_TIMEOUT_MS in all (a dead database cannot hold a shutdown: the numbers go stale).
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const withdrawn = Promise.resolve(this.round)
      .then(() => this.options.store.withdraw())
      .catch((err: unknown) => {
        this.options.log.warn({ err }, 'could not remove this server from the live counts; they go stale')
      })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      withdrawn,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, WITHDRAW_TIMEOUT_MS)
      }),
    ])
    clearTimeout(timer)
  }

  private publish(): void {
    // A round still running (a slow database) is not doubled up on.
    if (this.round) return
    const load = this.collect()
    this.round = this.options.store
      .publish(load)
      .then(
        (elsewhere) => {
          this.elsewhere = elsewhere
          this.readAt = Date.now()
          if (this.failing) this.options.log.info('live counts published again')
          this.failing = false
        },
        (err: unknown) => {
          if (!this.failing)
            this.options.log.warn(
              { err },
              "could not publish live counts; per-address limits count this server's sockets only until it can",
            )
          this.failing = true
        },
      )
      .finally(() => {
        this.round = null
      })
  }
}
