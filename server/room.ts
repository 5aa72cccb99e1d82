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
  type AwarenessEntry,
  decodeAwarenessUpdate,
  encodeAuthDenied,
  encodeAwareness,
  encodeAwarenessUpdate,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../shared/protocol.ts'
import { checkStateVector, checkUpdate, lacksDependencies, withinClockBound } from '../shared/update-check.ts'
import { sanitizeAwarenessState } from './limits.ts'
import type { Logger } from './logger.ts'
import { notesTextRefusal } from './notes-text-check.ts'
import { docFromStored, encodeState, LOAD_ORIGIN, type LoadedPad } from './pad-doc.ts'
import { CLOSE, type Origin, type Peer, type Refusal } from './peer.ts'
import { Presence } from './presence.ts'
import { snapshotDue } from './snapshot-policy.ts'
import type { LogRow, PadStore } from './store.ts'
import { checkWriters, type WriterView, withoutClients } from './writer-check.ts'
import type { WriterHash } from './writer-key.ts'

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
  /**
   * The stored snapshot the room started from (and may already have sent) does not rebuild: drop
   * the room, and load this pad the careful way from now on (it then refuses clients before any byte).
   */
  buildFailed(room: Room): void
  /** The last peer left. */
  emptied(room: Room): void
  /** The pad's stored text changed (for the search index; cheap, called per commit). */
  changed(room: Room): void
  /**
   * May this peer create this pad now? Asked only when an update would store the first content of
   * a pad that has none: connections and empty sync step 2s (every stock client sends one) are
   * not pads.
   */
  mayCreatePad(peer: Origin, padId: string): boolean
  limits: RoomLimits
}

export interface RoomLimits {
  maxPadBytes: number
  maxAwarenessStateBytes: number
  maxAwarenessClientsPerSocket: number
}

/** Rows merged into one broadcast frame at most (see `committed`). */
const MERGE_CHUNK_ROWS = 100

/** Close code when a closed session is reopened: not 44xx, so the stock client reconnects at once. */
export const CLOSE_REOPENED = 4100

/** The auth message a read-only peer gets once: its edits are not stored. */
export const READ_ONLY_REASON = 'read-only'

/** Close code when the pad is full: 44xx, so the stock client stops re-sending what cannot fit. */
export const CLOSE_PAD_FULL = 4413
/**
 * Close code for a live update under another writer's client id: 44xx, so a client built to
 * squat stops, instead of retrying what would be refused again.
 */
export const CLOSE_NOT_YOUR_EDITS = 4409
/** Close code for an update putting something other than text into `notes` (44xx: never stored). */
export const CLOSE_NOT_TEXT = 4415
/**
 * Close code for a socket that reads too slowly to keep up (its send buffer passed its bound):
 * not 44xx, so the stock client reconnects and catches up with a normal sync.
 */
export const CLOSE_SLOW_READER = 4001
/**
 * Close code when a wait says "later" (authorisation too slow): retryable (1013 Try Again Later).
 * Only for refusals where the stock client's next attempt, a few seconds on, can succeed without
 * it changing what it sends; its backoff grows, since a refused socket never synced.
 */
export const CLOSE_TRY_LATER = 1013
/**
 * Close code when this address created too many pads in the last minute: 44xx, so the stock
 * client stops. It syncs (empty) before its first edit is refused, and a synced connection resets
 * its backoff: with a retryable code it would reconnect every ~200 ms until the minute is over,
 * re-sending the same refused edit each time. The browser shows the reason; the text stays in
 * its local copy and is sent when the page is reloaded.
 */
export const CLOSE_TOO_MANY_NEW_PADS = 4429
/** Close code for a client breaking a limit on purpose-shaped input (1008 Policy Violation). */
export const CLOSE_POLICY = 1008
/**
 * Close code when a presence state is over MAX_AWARENESS_STATE_BYTES: 44xx (as HTTP 431, fields
 * too large), so the stock client stops. It re-sends its own state on every connection, after
 * syncing (which resets its backoff): a retryable code would bring it back every ~200 ms.
 */
export const CLOSE_AWARENESS_TOO_LARGE = 4431

