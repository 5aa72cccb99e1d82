/**
 * The websocket endpoint `/sync/<padId>`: validates the URL at upgrade (a bad pad id gets HTTP 400
 * and never reaches the database), loads the pad before the first reply, and keeps sockets honest
 * with ws pings (a half-open socket from a sleeping laptop is terminated).
 */
import type { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { Via } from '../access/access.ts'
import type { HostPolicy } from '../access/host-check.ts'
import { type ProxyTrust, proxyTrust } from '../access/trusted-proxies.ts'
import { type Config, FRAME_MARGIN_BYTES } from '../ops/config.ts'
import type { Logger } from '../ops/logger.ts'
import type { SyncMetrics } from '../ops/metrics.ts'
import { CLOSE, CLOSE_BAD_WRITER_KEY, CLOSE_TRY_LATER } from './close-codes.ts'
import { Connection, type ConnectionHost, type RateLimit, SyncSocket } from './connection.ts'
import { ConnectionCounter, TokenBucket } from './limits.ts'
import { isValidPadId } from './pad-id.ts'
import type { Room } from './room.ts'
import type { Rooms } from './rooms.ts'
import { writerFromUrl } from './writer-key.ts'

/**
 * A socket's send buffer may hold one whole pad (the step 2 a reconnecting reader is owed) plus
 * this much of live traffic behind it before the socket is dropped as too slow.
 */
export const SEND_BUFFER_MARGIN_BYTES = FRAME_MARGIN_BYTES

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
  /** Which Host names are answered (DNS rebinding): checked before anything else. */
  hosts: HostPolicy
  /**
   * The sockets an address has open on the other servers of the same database, as last heard
   * (shared-counts.ts): they count against maxConnectionsPerIp too. None when absent (one server).
   */
  socketsElsewhere?: (ip: string) => number
  config: Pick<
    Config,
    | 'maxFrameBytes'
    | 'maxPadBytes'
    | 'pingIntervalMs'
    | 'maxConnectionsPerIp'
    | 'trustProxy'
    | 'messageRate'
    | 'messageBurst'
    | 'throttleCloseMs'
    | 'stalledReaderCloseMs'
    | 'maxPreAuthMessages'
    | 'authDeadlineMs'
  >
}

