/**
 * MAX_NEW_PADS_PER_IP_PER_MINUTE, on one server or several sharing a database. Distinct pads per
 * address in a sliding minute (sync/limits.ts PerMinuteCounter) counted here; with a shared
 * database (storage/live-counts.ts) every server's count together:
 *
 * - at the HTTP doors (new-pad-gate.ts), which can wait, one atomic check in the database: servers
 *   asked at once never admit more than the limit between them. If the database does not answer
 *   within NEW_PAD_CHECK_TIMEOUT_MS the check falls back to the socket rule below: creating a
 *   meeting's pad must not depend on a bookkeeping table, and each server's own count still holds.
 * - for a socket's first content, which is on the sync path and cannot wait: this server's count
 *   plus the others' as of the last publish round (sync/shared-counts.ts), then the pad recorded
 *   for them in the background. The others learn of it within two rounds; that is the overshoot.
 */
import type { Logger } from '../ops/logger.ts'
import type { LiveCounts } from '../storage/live-counts.ts'
import { PerMinuteCounter } from '../sync/limits.ts'

/** The shared check's longest wait before this server decides alone (a request must not hang). */
export const NEW_PAD_CHECK_TIMEOUT_MS = 1_000

/**
 * Background records of sockets' new pads waiting for the database at once: past this (a database
 * that stopped answering) further records are dropped; the others then count fewer for a minute.
 */
export const MAX_RECORDS_IN_FLIGHT = 100

export interface NewPadLimitOptions {
  max: number
  log: Logger
  /** The database the servers share; absent on one server (SQLite): the local count is all. */
  shared?: Pick<LiveCounts, 'admitNewPad' | 'recordNewPad'>
  /** New pads the address made on other servers this minute, as last read (shared-counts.ts). */
  elsewhere?: (ip: string) => number
}

export class NewPadLimit {
  private readonly options: NewPadLimitOptions
  private readonly local: PerMinuteCounter
  private recordsInFlight = 0

  constructor(options: NewPadLimitOptions) {
    this.options = options
    this.local = new PerMinuteCounter(options.max)
  }

  /** A socket's first content in pad `key`: decided now, from what this server knows. */
  mayCreate(ip: string, key: string): boolean {
    if (!this.local.tryHit(ip, key, this.options.elsewhere?.(ip) ?? 0)) return false
    this.record(ip, key)
    return true
  }

  /** A new pad over HTTP (`key` its own): the shared count's answer, or this server's when it is late. */
  async admit(ip: string, key: string): Promise<boolean> {
    const shared = this.options.shared
    if (!shared) return this.local.tryHit(ip, key)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), NEW_PAD_CHECK_TIMEOUT_MS)
    })
    const answer = await Promise.race([
      shared.admitNewPad(ip, key, this.options.max).catch((err: unknown) => {
        this.options.log.warn({ err }, 'the shared new-pad count failed; this server decides alone')
        return 'failed' as const
      }),
      late,
    ]).finally(() => clearTimeout(timer))
    if (answer === true) this.local.add(ip, key)
    if (typeof answer === 'boolean') return answer
    return this.mayCreate(ip, key)
  }

  private record(ip: string, key: string): void {
    const shared = this.options.shared
    if (!shared || this.recordsInFlight >= MAX_RECORDS_IN_FLIGHT) return
    this.recordsInFlight++
    shared
      .recordNewPad(ip, key)
      .catch((err: unknown) =>
        this.options.log.debug({ err }, 'could not record a new pad for the other servers'),
      )
      .finally(() => {
        this.recordsInFlight--
      })
  }
}
