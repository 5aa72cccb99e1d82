/**
 * One client's websocket, from the upgrade on: its frames wait until it is authorised, then it is
 * attached to one room: decodes each frame into a typed message and hands it to the room, strictly
 * in arrival order: while the room's answer to a frame waits (a step 2 for the commit of what it
 * holds), later frames wait behind it. Any bad frame closes this socket —
 * with a close code and a reason the client can read, and one log line — and affects no one else.
 */
import { randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'
import { decodeMessage } from '../../shared/protocol.ts'
import type { Logger } from '../ops/logger.ts'
import { type CountedSocket, frameRejectReason, type SyncMetrics, wsErrorReason } from '../ops/metrics.ts'
import { CLOSE, CLOSE_POLICY, CLOSE_SLOW_READER } from './close-codes.ts'
import type { TokenBucket } from './limits.ts'
import type { Peer, Refusal } from './peer.ts'
import type { Answer, Room } from './room.ts'
import type { WriterHash } from './writer-key.ts'

/** Close reasons are limited to 123 bytes by RFC 6455. */
const MAX_REASON_BYTES = 123

function clipReason(reason: string): string {
  const buf = Buffer.from(reason)
  if (buf.length <= MAX_REASON_BYTES) return reason
  return (
    buf
      .subarray(0, MAX_REASON_BYTES - 3)
      .toString('utf8')
      .replace(/\uFFFD$/, '') + '...'
  )
}

export interface RateLimit {
  /** The per-socket token bucket's setting (messageRate per second, messageBurst). */
  bucket: TokenBucket
  throttleCloseMs: number
}

/**
 * What every connection of one endpoint shares: one object, not a copy in each connection.
 */
export interface ConnectionHost {
  readonly log: Logger
  readonly metrics: SyncMetrics | undefined
  readonly rate: RateLimit
  /**
   * Bytes a socket may have waiting to be sent (see `send`): more than one whole-pad frame, which
   * a reconnecting reader is owed at once.
   */
  readonly maxSendBufferBytes: number
  /**
   * A socket with more than UNSENT_PAUSE_BYTES unsent whose buffer has not shrunk for this long is
   * not reading at all: it is closed with CLOSE_SLOW_READER.
   */
  readonly stalledReaderCloseMs: number
  /** Frames a socket may send before it is authorised (the stock client sends two at once). */
  readonly maxPreAuthMessages: number
  /** The socket closed: give back what the endpoint holds for it. Called once per connection. */
  closed(connection: Connection): void
}

/**
 * The server's websocket class (ws' `WebSocket` option): two fields more, so that the listeners
 * below can be one function for every socket, finding their connection here, instead of two to
 * four closures per socket.
 */
export class SyncSocket extends WebSocket {
  connection: Connection | null = null
  /** Answered since the last ping: a pong proves the peer is there. */
  alive = true
}

// The socket's listeners, called by ws with the socket as `this` (typed as a plain WebSocket by
// @types/ws; ours are all SyncSockets). One listener per event: a second one turns the emitter's
// function into an array.
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  ;(this as SyncSocket).connection?.admit(data, isBinary)
}
function onClose(this: WebSocket): void {
  ;(this as SyncSocket).connection?.socketClosed()
}
// An unhandled 'error' event on a socket would crash the process (e.g. a frame over maxPayload).
function onError(this: WebSocket, err: Error): void {
  ;(this as SyncSocket).connection?.socketError(err)
}
function onPong(this: WebSocket): void {
  ;(this as SyncSocket).alive = true
}

/**
 * Frames already received while the socket is throttled wait here (we stop reading the socket,
 * so only what was in flight arrives). More than this is a flood, not a burst.
 */
const MAX_BACKLOG = 5000

/**
 * Past this many bytes unsent, a socket's own frames wait until it has read what it was sent.
 * Hours of minutes are a few hundred KiB, so a reader holding more than 1 MiB it has not taken is
 * either loading a big pad (and has nothing to ask meanwhile) or asking without reading: each
 * answer would only queue here, in this process' memory. Other people's edits are still sent to
 * it, up to `maxSendBufferBytes`.
 */
