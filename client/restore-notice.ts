/**
 * Tells an open editor that someone restored an older version: who, and which version (its time,
 * in the event's zone). The server writes the notice into its own map of the pad's document in the
 * same transaction as the restored text (server/history.ts), so it arrives with the text, also at
 * an editor that was offline then. Shown as an overlay, so the text does not move.
 */
import type * as Y from 'yjs'
import { RESTORE_KEY, type RestoreNotice, SERVER_MAP } from '../shared/history.ts'
import { clockTime } from './clock-time.ts'

/**
 * `knownBefore`: whether this page already had the pad before the change arrived. A first visit
 * receives the whole document, an old notice included, and must not announce it.
 */
export function attachRestoreNotice(doc: Y.Doc, box: HTMLElement, knownBefore: () => boolean): void {
  const text = box.querySelector<HTMLElement>('[data-notice-text]')!
  box.querySelector('button')!.addEventListener('click', () => {
    box.hidden = true
  })
  doc.getMap(SERVER_MAP).observe((event) => {
    if (!event.keysChanged.has(RESTORE_KEY) || !knownBefore()) return
    const notice = event.target.get(RESTORE_KEY) as RestoreNotice | undefined
    if (!notice) return
    const version = notice.versionAt
      ? `the version of ${clockTime(notice.versionAt, box)}`
      : 'an earlier version'
    text.textContent = `${notice.by ?? 'Someone'} restored ${version}. What was written after it is kept in the history.`
    box.hidden = false
  })
}
