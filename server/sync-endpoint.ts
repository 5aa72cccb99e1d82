/**
 * The websocket endpoint `/sync/<padId>`: validates the URL at upgrade (a bad pad id gets HTTP 400
 * and never reaches the database), loads the pad before the first reply, and keeps sockets honest
 * with ws pings (a half-open socket from a sleeping laptop is terminated).
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import { isValidPadId } from '../shared/pad-id.ts'
import type { Via } from './access.ts'
import type { Config } from './config.ts'
import { Connection, type RateLimit } from './connection.ts'
import { ConnectionCounter } from './limits.ts'
import type { Logger } from './logger.ts'
import { type SyncMetrics, wsErrorReason } from './metrics.ts'
import { CLOSE } from './peer.ts'
import { CLOSE_POLICY, CLOSE_TRY_LATER } from './room.ts'
import type { Rooms } from './rooms.ts'

export const SYNC_PATH_PREFIX = '/sync/'

/**
 * The answer to "may this socket use this pad?" (socket-access.ts): in, possibly read-only and
 * remembering which link let it in (rotating that link closes it), or refused with a close code.
 */
export type Grant =
  | { ok: true; readOnly?: boolean; via?: Via | null }
  | { ok: false; code: number; reason: string }
const OPEN_GRANT: Grant = { ok: true }

export interface SocketRequest {
  padId: string
  ip: string
  /** The upgrade request: its query string (the stock client's `params`), cookies and Origin. */
  req: IncomingMessage
}

/** What a live socket was granted, for cutting it off later. */
export interface LiveGrant {
  padId: string
  via: Via | null
}

interface Granted extends LiveGrant {
  /** Closes the socket and detaches it from its room at once (frames still in flight are ignored). */
  connection: Connection
}

export interface SyncEndpointOptions {
  rooms: Rooms
  log: Logger
  metrics?: SyncMetrics
  /** Decides before the pad is loaded; everyone is let in when absent. */
  authorize?: (request: SocketRequest) => Grant | Promise<Grant>
  config: Pick<
    Config,
    | 'maxFrameBytes'
    | 'pingIntervalMs'
    | 'maxConnectionsPerIp'
    | 'trustProxy'
    | 'messageRate'
    | 'messageBurst'
    | 'throttleCloseMs'
    | 'maxPreAuthMessages'
    | 'authDeadlineMs'
  >
}

/** The client's address: the socket's peer, or (behind a proxy we trust) the last X-Forwarded-For hop. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for']
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
      .split(',')
      .at(-1)
      ?.trim()
    if (last) return last
  }
  return req.socket.remoteAddress ?? 'unknown'
}

const STATUS: Record<number, [string, string]> = {
  400: ['bad_request', 'Bad Request'],
  404: ['not_found', 'Not Found'],
  429: ['too_many_connections', 'Too Many Requests'],
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const [code, text] = STATUS[status] ?? ['error', 'Error']
  const body = JSON.stringify({ error: { code, message } })
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\n` +
      'Content-Type: application/json\r\nConnection: close\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

/** The pad id of an upgrade request's URL, or an error. The id is taken raw: clients do not encode it. */
export function padIdFromUrl(
  url: string | undefined,
): { ok: true; padId: string } | { ok: false; status: number } {
  const path = (url ?? '').split('?', 1)[0]!
  if (!path.startsWith(SYNC_PATH_PREFIX)) return { ok: false, status: 404 }
  const padId = path.slice(SYNC_PATH_PREFIX.length)
  return isValidPadId(padId) ? { ok: true, padId } : { ok: false, status: 400 }
}

/**
 * The upgrade socket's error listener: one function for all, not a closure per socket (a closure
 * made in handleUpgrade would keep the upgrade request alive for the socket's whole life).
 */
function destroySocket(this: Duplex): void {
  this.destroy()
}

