/**
 * The registry of loaded pads: loads a pad (newest snapshot + log tail) the first time a peer
 * opens it, before anyone is answered; everyone opening it while it loads gets the same room.
 * Unloads it a while after its last peer leaves, with a snapshot first.
 */
import type { Logger } from '../ops/logger.ts'
import type { PadLog } from '../storage/pad-log.ts'
import { CLOSE } from './close-codes.ts'
import { loadForRoom } from './pad-doc.ts'
import type { Origin } from './peer.ts'
import { Room, type RoomHost, type RoomLimits } from './room.ts'
import { TickFlusher } from './tick-flusher.ts'

export interface RoomsOptions {
  store: PadLog
  log: Logger
  snapshotEvery: number
  unloadDelayMs: number
  limits: RoomLimits
  /** Is the pad a closed session (read-only for everyone)? */
  isClosed?: (padId: string) => boolean | Promise<boolean>
  /** May this origin create this pad now? (Per-address rate limit; always yes when absent.) */
  mayCreatePad?: (origin: Origin, padId: string) => boolean
}

export class Rooms {
  private readonly rooms = new Map<string, Room>()
  /** Pads being loaded: a second open while one loads waits for the same room. */
  private readonly loading = new Map<string, Promise<Room>>()
  private readonly unloadTimers = new Map<Room, NodeJS.Timeout>()
  /** Pads whose snapshot passed the checks but did not rebuild: never served from the bytes again. */
  private readonly unbuildable = new Set<string>()
  private readonly flusher: TickFlusher
  private readonly host: RoomHost
  private readonly options: RoomsOptions
  private readonly changeListeners: ((padId: string) => void)[] = []

  constructor(options: RoomsOptions) {
    this.options = options
    this.flusher = new TickFlusher(options.store)
    this.host = {
      store: options.store,
      log: options.log,
      snapshotEvery: options.snapshotEvery,
      markDirty: (room) => this.flusher.markDirty(room),
      flush: () => this.flusher.flush(),
      exclusive: (op) => this.flusher.exclusive(op),
      discard: (room, reason) => this.discard(room, reason),
      buildFailed: (room) => {
        this.unbuildable.add(room.padId)
        this.discard(room, 'pad could not be loaded')
      },
      emptied: (room) => this.scheduleUnload(room),
      changed: (room) => {
        for (const listener of this.changeListeners) listener(room.padId)
      },
      mayCreatePad: (origin, padId) => options.mayCreatePad?.(origin, padId) ?? true,
      limits: options.limits,
    }
  }

  /** The limits every room holds its pad to (the server's own writes of a pad with no room too). */
  get limits(): RoomLimits {
    return this.options.limits
  }

  /**
   * Calls `listener` after a pad's stored text changed. A subscription rather than an option: what
   * listens (the search index) reads pads through the rooms, so it is built after them.
   */
  onPadChanged(listener: (padId: string) => void): void {
    this.changeListeners.push(listener)
  }

  get loadedCount(): number {
    return this.rooms.size
  }

  /** The ids of the pads loaded now (the live counts this server publishes). */
  loadedIds(): IterableIterator<string> {
    return this.rooms.keys()
  }

  get(padId: string): Room | undefined {
    return this.rooms.get(padId)
  }

  /**
   * The pad's room, loaded from the store if needed. Rejects if the stored pad cannot be loaded
   * (and the next open tries again).
   */
  open(padId: string): Promise<Room> {
    const room = this.rooms.get(padId)
    if (room) {
      this.cancelUnload(room)
      return Promise.resolve(room)
    }
    let loading = this.loading.get(padId)
    if (!loading) {
      loading = this.load(padId).finally(() => this.loading.delete(padId))
      this.loading.set(padId, loading)
    }
    return loading
  }

  private async load(padId: string): Promise<Room> {
    const [stored, closed] = await Promise.all([
      this.options.store.load(padId),
      this.options.isClosed?.(padId) ?? false,
    ])
    const loaded = loadForRoom(stored, !this.unbuildable.has(padId))
    const lastSeq = stored?.updates.at(-1)?.seq ?? stored?.snapshotUpto ?? 0
    const tailBytes = stored?.updates.reduce((n, u) => n + u.data.byteLength, 0) ?? 0
    const room = new Room(
      padId,
      loaded,
      {
        lastSeq,
        snapshotSeq: stored?.snapshotUpto ?? 0,
        rowsSinceSnapshot: stored?.updates.length ?? 0,
        bytesSinceSnapshot: tailBytes,
        snapshotBytes: stored?.snapshot?.byteLength ?? 0,
        approxBytes: (stored?.snapshot?.byteLength ?? 0) + tailBytes,
      },
      this.host,
      stored?.writers,
    )
    // A long tail (e.g. rows written without snapshots) is replayed once, not on every load.
    void room.snapshotIfDue()
    if (closed) room.setReadOnly(true)
    this.rooms.set(padId, room)
    // Opened by nobody (e.g. by a peer whose handshake then failed): unload like an emptied room.
    this.scheduleUnload(room)
    return room
  }

  /**
   * Commits everything pending in every room now; resolves once stored (or failed). On SQLite
   * the rows are stored by the time this returns.
   */
  flush(): Promise<void> {
    return this.flusher.flush()
  }

  /** Snapshots and closes every room (shutdown); resolves once their last writes are done. */
  async closeAll(code: number, reason: string): Promise<void> {
    await Promise.allSettled([...this.loading.values()])
    await this.flusher.flush()
    const rooms = [...this.rooms.values()]
    for (const room of rooms) this.remove(room)
    await Promise.all(rooms.map((room) => room.snapshotIfDue(true)))
    for (const room of rooms) room.close(code, reason)
  }

  /** Unloads a pad now, closing its peers with `code` (e.g. after the pad was deleted). */
  closePad(padId: string, code: number, reason: string): void {
    const room = this.rooms.get(padId)
    if (!room) return
    this.remove(room)
    room.close(code, reason)
  }

  private discard(room: Room, reason: string): void {
    if (this.rooms.get(room.padId) !== room) return
    this.remove(room)
    room.close(CLOSE.internalError, reason)
  }

  private remove(room: Room): void {
    this.cancelUnload(room)
    if (this.rooms.get(room.padId) === room) this.rooms.delete(room.padId)
  }

  private scheduleUnload(room: Room): void {
    this.cancelUnload(room)
    if (room.peerCount > 0) return
    void this.flusher.flush().then(() => room.snapshotIfDue(true))
    const timer = setTimeout(() => {
      this.unloadTimers.delete(room)
      if (room.peerCount > 0 || this.rooms.get(room.padId) !== room) return
      this.remove(room)
      // Closed once its last rows and snapshot are written: nothing of it is still in flight.
      void this.flusher
        .flush()
        .then(() => room.snapshotIfDue(true))
        .then(() => room.close(CLOSE.normal, 'unloaded'))
    }, this.options.unloadDelayMs)
    timer.unref()
    this.unloadTimers.set(room, timer)
  }

  private cancelUnload(room: Room): void {
    const timer = this.unloadTimers.get(room)
    if (timer) {
      clearTimeout(timer)
      this.unloadTimers.delete(room)
    }
  }
}