export const UNSENT_PAUSE_BYTES = 1024 * 1024

/** How often a socket waiting for its reader looks again (no event says its buffer shrank). */
const BEHIND_POLL_MS = 100

/**
 * Answers a socket asks for again — a repeated sync step 1, a query-awareness — cost it one
 * message token per this many bytes, beyond the token of the frame: asking for a 114 KB pad 290
 * times a second empties the socket's bucket (and the socket is slowed, then closed) instead of
 * making the server send 33 MB/s. An editor's save check (a step 1 answered with the little it
 * lacks) costs one or two.
 */
export const ANSWER_BYTES_PER_TOKEN = 1024

export class Connection implements Peer {
  readonly ip: string
  readonly ws: SyncSocket
  /** The TCP socket under `ws`, for the metrics' byte counts; null where there is none. */
  readonly tcp: CountedSocket | null
  readOnly = false
  /** Its writer key's hash (from the URL at upgrade); 'invalid' is refused before it joins. */
  readonly writer: WriterHash | null
  private readonly host: ConnectionHost
  /** The pad id until the socket is authorised, then its room (one field: sockets are many). */
  private pad: string | Room
  /** Made on first use: most sockets never write an update or a log line. */
  private idOrNull: string | null = null
  /** Its token bucket: see TokenBucket (0 = full). */
  private due = 0
  /**
   * Frames waiting, in order: until the socket is authorised, or while it is throttled. Null when
   * none (most of the time, for most sockets).
   */
  private backlog: [Buffer, boolean][] | null = null
  /** Start of the current flood episode (sending above the rate), or null. */
  private throttledSince: number | null = null
  /** Whether we stopped reading the socket. */
  private paused = false
  private drainTimer: NodeJS.Timeout | null = null
  private closed = false
  /**
   * The peer closed its socket while frames it sent were still waiting in the backlog: those are
   * edits it believes sent, so they are still handled, at the same rate (closing must not be a
   * way around the limit), before the connection lets go of its room and its address's slot.
   */
  private peerGone = false
  /** Step 1 messages received: the first one is the handshake, later ones are save checks. */
  private step1Count = 0
  /** Bytes handed to the socket so far (what an answer cost is the difference). */
  private sentBytes = 0
  /** Since when its unsent bytes have not shrunk while over UNSENT_PAUSE_BYTES, or null. */
  private stalledSince: number | null = null
  private lastBuffered = 0
  /** The room's answer to a frame is pending: later frames wait in the backlog, in order. */
  private waiting = false

  /** Takes over `ws` at once: frames that arrive before `join` wait (or close it, past the limit). */
  constructor(
    ws: SyncSocket,
    tcp: CountedSocket | null,
    ip: string,
    padId: string,
    writer: WriterHash | null,
    host: ConnectionHost,
  ) {
    this.writer = writer
    this.ws = ws
    this.tcp = tcp
    this.ip = ip
    this.pad = padId
    this.host = host
    ws.connection = this
    ws.on('message', onMessage)
    ws.on('close', onClose)
    ws.on('error', onError)
    ws.on('pong', onPong)
  }

  get id(): string {
    this.idOrNull ??= randomBytes(6).toString('hex')
    return this.idOrNull
  }

  get padId(): string {
    return typeof this.pad === 'string' ? this.pad : this.pad.padId
  }

  /** Authorised: joins `room` and handles the frames that arrived meanwhile, in order. */
  join(room: Room, readOnly: boolean): void {
    if (this.closed) return
    this.pad = room
    this.readOnly = readOnly
    const early = this.backlog
    this.backlog = null
    room.join(this)
    if (early) for (const [data, isBinary] of early) this.admit(data, isBinary)
  }

