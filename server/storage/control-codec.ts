/**
 * The wire form of a control event between servers (a PostgreSQL NOTIFY payload): JSON with the
 * publishing server's id, so that each server skips its own (it applied them when it published).
 * Ids only, never data: far below NOTIFY's 8000-byte limit. Anything else on the channel (another
 * version, a hand-typed NOTIFY) decodes to null, and is logged and ignored by the listener.
 */
import { isValidPadId } from '../sync/pad-id.ts'
import type { ControlEvent } from './control-events.ts'

/** Bumped when the payload changes shape: servers of another version ignore each other's events. */
export const CONTROL_CODEC_VERSION = 1

/**
 * PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; ours are ids, a few hundred bytes at
 * most. A longer one on the channel is not ours.
 */
export const MAX_CONTROL_PAYLOAD_BYTES = 7999

/** A publishing server's id: a random UUID per process (36 characters), or a short test name. */
const MAX_SENDER_LENGTH = 64

export interface ControlMessage {
  from: string
  event: ControlEvent
}

export function encodeControl(from: string, event: ControlEvent): string {
  return JSON.stringify({ v: CONTROL_CODEC_VERSION, from, event })
}

/** The message, or null for anything that is not a well-formed control event of this version. */
export function decodeControl(payload: string): ControlMessage | null {
  if (Buffer.byteLength(payload) > MAX_CONTROL_PAYLOAD_BYTES) return null
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return null
  }
  if (!isObject(parsed) || parsed.v !== CONTROL_CODEC_VERSION) return null
  const { from, event } = parsed
  if (typeof from !== 'string' || from.length === 0 || from.length > MAX_SENDER_LENGTH) return null
  const decoded = decodeEvent(event)
  return decoded && { from, event: decoded }
}

function decodeEvent(event: unknown): ControlEvent | null {
  if (!isObject(event)) return null
  switch (event.type) {
    case 'pad-deleted':
    case 'session-changed':
    case 'pad-moved': {
      const { padId } = event
      if (typeof padId !== 'string' || !isValidPadId(padId)) return null
      return { type: event.type, padId }
    }
    case 'link-rotated': {
      const { eventPk, link } = event
      if (typeof eventPk !== 'number' || !Number.isSafeInteger(eventPk) || eventPk <= 0) return null
      if (link !== 'edit' && link !== 'read') return null
      return { type: 'link-rotated', eventPk, link }
    }
    default:
      return null
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
