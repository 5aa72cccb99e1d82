/**
 * The pad editor: CodeMirror 6 bound to the pad's Y.Text "notes" with y-codemirror.next, synced
 * by the stock y-websocket provider, kept in IndexedDB so offline edits survive a closed tab, with
 * named cursors, a "here now" list, a Markdown preview and a save state that tells the truth.
 */
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
// Not markdown(): it bundles the HTML, CSS and JavaScript languages (about a third of the editor's
// bytes) to highlight HTML inside Markdown. The Markdown language and its keymap are enough here.
import { markdownKeymap, markdownLanguage, pasteURLAsLink } from '@codemirror/lang-markdown'
import { bracketMatching, indentOnInput, LanguageSupport, syntaxHighlighting } from '@codemirror/language'
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search'
import { Compartment, EditorState, Prec } from '@codemirror/state'
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
import { markdownHighlight } from './editor-theme.ts'
import { askName, storedIdentity } from './identity.ts'
import { keepPageForOffline } from './offline-copy.ts'
import { attachPeopleList } from './people.ts'
import { attachPreview } from './preview.ts'
import { attachRestoreNotice } from './restore-notice.ts'
import { describeDetail, describeStatus, SaveTracker } from './save-state.ts'
import { wireNextMeetingForm } from './series-form.ts'
import { attachTitleEdit } from './title-edit.ts'

/** Close code of a deleted pad (server/meetings.ts). */
const CLOSE_PAD_DELETED = 4410

import { trackedWebSocket } from './tracked-socket.ts'
import { writerKey } from './writer-key.ts'

const root = document.querySelector<HTMLElement>('[data-pad]')!
const padId = root.dataset.pad!
const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!

const doc = new Y.Doc()
const ytext = doc.getText('notes')

// ---- editable or not
const editable = new Compartment()
/** Whether the editor takes keystrokes; applied to the view once it exists. */
/** Opened with a read-only link: the server stores nothing from us, so never take keystrokes. */
const viewer = root.dataset.viewer === 'true'
let wantEditable = !viewer
let editorView: EditorView | null = null
const editableExtensions = (on: boolean) =>
  on ? [] : [EditorState.readOnly.of(true), EditorView.editable.of(false)]
/** Nothing typed could be saved (closed session, refusal): stop taking keystrokes rather than lose them. */
function setEditable(on: boolean): void {
  if (on === wantEditable) return
  wantEditable = on
  editorView?.dispatch({ effects: editable.reconfigure(editableExtensions(on)) })
}