export interface StoredPosition {
  /** Seq of the newest stored log row of this pad (0 when none). */
  lastSeq: number
  /** Seq the newest snapshot covers (0 when none). */
  snapshotSeq: number
  /** Log rows after the newest snapshot. */
  rowsSinceSnapshot: number
  /** Their bytes (snapshot-policy.ts weighs them against the snapshot's size). */
  bytesSinceSnapshot: number
  /** Size of the newest snapshot (0 when none). */
  snapshotBytes: number
  /**
   * Upper bound of the pad's encoded size: the newest snapshot plus every update since (deleted
   * content is counted until the next snapshot measures exactly). Checked per update for free.
   */
  approxBytes: number
}

type Result = { ok: true } | ({ ok: false } & Refusal)
const OK: Result = { ok: true }

export class Room {
  readonly padId: string
  /** Null until built from `unbuilt`. */
  private current: Y.Doc | null
  /**
   * A pad whose snapshot covers its whole log starts as those bytes alone. Rebuilding the Y.Doc is
   * most of a cold load (10–90 ms and megabytes of objects for a pad of 50,000 keystrokes), and
   * someone opening the pad with an empty document needs only the bytes: they are sent as they
   * are. The doc is built when something needs it (`doc`): an edit, a client that already holds
   * part of the pad, a save check. People reading old minutes never cost a rebuild.
   */
  private unbuilt: Uint8Array | null
  private readonly host: RoomHost
  private readonly peers = new Set<Peer>()
  private readonly presence = new Presence<Peer>()
  private pending: PendingRow[] = []
  private position: StoredPosition
  private discarded = false
  /** Closed session: everyone's updates are dropped, never stored (a read-only link: one peer's). */
  private readOnly = false
  private readonly toldReadOnly = new WeakSet<Origin>()
  /**
   * Presence frames that arrived while this tick's updates wait for their commit. A typist's
   * keystroke comes with a cursor move; relayed at once, the cursor's 200 sends would go out
   * before the keystroke's own 200 (which wait for the commit). Sent right after them instead,
   * in arrival order.
   */
  private presenceAfterCommit: Uint8Array[] = []
  /**
   * The writer key each Yjs client id was first written with (null: none), as far as looked up
   * in the store or claimed here: an id's key never changes once it holds structs.
   */
  private readonly writers = new Map<number, WriterHash | null>()

  constructor(padId: string, loaded: LoadedPad, position: StoredPosition, host: RoomHost) {
    this.padId = padId
    this.current = loaded.doc
    this.unbuilt = loaded.state
    this.position = position
    this.host = host
    if (loaded.doc) this.listen(loaded.doc)
  }

  /** The pad's live document (replaced, never mutated in place, when a bad apply is undone). */
  get doc(): Y.Doc {
    return this.current ?? this.build()
  }

  /** Throws (after closing every peer with 1011) if the stored state cannot be rebuilt. */
  private build(): Y.Doc {
    // Closed before anyone needed the doc: there is none to give (and an empty one would be a lie).
    if (this.discarded || this.unbuilt === null) throw new Error(`pad ${this.padId} is closed`)
    let doc: Y.Doc
    try {
      doc = docFromStored({ snapshot: this.unbuilt, snapshotUpto: this.position.snapshotSeq, updates: [] })
    } catch (err) {
      this.host.log.error({ pad: this.padId, err }, 'could not rebuild the pad from its snapshot')
      this.host.buildFailed(this)
      throw err
    }
    this.unbuilt = null
    this.current = doc
    this.listen(doc)
    // Everyone here joined before the doc existed and is still owed our step 1 (see `join`).
    if (this.peers.size > 0) {
      const step1 = encodeSyncStep1(Y.encodeStateVector(doc))
      for (const peer of this.peers) peer.send(step1)
    }
    return doc
  }

  private listen(doc: Y.Doc): void {
    doc.on('update', (update: Uint8Array, origin: unknown) => this.queue(update, origin))
  }

