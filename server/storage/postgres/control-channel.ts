/**
 * Control events between the servers of one database (../control-events.ts) over LISTEN/NOTIFY.
 *
 * - Publishing is `pg_notify` through the pool, after the change committed (PostgreSQL delivers a
 *   notification to listeners when the transaction that sent it commits; ours is its own
 *   statement). This process's handlers are called first, directly; the echo is skipped by the
 *   sender's id.
 * - Listening takes a dedicated connection (a pooled one would be handed to other work, and its
 *   LISTEN with it). When it drops (a database restart, a network cut, the backend terminated),
 *   it is opened again with backoff, and every (re)connect asks the handlers to re-check what the
 *   server holds: notifications sent while nobody listened are lost for good. A heartbeat query
 *   finds a connection that died without a reset, which TCP alone would notice only hours later.
 * - Nothing here throws at its caller or ends the process: errors are logged.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { Logger } from '../../ops/logger.ts'
import { decodeControl, encodeControl } from '../control-codec.ts'
import {
  type ControlEvent,
  type ControlEvents,
  type ControlHandler,
  deliver,
  resyncAll,
} from '../control-events.ts'
import { CONNECT_TIMEOUT_MS, type PgPool } from './pool.ts'

/** The one channel of the installation (a database serves one installation). */
export const CONTROL_CHANNEL = 'summitpad_control'

/** First wait before reconnecting the listener; doubled after each failure, up to the maximum. */
export const LISTEN_RETRY_MIN_MS = 100
/** A database that stays down is tried this often: servers catch up within this of its return. */
export const LISTEN_RETRY_MAX_MS = 5_000

/**
 * How often the idle listening connection is asked `SELECT 1`: a connection cut without a reset
 * (a firewall dropping state, a host gone) is found within about twice this, then reopened and
 * everything re-checked.
 */
export const LISTEN_HEARTBEAT_MS = 15_000

/**
 * Every loaded pad and link socket is also re-checked this often while connected: a change whose
 * notification was lost although this listener stayed up (its server died between COMMIT and
 * NOTIFY, or the NOTIFY failed) is applied within this long. The cost is one small read per
 * loaded pad (and per pad opened with a link) a minute.
 */
export const CONTROL_RECHECK_MS = 60_000

/** A heartbeat not answered within this is a dead connection. */
const HEARTBEAT_TIMEOUT_MS = 10_000

export interface PgControlOptions {
  pool: PgPool
  connectionString: string
  /** Extra session settings (the pool's `sessionOptions`), e.g. a search_path. */
  sessionOptions?: string
  log?: Logger
  /** This server's id on the channel (a random UUID when absent). */
  serverId?: string
  /** CONTROL_RECHECK_MS unless given (tests). */
  recheckMs?: number
  /** LISTEN_HEARTBEAT_MS unless given (tests); a heartbeat is also given this long to answer. */
  heartbeatMs?: number
}

export class PgControlEvents implements ControlEvents {
  readonly serverId: string
  private readonly options: PgControlOptions
  private readonly handlers: ControlHandler[] = []
  private client: pg.Client | null = null
  /** `client` once its LISTEN succeeded (until it is lost). */
  private listening: pg.Client | null = null
  private retryMs = LISTEN_RETRY_MIN_MS
  private retryTimer: NodeJS.Timeout | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private recheck: NodeJS.Timeout | null = null
  /** A re-check running now (reconnect or periodic): another one waits for it instead of piling up. */
  private rechecking: Promise<void> | null = null
  private started: Promise<void> | null = null
  private closed = false

  constructor(options: PgControlOptions) {
    this.options = options
    this.serverId = options.serverId ?? randomUUID()
  }

  /** The listening connection's backend process id (tests cut it with pg_terminate_backend), or null. */
  get listenerPid(): number | null {
    return (this.listening as unknown as { processID?: number } | null)?.processID ?? null
  }