// ---- save state
const stateEl = $('#save-state')
let provider: WebsocketProvider | null = null
const tracker = new SaveTracker({
  sendStep1: () => {
    // Only on an open socket: right after a reconnect, provider.ws is a new one still connecting.
    const ws = provider?.ws
    if (ws?.readyState === WebSocket.OPEN) ws.send(encodeSyncStep1(Y.encodeStateVector(doc)))
  },
  reconnect: () => {
    provider?.disconnect()
    provider?.connect()
  },
  onChange: (status) => {
    stateEl.textContent = viewer && status.kind === 'read-only' ? 'Following live' : describeStatus(status)
    stateEl.title = describeDetail(status)
    stateEl.dataset.state = status.kind
    setEditable(!viewer && status.kind !== 'read-only' && status.kind !== 'refused')
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
// Our writer key goes with every socket: only it may continue the client ids it wrote first.
// Without one (IndexedDB refused), we still connect, as a stock client would, unprotected.
local.whenSynced
  .then(() => writerKey(local))
  .then(
    (key) => {
      if (provider) provider.params = { ...provider.params, writer: key }
    },
    () => {},
  )
  .then(() => provider?.connect())

// Whether this page had the pad before the server's latest sync: from the browser's copy, or a sync.
let knewPad = false
local.whenSynced.then(() => {
  knewPad ||= ytext.length > 0
})
provider.on('sync', (synced: boolean) => {
  knewPad ||= synced
})
attachRestoreNotice(doc, $('#notice'), () => knewPad)

doc.on('update', (_update: Uint8Array, origin: unknown) => {
  if (origin !== provider) tracker.localChange()
})
provider.on('closed', ({ code, reason }) => {
  tracker.refused(reason || `code ${code}`)
  // A deleted pad must not come back from this browser's copy on the next visit.
  if (code === CLOSE_PAD_DELETED) void local.clearData()
})
window.addEventListener('offline', () => tracker.setOnline(false))
window.addEventListener('online', () => {
  tracker.setOnline(true)
  // A server that refused us for good (pad deleted) would only refuse again.
  if (tracker.status().kind === 'refused') return
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
const preview = attachPreview(
  $('#preview'),
  () => ytext.toString(),
  () => {
    // The editor's top visible line, and how far into it (the preview follows it, HedgeDoc-like).
    if (!editorView) return 0
    const scroller = editorView.scrollDOM
    const top = scroller.scrollTop
    // On a phone the preview replaces the hidden editor: follow the caret's line instead.
    if (scroller.clientHeight === 0) {
      const { state } = editorView
      return state.doc.lineAt(state.selection.main.head).number - 1
    }
    // Within a line of either end: that end (CodeMirror keeps a margin around the caret).
    if (top + scroller.clientHeight >= scroller.scrollHeight - 20) return Number.POSITIVE_INFINITY
    if (top < 20) return 0
    const block = editorView.lineBlockAtHeight(top)
    const into = block.height > 0 ? (top - block.top) / block.height : 0
    return editorView.state.doc.lineAt(block.from).number - 1 + into
  },
)
const refreshPreview = preview.refresh
ytext.observe(() => refreshPreview())

const view: EditorView = new EditorView({
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
      syntaxHighlighting(markdownHighlight),
      new LanguageSupport(markdownLanguage),
      // Enter continues a list or quote, Backspace removes its markup, as markdown() would do.
      Prec.high(keymap.of(markdownKeymap)),
      pasteURLAsLink,
      EditorView.lineWrapping,
      placeholder('Type the notes here. Everyone in the room sees them as you type.'),
      EditorView.contentAttributes.of({ 'aria-label': 'Meeting notes (Markdown)' }),
      // Not CodeMirror's history(): it would undo other people's text. Yjs' undo manager only
      // tracks this client's own changes.
      keymap.of([...yUndoManagerKeymap, ...searchKeymap, ...defaultKeymap, indentWithTab]),
      yCollab(ytext, provider.awareness, { undoManager }),
      editable.of(editableExtensions(wantEditable)),
    ],
  }),
})
editorView = view

// An outcome's link (/p/<pad>#L12, from the event's action items): put the caret on that line once
// the pad's text is here, and show it in the middle of the editor.
const lineLink = /^#L(\d+)$/.exec(location.hash)
if (lineLink) {
  const goToLine = (synced: boolean) => {
    if (!synced) return
    provider?.off('sync', goToLine)
    const doc = view.state.doc
    const line = doc.line(Math.min(Math.max(1, Number(lineLink[1])), doc.lines))
    view.dispatch({
      selection: { anchor: line.from, head: line.to },
      effects: EditorView.scrollIntoView(line.from, { y: 'center' }),
    })
    view.focus()
  }
  provider.on('sync', goToLine)
}
view.scrollDOM.addEventListener('scroll', preview.followEditor, { passive: true })

// ---- the title, renamed in the page by whoever may change the pad's details
const titleButton = document.querySelector<HTMLButtonElement>('#title-button')
if (titleButton) {
  attachTitleEdit(titleButton, padId, (title) => {
    root.dataset.title = title
    titleButton.setAttribute('aria-label', `${title} (rename)`)
    titleButton.parentElement!.title = title
    document.title = `${document.title.startsWith('● ') ? '● ' : ''}${title} · Summitpad`
  })
}

// ---- presence
attachPeopleList($('#people-list'), $('#people-count'), provider.awareness)
const nameButton = $<HTMLButtonElement>('#name-button')
const useIdentity = (identity: { name: string; color: string }) => {
  provider?.awareness.setLocalStateField('user', {
    name: identity.name,
    color: identity.color,
    colorLight: `${identity.color}33`,
    // What the server marks anyway for a read-only link; said here too so our own entry shows it.
    ...(viewer ? { viewer: true } : {}),
  })
  nameButton.textContent = identity.name
}
const nameDialog = $<HTMLDialogElement>('#name-dialog')
// Back to the notes once the name is given (or kept): the dialog would return focus to the button.
const askAndType = (current: string | null) =>
  askName(nameDialog, current).then((identity) => {
    if (identity) useIdentity(identity)
    editorView?.focus()
  })
const known = storedIdentity()
if (known) useIdentity(known)
else void askAndType(null)
nameButton.addEventListener('click', () => {
  if (!nameDialog.open) void askAndType(storedIdentity()?.name ?? null)
})

// ---- preview: beside the editor on a wide screen, instead of it on a phone; shown at first only
// where there is room for both
const toggle = $<HTMLButtonElement>('#preview-toggle')
const showPreview = (on: boolean) => {
  root.classList.toggle('show-preview', on)
  toggle.setAttribute('aria-pressed', String(on))
  refreshPreview()
}
showPreview(window.matchMedia('(min-width: 1100px)').matches)
toggle.addEventListener('click', () => showPreview(!root.classList.contains('show-preview')))

// ---- offline page: where allowed (https or localhost), a service worker serves this page and the
// files it can load when the network is gone. The page keeps that copy itself as soon as it has
// loaded, from the build's list of its files (not when the worker happens to become active, nor
// only what this visit used). The preview's renderer is on that list and arrived with the page
// (modulepreload), so a preview first opened after the Wi-Fi went away works, on a first visit too.
if ('serviceWorker' in navigator && window.isSecureContext) {
  // What could not be done (the network went at the wrong moment) is done when it is back.
  const whenOnlineAgain = (again: () => Promise<unknown>) => () =>
    window.addEventListener('online', () => void again(), { once: true })
  const keepCopy = (): Promise<unknown> => keepPageForOffline().catch(whenOnlineAgain(keepCopy))
  const register = (): Promise<unknown> =>
    navigator.serviceWorker.register('/sw.js').catch(whenOnlineAgain(register))
  const keepForOffline = () => {
    void keepCopy()
    void register()
  }
  if (document.readyState === 'complete') keepForOffline()
  else window.addEventListener('load', keepForOffline, { once: true })
}

// For tests and the curious: the pad's live objects, and its whole state as one Yjs update.
const encodeState = () => Y.encodeStateAsUpdate(doc)
Object.assign(window, { summitpad: { doc, provider, view, tracker, undoManager, encodeState } })
view.focus()

wireNextMeetingForm()
