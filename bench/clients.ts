/**
 * The load generator's clients.
 *
 * - `StockClient`: the unmodified npm y-websocket provider with its own Y.Doc, as a person's editor.
 * - `RawClient`: a cheap observer speaking y-protocols over a raw socket without a Y.Doc — it
 *   answers the server's step 1 with an empty step 2, sends one awareness state, and finds the
 *   typed tokens in the bytes of each update it receives. Hundreds fit on one core.
 * - `RawWriter`: a raw client that also types, from a private Y.Doc holding only its own text (its
 *   updates are valid for the server: they refer only to items that writer sent before).
 *
 * Every keystroke inserts one token `<writer.seq>`; a `Tracker` maps each token to the time it was
 * typed, so an observer's receive time gives that keystroke's fan-out latency. Yjs writes string
 * content as UTF-8 inside the update, so a token can be found in the frame without decoding it.
 */
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

export const TEXT_NAME = 'notes'

const MESSAGE_SYNC = 0
const MESSAGE_AWARENESS = 1
const SYNC_STEP1 = 0
const SYNC_STEP2 = 1
const SYNC_UPDATE = 2
/** sync step 1 with the state vector of an empty doc. */
const EMPTY_STEP1 = Uint8Array.of(MESSAGE_SYNC, SYNC_STEP1, 1, 0)
/** sync step 2 with the empty update. */
const EMPTY_STEP2 = Uint8Array.of(MESSAGE_SYNC, SYNC_STEP2, 2, 0, 0)

const LT = 0x3c
const GT = 0x3e
const MAX_TOKEN_BYTES = 16

export const token = (writer: number, seq: number): string => `<${writer.toString(36)}.${seq.toString(36)}>`

/** The writer index of a token (its part before the dot). */
export const writerOf = (tok: string): number => Number.parseInt(tok.slice(1, tok.indexOf('.')), 36)

const isTokenByte = (b: number): boolean => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || b === 0x2e

/** Calls `found` for every `<...>` token in the bytes (binary noise that looks like one is ignored by the tracker). */
export function scanTokens(bytes: Uint8Array, found: (tok: string) => void): void {
  const n = bytes.length
  for (let i = bytes.indexOf(LT); i !== -1 && i < n; i = bytes.indexOf(LT, i + 1)) {
    let j = i + 1
    while (j < n && j - i <= MAX_TOKEN_BYTES && isTokenByte(bytes[j]!)) j++
    if (j < n && bytes[j] === GT && j > i + 1) {
      found(String.fromCharCode(...bytes.subarray(i, j + 1)))
      i = j
    }
  }
}

/** Every token in a text (e.g. a pad read back after a restart). */
export function tokensIn(text: string): Set<string> {
  return new Set(text.match(/<[0-9a-z]+\.[0-9a-z]+>/g) ?? [])
}

interface Sent {
  at: number
  writer: number
  delivered: number
}

/**
 * Typed tokens and their deliveries. Each observer delivers a token at most once; the writer's own
 * echo (the reference server sends updates back to their sender) is not a delivery.
 */
export class Tracker {
  private readonly sent = new Map<string, Sent>()
  latencies: number[] = []
  delivered = 0
  /** Called after each delivery (e.g. to kill the server once half of a burst was seen). */
  onDelivered: (() => void) | null = null
  /** Deliveries each token should get (observers other than its writer). */
  private readonly expectedPerToken: number

  constructor(expectedPerToken: number) {
    this.expectedPerToken = expectedPerToken
  }

  typed(tok: string, writer: number, at = performance.now()): void {
    this.sent.set(tok, { at, writer, delivered: 0 })
  }

  /** Forgets every keystroke and delivery so far (after a warm-up). */
  reset(): void {
    this.sent.clear()
    this.latencies = []
    this.delivered = 0
  }

  get sentCount(): number {
    return this.sent.size
  }

  get expected(): number {
    return this.sent.size * this.expectedPerToken
  }

  /** Returns false for a token this tracker does not know (binary noise, another run's token). */
  deliver(tok: string, observer: number, at: number): boolean {
    const sent = this.sent.get(tok)
    if (!sent || sent.writer === observer) return false
    sent.delivered++
    this.delivered++
    this.latencies.push(at - sent.at)
    this.onDelivered?.()
    return true
  }

  get complete(): boolean {
    return this.delivered >= this.expected
  }

