/** A pad's history as the API returns it (server/history.ts) and the time slider reads it. */

export interface TimelineStep {
  /** The step's last revision (a log seq): view or restore "after this step". */
  seq: number
  firstSeq: number
  startAt: string
  endAt: string
  author: string | null
  edits: number
  bytes: number
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
}

export interface DiffLine {
  op: 'same' | 'add' | 'del'
  text: string
}
