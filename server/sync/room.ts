/**
 * One pad in memory: its Y.Doc, the peers editing it, and their presence.
 *
 * The path of an update: `receiveUpdate` validates it completely (shared/update-check), applies
 * it with the peer as the transaction origin, and the doc's `update` event queues the delta that
 * was actually integrated. The tick flusher commits the queued rows of every room in one atomic
 * append and then calls `committed`, which broadcasts them. Nothing that carries document
 * content leaves the room before the commit of everything it contains: a sync step 2 is encoded
 * when asked and sent once every row applied before it is stored (at once when none waits).
 * Frames of one peer are handled in order (its connection holds later frames while an answer
 * waits), so the step 2 answering a peer's step 1 acknowledges every update that peer sent before it.
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
} from '../../shared/protocol.ts'
import { Busy } from '../lib/domain-errors.ts'
import type { Logger } from '../ops/logger.ts'
import type { LogRow, PadLog, StoredPad } from '../storage/pad-log.ts'
import { snapshotDue } from '../storage/snapshot-policy.ts'
import { AnswerCache, stateKey, WHOLE_PAD_KEY } from './answer-cache.ts'
import {
  CLOSE,
  CLOSE_AWARENESS_TOO_LARGE,
  CLOSE_NOT_TEXT,
  CLOSE_NOT_YOUR_EDITS,
  CLOSE_PAD_FULL,
  CLOSE_POLICY,
  CLOSE_REOPENED,
  CLOSE_TOO_MANY_NEW_PADS,
  CLOSE_TRY_LATER,
  REFUSED_SESSION_CLOSED,
} from './close-codes.ts'
import { itemsOf, MAX_PAD_ITEMS, newStructsIn, tooManyItems } from './item-budget.ts'
import { sanitizeAwarenessState } from './limits.ts'
import { notesTextRefusal } from './notes-text-check.ts'
import { applyStored, docFromStored, encodeState, LOAD_ORIGIN, type LoadedPad } from './pad-doc.ts'
import { type Origin, type Peer, type Refusal, SERVER_ORIGIN } from './peer.ts'
import { Presence, supersedes } from './presence.ts'
import {
  checkStateVector,
  checkUpdate,
  lacksDependencies,
  type UpdateShape,
  withinClockBound,
} from './update-check.ts'
import { checkWriters, type WriterView, withoutClients } from './writer-check.ts'
import type { WriterHash } from './writer-key.ts'

export interface PendingRow extends LogRow {
  origin: Origin
}

/** What a room needs from the rest of the server. */
export interface RoomHost {
  store: PadLog
  log: Logger
  /** Log rows after which a compacted snapshot is written. */
  snapshotEvery: number
  /** Queue this room's pending rows for the commit at the end of the tick. */
  markDirty(room: Room): void
  /**
   * Commit every room's pending rows now; resolves once they (and any commit in flight) are
   * stored or failed. Never rejects.
   */
  flush(): Promise<void>
  /** Runs `op` with no commit in flight and none starting until it is done (see TickFlusher). */
  exclusive<T>(op: () => Promise<T>): Promise<T>
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
  /** `rows` were read back from the log by a catch-up (rows another server stored; see `catchUp`). */
  caughtUp(room: Room, rows: number): void
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

/**
 * Update bytes after which a pad near its size limit is measured again (see `fits`): 64 KiB, 0.4%
 * of the 16 MiB limit, is what the pad may pass it by; ~2,600 keystrokes, so a pad at its limit
 * costs one whole-pad encode per 2,600 edits instead of one per edit.
 */
export const REMEASURE_BYTES = 64 * 1024

/** Rows merged into one broadcast frame at most (see `committed`). */
const MERGE_CHUNK_ROWS = 100

/**
 * Rows one read of a catch-up asks for: a few seconds of a busy pad's typing, so the usual
 * catch-up is one read, and a server coming back to a pad much written meanwhile reads it in
 * pages of bounded memory.
 */
export const CATCH_UP_PAGE_ROWS = 500
/**
 * Pages one catch-up reads at most (5,000 rows); what is left waits for the next one (the next
 * poll or commit), so one pad far behind cannot hold a poll round for long.
 */
export const CATCH_UP_MAX_PAGES = 10
/** Tries of "forget history" while other servers keep writing the pad, before it gives up (Busy). */
const FORGET_TRIES = 3

/**
 * Origin of the transaction applying rows another server stored: never queued for storage (they
 * are stored), sent to every peer at once (stored, so sendable).
 */
const CATCH_UP_ORIGIN = Symbol('catch-up')

/** The auth message a read-only peer gets once: its edits are not stored. */
export const READ_ONLY_REASON = 'read-only'

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
/** An answer now, or once what it waits for (a commit, a rebuild) is done. */
export type Answer = Result | Promise<Result>

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
  /** Step 1, step 2 and presence frames, encoded once per change (answer-cache.ts). */
  private readonly answers = new AnswerCache()
  private pending: PendingRow[] = []
  /** Rows handed to the flusher and not yet stored (or failed): applied, so not yet sendable. */
  private inFlight: PendingRow[] = []
  /**
   * Set while the doc is rebuilt after a failed apply: every frame waits for it (each connection
   * holds its later frames meanwhile).
   */
  private gate: Promise<void> | null = null
  /** A snapshot write is in flight: no second one starts. */
  private snapshotting = false
  private position: StoredPosition
  private discarded = false
  /** Closed session: everyone's updates are dropped, never stored (a read-only link: one peer's). */
  private readOnly = false
  private readonly toldReadOnly = new WeakSet<Origin>()
  /**
   * Presence changes of this tick, newest per client id, sent as one frame at its end (see
   * `flushPresence`): 300 people moving cursors make each peer one frame per tick, not one per
   * move (and the stock client echoes each frame it gets).
   */
  private presenceOut = new Map<number, AwarenessEntry>()
  private presenceTimer: NodeJS.Immediate | null = null
  /**
   * The writer key each Yjs client id was first written with (null: none), as far as looked up
   * in the store or claimed here: an id's key never changes once it holds structs.
   */
  private readonly writers: Map<number, WriterHash | null>
  /**
   * Every row of the pad with a seq up to this one is applied to the doc (`position.lastSeq` is
   * only the newest row known). Behind it when another server holding the pad too (a failover, a
   * balancer reload, a forced split) stored rows in between: `catchUp` applies them.
   */
  private caughtUpTo: number
  /** The catch-up running, and whether another was asked for meanwhile (it then reads again). */
  private catching: Promise<void> | null = null
  private catchAgain = false
  /** The pad's encoded size when last measured (see `fits`), and the update bytes since. */
  private measured: number | null = null
  private sinceMeasured = 0

