/**
 * A small language for the sync rules, one level below the end-to-end tests: the server's real
 * rooms, connections and store (a temp SQLite file, through openCore), with typists that speak the
 * stock client's protocol over an in-memory socket instead of TCP. No port, no timers to wait on:
 * `settle()` lets the real tick flusher commit and then delivers every frame, until all is quiet.
 *
 *   await onPad({ maxPadBytes: 1000 }, async (pad) => {
 *     const ann = pad.typist('ann')
 *     ann.types('hello')
 *     await pad.settle()
 *     assert.equal(await pad.stored(), 'hello')
 *   })
 *
 * Frames go through `Connection` exactly as ws hands them over (decode, rate limit, room), so
 * what a rule asserts is what a socket would see; test/sync.test.ts and friends keep the sockets.
 */
import { EventEmitter } from 'node:events'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import * as Y from 'yjs'
import { type Core, openCore } from '../server/core.ts'
import { NOTES_TEXT } from '../server/meetings/templates.ts'
import { DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { CLOSE } from '../server/sync/close-codes.ts'
import { Connection, type ConnectionHost, type SyncSocket } from '../server/sync/connection.ts'
import { TokenBucket } from '../server/sync/limits.ts'
import { docFromStored } from '../server/sync/pad-doc.ts'
import type { RoomLimits } from '../server/sync/room.ts'
import { SEND_BUFFER_MARGIN_BYTES } from '../server/sync/sync-endpoint.ts'
import { writerFromUrl } from '../server/sync/writer-key.ts'
import {
  decodeMessage,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import { tempDir } from './helpers.ts'

/** Rounds of commit-then-deliver `settle` runs at most: a rule that needs more is looping. */
const MAX_SETTLE_ROUNDS = 50

/**
 * What ws' WebSocket does for a Connection, in memory: frames the server sends wait in `inbox`
 * until the script delivers them; `close` records the code and reason the client would read.
 */
class MemorySocket extends EventEmitter {
  readonly OPEN = 1
  readyState = 1
  bufferedAmount = 0
  connection: Connection | null = null
  alive = true
  inbox: Uint8Array[] = []
  closed: { code: number; reason: string } | null = null

  send(data: Uint8Array): void {
    this.inbox.push(new Uint8Array(data))
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = { code, reason }
    this.readyState = 3
    // ws reports 'close' once the closing handshake is over, never inside close().
    queueMicrotask(() => this.emit('close'))
  }

  terminate(): void {
    this.close(1006, '')
  }

  /** The client hangs up: ws reports 'close' (from the network, never inside a call of ours). */
  hangUp(): void {
    this.readyState = 3
    this.emit('close')
  }

  pause(): void {}
  resume(): void {}
}

export interface TypistOptions {
  /** Came in with a read-only link. */
  readOnly?: boolean
  /** The writer key it presents (`?writer=`); by default one of its own. */
  writerKey?: string | null
  /**
   * The Yjs client id it types under; by default one of its own. Another typist's id is what a
   * squatter uses (Yjs itself would pick a new id once it sees that id's edits arrive: this one
   * insists, as a crafted client does).
   */
  clientId?: number
}

export class Typist {
  /** Resolves once its connection has joined the pad's room. */
  readonly joined: Promise<void>
  readonly name: string
  readonly doc = new Y.Doc()
  /**
   * Its presence, kept as the stock client keeps it (y-protocols): every change it hears, other
   * people's included, it sends back. None of its own until `present`.
   */
  readonly awareness: Awareness
  readonly socket = new MemorySocket()
  /** Auth messages it got (e.g. "read-only"). */
  readonly told: string[] = []
  private readonly connection: Connection
  private readonly clientId: number | undefined

  constructor(name: string, pad: Pad, options: TypistOptions) {
    this.name = name
    this.clientId = options.clientId
    const key = options.writerKey === undefined ? `${name}-writer-key-${'k'.repeat(24)}` : options.writerKey
    const writer = key === null ? null : writerFromUrl(`/sync/${pad.id}?writer=${key}`)
    if (writer === 'invalid') throw new Error(`invalid writer key ${key}`)
    this.connection = new Connection(
      this.socket as unknown as SyncSocket,
      null,
      '127.0.0.1',
      pad.id,
      writer,
      pad.host,
    )
    // Rooms open asynchronously (the store may answer late): settle() waits for every join.
    this.joined = pad.core.rooms
      .open(pad.id)
      .then((room) => this.connection.join(room, options.readOnly ?? false))
    // The stock client: its own edits go out as sync updates; it opens with a step 1.
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.sendFrame(encodeSyncUpdate(update))
    })
    this.awareness = new Awareness(this.doc)
    this.awareness.setLocalState(null)
    this.awareness.on('update', ({ added, updated, removed }: Record<string, number[]>) => {
      const changed = [...added!, ...updated!, ...removed!]
      this.sendFrame(encodeAwareness(encodeAwarenessUpdate(this.awareness, changed)))
    })
    this.sendFrame(encodeSyncStep1(Y.encodeStateVector(this.doc)))
  }

  /** Types `text` at `at` (the end by default): one keystroke frame. */
  types(text: string, at?: number): void {
    if (this.clientId !== undefined) this.doc.clientID = this.clientId
    const notes = this.doc.getText(NOTES_TEXT)
    notes.insert(at ?? notes.length, text)
  }

  /** Shows it as present, with `state` (e.g. `{ user: { name } }`), to everyone. */
  present(state: Record<string, unknown>): void {
    this.awareness.setLocalState(state)
  }

  /** The user names it shows as present, its own excepted, sorted. */
  sees(): string[] {
    const names: string[] = []
    for (const [clientId, state] of this.awareness.getStates()) {
      if (clientId !== this.awareness.clientID) names.push(String(state.user?.name))
    }
    return names.sort()
  }

  /** An editor's save check: a step 1, answered once everything it sent before is stored. */
  checksSaved(): void {
    this.sendFrame(encodeSyncStep1(Y.encodeStateVector(this.doc)))
  }

  /** It closes its socket (a tab closed, a laptop lid shut). */
  leaves(): void {
    this.socket.hangUp()
    this.awareness.destroy()
  }

  /** A raw frame, as a client (or a script) could send it. */
  sendFrame(frame: Uint8Array): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    this.socket.emit('message', Buffer.from(frame), true)
  }

  get text(): string {
    return this.doc.getText(NOTES_TEXT).toString()
  }

  /** The close code it got, null while open. */
  get closedWith(): number | null {
    return this.socket.closed?.code ?? null
  }

  /** Handles what the server sent it, as the stock client would; false if there was nothing. */
  deliver(): boolean {
    const frames = this.socket.inbox
    if (frames.length === 0) return false
    this.socket.inbox = []
    for (const frame of frames) {
      const decoded = decodeMessage(frame)
      if (!decoded.ok) throw new Error(`${this.name} got a malformed frame: ${decoded.error}`)
      const message = decoded.value
      switch (message.type) {
        case 'sync-step1':
          if (!this.socket.closed)
            this.sendFrame(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector)))
          break
        case 'sync-step2':
        case 'sync-update':
          Y.applyUpdate(this.doc, message.update, this)
          break
        case 'auth-denied':
          this.told.push(message.reason)
          break
        case 'awareness':
          applyAwarenessUpdate(this.awareness, message.update, this)
          break
        case 'query-awareness':
          break
        default: {
          const unknown: never = message
          throw new Error(`unexpected ${JSON.stringify(unknown)}`)
        }
      }
    }
    return true
  }
}

