/**
 * The y-websocket wire protocol as typed messages: one decoder for what arrives, one encoder per
 * message we send. Pure functions; the server and the browser client share them.
 *
 * A frame holds exactly one message (the stock client reads only the first one of a frame):
 *   varUint messageType, then
 *   0 sync:            varUint syncType (0 step 1 | 1 step 2 | 2 update), varBytes payload
 *   1 awareness:       varBytes awarenessUpdate
 *   2 auth:            varUint 0 (permission denied), varString reason
 *   3 query-awareness: nothing
 * Decoding never throws: malformed input is returned as `{ ok: false, error }`.
 */
import * as encoding from 'lib0/encoding'
import { BoundedReader, MalformedInput, TruncatedInput } from './bounded-reader.ts'

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3

export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

const AUTH_PERMISSION_DENIED = 0

export type Message =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'auth-denied'; reason: string }
  | { type: 'query-awareness' }

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string }

/** Runs a decoder over untrusted bytes, turning its throws into a returned error. */
export function decodeWith<T>(bytes: Uint8Array, read: (reader: BoundedReader) => T): Decoded<T> {
  try {
    return { ok: true, value: read(new BoundedReader(bytes)) }
  } catch (err) {
    if (err instanceof TruncatedInput || err instanceof MalformedInput)
      return { ok: false, error: err.message }
    throw err
  }
}

function readMessage(reader: BoundedReader): Message {
  const type = reader.varUint('message type')
  let message: Message
  switch (type) {
    case MESSAGE_SYNC: {
      const syncType = reader.varUint('sync type')
      const payload = reader.varBytes('sync payload')
      if (syncType === SYNC_STEP1) message = { type: 'sync-step1', stateVector: payload }
      else if (syncType === SYNC_STEP2) message = { type: 'sync-step2', update: payload }
      else if (syncType === SYNC_UPDATE) message = { type: 'sync-update', update: payload }
      else throw new MalformedInput(`unknown sync message type ${syncType}`)
      break
    }
    case MESSAGE_AWARENESS:
      message = { type: 'awareness', update: reader.varBytes('awareness update') }
      break
    case MESSAGE_AUTH: {
      const authType = reader.varUint('auth type')
      if (authType !== AUTH_PERMISSION_DENIED)
        throw new MalformedInput(`unknown auth message type ${authType}`)
      message = { type: 'auth-denied', reason: reader.varString('auth reason') }
      break
    }
    case MESSAGE_QUERY_AWARENESS:
      message = { type: 'query-awareness' }
      break
    default:
      throw new MalformedInput(`unknown message type ${type}`)
  }
  reader.end('message')
  return message
}

export function decodeMessage(frame: Uint8Array): Decoded<Message> {
  return decodeWith(frame, readMessage)
}

function withHeader(type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

const syncMessage = (syncType: number, payload: Uint8Array): Uint8Array =>
  withHeader(MESSAGE_SYNC, (encoder) => {
    encoding.writeVarUint(encoder, syncType)
    encoding.writeVarUint8Array(encoder, payload)
  })

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => syncMessage(SYNC_STEP1, stateVector)
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => syncMessage(SYNC_STEP2, update)
export const encodeSyncUpdate = (update: Uint8Array): Uint8Array => syncMessage(SYNC_UPDATE, update)

export const encodeAwareness = (awarenessUpdate: Uint8Array): Uint8Array =>
  withHeader(MESSAGE_AWARENESS, (encoder) => encoding.writeVarUint8Array(encoder, awarenessUpdate))

export const encodeQueryAwareness = (): Uint8Array => withHeader(MESSAGE_QUERY_AWARENESS, () => {})

export const encodeAuthDenied = (reason: string): Uint8Array =>
  withHeader(MESSAGE_AUTH, (encoder) => {
    encoding.writeVarUint(encoder, AUTH_PERMISSION_DENIED)
    encoding.writeVarString(encoder, reason)
  })

/** One entry of an awareness update; `state` is the JSON text as sent ('null' = removed). */
export interface AwarenessEntry {
  clientId: number
  clock: number
  state: string
}

function readAwarenessUpdate(reader: BoundedReader): AwarenessEntry[] {
  // Each entry is at least clientId + clock + a one-byte string length: 3 bytes.
  const n = reader.count('awareness entry count', 3)
  const entries: AwarenessEntry[] = []
  for (let i = 0; i < n; i++) {
    const clientId = reader.varUint('awareness client id')
    const clock = reader.varUint('awareness clock')
    const state = reader.varString('awareness state')
    entries.push({ clientId, clock, state })
  }
  reader.end('awareness update')
  return entries
}

export function decodeAwarenessUpdate(update: Uint8Array): Decoded<AwarenessEntry[]> {
  return decodeWith(update, readAwarenessUpdate)
}

export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const entry of entries) {
    encoding.writeVarUint(encoder, entry.clientId)
    encoding.writeVarUint(encoder, entry.clock)
    encoding.writeVarString(encoder, entry.state)
  }
  return encoding.toUint8Array(encoder)
}
