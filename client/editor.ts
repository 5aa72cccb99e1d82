/**
 * The pad editor: CodeMirror 6 bound to the pad's Y.Text "notes" with y-codemirror.next, synced
 * by the stock y-websocket provider, kept in IndexedDB so offline edits survive a closed tab, with
 * named cursors, a "here now" list, a Markdown preview and a save state that tells the truth.
 */
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
import { markdown } from '@codemirror/lang-markdown'
import {
  bracketMatching,
  defaultHighlightStyle,
  indentOnInput,
  syntaxHighlighting,
} from '@codemirror/language'
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search'
import { EditorState } from '@codemirror/state'
import {
  drawSelection,
  dropCursor,
  EditorView,
  highlightActiveLine,
  highlightSpecialChars,
  keymap,
  placeholder,
} from '@codemirror/view'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { IndexeddbPersistence } from 'y-indexeddb'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { encodeSyncStep1 } from '../shared/protocol.ts'
import { askName, storedIdentity } from './identity.ts'
import { attachPeopleList } from './people.ts'
import { attachPreview } from './preview.ts'
import { describeStatus, SaveTracker } from './save-state.ts'
import { trackedWebSocket } from './tracked-socket.ts'

const root = document.querySelector<HTMLElement>('[data-pad]')!
const padId = root.dataset.pad!
const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!

const doc = new Y.Doc()
const ytext = doc.getText('notes')

// ---- save state
const stateEl = $('#save-state')
let provider: WebsocketProvider | null = null
const tracker = new SaveTracker({
  sendStep1: () => provider?.ws?.send(encodeSyncStep1(Y.encodeStateVector(doc))),
  reconnect: () => {
    provider?.disconnect()
    provider?.connect()
  },
  onChange: (status) => {
    stateEl.textContent = describeStatus(status)
    stateEl.dataset.state = status.kind
    document.title = `${status.kind === 'saved' ? '' : '● '}${root.dataset.title} · Summitpad`
  },
})
tracker.setOnline(navigator.onLine)

// ---- offline copy: edits survive a reload or a closed tab and are delivered when we reconnect
const local = new IndexeddbPersistence(`summitpad:${padId}`, doc)

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`
provider = new WebsocketProvider(wsUrl, padId, doc, {
  WebSocketPolyfill: trackedWebSocket(tracker),
  // Connect only once the offline copy is loaded, so our first step 2 carries its edits.
  connect: false,
})
local.whenSynced.then(() => provider?.connect())

doc.on('update', (_update: Uint8Array, origin: unknown) => {
  if (origin !== provider) tracker.localChange()
})
provider.on('closed', ({ code, reason }) => tracker.refused(reason || `code ${code}`))
window.addEventListener('offline', () => tracker.setOnline(false))
window.addEventListener('online', () => {
  tracker.setOnline(true)
  // The old socket may be dead without knowing it; don't wait 30 s for the provider to notice.
  provider?.disconnect()
  provider?.connect()
})
window.addEventListener('beforeunload', (e) => {
  // Edits are in IndexedDB and will be delivered next time, but say so before leaving offline.
  if (tracker.unsaved > 0 && !navigator.onLine) e.preventDefault()
})

// ---- editor
const undoManager = new Y.UndoManager(ytext)
const refreshPreview = attachPreview($('#preview'), () => ytext.toString())
ytext.observe(() => refreshPreview())

const view = new EditorView({
  parent: $('#editor'),
  state: EditorState.create({
    doc: ytext.toString(),
    extensions: [
      highlightSpecialChars(),
      drawSelection(),
      dropCursor(),
      indentOnInput(),
      bracketMatching(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      markdown(),
      EditorView.lineWrapping,
      placeholder('Type the notes here. Everyone in the room sees them as you type.'),
      EditorView.contentAttributes.of({ 'aria-label': 'Meeting notes (Markdown)' }),
      // Not CodeMirror's history(): it would undo other people's text. Yjs' undo manager only
      // tracks this client's own changes.
      keymap.of([...yUndoManagerKeymap, ...searchKeymap, ...defaultKeymap, indentWithTab]),
      yCollab(ytext, provider.awareness, { undoManager }),
    ],
  }),
})

// ---- presence
attachPeopleList($('#people-list'), $('#people-count'), provider.awareness)
const nameButton = $<HTMLButtonElement>('#name-button')
const useIdentity = (identity: { name: string; color: string }) => {
  provider?.awareness.setLocalStateField('user', {
    name: identity.name,
    color: identity.color,
    colorLight: `${identity.color}33`,
  })
  nameButton.textContent = identity.name
}
const known = storedIdentity()
if (known) useIdentity(known)
else askName($<HTMLDialogElement>('#name-dialog'), null).then(useIdentity)
nameButton.addEventListener('click', () => {
  askName($<HTMLDialogElement>('#name-dialog'), storedIdentity()?.name ?? null).then(useIdentity)
})

// ---- preview toggle (side by side on wide screens, one or the other on a phone)
const toggle = $<HTMLButtonElement>('#preview-toggle')
toggle.addEventListener('click', () => {
  const on = root.classList.toggle('show-preview')
  toggle.setAttribute('aria-pressed', String(on))
  if (on) refreshPreview()
})

// ---- offline page: where allowed (https or localhost), a service worker keeps the page itself
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js').catch(() => {})
}

// For tests and the curious: the pad's live objects.
Object.assign(window, { summitpad: { doc, provider, view, tracker, undoManager } })
view.focus()