export class Pad {
  readonly id: string
  readonly core: Core
  readonly host: ConnectionHost
  private readonly typists: Typist[] = []

  constructor(id: string, core: Core, limits: RoomLimits) {
    this.id = id
    this.core = core
    this.host = {
      log: createLogger('silent'),
      metrics: undefined,
      rate: {
        bucket: new TokenBucket(DEFAULTS.messageRate, DEFAULTS.messageBurst),
        throttleCloseMs: DEFAULTS.throttleCloseMs,
      },
      maxSendBufferBytes: limits.maxPadBytes + SEND_BUFFER_MARGIN_BYTES,
      maxPreAuthMessages: DEFAULTS.maxPreAuthMessages,
      stalledReaderCloseMs: DEFAULTS.stalledReaderCloseMs,
      closed: () => {},
    }
  }

  /** A new client on this pad, handshake sent (it completes on the next `settle`). */
  typist(name: string, options: TypistOptions = {}): Typist {
    const typist = new Typist(name, this, options)
    this.typists.push(typist)
    return typist
  }

  /**
   * Lets the server commit what it received, then delivers its answers; until nothing moves.
   * Typists in `unread` read nothing meanwhile (a slow network): what they are sent waits in
   * their inbox until `deliver` or a later settle.
   */
  async settle(options: { unread?: readonly Typist[] } = {}): Promise<void> {
    await Promise.all(this.typists.map((typist) => typist.joined))
    const reading = this.typists.filter((typist) => !options.unread?.includes(typist))
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      // The real flusher runs on setImmediate; sockets report 'close' in a microtask.
      await new Promise((resolve) => setImmediate(resolve))
      let moved = false
      for (const typist of reading) if (typist.deliver()) moved = true
      if (!moved) return
    }
    throw new Error(`still busy after ${MAX_SETTLE_ROUNDS} rounds`)
  }

  /** The pad's text as stored (snapshot + log), not as any room or client holds it. */
  async stored(): Promise<string> {
    const doc = docFromStored(await this.core.store.load(this.id))
    try {
      return doc.getText(NOTES_TEXT).toString()
    } finally {
      doc.destroy()
    }
  }

  /** Rows in the pad's update log. */
  async storedRows(): Promise<number> {
    return (await this.core.store.load(this.id))?.updates.length ?? 0
  }

  async close(): Promise<void> {
    // y-protocols' Awareness checks for timed-out states on an interval of its own.
    for (const typist of this.typists) typist.awareness.destroy()
    await this.core.rooms.closeAll(CLOSE.serviceRestart, 'test over')
    await this.core.close()
  }
}

/** A pad on a fresh data directory, with the default limits unless given. */
export function openPad(limits: Partial<RoomLimits> = {}, id = 'rules'): Pad {
  const all: RoomLimits = {
    maxPadBytes: DEFAULTS.maxPadBytes,
    maxAwarenessStateBytes: DEFAULTS.maxAwarenessStateBytes,
    maxAwarenessClientsPerSocket: DEFAULTS.maxAwarenessClientsPerSocket,
    ...limits,
  }
  const core = openCore({
    dataDir: tempDir(),
    durability: 'normal',
    log: createLogger('silent'),
    snapshotEvery: DEFAULTS.snapshotEvery,
    unloadDelayMs: 60_000,
    limits: all,
  })
  return new Pad(id, core, all)
}

/** Runs `script` on a fresh pad (openPad) and closes it, whatever the script does. */
export async function onPad(limits: Partial<RoomLimits>, script: (pad: Pad) => Promise<void>): Promise<void> {
  const pad = openPad(limits)
  try {
    await script(pad)
  } finally {
    await pad.close()
  }
}
