/**
 * A server write a room refused (a restore, a template, an imported document), as the domain
 * error a person can act on: the pad is full, it is being reloaded (send it again), or closed.
 */
import { CLOSE, CLOSE_PAD_FULL, REFUSED_SESSION_CLOSED } from '../sync/close-codes.ts'
import type { Refusal } from '../sync/peer.ts'
import { Busy, Conflict, TooLarge } from './domain-errors.ts'

export function refusedWrite(refusal: Refusal): Error {
  if (refusal.code === CLOSE_PAD_FULL) return new TooLarge(refusal.reason, 'refused')
  if (refusal.code === CLOSE.goingAway) return new Busy(refusal.reason)
  return new Conflict(refusal.reason, refusal.code === REFUSED_SESSION_CLOSED ? 'closed' : 'refused')
}