  /**
   * Undoes a failed apply: rebuilds the doc from the store plus the rows this tick queued before
   * it (none of which was sent yet), so the half-applied update vanishes and nobody else notices.
   * Returns false when even that fails (then the room must be dropped).
   */
  private rollBackTo(keepRows: number): boolean {
    try {
      const kept = this.pending.slice(0, keepRows)
      const doc = docFromStored(this.host.store.load(this.padId))
      Y.transact(
        doc,
        () => {
          for (const row of kept) Y.applyUpdate(doc, row.data, LOAD_ORIGIN)
        },
        LOAD_ORIGIN,
      )
      this.current?.destroy()
      this.current = doc
      this.listen(doc)
      this.pending = kept
      return true
    } catch (err) {
      this.host.log.error({ pad: this.padId, err }, 'could not rebuild the pad after a failed update')
      return false
    }
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
    // while it was offline reach us (the client drops updates while disconnected). Not built
    // yet: `build` sends it, once there is a state vector to send.
    if (this.current) peer.send(encodeSyncStep1(Y.encodeStateVector(this.current)))
    const everyone = this.presence.all()
    if (everyone.length > 0) peer.send(encodeAwareness(encodeAwarenessUpdate(everyone)))
    if (this.readOnly || peer.readOnly) this.tellReadOnly(peer)
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer) || this.discarded) return
    this.removePresence(peer)
    if (this.peers.size === 0) this.host.emptied(this)
  }

  /**
   * The peer's socket is gone but edits it sent are still being handled (see Connection): it
   * disappears from everyone's presence now, and stays a member, keeping the room loaded, until
   * it leaves.
   */
  forgetPresence(peer: Peer): void {
    if (this.peers.has(peer) && !this.discarded) this.removePresence(peer)
  }

  private removePresence(peer: Peer): void {
    const removed = this.presence.removePeer(peer)
    if (removed.length > 0) this.relayPresence(encodeAwareness(encodeAwarenessUpdate(removed)))
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
    if (this.unbuilt && sv.value.size === 0 && !askBack) {
      // Someone opening the pad afresh: the snapshot is exactly what it lacks.
      peer.send(encodeSyncStep2(this.unbuilt))
      return OK
    }
    peer.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, stateVector)))
    if (askBack) peer.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    return OK
  }

  get isReadOnly(): boolean {
    return this.readOnly
  }

  setReadOnly(on: boolean): void {
    const was = this.readOnly
    this.readOnly = on
    if (on) for (const peer of this.peers) this.tellReadOnly(peer)
    // There is no "you may write again" message: reconnecting starts a fresh, writable session
    // (and the clients' step 2 then delivers what they typed meanwhile, if anything).
    else if (was) for (const peer of [...this.peers]) peer.close(CLOSE_REOPENED, 'session reopened')
  }

  private tellReadOnly(peer: Peer): void {
    if (this.toldReadOnly.has(peer)) return
    this.toldReadOnly.add(peer)
    peer.send(encodeAuthDenied(READ_ONLY_REASON))
  }

  /**
   * Sync step 2 or update from a peer (or the server itself, with its own origin). `live`: a
   * sync update (a peer's own typing) rather than a step 2 (everything the server lacks, which
   * after a restore or a failover honestly includes other people's edits).
   */
  receiveUpdate(origin: Origin, input: Uint8Array, replyTo?: Peer, live = false): Result {
    let update = input
    if (replyTo && (this.readOnly || replyTo.readOnly)) {
      // Still served, never changed: the stock client keeps its copy; we keep ours.
      this.tellReadOnly(replyTo)
      return OK
    }
    const shape = checkUpdate(update)
    if (!shape.ok) return { ok: false, code: CLOSE.invalidPayload, reason: `invalid update: ${shape.error}` }
    if (!withinClockBound(shape.value))
      return { ok: false, code: CLOSE.invalidPayload, reason: 'invalid update: clock out of range' }
    if (lacksDependencies(shape.value, (client) => Y.getState(this.doc.store, client))) {
      // Something before this update never reached us (a lost frame, a restored server). Applying
      // would park it as pending; ask for everything we lack instead (the answer includes it).
      replyTo?.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
      return OK
    }
    let claims: number[] = []
    /** The shape of what is kept of the update (all of it, unless another writer's part is dropped). */
    let kept = shape.value
    /** Part of a step 2 was someone else's: asking back would only bring the same part again. */
    let stripped = false
    if (replyTo) {
      const verdict = checkWriters(shape.value, replyTo.writer, live, this.writerView(replyTo))
      if (verdict.foreign.length > 0) {
        if (live) {
          return {
            ok: false,
            code: CLOSE_NOT_YOUR_EDITS,
            reason: `edits under another writer's client id ${verdict.foreign[0]}`,
          }
        }
        // A step 2 carrying another writer's new edits: what a squatter sends, but also what a
        // stock client sends after a restore. Keep the rest; the writer delivers its own.
        update = withoutClients(update, verdict.foreign)
        stripped = true
        const rest = checkUpdate(update)
        if (!rest.ok)
          return { ok: false, code: CLOSE.invalidPayload, reason: `invalid update: ${rest.error}` }
        kept = rest.value
        if (lacksDependencies(kept, (client) => Y.getState(this.doc.store, client))) {
          // Retryable: once that writer is back, this client's next sync gets in.
          return {
            ok: false,
            code: CLOSE_TRY_LATER,
            reason: "your edits build on another writer's edits the server has not received yet",
          }
        }
      }
      claims = verdict.claims
      // Only new structs can put anything into notes: a reconnecting client's step 2 re-sending
      // what the pad holds (all of it, after a restore) is not decoded again.
      const adds = [...kept.ends].some(([client, end]) => end > Y.getState(this.doc.store, client))
      const notText = adds ? notesTextRefusal(this.doc, update) : null
      if (notText !== null) return { ok: false, code: CLOSE_NOT_TEXT, reason: notText }
    }
    if (!this.fits(update)) {
      return {
        ok: false,
        code: CLOSE_PAD_FULL,
        reason: `pad is full (${this.host.limits.maxPadBytes} bytes)`,
      }
    }
    // Whether this update is the pad's first content is known only once applied: Yjs emits (and
    // we queue) an update only when the doc changed.
    const creating = this.position.lastSeq === 0 && this.pending.length === 0
    const queuedBefore = this.pending.length
    const firstWritten = [...shape.value.ends.keys()].filter(
      (client) => Y.getState(this.doc.store, client) === 0,
    )
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (err) {
      // Valid bytes can still break a Yjs invariant mid-apply (it throws after integrating part
      // of the update). Roll the doc back to what is stored plus this tick's earlier rows; only
      // the sender is closed. If even that fails, everyone reloads from the store.
      this.host.log.warn(
        { pad: this.padId, conn: origin.id, err: String(err) },
        'update threw while applying; rolled back',
      )
      if (!this.rollBackTo(queuedBefore)) this.host.discard(this, 'pad reloading')
      return { ok: false, code: CLOSE.invalidPayload, reason: 'update could not be applied' }
    }
    if (creating && this.pending.length > 0 && !this.host.mayCreatePad(origin, this.padId)) {
      // Nothing was stored or sent: the pad goes back to empty, as if the update never came.
      if (!this.rollBackTo(0)) this.host.discard(this, 'pad reloading')
      return {
        ok: false,
        code: CLOSE_TOO_MANY_NEW_PADS,
        reason: 'too many new pads from your address in the last minute: reload the page in a minute',
      }
    }
    this.position.approxBytes += update.byteLength
    if (replyTo) this.noteWriters(firstWritten, claims, replyTo.writer, queuedBefore)
    const store = this.doc.store
    if (store.pendingStructs || store.pendingDs) {
      // It referred to items we do not have. Parked structs would live in memory and in every
      // snapshot forever; drop them and ask the sender for everything we lack instead.
      store.pendingStructs = null
      store.pendingDs = null
      if (!stripped) replyTo?.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    }
    return OK
  }

  /** What writer-check needs to know of this pad, for updates from `peer`. */
  private writerView(peer: Peer): WriterView {
    return {
      stateOf: (client) => Y.getState(this.doc.store, client),
      keyOf: (client) => {
        if (this.writers.has(client)) return this.writers.get(client)!
        const key = this.host.store.writerOf(this.padId, client)
        this.writers.set(client, key)
        return key
      },
      presenceOf: (client) => {
        const owner = this.presence.ownerOf(client)
        if (owner === undefined) return undefined
        return owner === peer ? { by: 'self' } : { by: 'other', writer: owner.writer }
      },
    }
  }

  /**
   * After an apply: the ids the update wrote first are claimed with the row that stores them (in
   * its transaction), and remembered; ids it wrote first without a claim are keyless.
   */
  private noteWriters(
    firstWritten: number[],
    claims: number[],
    writer: WriterHash | null,
    queuedBefore: number,
  ): void {
    for (const client of firstWritten) if (!claims.includes(client)) this.writers.delete(client)
    const row = this.pending.length > queuedBefore ? this.pending.at(-1) : undefined
    if (!row || claims.length === 0 || writer === null) return
    row.claims = claims
    row.writer = writer
    for (const client of claims) this.writers.set(client, writer)
  }

  receiveAwareness(peer: Peer, update: Uint8Array): Result {
    const decoded = decodeAwarenessUpdate(update)
    if (!decoded.ok)
      return { ok: false, code: CLOSE.protocolError, reason: `invalid awareness: ${decoded.error}` }
    const limits = this.host.limits
    const entries: AwarenessEntry[] = []
    for (const entry of decoded.value) {
      if (entry.state.length > limits.maxAwarenessStateBytes) {
        return {
          ok: false,
          code: CLOSE_AWARENESS_TOO_LARGE,
          reason: `awareness state over ${limits.maxAwarenessStateBytes} bytes`,
        }
      }
      // Names and colours end up in other people's editors (style attributes, labels).
      const state = sanitizeAwarenessState(entry.state, peer.readOnly)
      if (state === null)
        return { ok: false, code: CLOSE.protocolError, reason: 'awareness state is not a JSON object' }
      entries.push(state === entry.state ? entry : { ...entry, state })
    }
    // One entry per client id (the newest): a message repeating one id 10,000 times must not be
    // relayed, and echoed back by every peer, 10,000 times.
    const newest = new Map<number, AwarenessEntry>()
    for (const entry of entries) {
      const seen = newest.get(entry.clientId)
      if (!seen || entry.clock >= seen.clock) newest.set(entry.clientId, entry)
    }
    // The presence of a writer's client id is introduced only with its writer key: otherwise,
    // while her socket reconnects, anyone could take her id's presence (at clock 2^40, so that her
    // own updates are then ignored). Dropped silently, like every change to someone else's entry.
    for (const clientId of newest.keys()) {
      if (this.presence.ownerOf(clientId) !== undefined || !this.current) continue
      if (Y.getState(this.current.store, clientId) === 0) continue
      const key = this.writerView(peer).keyOf(clientId)
      if (key !== null && key !== peer.writer) newest.delete(clientId)
    }
    const accepted = this.presence.apply(peer, [...newest.values()], limits.maxAwarenessClientsPerSocket)
    if (accepted === null) {
      return {
        ok: false,
        code: CLOSE_POLICY,
        reason: `more than ${limits.maxAwarenessClientsPerSocket} awareness clients on one socket`,
      }
    }
    // The sender gets its own state back too: for a browser this echo is the only sign of life it
    // can see (it cannot see ws pings), and the stock client reconnects after 30 s of silence.
    if (accepted.length > 0) this.relayPresence(encodeAwareness(encodeAwarenessUpdate(accepted)))
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
    this.position.bytesSinceSnapshot += update.byteLength
    this.broadcast(encodeSyncUpdate(update))
    this.host.changed(this)
  }

  /** Replaces the pad's stored history with its current state (see PadStore.forgetHistory). */
  forgetHistory(): void {
    if (this.pending.length > 0) this.host.flushNow()
    const state = encodeState(this.doc)
    this.host.store.forgetHistory(this.padId, state)
    this.position.snapshotSeq = this.position.lastSeq
    this.position.rowsSinceSnapshot = 0
    this.position.bytesSinceSnapshot = 0
    this.position.snapshotBytes = state.byteLength
  }

  /** Hands the rows queued this tick to the flusher. */
  takePending(): PendingRow[] {
    const rows = this.pending
    this.pending = []
    return rows
  }

  /** Called after `rows` are durable, with their seqs: now they may be sent. */
  committed(rows: readonly PendingRow[], seqs: readonly number[]): void {
    if (this.discarded) return
    if (rows.length > 0) this.broadcastCommitted(rows, seqs)
    const presence = this.presenceAfterCommit
    this.presenceAfterCommit = []
    for (const frame of presence) this.broadcast(frame)
  }

  private broadcastCommitted(rows: readonly PendingRow[], seqs: readonly number[]): void {
    this.position.lastSeq = seqs[seqs.length - 1]!
    this.position.rowsSinceSnapshot += rows.length
    for (const row of rows) this.position.bytesSinceSnapshot += row.data.byteLength
    const first = rows[0]!
    const soleOrigin = rows.every((r) => r.origin === first.origin) ? first.origin : null
    // Yjs' mergeUpdates costs more per update the more it merges at once (it re-sorts its inputs
    // for every struct): a burst of hundreds of rows goes out as a few merged frames instead.
    for (let i = 0; i < rows.length; i += MERGE_CHUNK_ROWS) {
      const chunk = rows.slice(i, i + MERGE_CHUNK_ROWS)
      const merged = chunk.length === 1 ? chunk[0]!.data : Y.mergeUpdates(chunk.map((r) => r.data))
      const message = encodeSyncUpdate(merged)
      for (const peer of this.peers) if (peer !== soleOrigin) peer.send(message)
    }
    this.snapshotIfDue()
    this.host.changed(this)
  }

  /** The commit of this tick failed: what the doc holds no longer matches the store. */
  persistFailed(err: unknown): void {
    this.host.log.error({ pad: this.padId, err }, 'could not store updates; reloading pad')
    this.host.discard(this, 'storage error, reconnect')
  }

  /** Whether `update` can be added without the pad passing its size limit. */
  private fits(update: Uint8Array): boolean {
    const max = this.host.limits.maxPadBytes
    if (this.position.approxBytes + update.byteLength <= max) return true
    // The estimate counts deleted text until a snapshot; measure exactly before refusing.
    this.position.approxBytes = encodeState(this.doc).byteLength
    return this.position.approxBytes + update.byteLength <= max
  }

  /**
   * Writes a snapshot when enough was logged since the last to be worth one (snapshot-policy.ts).
   * `leaving`: the last person left, so a snapshot covering the whole log serves the next reader.
   */
  snapshotIfDue(leaving = false): void {
    const p = this.position
    const debt = {
      rowsSince: p.rowsSinceSnapshot,
      bytesSince: p.bytesSinceSnapshot,
      snapshotBytes: p.snapshotBytes,
    }
    if (snapshotDue(debt, this.host.snapshotEvery, leaving)) this.snapshot()
  }

  /** Writes a compacted snapshot now if anything was logged since the last one. */
  snapshot(): void {
    if (this.discarded || this.position.lastSeq <= this.position.snapshotSeq) return
    if (this.pending.length > 0) this.host.flushNow()
    try {
      const state = encodeState(this.doc)
      this.host.store.writeSnapshot(this.padId, this.position.lastSeq, state)
      this.position.snapshotSeq = this.position.lastSeq
      this.position.rowsSinceSnapshot = 0
      this.position.bytesSinceSnapshot = 0
      this.position.snapshotBytes = state.byteLength
      this.position.approxBytes = state.byteLength
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
    this.current?.destroy()
    this.unbuilt = null
  }

  private queue(update: Uint8Array, origin: unknown): void {
    if (origin === LOAD_ORIGIN || this.discarded) return
    const from = origin as Origin
    this.pending.push({
      padId: this.padId,
      at: Date.now(),
      conn: from.id,
      author: from.author !== undefined ? from.author : this.presence.nameOf(from as Peer),
      data: update,
      origin: from,
    })
    this.host.markDirty(this)
  }

  private broadcast(message: Uint8Array): void {
    for (const peer of this.peers) peer.send(message)
  }

  /** A presence frame: now, or after the updates this tick is about to commit (see presenceAfterCommit). */
  private relayPresence(message: Uint8Array): void {
    if (this.pending.length > 0 || this.presenceAfterCommit.length > 0) this.presenceAfterCommit.push(message)
    else this.broadcast(message)
  }
}