  /** Refuses the socket before it joins a room (authorisation said no, or took too long). */
  refuseEntry(code: number, reason: string, metric: string): void {
    if (this.closed) return
    this.host.metrics?.connectionRefused(metric)
    this.host.log.warn({ conn: this.id, pad: this.padId, code, reason }, 'refusing socket')
    this.close(code, reason)
  }

  get isClosed(): boolean {
    return this.closed
  }

  send(message: Uint8Array): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return
    // A laptop on bad Wi-Fi in a busy pad reads slower than the pad is written: everything queued
    // for it would sit in this process' memory until its ping fails. Past the bound it is dropped
    // at once (a close frame would wait behind the same queue); it reconnects and catches up.
    if (this.ws.bufferedAmount + message.byteLength > this.host.maxSendBufferBytes)
      return this.dropSlowReader()
    this.sentBytes += message.byteLength
    this.ws.send(message)
  }

  /** More unsent than UNSENT_PAUSE_BYTES: its own frames wait (see `waitForReader`). */
  private behind(): boolean {
    return !this.peerGone && this.ws.bufferedAmount > UNSENT_PAUSE_BYTES
  }

  /**
   * Stops serving the socket until it has read what it was sent: looks again shortly, and closes
   * it once its buffer has not shrunk for `stalledReaderCloseMs` (a reader that reads at all,
   * however slowly, is bounded by `maxSendBufferBytes` instead).
   */
  private waitForReader(): void {
    const buffered = this.ws.bufferedAmount
    const now = Date.now()
    if (this.stalledSince === null || buffered < this.lastBuffered) this.stalledSince = now
    this.lastBuffered = buffered
    if (now - this.stalledSince > this.host.stalledReaderCloseMs) return this.dropSlowReader()
    if (!this.paused) {
      this.paused = true
      this.ws.pause()
    }
    this.drainTimer ??= setTimeout(() => this.drain(), BEHIND_POLL_MS)
  }

  private dropSlowReader(): void {
    this.host.metrics?.frameRejected(frameRejectReason(CLOSE_SLOW_READER))
    this.host.log.warn(
      { conn: this.id, pad: this.padId, buffered: this.ws.bufferedAmount },
      'closing a client that reads too slowly',
    )
    this.close(CLOSE_SLOW_READER, 'too far behind: reconnect to catch up')
    this.ws.terminate()
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    if (this.peerGone) {
      // The room closes (shutdown, pad deleted) or the backlog holds a bad frame: the rest is dropped.
      const dropped = this.backlog?.length ?? 0
      if (dropped > 0)
        this.host.log.warn(
          { conn: this.id, pad: this.padId, dropped, reason },
          'dropping frames of a closed socket',
        )
      return this.finish()
    }
    // A throttled socket is paused; it must read the peer's close reply for the handshake to end.
    if (this.paused) this.ws.resume()
    this.ws.close(code, clipReason(reason))
    this.detach()
  }

  /** ws' 'close': the socket is gone (its backlog, if any, is still handled: see `peerGone`). */
  socketClosed(): void {
    const unhandled = this.waiting || (this.backlog !== null && this.backlog.length > 0)
    if (!this.closed && typeof this.pad !== 'string' && unhandled) {
      this.peerGone = true
      this.pad.forgetPresence(this)
      return
    }
    this.finish()
  }

  /** Lets go of everything: the room, then what the endpoint holds for this socket. */
  private finish(): void {
    this.detach()
    this.host.closed(this)
  }

  socketError(err: Error): void {
    this.host.log.warn({ conn: this.id, pad: this.padId, err: err.message }, 'socket error')
    this.host.metrics?.frameRejected(wsErrorReason(err))
  }

  private refuse(refusal: Refusal): void {
    if (this.closed) return
    this.host.metrics?.frameRejected(frameRejectReason(refusal.code))
    this.host.log.warn(
      { conn: this.id, pad: this.padId, code: refusal.code, reason: refusal.reason },
      'closing client',
    )
    this.close(refusal.code, refusal.reason)
  }

  private detach(): void {
    if (this.closed) return
    this.closed = true
    this.backlog = null
    if (this.drainTimer) clearTimeout(this.drainTimer)
    if (typeof this.pad !== 'string') this.pad.leave(this)
  }

  /**
   * Rate limit: a frame within the token bucket is handled now; past it we stop reading the
   * socket (TCP pushes back on the sender) and handle what already arrived, in order, as tokens
   * refill. A socket throttled for too long without a break is closed. Before the socket joins
   * its room, frames only wait: a few (the stock client sends its step 1 and awareness at once),
   * not a flood.
   */
  admit(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    if (typeof this.pad === 'string') {
      this.backlog ??= []
      this.backlog.push([data, isBinary])
      if (this.backlog.length > this.host.maxPreAuthMessages)
        this.refuseEntry(CLOSE_POLICY, 'too many messages before authorisation', 'preauth_flood')
      return
    }
    // The stock client re-sends every presence change it hears; those echoes change nothing and
    // are dropped here, before a token is taken or a state decoded: in a room of 300 people moving
    // cursors they are most of each socket's frames, and must not count against its rate.
    // Judged against the presence its turn will see: behind frames of this socket still waiting,
    // it waits too (`drain` judges it), as those may change what it echoes — an echo of someone's
    // state, then one of her removal, judged before the first is applied, dropped the removal and
    // kept her present, owned by this socket.
    if (isBinary && this.backlog === null && !this.waiting && this.pad.isEcho(this, data)) return
    if (this.waiting) {
      // Not a flood: the room is slow to answer. Only the backlog's bound applies.
      this.backlog ??= []
      this.backlog.push([data, isBinary])
      if (this.backlog.length > MAX_BACKLOG) this.refuse({ code: CLOSE_POLICY, reason: 'too many messages' })
      return
    }
    const { bucket, throttleCloseMs } = this.host.rate
    // A flood episode ends only once the sender has been quiet long enough to save up half a
    // burst; a backlog that merely drained between two reads does not end it.
    if (this.throttledSince !== null && bucket.level(this.due) >= bucket.burst / 2) this.throttledSince = null
    if (this.throttledSince !== null && Date.now() - this.throttledSince > throttleCloseMs) {
      return this.refuse({ code: CLOSE_POLICY, reason: 'too many messages: slow down' })
    }
    const behind = this.behind()
    if (this.backlog === null && !behind && this.takeToken()) return this.receive(data, isBinary)
    this.backlog ??= []
    this.backlog.push([data, isBinary])
    if (this.backlog.length > MAX_BACKLOG)
      return this.refuse({ code: CLOSE_POLICY, reason: 'too many messages' })
    if (behind) return this.waitForReader()
    this.throttledSince ??= Date.now()
    if (!this.paused) {
      this.paused = true
      this.ws.pause()
    }
    this.scheduleDrain()
  }

  /** An answer it asked for again costs the socket tokens by its size (ANSWER_BYTES_PER_TOKEN). */
  private charge(bytes: number): void {
    const tokens = Math.floor(bytes / ANSWER_BYTES_PER_TOKEN)
    if (tokens > 0) this.due = this.host.rate.bucket.charge(this.due, tokens)
  }

  private takeToken(): boolean {
    const due = this.host.rate.bucket.take(this.due)
    if (due === null) return false
    this.due = due
    return true
  }

  private scheduleDrain(): void {
    if (this.drainTimer || this.closed) return
    if (this.behind()) return this.waitForReader()
    this.drainTimer = setTimeout(() => this.drain(), Math.max(1, this.host.rate.bucket.waitMs(this.due)))
  }

  private drain(): void {
    this.drainTimer = null
    while (
      !this.closed &&
      !this.waiting &&
      this.backlog !== null &&
      this.backlog.length > 0 &&
      !this.behind()
    ) {
      const [data, isBinary] = this.backlog[0]!
      // An echo costs no token here either (see `admit`).
      if (isBinary && this.room().isEcho(this, data)) {
        this.backlog.shift()
        continue
      }
      if (!this.takeToken()) break
      this.stalledSince = null
      this.backlog.shift()
      this.receive(data, isBinary)
    }
    if (this.closed || this.waiting) return
    if (this.behind()) return this.waitForReader()
    this.stalledSince = null
    if (this.peerGone) {
      // Nothing more can arrive: what is left is finite, so no flood rule, only the rate.
      if (this.backlog === null || this.backlog.length === 0) return this.finish()
      return this.scheduleDrain()
    }
    if (Date.now() - (this.throttledSince ?? Date.now()) > this.host.rate.throttleCloseMs) {
      return this.refuse({ code: CLOSE_POLICY, reason: 'too many messages: slow down' })
    }
    if (this.backlog === null || this.backlog.length === 0) {
      this.backlog = null
      this.paused = false
      this.ws.resume()
      return
    }
    this.scheduleDrain()
  }

  /** The room; only called once joined. */
  private room(): Room {
    if (typeof this.pad === 'string') throw new Error('connection has not joined a room')
    return this.pad
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) return this.refuse({ code: CLOSE.unsupportedData, reason: 'binary frames only' })
    // A private copy: `data` may share its ArrayBuffer with other frames, and decoders that trust
    // lengths (lib0, Yjs) would read past the frame into them instead of failing.
    const frame = new Uint8Array(data)
    const decoded = decodeMessage(frame)
    if (!decoded.ok) return this.refuse({ code: CLOSE.protocolError, reason: decoded.error })
    const message = decoded.value
    // A gone peer's edits still count; nothing else it sent can matter (no one to answer, and its
    // presence is removed when it leaves).
    if (this.peerGone && message.type !== 'sync-step2' && message.type !== 'sync-update') return
    let result: Answer
    try {
      switch (message.type) {
        case 'sync-step1': {
          const again = ++this.step1Count > 1
          const sent = this.sentBytes
          result = this.room().sendStateTo(this, message.stateVector, again)
          if (again) this.charge(this.sentBytes - sent)
          break
        }
        case 'sync-step2':
        case 'sync-update':
          result = this.room().receiveUpdate(this, message.update, this, message.type === 'sync-update')
          break
        case 'awareness':
          result = this.room().receiveAwareness(this, message.update)
          break
        case 'query-awareness': {
          const sent = this.sentBytes
          this.room().sendPresenceTo(this)
          this.charge(this.sentBytes - sent)
          result = { ok: true }
          break
        }
        case 'auth-denied':
          result = { ok: false, code: CLOSE.protocolError, reason: 'clients do not send auth messages' }
          break
        default: {
          const unhandled: never = message
          throw new Error(`unhandled message ${JSON.stringify(unhandled)}`)
        }
      }
    } catch (err) {
      return this.failed(err)
    }
    if (result instanceof Promise) return this.await(result)
    if (!result.ok) this.refuse(result)
  }

  private failed(err: unknown): void {
    this.host.log.error({ conn: this.id, pad: this.padId, err }, 'error handling frame')
    this.refuse({ code: CLOSE.internalError, reason: 'internal error' })
  }

  /** Holds later frames until the room has answered this one, then goes on with them. */
  private await(answer: Promise<{ ok: true } | ({ ok: false } & Refusal)>): void {
    this.waiting = true
    answer.then(
      (result) => {
        this.waiting = false
        if (!result.ok) this.refuse(result)
        this.resume()
      },
      (err: unknown) => {
        this.waiting = false
        this.failed(err)
        this.resume()
      },
    )
  }

  private resume(): void {
    if (this.closed) return
    if (this.backlog !== null && this.backlog.length > 0) return this.scheduleDrain()
    this.backlog = null
    if (this.peerGone) return this.finish()
    if (this.paused) {
      this.paused = false
      this.ws.resume()
    }
  }
}