/** The client's address: the socket's peer, or (when that is a proxy we run) the last X-Forwarded-For hop. */
export function clientIp(req: IncomingMessage, isProxy: ProxyTrust): string {
  if (isProxy(req.socket.remoteAddress)) {
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
  421: ['unknown_host', 'Misdirected Request'],
  429: ['too_many_connections', 'Too Many Requests'],
}

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  // An unhandled 'error' would crash the process. Only on this path: on the way to ws nothing
  // waits between the 'upgrade' event and ws' own 'error' listener, and a second listener beside
  // ws' one would cost every live socket a listener array.
  socket.on('error', destroySocket)
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

/** A refused upgrade socket's error listener: one function for all, not a closure per socket. */
function destroySocket(this: Duplex): void {
  this.destroy()
}

export class SyncEndpoint implements ConnectionHost {
  readonly log: Logger
  readonly metrics: SyncMetrics | undefined
  /** One rate-limit setting shared by every connection. */
  readonly rate: RateLimit
  readonly maxPreAuthMessages: number
  readonly maxSendBufferBytes: number
  readonly stalledReaderCloseMs: number
  private readonly wss: WebSocketServer
  private readonly options: SyncEndpointOptions
  /** Open sockets: ours, not ws' client tracking, which adds a closure and a listener per socket. */
  private readonly sockets = new Set<SyncSocket>()
  private readonly pinger: NodeJS.Timeout
  private readonly perIp: ConnectionCounter
  private readonly grants = new WeakMap<SyncSocket, Granted>()
  /** A refused socket's 'close' listener, one for all: its byte counts go to the metrics. */
  private readonly countRefused: (this: Socket) => void
  /** Whether a socket's peer is a proxy we run (its X-Forwarded-For is believed). */
  private readonly isProxy: ProxyTrust

  constructor(options: SyncEndpointOptions) {
    this.options = options
    this.log = options.log
    this.metrics = options.metrics
    const { config } = options
    this.perIp = new ConnectionCounter(config.maxConnectionsPerIp)
    this.isProxy = proxyTrust(config.trustProxy)
    this.rate = {
      bucket: new TokenBucket(config.messageRate, config.messageBurst),
      throttleCloseMs: config.throttleCloseMs,
    }
    this.maxPreAuthMessages = config.maxPreAuthMessages
    this.maxSendBufferBytes = config.maxPadBytes + SEND_BUFFER_MARGIN_BYTES
    this.stalledReaderCloseMs = config.stalledReaderCloseMs
    const metrics = options.metrics
    this.countRefused = function (this: Socket) {
      metrics?.socketClosed(this)
    }
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      WebSocket: SyncSocket,
    })
    this.pinger = setInterval(() => this.pingAll(), config.pingIntervalMs)
    this.pinger.unref()
  }

  get connectionCount(): number {
    return this.sockets.size
  }

  /** Open sockets per client address (what this server publishes for the others). */
  socketsByAddress(): IterableIterator<[string, number]> {
    return this.perIp.entries()
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Typed as a Duplex; an http.Server hands its TCP socket, whose byte counts the metrics sum.
    const tcp = socket instanceof Socket ? socket : null
    if (tcp) this.metrics?.socketOpened(tcp)
    const wrongHost = this.options.hosts.refusal(req.headers, req.socket.remoteAddress)
    if (wrongHost !== null) {
      this.metrics?.connectionRefused('unknown_host')
      return this.refuseUpgrade(tcp, socket, 421, wrongHost)
    }
    const target = padIdFromUrl(req.url)
    if (!target.ok) {
      const message =
        target.status === 404
          ? 'websocket endpoint is /sync/<padId>'
          : 'pad id must be 1-100 of A-Z a-z 0-9 . _ -'
      this.metrics?.connectionRefused(target.status === 404 ? 'bad_path' : 'bad_pad_id')
      return this.refuseUpgrade(tcp, socket, target.status, message)
    }
    const ip = clientIp(req, this.isProxy)
    // Refused before the upgrade: an HTTP status is retried by browsers, which is right for a
    // limit that frees up when other sockets close.
    if (!this.perIp.tryAdd(ip, this.options.socketsElsewhere?.(ip) ?? 0)) {
      this.metrics?.connectionRefused('too_many_connections')
      return this.refuseUpgrade(tcp, socket, 429, 'too many connections from your address')
    }
    const writer = writerFromUrl(req.url)
    let accepted = false
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      accepted = true
      const connection = new Connection(
        ws as SyncSocket,
        tcp,
        ip,
        target.padId,
        writer === 'invalid' ? null : writer,
        this,
      )
      this.sockets.add(connection.ws)
      // 44xx: the same URL would be refused again; the stock client stops instead of retrying.
      if (writer === 'invalid')
        return connection.refuseEntry(CLOSE_BAD_WRITER_KEY, 'invalid writer key', 'bad_writer_key')
      this.authorizeThenJoin(connection, req)
    })
    // Without a verifyClient option ws answers before handleUpgrade returns: it completed the
    // upgrade (the connection now gives the address's slot back when it closes), or it refused
    // it and closes the socket itself.
    if (!accepted) {
      this.perIp.remove(ip)
      tcp?.on('close', this.countRefused)
    }
  }

  private refuseUpgrade(tcp: Socket | null, socket: Duplex, status: number, message: string): void {
    tcp?.on('close', this.countRefused)
    rejectUpgrade(socket, status, message)
  }

  /** A connection's socket closed: its address's slot, its place here and its byte counts go. */
  closed(connection: Connection): void {
    this.sockets.delete(connection.ws)
    this.perIp.remove(connection.ip)
    if (connection.tcp) this.metrics?.socketClosed(connection.tcp)
  }

  /** Closes every socket with `code` (1012 on restart: clients reconnect) and stops pinging. */
  close(code: number, reason: string): void {
    clearInterval(this.pinger)
    for (const ws of this.sockets) ws.close(code, reason)
    this.wss.close()
  }

  /** The pads that live sockets opened with a link (what a re-check of links must look at). */
  padsOpenedByLink(): Set<string> {
    const pads = new Set<string>()
    for (const ws of this.sockets) {
      const grant = this.grants.get(ws)
      if (grant) pads.add(grant.padId)
    }
    return pads
  }

  /**
   * Closes the live sockets whose grant matches (a rotated link, a pad moved to another event).
   * The code is 44xx, so the stock client stops instead of retrying with a dead link.
   */
  closeWhere(matches: (grant: LiveGrant) => boolean, code: number, reason: string): number {
    let closed = 0
    for (const ws of this.sockets) {
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

  /**
   * Until the socket is authorised its frames wait in the connection, and the pad is neither
   * loaded nor created. Everything in this scope is garbage once the grant or the refusal is
   * settled (or the deadline passed, for a socket that closed while it waited).
   */
  private authorizeThenJoin(connection: Connection, req: IncomingMessage): void {
    const { padId, ip } = connection
    const deadline = setTimeout(
      () => connection.refuseEntry(CLOSE_TRY_LATER, 'authorisation took too long', 'auth_timeout'),
      this.options.config.authDeadlineMs,
    )
    const authorize = this.options.authorize ?? (() => OPEN_GRANT)
    Promise.resolve()
      .then(() => authorize({ padId, ip, req }))
      .then(
        (grant) => {
          clearTimeout(deadline)
          // Gone before the answer, or refused for flooding or lateness: nothing more to do.
          if (connection.isClosed) return
          if (connection.ws.readyState !== connection.ws.OPEN) return
          if (!grant.ok) return connection.refuseEntry(grant.code, grant.reason, `auth_${grant.code}`)
          // Only a link can be revoked (rotated, or the pad moved): the admin token and open mode
          // need no entry. Entered before the room loads, so a rotation meanwhile reaches it too.
          if (grant.via) this.grants.set(connection.ws, { padId, via: grant.via, connection })
          return this.join(connection, grant.readOnly ?? false)
        },
        (err) => {
          clearTimeout(deadline)
          if (connection.isClosed) return
          this.log.error({ conn: connection.id, pad: padId, err }, 'authorisation failed')
          connection.refuseEntry(CLOSE.internalError, 'authorisation failed', 'auth_error')
        },
      )
  }

  private async join(connection: Connection, readOnly: boolean): Promise<void> {
    let room: Room
    try {
      room = await this.options.rooms.open(connection.padId)
    } catch (err) {
      // Never serve an empty doc in place of a pad we failed to read; the stored bytes stay as they are.
      this.log.error({ conn: connection.id, pad: connection.padId, err }, 'could not load pad')
      this.metrics?.connectionRefused('load_failed')
      connection.close(CLOSE.internalError, 'could not load pad')
      return
    }
    // Gone while the pad loaded (or refused: a rotated link, a pre-auth flood).
    if (connection.isClosed || connection.ws.readyState !== connection.ws.OPEN) return
    connection.join(room, readOnly)
  }

  private pingAll(): void {
    for (const ws of this.sockets) {
      if (!ws.alive) {
        ws.terminate()
        continue
      }
      ws.alive = false
      ws.ping()
    }
  }
}