  async publish(events: readonly ControlEvent[]): Promise<void> {
    if (this.closed || events.length === 0) return
    for (const event of events) await deliver(this.handlers, event, this.options.log)
    try {
      // One statement for all of them (an event's deletion announces each of its pads).
      await this.options.pool.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
        CONTROL_CHANNEL,
        events.map((event) => encodeControl(this.serverId, event)),
      ])
    } catch (err) {
      // The other servers re-check when their own connection comes back; if theirs never dropped,
      // they miss this one (docs/postgres.md says what remains).
      this.options.log?.error({ err, events }, 'control events could not be sent to the other servers')
    }
  }

  subscribe(handler: ControlHandler): Promise<void> {
    this.handlers.push(handler)
    if (!this.started) {
      this.started = this.connect()
      this.recheck = setInterval(() => {
        // Not listening: the reconnect re-checks everything anyway.
        if (this.listening && !this.rechecking) void this.resync()
      }, this.options.recheckMs ?? CONTROL_RECHECK_MS)
      this.recheck.unref()
    }
    return this.started
  }

  async close(): Promise<void> {
    this.closed = true
    this.handlers.length = 0
    if (this.retryTimer) clearTimeout(this.retryTimer)
    if (this.recheck) clearInterval(this.recheck)
    this.stopHeartbeat()
    const client = this.client
    this.client = null
    this.listening = null
    if (client) await endClient(client)
  }

  /** One attempt: connect, LISTEN, then re-check everything. A failure schedules the next one. */
  private async connect(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'summitpad-control',
      options: this.options.sessionOptions,
    })
    // Registered before connecting: an unhandled 'error' would end the process.
    client.on('error', (err) => this.lost(client, err))
    client.on('end', () => this.lost(client, null))
    client.on('notification', (message) => {
      if (message.channel === CONTROL_CHANNEL) void this.received(message.payload ?? '')
    })
    this.client = client
    try {
      await client.connect()
      await client.query(`LISTEN ${CONTROL_CHANNEL}`)
    } catch (err) {
      this.lost(client, err)
      return
    }
    if (this.client !== client || this.closed) return
    this.listening = client
    this.retryMs = LISTEN_RETRY_MIN_MS
    this.startHeartbeat(client)
    this.options.log?.info({ pid: this.listenerPid }, 'listening for control events')
    await this.resync()
  }

  /** Re-checks everything held; one at a time (a reconnect's waits for a periodic one to end first). */
  private async resync(): Promise<void> {
    while (this.rechecking) await this.rechecking
    this.rechecking = resyncAll(this.handlers, this.options.log).finally(() => {
      this.rechecking = null
    })
    return this.rechecking
  }

  private async received(payload: string): Promise<void> {
    const message = decodeControl(payload)
    if (!message) {
      this.options.log?.warn(
        { payload: payload.slice(0, 200) },
        'ignored a message on the control channel that is not a control event',
      )
      return
    }
    // Applied when this server published it.
    if (message.from === this.serverId) return
    await deliver(this.handlers, message.event, this.options.log)
  }

  /** The listening connection failed or ended: drop it and try again later (once per connection). */
  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return
    this.client = null
    this.listening = null
    this.stopHeartbeat()
    void endClient(client)
    if (this.closed) return
    this.options.log?.warn(
      { err, retryInMs: this.retryMs },
      'the control channel to PostgreSQL dropped; reconnecting',
    )
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.connect()
    }, this.retryMs)
    this.retryTimer.unref()
    this.retryMs = Math.min(this.retryMs * 2, LISTEN_RETRY_MAX_MS)
  }

  private startHeartbeat(client: pg.Client): void {
    this.stopHeartbeat()
    this.heartbeat = setInterval(() => {
      let answered = false
      const timeout = setTimeout(() => {
        if (!answered) this.lost(client, new Error('the control channel did not answer its heartbeat'))
      }, this.options.heartbeatMs ?? HEARTBEAT_TIMEOUT_MS)
      timeout.unref()
      client.query('SELECT 1').then(
        () => {
          answered = true
          clearTimeout(timeout)
        },
        (err) => {
          answered = true
          clearTimeout(timeout)
          this.lost(client, err)
        },
      )
    }, this.options.heartbeatMs ?? LISTEN_HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.heartbeat = null
  }
}

/** A connection that has not ended after this long (a silent network) is dropped without its goodbye. */
const END_TIMEOUT_MS = 1_000

/** Ends `client`, bounded in time: shutdown never waits on a database that does not answer. */
async function endClient(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const ended = await Promise.race([
    client.end().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), END_TIMEOUT_MS)
    }),
  ])
  clearTimeout(timer)
  // Not public in pg's types: the socket under the client.
  if (!ended)
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
}