  has(tok: string): boolean {
    return this.sent.has(tok)
  }
}

export interface RawClientOptions {
  /** Writer index of this client: its own tokens are not deliveries. -1 for none. */
  id?: number
  /** Send this awareness state (JSON) once connected, as an editor would. */
  awareness?: Record<string, unknown> | null
  /** Receives tokens found in sync updates. */
  tracker?: Tracker | null
}

let nextClientId = 1 + Math.floor(Math.random() * 1_000_000)

export function encodeAwarenessFrame(clientId: number, clock: number, state: unknown): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, 1)
  encoding.writeVarUint(inner, clientId)
  encoding.writeVarUint(inner, clock)
  encoding.writeVarString(inner, JSON.stringify(state))
  encoding.writeVarUint8Array(encoder, encoding.toUint8Array(inner))
  return encoding.toUint8Array(encoder)
}

export function encodeUpdateFrame(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, SYNC_UPDATE)
  encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}

export class RawClient {
  readonly ws: WebSocket
  readonly id: number
  synced = false
  closed = false
  closeCode = 0
  framesReceived = 0
  tracker: Tracker | null
  /** Tokens this observer received (first time each). */
  readonly seen = new Set<string>()
  private readonly syncedPromise: Promise<void>

  constructor(url: string, options: RawClientOptions = {}) {
    this.id = options.id ?? -1
    this.tracker = options.tracker ?? null
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    let resolveSynced: () => void = () => {}
    let rejectSynced: (err: Error) => void = () => {}
    this.syncedPromise = new Promise((resolve, reject) => {
      resolveSynced = resolve
      rejectSynced = reject
    })
    this.syncedPromise.catch(() => {})
    this.ws.on('error', (err) => rejectSynced(err))
    this.ws.on('close', (code) => {
      this.closed = true
      this.closeCode = code
      rejectSynced(new Error(`closed with ${code} before sync`))
    })
    this.ws.on('open', () => {
      this.ws.send(EMPTY_STEP1)
      if (options.awareness) this.ws.send(encodeAwarenessFrame(nextClientId++, 1, options.awareness))
    })
    this.ws.on('message', (data: Buffer) => {
      this.framesReceived++
      if (data[0] !== MESSAGE_SYNC) return
      const syncType = data[1]
      if (syncType === SYNC_UPDATE) {
        if (this.tracker) this.scan(data)
      } else if (syncType === SYNC_STEP1) {
        this.ws.send(EMPTY_STEP2)
      } else if (syncType === SYNC_STEP2 && !this.synced) {
        this.synced = true
        resolveSynced()
      }
    })
  }

  whenSynced(): Promise<void> {
    return this.syncedPromise
  }

  send(frame: Uint8Array): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame)
  }

  /** Forgets which tokens this observer has seen (between saturation steps). */
  resetSeen(): void {
    this.seen.clear()
  }

  close(): void {
    this.ws.terminate()
  }

  private scan(frame: Buffer): void {
    const tracker = this.tracker!
    const at = performance.now()
    scanTokens(frame, (tok) => {
      if (this.seen.has(tok)) return
      if (tracker.deliver(tok, this.id, at)) this.seen.add(tok)
    })
  }
}

/** A raw client that types: its own Y.Doc holds only its own text. */
export class RawWriter extends RawClient {
  readonly doc = new Y.Doc()
  private readonly text = this.doc.getText(TEXT_NAME)

  constructor(url: string, options: RawClientOptions & { id: number }) {
    super(url, options)
    this.doc.on('update', (update: Uint8Array) => this.send(encodeUpdateFrame(update)))
  }

  type(tok: string): void {
    this.text.insert(this.text.length, tok)
  }

  /** The frames of `count` keystrokes, made now and sent later (a burst that costs the load generator nothing while it runs). */
  prepareBurst(count: number, tokenOf: (seq: number) => string): Uint8Array[] {
    const frames: Uint8Array[] = []
    const scratch = new Y.Doc()
    scratch.clientID = this.doc.clientID
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(this.doc))
    const text = scratch.getText(TEXT_NAME)
    scratch.on('update', (update: Uint8Array) => frames.push(encodeUpdateFrame(update)))
    for (let seq = 0; seq < count; seq++) text.insert(text.length, tokenOf(seq))
    scratch.destroy()
    return frames
  }
}