  constructor(
    padId: string,
    loaded: LoadedPad,
    position: StoredPosition,
    host: RoomHost,
    writers: ReadonlyMap<number, WriterHash> = new Map(),
  ) {
    this.padId = padId
    // Every claim of the pad, read with it: the store is not asked again while an update waits.
    this.writers = new Map(writers)
    this.current = loaded.doc
    this.unbuilt = loaded.state
    this.position = position
    this.caughtUpTo = position.lastSeq
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
      const step1 = this.step1Frame()
      for (const peer of this.peers) peer.send(step1)
    }
    return doc
  }

  private listen(doc: Y.Doc): void {
    this.answers.docChanged()
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      this.answers.docChanged()
      // What rows other servers stored added here: stored, so everyone may have it now.
      if (origin === CATCH_UP_ORIGIN) this.broadcast(encodeSyncUpdate(update))
      else this.queue(update, origin)
    })
  }

  /** Our sync step 1, from the snapshot's bytes while the doc is not built (no rebuild for it). */
  private step1Frame(): Uint8Array {
    return this.answers.step1Frame(() =>
      encodeSyncStep1(
        this.current ? Y.encodeStateVector(this.current) : Y.encodeStateVectorFromUpdate(this.unbuilt!),
      ),
    )
  }

  private presenceFrame(): Uint8Array {
    return this.answers.presenceFrame(() => encodeAwareness(encodeAwarenessUpdate(this.presence.all())))
  }

  /**
   * Undoes a failed apply: rebuilds the doc from the store plus the rows applied before it that
   * are not stored yet (none of which was sent), so the half-applied update vanishes and nobody
   * else notices. Every frame waits meanwhile (`gate`). If even that fails, the room is dropped.
   */
  private rollBackTo(keepRows: number): void {
    this.pending = this.pending.slice(0, keepRows)
    // Rows in flight now may be stored before the load reads, or after: both are applied again
    // (applying an update twice changes nothing).
    const unsettled = [...this.inFlight]
    this.current?.destroy()
    this.current = null
    this.gate = this.rebuild(unsettled).then((ok) => {
      this.gate = null
      if (!ok) this.host.discard(this, 'pad reloading')
    })
  }

  private async rebuild(unsettled: readonly PendingRow[]): Promise<boolean> {
    try {
      const stored = await this.host.store.load(this.padId)
      if (this.discarded) return true
      const doc = docFromStored(stored)
      // The store may hold rows another server wrote that this room had not applied yet, so its
      // peers never had them: they get the stored state whole (rare: only a failed apply gets here;
      // and only what is stored, before this room's own rows not yet stored are added back).
      const head = stored ? headOf(stored) : 0
      const missed = head > this.caughtUpTo ? encodeSyncUpdate(Y.encodeStateAsUpdate(doc)) : null
      for (const [client, key] of stored?.writers ?? []) this.writers.set(client, key)
      Y.transact(
        doc,
        () => {
          for (const row of [...unsettled, ...this.inFlight, ...this.pending])
            Y.applyUpdate(doc, row.data, LOAD_ORIGIN)
        },
        LOAD_ORIGIN,
      )
      this.current = doc
      this.listen(doc)
      this.caughtUpTo = Math.max(this.caughtUpTo, head)
      this.position.lastSeq = Math.max(this.position.lastSeq, head)
      if (missed) this.broadcast(missed)
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
    if (this.current) peer.send(this.step1Frame())
    if (this.presence.size > 0) peer.send(this.presenceFrame())
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
    if (removed.length > 0) this.answers.presenceChanged()
    this.relayPresence(removed)
  }

  /**
   * Sync step 1 from a peer: answer with what it lacks, after committing what it sent before.
   * A repeated step 1 (an editor checking that its changes are saved) is also answered with our
   * own step 1, so the peer sends back whatever we still lack — including updates whose frames
   * were lost on the way — and its next step 1 then acknowledges them.
   */
  sendStateTo(peer: Peer, stateVector: Uint8Array, askBack: boolean): Answer {
    if (this.gate) return this.gate.then(() => this.sendStateTo(peer, stateVector, askBack))
    const sv = checkStateVector(stateVector)
    if (!sv.ok) return { ok: false, code: CLOSE.protocolError, reason: `invalid state vector: ${sv.error}` }
    if (this.discarded) return OK
    const unbuilt = this.unbuilt
    let answer: Uint8Array
    if (unbuilt && sv.value.size === 0) {
      // Someone opening the pad afresh: the snapshot is exactly what it lacks.
      answer = this.answers.stateFrame(WHOLE_PAD_KEY, () => encodeSyncStep2(unbuilt))
    } else {
      const doc = this.doc
      const key = stateKey(doc, sv.value)
      answer = this.answers.stateFrame(key, () => encodeSyncStep2(Y.encodeStateAsUpdate(doc, stateVector)))
    }
    // Encoded now (or the cached frame of this very state): it holds exactly what was applied
    // before this step 1, so it acknowledges all the peer sent before. Sent once all of that is stored.
    const frames = [answer]
    if (askBack) frames.push(this.step1Frame())
    const send = (): Result => {
      // A failed commit discarded the room (and closed the peer): what it holds was never stored.
      if (!this.discarded) for (const frame of frames) peer.send(frame)
      return OK
    }
    if (this.pending.length === 0 && this.inFlight.length === 0) return send()
    return this.host.flush().then(send)
  }

  /** Whether any row of this pad is stored (it was loaded with some, or committed one since). */
  get hasStoredRows(): boolean {
    return this.position.lastSeq > 0
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
  receiveUpdate(origin: Origin, input: Uint8Array, replyTo?: Peer, live = false): Answer {
    if (this.gate) return this.gate.then(() => this.receiveUpdate(origin, input, replyTo, live))
    if (this.discarded) return OK
    let update = input
    if (replyTo && (this.readOnly || replyTo.readOnly)) {
      // Still served, never changed: the stock client keeps its copy; we keep ours.
      this.tellReadOnly(replyTo)
      return OK
    }
    const shape = this.shapeOf(update)
    if (!shape.ok) return shape
    if (lacksDependencies(shape.value, (client) => Y.getState(this.doc.store, client))) {
      // The server's own writes are made on this doc: one that lacks something is a bug, not a gap.
      if (!replyTo)
        return { ok: false, code: CLOSE.invalidPayload, reason: 'update depends on missing edits' }
      // Something before this update never reached us (a lost frame, a restored server). Applying
      // would park it as pending; ask for everything we lack instead (the answer includes it).
      replyTo.send(this.step1Frame())
      return OK
    }
    const overBudget = this.itemsRefusal(shape.value)
    if (overBudget) return overBudget
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
    if (!this.fits(update)) return this.padFull()
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
      this.rollBackTo(queuedBefore)
      return { ok: false, code: CLOSE.invalidPayload, reason: 'update could not be applied' }
    }
    if (creating && this.pending.length > 0 && !this.host.mayCreatePad(origin, this.padId)) {
      // Nothing was stored or sent: the pad goes back to empty, as if the update never came.
      this.rollBackTo(0)
      return {
        ok: false,
        code: CLOSE_TOO_MANY_NEW_PADS,
        reason: 'too many new pads from your address in the last minute: reload the page in a minute',
      }
    }
    if (itemsOf(this.doc) > MAX_PAD_ITEMS) {
      // Its deletions split more items than the count before the apply could see.
      this.rollBackTo(queuedBefore)
      return { ok: false, code: CLOSE_PAD_FULL, reason: tooManyItems('the pad') }
    }
    this.position.approxBytes += update.byteLength
    this.sinceMeasured += update.byteLength
    if (replyTo) this.noteWriters(firstWritten, claims, replyTo.writer, queuedBefore)
    const store = this.doc.store
    if (store.pendingStructs || store.pendingDs) {
      // It referred to items we do not have. Parked structs would live in memory and in every
      // snapshot forever; drop them and ask the sender for everything we lack instead.
      store.pendingStructs = null
      store.pendingDs = null
      if (!stripped) replyTo?.send(this.step1Frame())
    }
    return OK
  }

  /** The update's shape (shared/update-check), or why it is not a valid update. */
  private shapeOf(update: Uint8Array): { ok: true; value: UpdateShape } | ({ ok: false } & Refusal) {
    const shape = checkUpdate(update)
    if (!shape.ok) return { ok: false, code: CLOSE.invalidPayload, reason: `invalid update: ${shape.error}` }
    if (!withinClockBound(shape.value))
      return { ok: false, code: CLOSE.invalidPayload, reason: 'invalid update: clock out of range' }
    return shape
  }

  /** Whether the update would take the pad past its item budget, counted from the walk alone. */
  private itemsRefusal(shape: UpdateShape): ({ ok: false } & Refusal) | null {
    // Counted before anything decodes or applies it: those are what cost seconds.
    const stateOf = (client: number) => Y.getState(this.doc.store, client)
    if (
      shape.deleteRangeCount > MAX_PAD_ITEMS ||
      itemsOf(this.doc) + newStructsIn(shape, stateOf) > MAX_PAD_ITEMS
    )
      return { ok: false, code: CLOSE_PAD_FULL, reason: tooManyItems('the pad') }
    return null
  }

  private padFull(): { ok: false } & Refusal {
    return { ok: false, code: CLOSE_PAD_FULL, reason: `pad is full (${this.host.limits.maxPadBytes} bytes)` }
  }

  /** What writer-check needs to know of this pad, for updates from `peer`. */
  private writerView(peer: Peer): WriterView {
    return {
      stateOf: (client) => Y.getState(this.doc.store, client),
      keyOf: (client) => this.writers.get(client) ?? null,
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

  /**
   * Awareness from a peer. An editor sends its keystroke and the cursor that moved with it
   * together; the keystroke is broadcast once committed, so the cursor waits for the commit of
   * the edits before it (one flush: on SQLite within this turn, on a networked engine a round
   * trip), else everyone would see a cursor at text they do not have yet. `flushed`: that wait is over.
   */
  receiveAwareness(peer: Peer, update: Uint8Array, flushed = false): Answer {
    if (this.gate) return this.gate.then(() => this.receiveAwareness(peer, update, flushed))
    if (!flushed && (this.pending.length > 0 || this.inFlight.length > 0))
      return this.host.flush().then(() => this.receiveAwareness(peer, update, true))
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
    if (accepted.length > 0) {
      this.answers.presenceChanged()
      this.relayPresence(accepted)
    }
    return OK
  }

  sendPresenceTo(peer: Peer): void {
    peer.send(this.presenceFrame())
  }

  /**
   * A write by the server itself (a restore): the same checks as a peer's update — valid, within
   * the size and item budgets, not into a closed session — then applied with `origin` (the server,
   * or a restore credited to who asked) and committed. Nothing is applied when it is refused.
   */
  async applyServerUpdate(update: Uint8Array, origin: Origin = SERVER_ORIGIN): Promise<Result> {
    const refusal = this.serverWriteRefusal()
    if (refusal) return refusal
    const result = await this.receiveUpdate(origin, update)
    if (result.ok) await this.host.flush()
    return result
  }

  /** Whether the server may write into this pad now (it is not a closed session). */
  serverWriteRefusal(): ({ ok: false } & Refusal) | null {
    if (this.discarded) return { ok: false, code: CLOSE.goingAway, reason: 'the pad is reloading: try again' }
    if (this.readOnly)
      return { ok: false, code: REFUSED_SESSION_CLOSED, reason: 'the session is closed: reopen it first' }
    return null
  }

  /**
   * A server write stored in one operation with more (a new pad's first row, stored by `commit`
   * with the pad's metadata): the checks of applyServerUpdate — not closed, valid, within the
   * item and size budgets — then `commit` runs while no other commit is in flight, and only once
   * it has resolved (with the row's seq) is the update applied here and sent. When it is
   * refused, `commit` never runs and nothing is applied; when `commit` rejects, neither.
   */
  async applyCommitted(update: Uint8Array, commit: () => Promise<number>): Promise<Result> {
    await this.host.flush()
    if (this.gate) await this.gate
    return this.host.exclusive(async (): Promise<Result> => {
      const refusal = this.serverWriteRefusal() ?? this.serverUpdateRefusal(update)
      if (refusal) return refusal
      const seq = await commit()
      // Stored; a room discarded meanwhile is reloaded from the store by its clients.
      if (this.discarded) return OK
      Y.applyUpdate(this.doc, update, LOAD_ORIGIN)
      this.position.lastSeq = Math.max(this.position.lastSeq, seq)
      // Whether another server wrote the pad just before is not known here: read back from the
      // log (this row comes back too, and changes nothing), and no snapshot before that.
      void this.catchUp()
      this.position.rowsSinceSnapshot++
      this.position.bytesSinceSnapshot += update.byteLength
      this.position.approxBytes += update.byteLength
      this.sinceMeasured += update.byteLength
      this.broadcast(encodeSyncUpdate(update))
      this.host.changed(this)
      return OK
    })
  }

  /** Why the server's own update cannot go into this pad (the checks of a peer's, less the writer's). */
  private serverUpdateRefusal(update: Uint8Array): ({ ok: false } & Refusal) | null {
    const shape = this.shapeOf(update)
    if (!shape.ok) return shape
    if (lacksDependencies(shape.value, (client) => Y.getState(this.doc.store, client)))
      return { ok: false, code: CLOSE.invalidPayload, reason: 'update depends on missing edits' }
    return this.itemsRefusal(shape.value) ?? (this.fits(update) ? null : this.padFull())
  }

  /**
   * Replaces the pad's stored history with its current state (see PadLog.forgetHistory), once
   * every row applied so far is stored: the state then covers all the rows it drops. Rows another
   * server stored are applied first, and the history is replaced only if none came in between
   * (PadLog.forgetHistoryIfCurrent): else their text would be dropped with the log.
   */
  async forgetHistory(): Promise<void> {
    await this.host.flush()
    if (this.gate) await this.gate
    // No commit runs meanwhile: the state, encoded with nothing in flight, covers every row the
    // store drops. Rows applied but not yet committed are in it too; stored after, they replay
    // on top of it (which changes nothing).
    await this.host.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        if (this.discarded) throw new Error(`pad ${this.padId} was closed`)
        if (this.caughtUpTo < this.position.lastSeq || attempt > 1) await this.catchUp()
        if (this.discarded) throw new Error(`pad ${this.padId} was closed`)
        const upto = this.caughtUpTo
        const state = encodeState(this.doc)
        if (await this.host.store.forgetHistoryIfCurrent(this.padId, upto, state)) {
          this.position.lastSeq = Math.max(this.position.lastSeq, upto)
          this.position.snapshotSeq = this.position.lastSeq
          this.position.rowsSinceSnapshot = 0
          this.position.bytesSinceSnapshot = 0
          this.position.snapshotBytes = state.byteLength
          return
        }
        if (attempt === FORGET_TRIES)
          throw new Busy('the pad is being written to on another server; its history was kept: try again')
      }
    })
  }

  /** Hands the rows queued this tick to the flusher. */
  takePending(): PendingRow[] {
    const rows = this.pending
    this.pending = []
    this.inFlight = rows
    return rows
  }

  /**
   * Called after `rows` are durable, with their seqs and the pad's head just before them (see
   * PadLog.appendBatchWithHeads): now they may be sent. A head beyond what this room has applied
   * means another server stored rows in between: they are read back (`catchUp`).
   */
  committed(rows: readonly PendingRow[], seqs: readonly number[], headBefore: number): void {
    this.inFlight = []
    if (this.discarded) return
    if (rows.length > 0) {
      const last = seqs[seqs.length - 1]!
      this.position.lastSeq = Math.max(this.position.lastSeq, last)
      if (headBefore <= this.caughtUpTo) {
        this.caughtUpTo = Math.max(this.caughtUpTo, last)
        // Counted here when the log has nothing else in between; else the catch-up counts them.
        this.position.rowsSinceSnapshot += rows.length
        for (const row of rows) this.position.bytesSinceSnapshot += row.data.byteLength
      } else void this.catchUp()
      this.broadcastCommitted(rows)
    }
    this.flushPresence()
  }

  private broadcastCommitted(rows: readonly PendingRow[]): void {
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
    void this.snapshotIfDue()
    this.host.changed(this)
  }

  /** Every row of the pad up to this seq is applied here (see `caughtUpTo`). */
  get appliedUpTo(): number {
    return this.caughtUpTo
  }

  /**
   * Applies the rows another server stored for this pad since `caughtUpTo` (PadLog.rowsAfter), in
   * seq order, and sends each peer what they add; rows of this room's own come back too and change
   * nothing. Their writer claims are taken over: an id claimed on another server is not claimable
   * here. One catch-up at a time: asked for while one runs, it reads once more after. Resolves when
   * done; never rejects (a failed read is logged, and the next poll or commit tries again).
   */
  catchUp(): Promise<void> {
    if (this.catching) {
      this.catchAgain = true
      return this.catching
    }
    const run = async () => {
      for (let page = 0; page < CATCH_UP_MAX_PAGES && !this.discarded; page++) {
        this.catchAgain = false
        const more = await this.catchUpPage()
        if (!more && !this.catchAgain) return
      }
    }
    const catching = run()
      .catch((err: unknown) => {
        this.host.log.warn(
          { pad: this.padId, err },
          'could not read rows another server stored; retrying later',
        )
      })
      .finally(() => {
        if (this.catching === catching) this.catching = null
      })
    this.catching = catching
    return catching
  }

  /** One page of `catchUp`; resolves with whether more rows may follow. */
  private async catchUpPage(): Promise<boolean> {
    if (this.gate) await this.gate
    if (this.discarded) return false
    const tail = await this.host.store.rowsAfter(this.padId, this.caughtUpTo, CATCH_UP_PAGE_ROWS)
    if (this.gate) await this.gate
    if (this.discarded) return false
    if (tail === null) {
      await this.reloadFromStore('its history was forgotten on another server')
      return false
    }
    if (tail.rows.length === 0) return false
    for (const [client, key] of tail.writers) this.writers.set(client, key)
    const doc = this.doc
    Y.transact(
      doc,
      () => {
        for (const row of tail.rows) Y.applyUpdate(doc, row.data, CATCH_UP_ORIGIN)
      },
      CATCH_UP_ORIGIN,
    )
    if (doc.store.pendingStructs || doc.store.pendingDs) {
      // Rows in seq order after every row applied cannot lack anything; if they do, this room was
      // wrong about what it had: the pad is read again whole.
      doc.store.pendingStructs = null
      doc.store.pendingDs = null
      await this.reloadFromStore('rows another server stored did not apply in order')
      return false
    }
    const last = tail.rows[tail.rows.length - 1]!.seq
    const p = this.position
    for (const row of tail.rows) {
      p.bytesSinceSnapshot += row.data.byteLength
      p.approxBytes += row.data.byteLength
      this.sinceMeasured += row.data.byteLength
    }
    p.rowsSinceSnapshot += tail.rows.length
    this.caughtUpTo = Math.max(this.caughtUpTo, last)
    p.lastSeq = Math.max(p.lastSeq, last)
    this.host.caughtUp(this, tail.rows.length)
    this.host.changed(this)
    void this.snapshotIfDue()
    return tail.rows.length === CATCH_UP_PAGE_ROWS
  }

  /**
   * The pad as stored, whole, applied on top of the doc (what it adds is sent to every peer): when
   * the log no longer has the rows after `caughtUpTo`. If even that leaves the doc waiting for
   * something, the room is dropped and its clients load the pad again.
   */
  private async reloadFromStore(why: string): Promise<void> {
    this.host.log.warn({ pad: this.padId }, `pad read again whole: ${why}`)
    const stored = await this.host.store.load(this.padId)
    if (this.gate) await this.gate
    // A pad deleted on another server: that server's notice closes this room.
    if (this.discarded || stored === null) return
    for (const [client, key] of stored.writers) this.writers.set(client, key)
    const doc = this.doc
    applyStored(doc, stored, CATCH_UP_ORIGIN)
    if (doc.store.pendingStructs || doc.store.pendingDs) {
      this.host.discard(this, 'pad reloading')
      return
    }
    const head = headOf(stored)
    const p = this.position
    this.caughtUpTo = Math.max(this.caughtUpTo, head)
    p.lastSeq = Math.max(p.lastSeq, head)
    p.snapshotSeq = Math.max(p.snapshotSeq, stored.snapshotUpto)
    p.rowsSinceSnapshot = stored.updates.length
    p.bytesSinceSnapshot = stored.updates.reduce((n, u) => n + u.data.byteLength, 0)
    p.snapshotBytes = stored.snapshot?.byteLength ?? 0
    this.host.caughtUp(this, stored.updates.length)
    this.host.changed(this)
  }

  /** The commit of this tick failed: what the doc holds no longer matches the store. */
  persistFailed(err: unknown): void {
    this.inFlight = []
    if (this.discarded) return
    this.host.log.error({ pad: this.padId, err }, 'could not store updates; reloading pad')
    this.host.discard(this, 'storage error, reconnect')
  }

  /** Whether `update` can be added without the pad passing its size limit. */
  private fits(update: Uint8Array): boolean {
    const max = this.host.limits.maxPadBytes
    if (this.position.approxBytes + update.byteLength <= max) return true
    // The estimate counts every update whole (a 25-byte keystroke grows the pad by a byte or two)
    // and deleted text until a snapshot, so near the limit it is always over. Measuring is a
    // whole-pad encode (~50 ms at 16 MiB): done at most once per REMEASURE_BYTES of updates; in
    // between, the last measure decides, so the pad can pass the limit by that much at most.
    if (this.measured === null || this.sinceMeasured >= REMEASURE_BYTES) {
      this.measured = encodeState(this.doc).byteLength
      this.sinceMeasured = 0
      this.position.approxBytes = this.measured
    }
    return this.measured + update.byteLength <= max
  }

  /**
   * Writes a snapshot when enough was logged since the last to be worth one (snapshot-policy.ts).
   * `leaving`: the last person left, so a snapshot covering the whole log serves the next reader.
   */
  snapshotIfDue(leaving = false): Promise<void> {
    const p = this.position
    const debt = {
      rowsSince: p.rowsSinceSnapshot,
      bytesSince: p.bytesSinceSnapshot,
      snapshotBytes: p.snapshotBytes,
    }
    return snapshotDue(debt, this.host.snapshotEvery, leaving) ? this.snapshot() : Promise.resolve()
  }

  /**
   * Writes a compacted snapshot if anything was logged since the last one. It must hold exactly
   * the rows up to the one it names (history opens revisions from it), so it waits for a moment
   * when every row the doc holds is stored: it is tried again after the next commit. Kept only if
   * still current (PadLog.snapshotIfCurrent): a "forget history" or a delete that completes while
   * it is written wins. Resolves once written or given up; never rejects.
   */
  async snapshot(): Promise<void> {
    const p = this.position
    if (this.discarded || this.gate || this.snapshotting || p.lastSeq <= p.snapshotSeq) return
    if (this.pending.length > 0 || this.inFlight.length > 0) return
    // Rows another server stored that the doc lacks: a snapshot naming a later row would hide them.
    if (this.caughtUpTo < p.lastSeq) return
    if (this.current === null && this.unbuilt !== null) return // the snapshot already is the pad
    this.snapshotting = true
    try {
      const upto = p.lastSeq
      const rows = p.rowsSinceSnapshot
      const bytes = p.bytesSinceSnapshot
      const state = encodeState(this.doc)
      // The exact size is known now; updates applied while it is written count on top of it.
      this.measured = state.byteLength
      this.sinceMeasured = 0
      if (await this.host.store.snapshotIfCurrent(this.padId, upto, state)) {
        p.snapshotSeq = Math.max(p.snapshotSeq, upto)
        p.rowsSinceSnapshot -= rows
        p.bytesSinceSnapshot -= bytes
        p.snapshotBytes = state.byteLength
        p.approxBytes = state.byteLength + p.bytesSinceSnapshot
      }
    } catch (err) {
      // The log is complete without it; a snapshot only makes the next load faster.
      this.host.log.error({ pad: this.padId, err }, 'could not write snapshot')
    } finally {
      this.snapshotting = false
    }
  }

  /** Closes every peer and stops the room; pending rows are dropped (they were never sent). */
  close(code: number, reason: string): void {
    this.discarded = true
    this.pending = []
    if (this.presenceTimer) clearImmediate(this.presenceTimer)
    this.presenceOut.clear()
    this.gate = null
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

  /** Whether `frame` is a presence echo from `peer` that would change nothing (Presence.isEcho). */
  isEcho(peer: Peer, frame: Uint8Array): boolean {
    return this.presence.isEcho(peer, frame)
  }

  /** Presence changes go out at the end of the tick, one frame for all (see presenceOut). */
  private relayPresence(entries: readonly AwarenessEntry[]): void {
    if (entries.length === 0) return
    for (const entry of entries) {
      // An older state never replaces a newer change still waiting here: when someone leaves, the
      // stock clients' echoes of her last state may arrive before her removal went out, and bring
      // her back (the echoer then owns her: `Presence.apply`). Clients ignore that older state, so
      // the removal must still go out: the echoer's client then removes her too and echoes the
      // removal, which ends her again here; and a client that reconnected answers the removal of
      // its own id with a higher clock. Replaced, everyone would show her until their 30 s
      // timeout, and the echoer would own her meanwhile (a fifth one closed it with 1008).
      const queued = this.presenceOut.get(entry.clientId)
      if (!queued || supersedes(entry, queued)) this.presenceOut.set(entry.clientId, entry)
    }
    this.presenceTimer ??= setImmediate(() => {
      this.presenceTimer = null
      // A typist's keystroke comes with a cursor move: the cursor waits for the keystroke, whose
      // frame waits for its commit (`committed` sends both, in that order).
      if (this.pending.length === 0) this.flushPresence()
    })
  }

  private flushPresence(): void {
    if (this.presenceOut.size === 0 || this.discarded) return
    const entries = [...this.presenceOut.values()]
    this.presenceOut.clear()
    this.broadcast(encodeAwareness(encodeAwarenessUpdate(entries)))
  }
}

/** A stored pad's newest revision: its last row, or the snapshot covering everything. */
function headOf(stored: StoredPad): number {
  return stored.updates.at(-1)?.seq ?? stored.snapshotUpto
}
