/**
 * The "now" page (/e/<event>/now): the sessions under way, each with its notes as plain text that
 * follows the pad live. Each session is one Yjs doc synced by the stock y-websocket client on a
 * read-only socket (`?view=only`), rendered as text, not an editor: ten sessions at once are ten
 * small docs and ten text boxes, not ten CodeMirror instances. The list is asked for again when a
 * session starts or ends (the server says when) and at least every 30 s; sessions that end are
 * disconnected and removed, new ones added, without a reload.
 */
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

interface NowSession {
  id: string
  title: string
  room: string | null
  track: string | null
  speakers: string[]
  time: string
  link: string
}

interface NowAnswer {
  event: { name: string }
  sessions: NowSession[]
  more: number
  nextChangeAt: string | null
  refreshInMs: number
}

/** After a failed request (network gone, server restarting): ask again this soon. */
const RETRY_MS = 10_000

const main = document.querySelector<HTMLElement>('main[data-event]')!
const slug = main.dataset.event!
const list = document.querySelector<HTMLElement>('#now-sessions')!
const status = document.querySelector<HTMLElement>('#now-status')!
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`

interface Followed {
  doc: Y.Doc
  provider: WebsocketProvider
  article: HTMLElement
  heading: HTMLAnchorElement
  meta: HTMLElement
}

const followed = new Map<string, Followed>()

function follow(session: NowSession): Followed {
  const article = document.createElement('article')
  article.className = 'now-session'
  article.dataset.now = session.id
  const h2 = document.createElement('h2')
  const heading = document.createElement('a')
  h2.append(heading)
  const meta = document.createElement('p')
  meta.className = 'muted'
  const notes = document.createElement('pre')
  notes.className = 'now-notes'
  notes.tabIndex = 0
  notes.setAttribute('aria-label', `Notes of ${session.title}`)
  article.append(h2, meta, notes)

  const doc = new Y.Doc()
  const text = doc.getText('notes')
  let queued = false
  const render = () => {
    queued = false
    // Keep following the end of the notes if the reader was there.
    const atEnd = notes.scrollTop + notes.clientHeight >= notes.scrollHeight - 8
    notes.textContent = text.toString()
    if (atEnd) notes.scrollTop = notes.scrollHeight
  }
  text.observe(() => {
    if (queued) return
    queued = true
    requestAnimationFrame(render)
  })
  const provider = new WebsocketProvider(wsUrl, session.id, doc, {
    // Read-only whatever link this browser holds: this page never writes.
    params: { view: 'only' },
    // Not shared with a pad page open in another tab: this page shows what the server has.
    disableBc: true,
  })
  return { doc, provider, article, heading, meta }
}

function unfollow(id: string, f: Followed): void {
  f.provider.destroy()
  f.doc.destroy()
  f.article.remove()
  followed.delete(id)
}

function show(answer: NowAnswer): void {
  const current = new Set(answer.sessions.map((s) => s.id))
  for (const [id, f] of followed) if (!current.has(id)) unfollow(id, f)
  for (const session of answer.sessions) {
    let f = followed.get(session.id)
    if (!f) {
      f = follow(session)
      followed.set(session.id, f)
    }
    f.heading.textContent = session.title
    f.heading.href = session.link
    f.meta.textContent = [session.time, session.room, session.track, session.speakers.join(', ')]
      .filter(Boolean)
      .join(' · ')
    // In the server's order (by room); moving a node keeps its notes as they are.
    list.append(f.article)
  }
  // 24-hour, in the event's zone: as the sessions' times are written.
  const next = answer.nextChangeAt
    ? ` Next change at ${new Date(answer.nextChangeAt).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: main.dataset.timezone })}.`
    : ''
  const count = answer.sessions.length
  status.textContent =
    (count
      ? `${count} ${count === 1 ? 'session' : 'sessions'} under way${answer.more ? ` (and ${answer.more} more not shown)` : ''}.`
      : 'Nothing is under way right now.') + next
}

let timer: ReturnType<typeof setTimeout> | undefined
function askAgainIn(ms: number): void {
  clearTimeout(timer)
  timer = setTimeout(() => void refresh(), ms)
}

async function refresh(): Promise<void> {
  let res: Response
  try {
    res = await fetch(`/api/events/${encodeURIComponent(slug)}/now`, { cache: 'no-store' })
  } catch {
    status.textContent = 'Cannot reach the server; trying again.'
    return askAgainIn(RETRY_MS)
  }
  const data = (await res.json().catch(() => null)) as (NowAnswer & { error?: { message?: string } }) | null
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    // The link was replaced or the event is gone: asking again would only be refused again.
    for (const [id, f] of followed) unfollow(id, f)
    status.textContent = data?.error?.message ?? `HTTP ${res.status}`
    return
  }
  if (!res.ok || !data) {
    status.textContent = data?.error?.message ?? `The server answered ${res.status}; trying again.`
    return askAgainIn(RETRY_MS)
  }
  show(data)
  askAgainIn(data.refreshInMs)
}

// Back from a sleeping laptop or a lost network: the timer may be long overdue.
window.addEventListener('online', () => void refresh())
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void refresh()
})
void refresh()