/**
 * A raw client that reconnects like the stock y-websocket 3.1 client: every close counts as a failed
 * attempt, the next one after min(100 ms × 2^attempts, 2.5 s), the count reset once synced. For the
 * restart storm at sizes where a thousand stock clients (a Y.Doc and awareness each) would measure
 * the load generator instead of the server.
 */
export class ReconnectingRawClient {
  private readonly url: string
  private readonly options: RawClientOptions
  private client: RawClient
  private attempts = 0
  private stopped = false
  /** Called on every (re)sync. */
  onSynced: (() => void) | null = null

  constructor(url: string, options: RawClientOptions = {}) {
    this.url = url
    this.options = options
    this.client = this.open()
  }

  get synced(): boolean {
    return this.client.synced
  }

  whenSynced(): Promise<void> {
    return this.client.whenSynced()
  }

  close(): void {
    this.stopped = true
    this.client.close()
  }

  private open(): RawClient {
    const client = new RawClient(this.url, this.options)
    client.whenSynced().then(
      () => {
        this.attempts = 0
        this.onSynced?.()
      },
      () => {},
    )
    client.ws.on('close', () => {
      if (this.stopped) return
      this.attempts++
      setTimeout(
        () => {
          if (!this.stopped) this.client = this.open()
        },
        Math.min(100 * 2 ** this.attempts, 2500),
      )
    })
    return client
  }
}

/** The stock npm y-websocket client. */
export class StockClient {
  readonly doc = new Y.Doc()
  readonly text = this.doc.getText(TEXT_NAME)
  readonly provider: WebsocketProvider
  private destroyed = false

  constructor(serverUrl: string, padId: string, name: string | null = null) {
    this.provider = new WebsocketProvider(serverUrl, padId, this.doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      // Clients in one process would otherwise sync through a BroadcastChannel, not the server.
      disableBc: true,
    })
    if (name) this.provider.awareness.setLocalStateField('user', { name, color: '#3366cc' })
  }

  get synced(): boolean {
    return this.provider.synced
  }

  whenSynced(): Promise<void> {
    if (this.provider.synced) return Promise.resolve()
    return new Promise((resolve) => {
      const onSync = (synced: boolean) => {
        if (!synced) return
        this.provider.off('sync', onSync)
        resolve()
      }
      this.provider.on('sync', onSync)
    })
  }

  type(tok: string): void {
    this.text.insert(this.text.length, tok)
  }

  close(): void {
    this.destroy()
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.provider.destroy()
    this.provider.awareness.destroy()
    this.doc.destroy()
  }
}

/** Opens `count` clients, at most `concurrency` handshakes at a time; resolves when all are synced. */
export async function openAll<C extends { whenSynced(): Promise<void>; close(): void }>(
  count: number,
  make: (i: number) => C,
  concurrency = 50,
  // Joins slow down with the square of the count (every join is broadcast to everyone).
  timeoutMs = 30_000 + count * 40,
): Promise<C[]> {
  const clients: C[] = []
  let next = 0
  const deadline = performance.now() + timeoutMs
  let synced = 0
  const worker = async () => {
    while (next < count) {
      const client = make(next++)
      clients.push(client)
      const left = deadline - performance.now()
      await Promise.race([
        client.whenSynced(),
        new Promise((_, reject) =>
          setTimeout(
            () => reject(new Error(`${synced} of ${count} clients synced within ${timeoutMs} ms`)),
            left,
          ).unref(),
        ),
      ])
      synced++
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  } catch (err) {
    for (const client of clients) client.close()
    throw err
  }
  return clients
}

/**
 * Drives typists at a fixed rate each, phases spread at random, from one timer. A typist fires at
 * most once per tick, so a stalled load generator types late instead of in bursts.
 */
export class Metronome {
  private readonly timer: NodeJS.Timeout
  private readonly due: number[]
  private readonly periodMs: number

  constructor(typists: readonly (() => void)[], perSecond: number) {
    this.periodMs = 1000 / perSecond
    const now = performance.now()
    this.due = typists.map(() => now + Math.random() * this.periodMs)
    this.timer = setInterval(() => {
      const t = performance.now()
      typists.forEach((type, i) => {
        let at = this.due[i]!
        if (t < at) return
        type()
        at += this.periodMs
        if (at < t - this.periodMs) at = t
        this.due[i] = at
      })
    }, 4)
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
