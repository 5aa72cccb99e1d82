/** A pad's history as the API returns it (server/history.ts) and the time slider reads it. */

/**
 * The server's own map in each pad's document. Only the server writes it (a client's update that
 * adds to it is refused, server/notes-text-check.ts), so editors can trust what it says.
 */
export const SERVER_MAP = 'summitpad'
/** Key in SERVER_MAP: the latest restore, so open editors can say who brought which version back. */
export const RESTORE_KEY = 'restore'

/** What editors are told about a restore (a plain object in SERVER_MAP under RESTORE_KEY). */
export interface RestoreNotice {
  /** The name the person gave, or null. */
  by: string | null
  /** The revision brought back, and when it was written. */
  seq: number
  versionAt: string | null
  at: string
}

/** A log row's connection id for a restore of revision `seq` (one step of its own in the timeline). */
export const restoreConn = (seq: number) => `restore:${seq}`
export const RESTORE_CONN_PREFIX = 'restore:'

export interface TimelineStep {
  /** The step's last revision (a log seq): view or restore "after this step". */
  seq: number
  firstSeq: number
  startAt: string
  endAt: string
  /** Who wrote in this step, in the order they started; nameless typists as "someone without a name". */
  authors: string[]
  edits: number
  bytes: number
  /** Set on a restore's step: the revision it brought back. */
  restoredSeq?: number
}

export interface Checkpoint {
  seq: number
  name: string
  at: string
}

export interface Timeline {
  padId: string
  /** Oldest revision still viewable (older ones were dropped by "forget history"). */
  firstSeq: number
  lastSeq: number
  steps: TimelineStep[]
  checkpoints: Checkpoint[]
  closedAt: string | null
}

export interface Revision {
  seq: number
  at: string | null
  text: string
  /** The pad's log rows just before and after this one: the time slider's "one change" buttons. */
  prevSeq: number | null
  nextSeq: number | null
}

export interface DiffLine {
  op: 'same' | 'add' | 'del'
  text: string
}