export class SyncEndpoint {
  private readonly wss: WebSocketServer
  private readonly options: SyncEndpointOptions
  private readonly alive = new WeakSet<WebSocket>()
  private readonly pinger: NodeJS.Timeout
  private readonly perIp: ConnectionCounter
  private readonly grants = new WeakMap<WebSocket, Granted>()
  /** One rate-limit setting shared by every connection. */
  private readonly rate: RateLimit
  /** One listener shared by every socket (ws calls it with the socket as `this`), not two closures each. */
  private readonly markAlive: (this: WebSocket) => void

  constructor(options: SyncEndpointOptions) {
    this.options = options
    const { config } = options
    this.perIp = new ConnectionCounter(config.maxConnectionsPerIp)
    this.rate = {
      messageRate: config.messageRate,
      messageBurst: config.messageBurst,
      throttleCloseMs: config.throttleCloseMs,
    }
    const alive = this.alive
    this.markAlive = function (this: WebSocket) {
      alive.add(this)
    }
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxFrameBytes,
      perMessageDeflate: false,
    })
    this.pinger = setInterval(() => this.pingAll(), config.pingIntervalMs)
    this.pinger.unref()
  }

  get connectionCount(): number {
    return this.wss.clients.size
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket)
    const target = padIdFromUrl(req.url)
    if (!target.ok) {
      const message =
        target.status === 404
          ? 'websocket endpoint is /sync/<padId>'
          : 'pad id must be 1-100 of A-Z a-z 0-9 . _ -'
      this.options.metrics?.connectionRefused(target.status === 404 ? 'bad_path' : 'bad_pad_id')
      return rejectUpgrade(socket, target.status, message)
    }
    const ip = clientIp(req, this.options.config.trustProxy)
    // Refused before the upgrade: an HTTP status is retried by browsers, which is right for a
    // limit that frees up when other sockets close.
    if (!this.perIp.tryAdd(ip)) {
      this.options.metrics?.connectionRefused('too_many_connections')
      return rejectUpgrade(socket, 429, 'too many connections from your address')
    }
    // The TCP socket closes whether the upgrade completes or not, and before ws says 'close'.
    // `on`, not `once`: a once-wrapper is two more objects per socket, and 'close' fires once.
    socket.on('close', this.releaserFor(ip))
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, target.padId, ip))
  }

  /**
   * Gives the address's connection slot back, once. Made here, not in handleUpgrade, so it does
   * not keep the upgrade request alive.
   */
  private releaserFor(ip: string): () => void {
    let counted = true
    return () => {
      if (counted) this.perIp.remove(ip)
      counted = false
    }
  }

  /** Closes every socket with `code` (1012 on restart: clients reconnect) and stops pinging. */
  close(code: number, reason: string): void {
    clearInterval(this.pinger)
    for (const ws of this.wss.clients) ws.close(code, reason)
    this.wss.close()
  }

  /**
   * Closes the live sockets whose grant matches (a rotated link, a pad moved to another event).
   * The code is 44xx, so the stock client stops instead of retrying with a dead link.
   */
  closeWhere(matches: (grant: LiveGrant) => boolean, code: number, reason: string): number {
    let closed = 0
    for (const ws of this.wss.clients) {
      const grant = this.grants.get(ws)
      if (!grant || !matches(grant)) continue
      this.grants.delete(ws)
      // Through the connection, not ws.close alone: ws still delivers the frames of a client that
      // ignores the close handshake (for up to 30 s); a detached connection handles none of them.
      grant.connection.close(code, reason)
      closed++
    }
    return closed
  }

  private accept(ws: WebSocket, req: IncomingMessage, padId: string, ip: string): void {
    const id = randomBytes(6).toString('hex')
    this.watch(ws, id, padId)
    this.authorizeThenJoin(ws, req, id, padId, ip)
  }

  /**
   * Listeners for the socket's whole life. They sit in a function of their own because a closure
   * keeps its whole scope alive: created beside the pre-auth queue below, they would keep the
   * upgrade request and the queue in memory for as long as the socket is open.
   */
  private watch(ws: WebSocket, id: string, padId: string): void {
    // An unhandled 'error' event on a socket would crash the process (e.g. a frame over maxPayload).
    ws.on('error', (err) => {
      this.options.log.warn({ conn: id, pad: padId, err: err.message }, 'socket error')
      this.options.metrics?.frameRejected(wsErrorReason(err))
    })
    // A pong proves the peer is there (browsers and the ws client answer pings by themselves).
    this.alive.add(ws)
    ws.on('pong', this.markAlive)
  }

  /**
   * Until the socket is authorised, its frames wait here — a few (the stock client sends its step
   * 1 and awareness at once), not a flood — and the pad is neither loaded nor created. Everything
   * in this scope is garbage once the grant or the refusal is settled.
   */
  private authorizeThenJoin(
    ws: WebSocket,
    req: IncomingMessage,
    id: string,
    padId: string,
    ip: string,
  ): void {
    const log = this.options.log
    const { maxPreAuthMessages, authDeadlineMs } = this.options.config
    const early: [Buffer, boolean][] = []
    let settled = false
    const settle = () => {
      settled = true
      ws.off('message', queue)
      ws.off('close', settle)
      clearTimeout(deadline)
    }
    const refuse = (code: number, reason: string, metric: string) => {
      settle()
      this.options.metrics?.connectionRefused(metric)
      log.warn({ conn: id, pad: padId, code, reason }, 'refusing socket')
      ws.close(code, reason)
    }
    const queue = (data: Buffer, isBinary: boolean) => {
      early.push([data, isBinary])
      if (early.length > maxPreAuthMessages)
        refuse(CLOSE_POLICY, 'too many messages before authorisation', 'preauth_flood')
    }
    ws.on('message', queue)
    // Gone before the answer: nothing to refuse, and nothing of this scope should wait for it.
    ws.once('close', settle)
    const deadline = setTimeout(
      () => refuse(CLOSE_TRY_LATER, 'authorisation took too long', 'auth_timeout'),
      authDeadlineMs,
    )
    const authorize = this.options.authorize ?? (() => OPEN_GRANT)
    Promise.resolve()
      .then(() => authorize({ padId, ip, req }))
      .then(
        (grant) => {
          if (settled) return
          if (ws.readyState !== ws.OPEN) return settle()
          if (!grant.ok) return refuse(grant.code, grant.reason, `auth_${grant.code}`)
          settle()
          const connection = this.join(ws, id, padId, ip, early, grant.readOnly ?? false)
          // Only a link can be revoked (rotated, or the pad moved): the admin token and open mode
          // need no entry.
          if (connection && grant.via) this.grants.set(ws, { padId, via: grant.via, connection })
        },
        (err) => {
          if (settled) return
          log.error({ conn: id, pad: padId, err }, 'authorisation failed')
          refuse(CLOSE.internalError, 'authorisation failed', 'auth_error')
        },
      )
  }

  private join(
    ws: WebSocket,
    id: string,
    padId: string,
    ip: string,
    early: [Buffer, boolean][],
    readOnly: boolean,
  ): Connection | null {
    const log = this.options.log
    let room: ReturnType<Rooms['open']>
    try {
      room = this.options.rooms.open(padId)
    } catch (err) {
      // Never serve an empty doc in place of a pad we failed to read; the stored bytes stay as they are.
      log.error({ conn: id, pad: padId, err }, 'could not load pad')
      this.options.metrics?.connectionRefused('load_failed')
      ws.close(CLOSE.internalError, 'could not load pad')
      return null
    }
    const connection = new Connection({
      id,
      ip,
      ws,
      room,
      readOnly,
      log,
      rate: this.rate,
      metrics: this.options.metrics,
    })
    for (const [data, isBinary] of early) connection.admit(data, isBinary)
    return connection
  }

  private pingAll(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate()
        continue
      }
      this.alive.delete(ws)
      ws.ping()
    }
  }
}
