/**
 * One client's websocket, attached to one room: decodes each frame into a typed message and hands
 * it to the room, strictly in arrival order and synchronously. Any bad frame closes this socket —
 * with a close code and a reason the client can read, and one log line — and affects no one else.
 */
import type { WebSocket } from 'ws'
import { decodeMessage } from '../shared/protocol.ts'
import { TokenBucket } from './limits.ts'
import type { Logger } from './logger.ts'
import { frameRejectReason, type SyncMetrics } from './metrics.ts'
import { CLOSE, type Peer, type Refusal } from './peer.ts'
import type { Room } from './room.ts'

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
  messageRate: number
  messageBurst: number
  throttleCloseMs: number
}

export interface ConnectionOptions {
  id: string
  ip: string
  ws: WebSocket
  room: Room
  /** A read-only link: served the pad and live changes; its updates are dropped, never stored. */
  readOnly: boolean
  log: Logger
  rate: RateLimit
  metrics?: SyncMetrics
}

/**
 * Frames already received while the socket is throttled wait here (we stop reading the socket,
 * so only what was in flight arrives). More than this is a flood, not a burst.
 */
const MAX_BACKLOG = 5000

export class Connection implements Peer {
  readonly id: string
  readonly ip: string
  readonly readOnly: boolean
  private readonly ws: WebSocket
  private readonly room: Room
  private readonly log: Logger
  private readonly rate: RateLimit
  private readonly metrics: SyncMetrics | undefined
  private readonly bucket: TokenBucket
  private backlog: [Buffer, boolean][] = []
  /** Start of the current flood episode (sending above the rate), or null. */
  private throttledSince: number | null = null
  /** Whether we stopped reading the socket. */
  private paused = false
  private drainTimer: NodeJS.Timeout | null = null
  private closed = false
  /** Step 1 messages received: the first one is the handshake, later ones are save checks. */
  private step1Count = 0

  constructor(options: ConnectionOptions) {
    this.id = options.id
    this.ip = options.ip
    this.readOnly = options.readOnly
    this.ws = options.ws
    this.room = options.room
    this.log = options.log
    this.rate = options.rate
    this.metrics = options.metrics
    this.bucket = new TokenBucket(options.rate.messageRate, options.rate.messageBurst)
    const { ws, room } = options
    ws.on('message', (data, isBinary) => this.admit(data as Buffer, isBinary))
    ws.on('close', () => this.detach())
    room.join(this)
  }

  send(message: Uint8Array, written?: () => void): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN)
      this.ws.send(message, written && (() => written()))
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    // A throttled socket is paused; it must read the peer's close reply for the handshake to end.
    if (this.paused) this.ws.resume()
    this.ws.close(code, clipReason(reason))
    this.detach()
  }

  private refuse(refusal: Refusal): void {
    if (this.closed) return
    this.metrics?.frameRejected(frameRejectReason(refusal.code))
    this.log.warn(
      { conn: this.id, pad: this.room.padId, code: refusal.code, reason: refusal.reason },
      'closing client',
    )
    this.close(refusal.code, refusal.reason)
  }

  private detach(): void {
    if (this.closed) return
    this.closed = true
    this.backlog = []
    if (this.drainTimer) clearTimeout(this.drainTimer)
    this.room.leave(this)
  }

  /**
   * Rate limit: a frame within the token bucket is handled now; past it we stop reading the
   * socket (TCP pushes back on the sender) and handle what already arrived, in order, as tokens
   * refill. A socket throttled for too long without a break is closed.
   */
  admit(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    // A flood episode ends only once the sender has been quiet long enough to save up half a
    // burst; a backlog that merely drained between two reads does not end it.
    if (this.throttledSince !== null && this.bucket.level() >= this.rate.messageBurst / 2)
      this.throttledSince = null
    if (this.throttledSince !== null && Date.now() - this.throttledSince > this.rate.throttleCloseMs) {
      return this.refuse({ code: 1008, reason: 'too many messages: slow down' })
    }
    if (this.backlog.length === 0 && this.bucket.take()) return this.receive(data, isBinary)
    this.backlog.push([data, isBinary])
    if (this.backlog.length > MAX_BACKLOG) return this.refuse({ code: 1008, reason: 'too many messages' })
    this.throttledSince ??= Date.now()
    if (!this.paused) {
      this.paused = true
      this.ws.pause()
    }
    this.scheduleDrain()
  }

  private scheduleDrain(): void {
    if (this.drainTimer || this.closed) return
    this.drainTimer = setTimeout(() => this.drain(), Math.max(1, this.bucket.waitMs()))
  }

  private drain(): void {
    this.drainTimer = null
    while (!this.closed && this.backlog.length > 0 && this.bucket.take()) {
      const [data, isBinary] = this.backlog.shift()!
      this.receive(data, isBinary)
    }
    if (this.closed) return
    if (Date.now() - (this.throttledSince ?? Date.now()) > this.rate.throttleCloseMs) {
      return this.refuse({ code: 1008, reason: 'too many messages: slow down' })
    }
    if (this.backlog.length === 0) {
      this.paused = false
      this.ws.resume()
      return
    }
    this.scheduleDrain()
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
    let result: { ok: true } | ({ ok: false } & Refusal)
    try {
      switch (message.type) {
        case 'sync-step1':
          result = this.room.sendStateTo(this, message.stateVector, ++this.step1Count > 1)
          break
        case 'sync-step2':
        case 'sync-update':
          result = this.room.receiveUpdate(this, message.update, this)
          break
        case 'awareness':
          result = this.room.receiveAwareness(this, message.update)
          break
        case 'query-awareness':
          this.room.sendPresenceTo(this)
          result = { ok: true }
          break
        case 'auth-denied':
          result = { ok: false, code: CLOSE.protocolError, reason: 'clients do not send auth messages' }
          break
        default: {
          const unhandled: never = message
          throw new Error(`unhandled message ${JSON.stringify(unhandled)}`)
        }
      }
    } catch (err) {
      this.log.error({ conn: this.id, pad: this.room.padId, err }, 'error handling frame')
      return this.refuse({ code: CLOSE.internalError, reason: 'internal error' })
    }
    if (!result.ok) this.refuse(result)
  }
}
