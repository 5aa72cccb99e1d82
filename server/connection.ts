/**
 * One client's websocket, attached to one room: decodes each frame into a typed message and hands
 * it to the room, strictly in arrival order and synchronously. Any bad frame closes this socket —
 * with a close code and a reason the client can read, and one log line — and affects no one else.
 */
import type { WebSocket } from 'ws'
import { decodeMessage } from '../shared/protocol.ts'
import type { Logger } from './logger.ts'
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

export class Connection implements Peer {
  readonly id: string
  private readonly ws: WebSocket
  private readonly room: Room
  private readonly log: Logger
  private closed = false
  /** Step 1 messages received: the first one is the handshake, later ones are save checks. */
  private step1Count = 0

  constructor(id: string, ws: WebSocket, room: Room, log: Logger) {
    this.id = id
    this.ws = ws
    this.room = room
    this.log = log
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary))
    ws.on('close', () => this.detach())
    room.join(this)
  }

  send(message: Uint8Array): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(message)
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.ws.close(code, clipReason(reason))
    this.detach()
  }

  private refuse(refusal: Refusal): void {
    if (this.closed) return
    this.log.warn(
      { conn: this.id, pad: this.room.padId, code: refusal.code, reason: refusal.reason },
      'closing client',
    )
    this.close(refusal.code, refusal.reason)
  }

  private detach(): void {
    if (this.closed) return
    this.closed = true
    this.room.leave(this)
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
