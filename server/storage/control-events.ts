/**
 * Control events: the changes another server holding the same pads must apply to its live state
 * (a deleted pad's sockets closed, a closed session read-only, a rotated link's sockets cut off),
 * as an engine-neutral interface of the storage. They only say what to re-check: the data stays
 * in the store, and whoever applies an event reads the truth from there. A server that was not
 * listening for a while (its connection to the database dropped) is told to re-check everything
 * it holds (`resync`), because what was published meanwhile is lost.
 *
 * `LocalControlEvents` is SQLite's and the in-memory engine's: one process, so delivery is to this
 * process's own handlers, by the same path as PostgreSQL's (postgres/control-channel.ts), which
 * also reaches the other servers.
 */
import type { Logger } from '../ops/logger.ts'
import type { LinkKind } from './links-store.ts'

export type ControlEvent =
  /** The pad and everything of it were deleted: its sockets are closed for good. */
  | { type: 'pad-deleted'; padId: string }
  /** The session was closed or reopened: read its closed flag again. */
  | { type: 'session-changed'; padId: string }
  /** The pad was filed under another event (or none): links of the old event no longer open it. */
  | { type: 'pad-moved'; padId: string }
  /** An event's link was replaced: sockets that came in with the old one are cut off. */
  | { type: 'link-rotated'; eventPk: number; link: LinkKind }

export interface ControlHandler {
  /** An event published by any server, this one's included. Errors are logged, never thrown. */
  event(event: ControlEvent): Promise<void>
  /**
   * Events may have been missed (the channel was down, or just came up): re-check everything
   * this server holds against the store.
   */
  resync(): Promise<void>
}

export interface ControlEvents {
  /**
   * Tells every server (this one first, then the others) about changes that have committed.
   * Never rejects: a failure is logged, and the servers that missed it re-check on reconnecting.
   */
  publish(events: readonly ControlEvent[]): Promise<void>
  /**
   * Delivers every event (and every resync) to `handler` from now on. Resolves once listening
   * (or, if the database does not answer, after the first attempt; it keeps trying meanwhile).
   */
  subscribe(handler: ControlHandler): Promise<void>
  /** Stops listening; nothing is delivered afterwards. */
  close(): Promise<void>
}

/** Calls every handler with `event`, one after the other; a handler's error is logged, not thrown. */
export async function deliver(
  handlers: readonly ControlHandler[],
  event: ControlEvent,
  log: Logger | undefined,
): Promise<void> {
  for (const handler of handlers) {
    try {
      await handler.event(event)
    } catch (err) {
      log?.error({ err, event }, 'a control event could not be applied')
    }
  }
}

/** Calls every handler's resync; errors are logged, not thrown. */
export async function resyncAll(handlers: readonly ControlHandler[], log: Logger | undefined): Promise<void> {
  for (const handler of handlers) {
    try {
      await handler.resync()
    } catch (err) {
      log?.error({ err }, 'the re-check of pads after a reconnect failed')
    }
  }
}

/** One process (SQLite, memory): an event reaches this process's handlers only. */
export class LocalControlEvents implements ControlEvents {
  private readonly handlers: ControlHandler[] = []
  private readonly log: Logger | undefined
  private closed = false

  constructor(log?: Logger) {
    this.log = log
  }

  async publish(events: readonly ControlEvent[]): Promise<void> {
    if (this.closed) return
    for (const event of events) await deliver(this.handlers, event, this.log)
  }

  async subscribe(handler: ControlHandler): Promise<void> {
    this.handlers.push(handler)
  }

  async close(): Promise<void> {
    this.closed = true
    this.handlers.length = 0
  }
}
