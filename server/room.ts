/**
 * One pad in memory: its Y.Doc, the peers editing it, and their presence.
 *
 * The path of an update: `receiveUpdate` validates it completely (shared/update-check), applies
 * it with the peer as the transaction origin, and the doc's `update` event queues the delta that
 * was actually integrated. The tick flusher commits the queued rows of every room in one SQLite
 * transaction and then calls `committed`, which broadcasts them. Nothing that carries document
 * content leaves the room before the commit of everything it contains: a sync step 2 flushes
 * first. Frames of one peer are handled in order and synchronously, so the step 2 answering a
 * peer's step 1 acknowledges every update that peer sent before it.
 */
import * as Y from 'yjs'
import {
  decodeAwarenessUpdate,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import { checkStateVector, checkUpdate } from '../shared/update-check.ts'
import type { Logger } from './logger.ts'
import { encodeState, LOAD_ORIGIN } from './pad-doc.ts'
import { CLOSE, type Origin, type Peer, type Refusal } from './peer.ts'
import { Presence } from './presence.ts'
import type { LogRow, PadStore } from './store.ts'

export interface PendingRow extends LogRow {
  origin: Origin
}

/** What a room needs from the rest of the server. */
export interface RoomHost {
  store: PadStore
  log: Logger
  /** Log rows after which a compacted snapshot is written. */
  snapshotEvery: number
  /** Queue this room's pending rows for the commit at the end of the tick. */
  markDirty(room: Room): void
  /** Commit every room's pending rows now (before sending content that includes them). */
  flushNow(): void
  /** The room can no longer be trusted to match its store: close its peers and drop it. */
  discard(room: Room, reason: string): void
  /** The last peer left. */
  emptied(room: Room): void
  /** The pad's stored text changed (for the search index; cheap, called per commit). */
  changed(room: Room): void
}

export interface StoredPosition {
  /** Seq of the newest stored log row of this pad (0 when none). */
  lastSeq: number
  /** Seq the newest snapshot covers (0 when none). */
  snapshotSeq: number
  /** Log rows after the newest snapshot. */
  rowsSinceSnapshot: number
}

type Result = { ok: true } | ({ ok: false } & Refusal)
const OK: Result = { ok: true }

export class Room {
  readonly padId: string
  readonly doc: Y.Doc
  private readonly host: RoomHost
  private readonly peers = new Set<Peer>()
  private readonly presence = new Presence<Peer>()
  private pending: PendingRow[] = []
  private position: StoredPosition
  private discarded = false

  constructor(padId: string, doc: Y.Doc, position: StoredPosition, host: RoomHost) {
    this.padId = padId
    this.doc = doc
    this.position = position
    this.host = host
    doc.on('update', (update: Uint8Array, origin: unknown) => this.queue(update, origin))
  }

  get peerCount(): number {
    return this.peers.size
  }

  /** Who is here: client ids and names from awareness. */
  people(): { clientId: number; name: string | null }[] {
    return this.presence.people()
  }

  join(peer: Peer): void {
    this.peers.add(peer)
    // Our step 1 makes the client answer with everything we lack — the only way edits made
    // while it was offline reach us (the client drops updates while disconnected).
    peer.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    const everyone = this.presence.all()
    if (everyone.length > 0) peer.send(encodeAwareness(encodeAwarenessUpdate(everyone)))
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer) || this.discarded) return
    const removed = this.presence.removePeer(peer)
    if (removed.length > 0) this.broadcast(encodeAwareness(encodeAwarenessUpdate(removed)))
    if (this.peers.size === 0) this.host.emptied(this)
  }

  /**
   * Sync step 1 from a peer: answer with what it lacks, after committing what it sent before.
   * A repeated step 1 (an editor checking that its changes are saved) is also answered with our
   * own step 1, so the peer sends back whatever we still lack — including updates whose frames
   * were lost on the way — and its next step 1 then acknowledges them.
   */
  sendStateTo(peer: Peer, stateVector: Uint8Array, askBack: boolean): Result {
    const sv = checkStateVector(stateVector)
    if (!sv.ok) return { ok: false, code: CLOSE.protocolError, reason: `invalid state vector: ${sv.error}` }
    if (this.pending.length > 0) this.host.flushNow()
    if (this.discarded) return OK
    peer.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, stateVector)))
    if (askBack) peer.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    return OK
  }

  /** Sync step 2 or update from a peer (or the server itself, with its own origin). */
  receiveUpdate(origin: Origin, update: Uint8Array, replyTo?: Peer): Result {
    const shape = checkUpdate(update)
    if (!shape.ok) return { ok: false, code: CLOSE.invalidPayload, reason: `invalid update: ${shape.error}` }
    for (const [client, clock] of shape.value.starts) {
      if (clock > Y.getState(this.doc.store, client)) {
        // A gap in that client's clocks: something before this update never reached us. Applying
        // would park it as pending; ask for everything we lack instead (the answer includes it).
        replyTo?.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
        return OK
      }
    }
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (err) {
      // The validator mirrors Yjs' reader, so this means a Yjs invariant we do not model broke
      // mid-apply. Part of the update may be in the doc: drop the room before anything of it is
      // committed or sent, and let everyone reload from the store.
      this.host.log.error(
        { pad: this.padId, conn: origin.id, err },
        'update threw while applying; reloading pad',
      )
      this.host.discard(this, 'pad reloading')
      return { ok: false, code: CLOSE.invalidPayload, reason: 'update could not be applied' }
    }
    const store = this.doc.store
    if (store.pendingStructs || store.pendingDs) {
      // It referred to items we do not have. Parked structs would live in memory and in every
      // snapshot forever; drop them and ask the sender for everything we lack instead.
      store.pendingStructs = null
      store.pendingDs = null
      replyTo?.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    }
    return OK
  }

  receiveAwareness(peer: Peer, update: Uint8Array): Result {
    const entries = decodeAwarenessUpdate(update)
    if (!entries.ok)
      return { ok: false, code: CLOSE.protocolError, reason: `invalid awareness: ${entries.error}` }
    const accepted = this.presence.apply(peer, entries.value)
    // The sender gets its own state back too: for a browser this echo is the only sign of life it
    // can see (it cannot see ws pings), and the stock client reconnects after 30 s of silence.
    if (accepted.length > 0) this.broadcast(encodeAwareness(encodeAwarenessUpdate(accepted)))
    return OK
  }

  sendPresenceTo(peer: Peer): void {
    peer.send(encodeAwareness(encodeAwarenessUpdate(this.presence.all())))
  }

  /**
   * Applies an update the server has already stored itself (e.g. a template written in the
   * transaction that created the pad) and sends it to the peers: it is not logged again.
   */
  applyStored(update: Uint8Array, seq: number): void {
    if (this.pending.length > 0) this.host.flushNow()
    Y.applyUpdate(this.doc, update, LOAD_ORIGIN)
    this.position.lastSeq = Math.max(this.position.lastSeq, seq)
    this.position.rowsSinceSnapshot++
    this.broadcast(encodeSyncUpdate(update))
    this.host.changed(this)
  }

  /** Replaces the pad's stored history with its current state (see PadStore.forgetHistory). */
  forgetHistory(): void {
    if (this.pending.length > 0) this.host.flushNow()
    this.host.store.forgetHistory(this.padId, encodeState(this.doc))
    this.position.snapshotSeq = this.position.lastSeq
    this.position.rowsSinceSnapshot = 0
  }

  /** Hands the rows queued this tick to the flusher. */
  takePending(): PendingRow[] {
    const rows = this.pending
    this.pending = []
    return rows
  }

  /** Called after `rows` are durable, with their seqs: now they may be sent. */
  committed(rows: readonly PendingRow[], seqs: readonly number[]): void {
    if (this.discarded || rows.length === 0) return
    this.position.lastSeq = seqs[seqs.length - 1]!
    this.position.rowsSinceSnapshot += rows.length
    const first = rows[0]!
    const merged = rows.length === 1 ? first.data : Y.mergeUpdates(rows.map((r) => r.data))
    const soleOrigin = rows.every((r) => r.origin === first.origin) ? first.origin : null
    const message = encodeSyncUpdate(merged)
    for (const peer of this.peers) if (peer !== soleOrigin) peer.send(message)
    if (this.position.rowsSinceSnapshot >= this.host.snapshotEvery) this.snapshot()
    this.host.changed(this)
  }

  /** The commit of this tick failed: what the doc holds no longer matches the store. */
  persistFailed(err: unknown): void {
    this.host.log.error({ pad: this.padId, err }, 'could not store updates; reloading pad')
    this.host.discard(this, 'storage error, reconnect')
  }

  /** Writes a compacted snapshot if anything was logged since the last one. */
  snapshot(): void {
    if (this.discarded || this.position.lastSeq <= this.position.snapshotSeq) return
    if (this.pending.length > 0) this.host.flushNow()
    try {
      this.host.store.writeSnapshot(this.padId, this.position.lastSeq, encodeState(this.doc))
      this.position.snapshotSeq = this.position.lastSeq
      this.position.rowsSinceSnapshot = 0
    } catch (err) {
      // The log is complete without it; a snapshot only makes the next load faster.
      this.host.log.error({ pad: this.padId, err }, 'could not write snapshot')
    }
  }

  /** Closes every peer and stops the room; pending rows are dropped (they were never sent). */
  close(code: number, reason: string): void {
    this.discarded = true
    this.pending = []
    for (const peer of [...this.peers]) peer.close(code, reason)
    this.peers.clear()
    this.doc.destroy()
  }

  private queue(update: Uint8Array, origin: unknown): void {
    if (origin === LOAD_ORIGIN || this.discarded) return
    const from = origin as Origin
    this.pending.push({
      padId: this.padId,
      at: Date.now(),
      conn: from.id,
      author: this.presence.nameOf(from as Peer),
      data: update,
      origin: from,
    })
    this.host.markDirty(this)
  }

  private broadcast(message: Uint8Array): void {
    for (const peer of this.peers) peer.send(message)
  }
}
