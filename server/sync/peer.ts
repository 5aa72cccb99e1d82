/**
 * What a room needs of a connected client, and nothing more, so rooms can be driven by anything
 * that can send bytes and be closed (a websocket connection; a test double if ever needed).
 */
import type { WriterHash } from './writer-key.ts'

export interface Origin {
  /** Recorded with each update in the log: a connection id, or "server". */
  readonly id: string
  /** Who the log credits, when it is not a connected person's presence (a restore through the API). */
  readonly author?: string | null
}

export interface Peer extends Origin {
  /** Came in with a read-only link: its updates are dropped and its presence shows as a viewer. */
  readonly readOnly: boolean
  /** Its writer key's hash (writer-key.ts), null for a socket that sent none. */
  readonly writer: WriterHash | null
  send(message: Uint8Array): void
  close(code: number, reason: string): void
}

/** Origin of updates the server writes itself (templates, restores). */
export const SERVER_ORIGIN: Origin = Object.freeze({ id: 'server' })

/** A refusal of one peer's input: the socket is closed with this code and reason; nobody else is affected. */
export interface Refusal {
  code: number
  reason: string
}
