/**
 * A truthful "Saved": tracks the editor's local changes until the server has provably stored them.
 *
 * It watches every frame on the socket (see tracked-socket.ts) and relies on the server's
 * ordering guarantee: frames are handled in order and a sync step 2 that answers our step 1 goes
 * out only after the server committed everything we sent before that step 1. But an update frame
 * can be lost on the way while the socket looks fine, and deletions do not show in state vectors,
 * so a plain update is never trusted. What counts is our *step 2*, sent in answer to the server's
 * step 1: it holds everything the server lacks (and our whole delete set). When the server
 * answers a step 1 sent after that step 2, every change made before it is stored.
 *
 * Our later step 1 messages make the server send its own step 1 back, so a "save check" is:
 * step 1 -> (server: step 2, step 1) -> our covering step 2 -> step 1 -> server's step 2 = ack.
 */
import { decodeMessage } from '../shared/protocol.ts'

export type SaveStatus =
  | { kind: 'saved' }
  | { kind: 'saving'; unsaved: number }
  | { kind: 'offline'; unsaved: number }
  /** `first`: no connection yet since the page opened ("Connecting…" rather than "Reconnecting"). */
  | { kind: 'reconnecting'; unsaved: number; first: boolean }
  | { kind: 'refused'; unsaved: number; reason: string }
  /** The server serves the pad but stores nothing from us (a closed session, a read-only link). */
  | { kind: 'read-only'; unsaved: number }

/**
 * A check goes out this long after the first unconfirmed change: keystrokes in between ride along,
 * so a typist costs one check per 300 ms at most, never one per key.
 */
export const CHECK_DEBOUNCE_MS = 300
/** While changes are unacknowledged and nothing is in flight, check again this often. */
export const RECHECK_MS = 4000
/** A check unanswered this long means the connection is dead even if the socket looks open. */
export const STALL_MS = 10_000

export interface SaveTrackerHooks {
  /** Sends a sync step 1 on the current socket (it passes through `outgoing`). */
  sendStep1(): void
  /** Drops the current socket and connects again. */
  reconnect(): void
  onChange(status: SaveStatus): void
}

interface Probe {
  covered: number
  sentAt: number
}

export class SaveTracker {
  private readonly hooks: SaveTrackerHooks
  private changes = 0
  private acked = 0
  private socket: object | null = null
  private connected = false
  private everConnected = false
  private online = true
  private refusal: string | null = null
  /** Told so on this socket; a new socket starts writable (the session may have been reopened). */
  private readOnly = false
  /** On the current socket: changes included in our last covering step 2. */
  private covered = 0
  private probes: Probe[] = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private last: string | null = null
  private readonly ticker: ReturnType<typeof setInterval>

  constructor(hooks: SaveTrackerHooks) {
    this.hooks = hooks
    this.ticker = setInterval(() => this.tick(), 1000)
  }

