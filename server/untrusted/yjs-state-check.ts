/**
 * Whether bytes are a complete Yjs document state we can store as a new pad: well-formed (checked
 * without trusting any claimed length), and standing alone (a state that depends on updates we do
 * not have would load as nothing). Run in the parse worker (untrusted-files.ts): applying a
 * 16 MiB state is real work, and it must never hold up the event loop.
 */
import * as Y from 'yjs'
import { itemsIn, MAX_PAD_ITEMS } from '../sync/item-budget.ts'
import { checkUpdate, withinClockBound } from '../sync/update-check.ts'
import type { Outcome } from './worker-budget.ts'

export interface YjsStateFacts {
  /** Items and delete ranges it holds (item-budget.ts): over MAX_PAD_ITEMS it was not applied. */
  items: number
}

export function checkYjsState(state: Uint8Array): Outcome<YjsStateFacts> {
  const shape = checkUpdate(state)
  if (!shape.ok) return { ok: false, error: `not a Yjs document state: ${shape.error}` }
  // The same bound as a live update's (update-check.ts MAX_CLOCK): no door stores far clocks.
  if (!withinClockBound(shape.value))
    return { ok: false, error: 'not a Yjs document state: clock out of range' }
  // Counted before the apply, which is what would cost seconds; the caller refuses it with 413.
  const items = itemsIn(shape.value)
  if (items > MAX_PAD_ITEMS) return { ok: true, value: { items } }
  const probe = new Y.Doc()
  try {
    Y.applyUpdate(probe, state)
    if (probe.store.pendingStructs || probe.store.pendingDs)
      return { ok: false, error: 'the Yjs state is incomplete (it depends on missing updates)' }
    return { ok: true, value: { items } }
  } catch {
    return { ok: false, error: 'not a Yjs document state' }
  } finally {
    probe.destroy()
  }
}
