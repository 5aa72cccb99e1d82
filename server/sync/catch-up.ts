/**
 * The catch-up poll: when several servers share one database (PostgreSQL), two of them can hold
 * the same pad at once (a failover, a balancer reload, a returning server, a forced split). A room
 * sees the other server's rows at its own next commit (Room.committed); one whose people only
 * read would never commit, so every round this asks the log for the heads of the pads loaded here
 * with people in them, in one read, and has each room that is behind catch up (Room.catchUp).
 * SQLite is one process: its server runs no poll.
 *
 * One round at a time, the next one scheduled when it ends; a failed round is logged and the next
 * one tries again. `stop` (shutdown) waits for the round running.
 */
import type { Logger } from '../ops/logger.ts'
import type { PadLog } from '../storage/pad-log.ts'
import type { Room } from './room.ts'

/**
 * Between two rounds. Clients on two servers holding one pad converge within a couple of seconds
 * (issue 25): the edits of the other server's people reach a reader here within this plus a read,
 * and a round costs the database one index lookup per loaded pad with people in it.
 */
export const CATCH_UP_POLL_MS = 500
/** Pads whose heads one round reads at most (one query); with more, rounds take turns through them. */
export const MAX_PADS_PER_ROUND = 1000
/** Rooms catching up at once in a round: each is a read or two; a few at a time keep the pool free. */
const CATCH_UPS_AT_ONCE = 4

export interface CatchUpPollOptions {
  store: PadLog
  log: Logger
  /** The rooms loaded now that have people in them. */
  rooms: () => Room[]
  everyMs?: number
}

export class CatchUpPoll {
  private readonly options: CatchUpPollOptions
  private timer: NodeJS.Timeout | null = null
  private round: Promise<void> | null = null
  private stopped = false
  /** Where the next round starts among the rooms, when there are more than a round reads. */
  private cursor = 0

  constructor(options: CatchUpPollOptions) {
    this.options = options
  }

  start(): void {
    if (this.stopped || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.round = this.runRound().finally(() => {
        this.round = null
        this.start()
      })
    }, this.options.everyMs ?? CATCH_UP_POLL_MS)
    // A poll alone never keeps the process up (the CLI builds rooms too).
    this.timer.unref()
  }

  /** Stops polling; resolves once the round running (if any) is done. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.round
  }

  /** One round: the heads of (up to MAX_PADS_PER_ROUND) pads, then a catch-up of those behind. */
  async runRound(): Promise<void> {
    try {
      const all = this.options.rooms()
      if (all.length === 0) return
      this.cursor %= all.length
      const rooms = [...all.slice(this.cursor), ...all.slice(0, this.cursor)].slice(0, MAX_PADS_PER_ROUND)
      this.cursor += rooms.length
      const heads = await this.options.store.heads(rooms.map((room) => room.padId))
      const behind = rooms.filter((room) => (heads.get(room.padId) ?? 0) > room.appliedUpTo)
      for (let i = 0; i < behind.length && !this.stopped; i += CATCH_UPS_AT_ONCE)
        await Promise.all(behind.slice(i, i + CATCH_UPS_AT_ONCE).map((room) => room.catchUp()))
    } catch (err) {
      this.options.log.warn({ err }, 'could not read the heads of the loaded pads; trying again next round')
    }
  }
}