  /** Stops its timers (a page keeps its tracker for life; a test's writer ends). */
  dispose(): void {
    clearInterval(this.ticker)
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  get unsaved(): number {
    return this.changes - this.acked
  }

  /** A local change to the document (typing, undo, or edits restored from the browser's store). */
  localChange(): void {
    this.changes++
    this.schedule(CHECK_DEBOUNCE_MS)
    this.publish()
  }

  socketOpened(socket: object): void {
    this.socket = socket
    this.covered = 0
    this.probes = []
    this.connected = true
    this.everConnected = true
    this.readOnly = false
    this.publish()
  }

  socketClosed(socket: object): void {
    if (socket !== this.socket) return
    this.connected = false
    this.probes = []
    this.publish()
  }

  setOnline(online: boolean): void {
    this.online = online
    this.publish()
  }

  refused(reason: string): void {
    this.refusal = reason
    this.publish()
  }

  outgoing(socket: object, frame: Uint8Array): void {
    if (socket !== this.socket) return
    const decoded = decodeMessage(frame)
    if (!decoded.ok) return
    if (decoded.value.type === 'sync-step2') {
      this.covered = this.changes
      // Confirm the covering step 2 right away if it holds something not yet acknowledged.
      const lastProbe = this.probes.at(-1)?.covered ?? this.acked
      if (this.covered > lastProbe) this.schedule(0)
    } else if (decoded.value.type === 'sync-step1') {
      this.probes.push({ covered: this.covered, sentAt: Date.now() })
    }
  }

  incoming(socket: object, frame: Uint8Array): void {
    if (socket !== this.socket) return
    const decoded = decodeMessage(frame)
    if (decoded.ok && decoded.value.type === 'auth-denied' && decoded.value.reason === 'read-only') {
      this.readOnly = true
      this.publish()
      return
    }
    if (!decoded.ok || decoded.value.type !== 'sync-step2') return
    const probe = this.probes.shift()
    if (probe) this.acked = Math.max(this.acked, probe.covered)
    this.publish()
  }

  private schedule(delay: number): void {
    if (this.timer !== null) {
      if (delay > 0) return
      clearTimeout(this.timer)
    }
    this.timer = setTimeout(() => {
      this.timer = null
      this.check()
    }, delay)
  }

  private check(): void {
    if (!this.connected || this.unsaved === 0) return
    this.hooks.sendStep1()
  }

  private stalled(): boolean {
    const oldest = this.probes[0]
    return oldest !== undefined && Date.now() - oldest.sentAt > STALL_MS
  }

  private tick(): void {
    if (this.connected && this.online && this.stalled()) {
      // The socket says open but nothing comes back (Wi-Fi gone, laptop asleep): start over.
      this.probes = []
      this.hooks.reconnect()
    } else if (this.connected && this.unsaved > 0 && this.probes.length === 0 && this.timer === null) {
      this.schedule(RECHECK_MS)
    }
    this.publish()
  }

  status(): SaveStatus {
    const unsaved = this.unsaved
    if (this.refusal !== null) return { kind: 'refused', unsaved, reason: this.refusal }
    if (this.readOnly && this.connected) return { kind: 'read-only', unsaved }
    if (!this.online) return { kind: 'offline', unsaved }
    if (!this.connected || this.stalled())
      return { kind: 'reconnecting', unsaved, first: !this.everConnected }
    return unsaved === 0 ? { kind: 'saved' } : { kind: 'saving', unsaved }
  }

  private publish(): void {
    const status = this.status()
    const key = JSON.stringify(status)
    if (key === this.last) return
    this.last = key
    this.hooks.onChange(status)
  }
}

/**
 * What the status says, in words that fit its fixed place in the toolbar (editor.css): no count.
 * The tracker counts Yjs updates, a few keystrokes each — "64 changes" meant nothing to anyone and
 * its changing width re-wrapped the toolbar. `describeDetail` says the rest, as a tooltip.
 */
export function describeStatus(status: SaveStatus): string {
  const unsaved = (n: number) => (n ? ' — unsaved changes' : '')
  switch (status.kind) {
    case 'saved':
      return 'Saved'
    case 'saving':
      return 'Saving…'
    case 'offline':
      return status.unsaved ? 'Offline — unsaved changes' : 'Offline — nothing unsaved'
    case 'reconnecting': {
      const what = status.first ? 'Connecting' : 'Reconnecting'
      return status.unsaved ? `${what}${unsaved(status.unsaved)}` : `${what}…`
    }
    case 'refused':
      return `Closed by the server: ${status.reason}${unsaved(status.unsaved)}`
    case 'read-only':
      return 'Read-only: this session is closed'
    default: {
      const unreachable: never = status
      return unreachable
    }
  }
}

/** The longer explanation behind the status (its tooltip). */
export function describeDetail(status: SaveStatus): string {
  if (status.kind === 'saved') return 'The server has stored every change made here.'
  if (status.kind === 'read-only') return 'The notes can be read but not changed.'
  const kept =
    status.unsaved > 0
      ? ' What you typed is kept in this browser and sent as soon as the connection works.'
      : ''
  if (status.kind === 'refused') return `The server closed this pad: ${status.reason}.${kept}`
  if (status.kind === 'saving') return 'Sending your last changes to the server.'
  return `${status.kind === 'offline' ? 'This device is offline.' : 'Trying to reach the server.'}${kept}`
}
