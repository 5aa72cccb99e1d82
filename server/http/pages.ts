/**
 * Server-rendered pages: `/` (events and unfiled pads), `/e/<event>` (its sessions by day and
 * room, live head counts, new-pad form, schedule import) and `/p/<pad>/qr` (a QR code for the
 * room's projector). Small page scripts under /assets/ add the forms' behaviour and live counts.
 */
import express, { type Request, type Response, type Router } from 'express'
import { type AccessControl, TOKEN_PARAM, tokensOf } from '../access/access.ts'
import { type EventLinks, type EventLinkUrls, linkUrls } from '../access/event-links.ts'
import { MATERIAL_KINDS, MATERIAL_LABEL, materialKindOf } from '../meetings/material-kinds.ts'
import type { Materials } from '../meetings/materials.ts'
import type { Meetings } from '../meetings/meetings.ts'
import { type EventInfo, PAD_KINDS, type PadInfo, type PadKind, type PadLink } from '../meetings/model.ts'
import { scheduleFacts } from '../meetings/pad-facts.ts'
import type { Series } from '../meetings/series.ts'
import { inZone } from '../meetings/time.ts'
import { EXPORT_FORMATS, type ExportFormat, type Minutes } from '../minutes/minutes.ts'
import { CLIENT_OUT } from '../ops/paths.ts'
import type { SearchIndex } from '../storage/search-index.ts'
import { isValidPadId } from '../sync/pad-id.ts'
import { type AssetManifest, preloadsOf } from './client-assets.ts'
import { Html, html, type PageOptions, page as renderPage, siteHeader } from './html.ts'
import { HttpError } from './http-errors.ts'
import { asyncRoute } from './json-route.ts'
import { accessOf } from './route-classes.ts'
import { seriesLine, seriesPage } from './series-html.ts'

const KIND_LABEL: Record<string, string> = {
  'mini-summit': 'mini-summit',
  bof: 'BoF',
  talk: 'talk',
  meeting: 'meeting',
}

/** The address people type or scan, as this request reached us. */
export function publicBase(req: Request): string {
  return `${req.protocol}://${req.get('host')}`
}

function dateRange(event: EventInfo): string {
  if (!event.startsOn) return event.timezone
  const range =
    event.endsOn && event.endsOn !== event.startsOn ? `${event.startsOn} – ${event.endsOn}` : event.startsOn
  return `${range} · ${event.timezone}`
}

function padTitle(pad: PadInfo): string {
  return pad.title ?? pad.id
}

function sessionItem(pad: PadInfo, zone: string, canEdit: boolean): Html {
  const start = pad.startsAt ? inZone(Date.parse(pad.startsAt), zone).time : ''
  const end = pad.endsAt ? inZone(Date.parse(pad.endsAt), zone).time : ''
  const meta = [pad.track, pad.speakers.join(', ')].filter(Boolean).join(' · ')
  return html`<li class="session${pad.cancelled ? ' cancelled' : ''}" data-pad="${pad.id}">
  <span class="time">${start}${end ? `–${end}` : ''}</span>
  <span><a class="title" href="/p/${pad.id}">${padTitle(pad)}</a>${pad.kind ? html`<span class="badge">${KIND_LABEL[pad.kind]}</span>` : ''}${pad.cancelled ? html`<span class="badge">cancelled</span>` : ''}${pad.closedAt ? html`<span class="badge closed">closed</span>` : ''}</span>
  <span class="live" data-live="${pad.id}" aria-live="polite"></span>
  ${materialsList(pad, canEdit)}
  <span class="meta">${meta}${meta ? ' · ' : ''}<a href="/p/${pad.id}/qr">QR code</a> · minutes: <a href="/api/pads/${pad.id}/export?format=txt" download>txt</a> <a href="/api/pads/${pad.id}/export?format=md" download>md</a> <a href="/api/pads/${pad.id}/export?format=html" download>html</a></span>
</li>`
}

/** A session's materials (the pad's links, with their kinds); editors get a remove button each. */
function materialsList(pad: PadInfo, canEdit: boolean): Html | string {
  if (!pad.links.length) return ''
  return html`<ul class="materials" aria-label="Materials">${pad.links.map(
    (l) =>
      html`<li><span class="label">${MATERIAL_LABEL[l.kind ?? materialKindOf(l.title, l.url)]}:</span> <a href="${l.url}" rel="noopener noreferrer" target="_blank">${l.title ?? l.url}</a>${canEdit ? html` <button type="button" class="link-button" data-remove-material data-pad="${pad.id}" data-url="${l.url}" aria-label="Remove this material">×</button>` : ''}</li>`,
  )}</ul>`
}

/** Sessions grouped by day (in the event's zone), then room; unscheduled ones last. */
function schedule(pads: PadInfo[], zone: string, canEdit: boolean): Html {
  const days = new Map<string, Map<string, PadInfo[]>>()
  const unscheduled: PadInfo[] = []
  for (const pad of pads) {
    if (!pad.startsAt) {
      unscheduled.push(pad)
      continue
    }
    const when = inZone(Date.parse(pad.startsAt), zone)
    const dayKey = `${when.weekday} ${when.date}`
    let rooms = days.get(dayKey)
    if (!rooms) {
      rooms = new Map()
      days.set(dayKey, rooms)
    }
    const room = pad.room ?? 'No room given'
    rooms.set(room, [...(rooms.get(room) ?? []), pad])
  }
  return html`${[...days].map(
    ([day, rooms]) => html`<section><h2>${day}</h2>
${[...rooms]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(
    ([room, list]) =>
      html`<h3>${room}</h3><ul class="cards">${list.map((p) => sessionItem(p, zone, canEdit))}</ul>`,
  )}
</section>`,
  )}
${unscheduled.length ? html`<section><h2>Unscheduled</h2><ul class="cards">${unscheduled.map((p) => sessionItem(p, zone, canEdit))}</ul></section>` : ''}`
}

function searchForm(q: string, event?: string, kind?: PadKind): Html {
  return html`<form class="row" action="/search" method="get" role="search">
  <label>${event ? 'Search this event' : 'Search all pads'} <input type="search" name="q" value="${q}" placeholder="cgroup writeback" maxlength="500"></label>
  ${event ? html`<input type="hidden" name="event" value="${event}">` : ''}
  <label>Kind <select name="kind"><option value="">any</option>${PAD_KINDS.map((k) => html`<option value="${k}"${k === kind ? ' selected' : ''}>${KIND_LABEL[k]}</option>`)}</select></label>
  <button type="submit">Search</button>
</form>`
}

function kindOptions(): Html {
  return html`${PAD_KINDS.map((k) => html`<option value="${k}"${k === 'talk' ? ' selected' : ''}>${KIND_LABEL[k]}</option>`)}`
}

/**
 * The organiser's box at the top of an event page (protected mode): that they are recognised,
 * the two links with copy buttons, and replacing them.
 */
function eventLinks(urls: EventLinkUrls): Html {
  const row = (kind: 'edit' | 'read', label: string, what: string) => html`<div class="link-row">
  <label for="link-${kind}">${label}</label>
  <div class="link-copy"><input id="link-${kind}" type="text" readonly value="${urls[kind]}" data-link="${kind}"><button type="button" data-copy="${kind}">Copy</button></div>
  <p class="muted">${what} <button type="button" class="secondary small" data-rotate="${kind}">Replace this link</button></p>
</div>`
  return html`<section class="links" aria-labelledby="links-title">
  <p class="organiser">You are recognised as the organiser in this browser: only you see these links and can replace them.</p>
  <h2 id="links-title">Links to share</h2>
  ${row('edit', 'Edit link', 'Opens every pad of this event for editing. Share it with the people taking notes.')}
  ${row('read', 'Read-only link', 'Opens the pads to follow along live; nothing typed is kept.')}
  <p class="muted">Replacing a link cuts off everyone using the old one at once, open editors included.</p>
  <div class="message" hidden role="status" id="links-message"></div>
</section>`
}

/**
 * The schedule's facts above the notes (they are not in the text: a re-import changes them here),
 * and the sessions before and after this one in the same room.
 */
function padFactsLine(pad: PadInfo, event: EventInfo | null, neighbours: Neighbours): Html | string {
  const facts = scheduleFacts(pad, event)
  if (!facts.length && !neighbours.prev && !neighbours.next) return ''
  const link = (p: PadInfo, rel: string, text: string) =>
    html`<a href="/p/${p.id}" rel="${rel}" title="${padTitle(p)}">${text}</a>`
  return html`<p class="pad-facts" aria-label="About this session">${facts.map(
    (f, i) =>
      html`${i ? ' · ' : ''}<span>${f.url ? html`<a href="${f.url}" rel="noopener noreferrer" target="_blank">${f.linkText}</a>` : html`<span class="label">${f.label}:</span> ${f.value}`}</span>`,
  )}${neighbours.prev || neighbours.next ? html`<span class="room-nav">${neighbours.prev ? link(neighbours.prev, 'prev', `← Previous in ${pad.room}`) : ''}${neighbours.prev && neighbours.next ? ' · ' : ''}${neighbours.next ? link(neighbours.next, 'next', `Next in ${pad.room} →`) : ''}</span>` : ''}</p>`
}

interface Neighbours {
  prev: PadInfo | null
  next: PadInfo | null
}

/** The sessions just before and after `pad` in its room, by start time (cancelled ones skipped). */
function roomNeighbours(pad: PadInfo, all: PadInfo[]): Neighbours {
  if (!pad.room || !pad.startsAt) return { prev: null, next: null }
  const room = all
    .filter((p) => p.room === pad.room && p.startsAt && !p.cancelled)
    .sort((a, b) => a.startsAt!.localeCompare(b.startsAt!) || a.id.localeCompare(b.id))
  const at = room.findIndex((p) => p.id === pad.id)
  return at < 0 ? { prev: null, next: null } : { prev: room[at - 1] ?? null, next: room[at + 1] ?? null }
}

export interface PagesDeps {
  meetings: Meetings
  series: Series
  materials: Materials
  minutes: Minutes
  search: SearchIndex
  access: AccessControl
  links: EventLinks
  /** The client build's files per page script. */
  assets: AssetManifest
}

const FORMAT_LABEL: Record<ExportFormat, string> = {
  md: 'Markdown (.md)',
  txt: 'Plain text for email (.txt)',
  html: 'Web page (.html)',
  json: 'JSON with authors (.json)',
  yjs: 'Yjs backup (.yjs)',
}

function downloadLinks(padId: string): Html {
  return html`<ul>${EXPORT_FORMATS.map((f) => html`<li><a href="/api/pads/${padId}/export?format=${f}" download>${FORMAT_LABEL[f]}</a></li>`)}</ul>`
}

function downloadMenu(padId: string): Html {
  return html`<details class="menu"><summary>Download</summary><ul>
${EXPORT_FORMATS.map((f) => html`<li><a href="/api/pads/${padId}/export?format=${f}" download>${FORMAT_LABEL[f]}</a></li>`)}
</ul></details>`
}

export function createPagesRouter({
  meetings,
  series,
  materials,
  minutes,
  search,
  access,
  links,
  assets,
}: PagesDeps): Router {
  const router = express.Router()
  /** A page whose scripts arrive with everything they can load (the preview works offline from the first visit). */
  const page = (options: PageOptions) =>
    renderPage({ ...options, preloads: preloadsOf(assets, options.scripts ?? []) })

  router.use('/assets', express.static(CLIENT_OUT, { index: false, maxAge: 0 }))

  /** The front page of a protected server for someone without the admin token: the events their links open. */
  const protectedHome = async (req: Request): Promise<string> => {
    const tokens = tokensOf(req)
    const mine: EventInfo[] = []
    for (const e of await meetings.events())
      if ((await access.decide({ kind: 'event', slug: e.slug }, tokens)).role !== 'none') mine.push(e)
    const body = html`${siteHeader()}
<main>
  <h1>Meeting notes, live</h1>
  <p>This Summitpad is protected: pads open with the link the organisers shared (it looks like <code>/e/event-name?token=…</code>).</p>
  ${mine.length ? html`<h2>Your events</h2><ul class="cards">${mine.map((e) => html`<li><a class="title" href="/e/${e.slug}">${e.name}</a> <span class="muted">${dateRange(e)}</span></li>`)}</ul>` : ''}
</main>`
    return page({ title: 'Summitpad', body })
  }

  router.get(
    '/',
    asyncRoute(async (req, res) => {
      const { mode, role } = accessOf(res)
      // A public route whose answer depends on the caller: in protected mode it lists the events
      // this visitor's links open (or everything, to the organiser). No cache may keep it.
      if (mode === 'protected') res.set('Cache-Control', 'private, no-store')
      if (mode === 'protected' && role !== 'admin')
        return void res.type('html').send(await protectedHome(req))
      const events = await meetings.events()
      const unfiled = await meetings.pads({ unfiled: true })
      const body = html`${siteHeader()}
<main>
  <h1>Meeting notes, live</h1>
  <p class="muted">One pad per session. Everyone in the room types into it at once; the minutes are kept with their full history.</p>
  ${searchForm('')}
  <h2>Events</h2>
  ${events.length ? html`<ul class="cards">${events.map((e) => html`<li><a class="title" href="/e/${e.slug}">${e.name}</a> <span class="muted">${dateRange(e)}</span></li>`)}</ul>` : html`<p class="muted">No events yet.</p>`}
  <details>
    <summary>Create an event</summary>
    <form class="stack" id="new-event">
      <label>Name <input name="name" required maxlength="200" placeholder="Linux Plumbers 2026"></label>
      <label>Short name for the URL <input name="slug" required pattern="[a-z0-9](?:[a-z0-9\\-]{0,58}[a-z0-9])?" title="1 to 60 lower-case letters, digits and dashes, e.g. lpc-2026" placeholder="lpc-2026"></label>
      <label>First day <input name="startsOn" type="date"></label>
      <label>Last day <input name="endsOn" type="date"></label>
      <label>Time zone <input name="timezone" placeholder="Europe/Prague" id="tz"></label>
      <button type="submit">Create event</button>
      <div class="message" hidden role="status"></div>
    </form>
  </details>
  <h2>Open a pad</h2>
  <form class="row" id="open-pad">
    <label>Pad name <input name="pad" required pattern="[A-Za-z0-9._\\-]{1,100}" placeholder="hallway-sched-ext"></label>
    <button type="submit">Open</button>
  </form>
  <h2>Unfiled pads</h2>
  ${unfiled.length ? html`<ul class="cards">${unfiled.map((p) => html`<li><a class="title" href="/p/${p.id}">${padTitle(p)}</a> <span class="muted">updated ${p.updatedAt.slice(0, 16).replace('T', ' ')} UTC</span></li>`)}</ul>` : html`<p class="muted">None.</p>`}
</main>`
      res.type('html').send(page({ title: 'Events', body, scripts: ['home-page.js'] }))
    }),
  )

  router.get(
    '/search',
    asyncRoute(async (req, res) => {
      const q = typeof req.query.q === 'string' ? req.query.q.slice(0, 500) : ''
      const event = typeof req.query.event === 'string' ? req.query.event : undefined
      const kindParam = typeof req.query.kind === 'string' ? req.query.kind : undefined
      const kind = (PAD_KINDS as readonly string[]).includes(kindParam ?? '')
        ? (kindParam as PadKind)
        : undefined
      const hits = q ? await search.search(q, { event, kind }) : []
      const scope = event ? await meetings.event(event) : null
      const body = html`${siteHeader(scope ? html`<a href="/">Events</a> / <a href="/e/${scope.slug}">${scope.name}</a> / Search` : 'Search')}
<main>
  <h1>${scope ? `Search ${scope.name}` : 'Search the minutes'}</h1>
  ${searchForm(q, event, kind)}
  ${q ? html`<p class="muted">${hits.length} ${hits.length === 1 ? 'pad' : 'pads'} found${hits.length === 50 ? ' (first 50)' : ''}.</p>` : ''}
  <ul class="cards">${hits.map(
    (
      h,
    ) => html`<li><a class="title" href="/p/${h.padId}">${h.title ?? h.padId}</a>${h.kind ? html`<span class="badge">${KIND_LABEL[h.kind]}</span>` : ''}${h.event ? html` <span class="muted">· ${h.event}</span>` : ''}
<p class="snippet">${new Html(h.snippet)}</p></li>`,
  )}</ul>
</main>`
      res.type('html').send(page({ title: q ? `${q} — search` : 'Search', body }))
    }),
  )

  router.get(
    '/e/:slug/outcomes',
    asyncRoute(async (req, res) => {
      const event = await meetings.event(String(req.params.slug))
      const { actionsByOwner, decisions } = await minutes.rollup(event.slug)
      const item = (i: { padId: string; padTitle: string; line: number; text: string; done?: boolean }) =>
        html`<li>${i.done ? html`<s>${i.text}</s> <span class="badge">done</span>` : i.text} <span class="muted">— <a href="/p/${i.padId}#L${i.line}">${i.padTitle}</a>, line ${i.line}</span></li>`
      const body = html`${siteHeader(html`<a href="/">Events</a> / <a href="/e/${event.slug}">${event.name}</a> / Outcomes`)}
<main>
  <h1>Action items and decisions</h1>
  <p class="muted">Collected from every pad of ${event.name}: lines starting with <code>ACTION(name):</code>, <code>- [ ] @name</code> or <code>DECISION:</code>. <a href="/api/events/${event.slug}/outcomes">JSON</a></p>
  <h2>Action items</h2>
  ${actionsByOwner.length ? actionsByOwner.map((g) => html`<h3>${g.owner}</h3><ul>${g.items.map(item)}</ul>`) : html`<p class="muted">None yet.</p>`}
  <h2>Decisions</h2>
  ${decisions.length ? html`<ul>${decisions.map(item)}</ul>` : html`<p class="muted">None yet.</p>`}
</main>`
      res.type('html').send(page({ title: `${event.name} — outcomes`, body }))
    }),
  )

  // The sessions under way with their notes, live (client/now-page.ts fills it from
  // /api/events/<slug>/now): nothing here but the event's name, so no link's token either.
  router.get(
    '/e/:slug/now',
    asyncRoute(async (req, res) => {
      const event = await meetings.event(String(req.params.slug))
      const body = html`${siteHeader(html`<a href="/">Events</a> / <a href="/e/${event.slug}">${event.name}</a> / Now`)}
<main class="now" data-event="${event.slug}" data-timezone="${event.timezone}">
  <h1>Happening now at ${event.name}</h1>
  <p id="now-status" class="muted" role="status">Looking for the sessions under way…</p>
  <div id="now-sessions" class="now-sessions"></div>
  <p class="muted">The notes follow each session live, read-only; a session appears when it starts and goes when it ends. <a href="/e/${event.slug}">The whole programme</a></p>
</main>`
      res.type('html').send(page({ title: `${event.name} — now`, body, scripts: ['now-page.js'] }))
    }),
  )

  router.get(
    '/e/:slug',
    asyncRoute(async (req, res) => {
      const event = await meetings.event(String(req.params.slug))
      await eventPage(req, res, event, await materials.linksOfEvent(event.slug))
    }),
  )

  const eventPage = async (
    req: Request,
    res: Response,
    event: EventInfo,
    shown: Map<string, PadLink[]>,
  ): Promise<void> => {
    const pads = (await meetings.pads({ event: event.slug })).map((p) => ({
      ...p,
      links: shown.get(p.id) ?? p.links,
    }))
    const { role, mode } = accessOf(res)
    const secrets = mode === 'protected' && role === 'admin' ? await links.ofEvent(event.slug) : null
    const body = html`${siteHeader(html`<a href="/">Events</a> / ${event.name}`)}
<main data-event="${event.slug}" data-timezone="${event.timezone}">
  <h1>${event.name}</h1>
  <p class="muted">${dateRange(event)}${event.description ? html` · ${event.description}` : ''}</p>
  <p><a href="/e/${event.slug}/now">Happening now</a> · <a href="/e/${event.slug}/outcomes">Action items and decisions</a> · <a href="/api/events/${event.slug}/export" download>Download all minutes (.zip)</a> · <a href="/search?event=${event.slug}">Search this event</a></p>
  ${secrets ? eventLinks(linkUrls(publicBase(req), secrets)) : ''}
  ${role === 'read' ? html`<p class="message">You are following along with a read-only link: you can read every pad and watch it change, not edit.</p>` : ''}
  ${pads.length ? schedule(pads, event.timezone, role !== 'read') : html`<p class="muted">No sessions yet${role === 'read' ? '' : ': import the schedule or add a pad'}.</p>`}
  ${
    role === 'read'
      ? ''
      : html`<h2>Add sessions</h2>
  <details>
    <summary>Add a material (slides, paper, recording…)</summary>
    <form class="stack" id="add-material">
      <label>Session <select name="pad" required>${pads.map((p) => html`<option value="${p.id}">${padTitle(p)}</option>`)}</select></label>
      <label>Kind <select name="kind">${MATERIAL_KINDS.map((k) => html`<option value="${k}">${MATERIAL_LABEL[k]}</option>`)}</select></label>
      <label>Title <input name="title" maxlength="300" placeholder="Slides (PDF)"></label>
      <label>Address <input name="url" type="url" required maxlength="2000" placeholder="https://…"></label>
      <button type="submit">Add</button>
      <div class="message" hidden role="status"></div>
    </form>
  </details>
  <details>
    <summary>New pad</summary>
    <form class="stack" id="new-pad">
      <label>Title <input name="title" required maxlength="300" placeholder="Memory cgroup BoF"></label>
      <label>Kind <select name="kind">${kindOptions()}</select></label>
      <label>Room <input name="room" maxlength="200"></label>
      <label>Track <input name="track" maxlength="200"></label>
      <label>Starts (${event.timezone}) <input name="startsAt" type="datetime-local"></label>
      <label>Ends (${event.timezone}) <input name="endsAt" type="datetime-local"></label>
      <button type="submit">Create pad</button>
      <div class="message" hidden role="status"></div>
    </form>
  </details>
  ${role === 'admin' ? importForm : ''}`
  }
</main>`
    res.type('html').send(page({ title: event.name, body, scripts: ['event-page.js'] }))
  }

  const importForm = html`<details>
    <summary>Import the schedule (.ics, frab/pretalx XML or JSON)</summary>
    <form class="stack" id="import">
      <label>Schedule file <input name="file" type="file" accept=".ics,.ical,.xml,.json,text/calendar,application/xml,text/xml,application/json"></label>
      <label>…or paste it <textarea name="text" rows="6" placeholder="BEGIN:VCALENDAR…, &lt;schedule&gt;… or [{&quot;id&quot;: &quot;…&quot;, &quot;title&quot;: &quot;…&quot;}]"></textarea></label>
      <p class="muted">First see what would change; nothing is written until you confirm. Re-importing updates titles, rooms and times; it never duplicates a pad, touches its notes or deletes one.</p>
      <button type="submit">Preview the import</button>
      <div class="message" hidden role="status"></div>
      <div class="import-preview" hidden></div>
      <button type="button" data-confirm-import hidden>Import</button>
    </form>
  </details>`

  // Browsers ask for it whatever the page says.
  router.get('/favicon.ico', (_req, res) => res.redirect(301, '/assets/favicon.svg'))

  // The service worker must be served from the root to control /p/ pages.
  router.get('/sw.js', (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile('sw.js', { root: CLIENT_OUT })
  })

  router.get(
    '/p/:id',
    asyncRoute(async (req, res) => {
      const id = String(req.params.id)
      if (!isValidPadId(id)) throw new HttpError(400, 'invalid', 'pad names are 1-100 of A-Z a-z 0-9 . _ -')
      // A pad nobody created yet opens empty, as in Etherpad; it is stored with its first edit.
      const pad = await meetings.findPad(id)
      if (!pad) return void (await padPage(req, res, null, html``))
      const [n, shown] = await Promise.all([series.neighbours(id), materials.withMaterials(pad)])
      await padPage(req, res, shown, seriesLine(id, pad.event, n, accessOf(res).role !== 'read'))
    }),
  )

  const padPage = async (
    req: Request,
    res: Response,
    pad: PadInfo | null,
    seriesNav: Html,
  ): Promise<void> => {
    const id = String(req.params.id)
    const title = pad ? padTitle(pad) : id
    const viewer = accessOf(res).role === 'read'
    const event = pad?.event ? await meetings.event(pad.event) : null
    const zone = event ? event.timezone : null
    const neighbours =
      pad && event
        ? roomNeighbours(pad, await meetings.pads({ event: event.slug }))
        : { prev: null, next: null }
    const body = html`<div class="pad-root" data-pad="${id}" data-title="${title}"${zone ? html` data-zone="${zone}"` : ''}${viewer ? html` data-viewer="true"` : ''}>
<header class="pad-bar">
  <a class="brand" href="/">Summitpad</a>
  ${event ? html`<a class="crumb" href="/e/${event.slug}">${event.name}</a>` : ''}
  <h1 title="${title}">${pad && accessOf(res).role === 'admin' ? html`<button id="title-button" type="button" class="title-button" aria-label="${title} (rename)">${title}</button>` : title}</h1>
  ${viewer ? html`<span class="badge" title="You opened a read-only link: you see every change live; nothing you type is kept.">View only</span>` : ''}
  <span id="save-state" role="status" aria-live="polite" data-state="reconnecting">Connecting…</span>
  <div class="pad-tools">
  <button id="preview-toggle" class="secondary" type="button" aria-pressed="false" aria-controls="preview">Preview</button>
  ${downloadMenu(id)}
  ${pad ? html`<a href="/p/${id}/history">History</a>` : ''}
  <a href="/p/${id}/qr">QR<span class="wide"> code</span></a>
  <button id="name-button" class="secondary" type="button" title="Change your name">Your name</button>
  </div>
</header>
${pad ? padFactsLine(pad, event, neighbours) : ''}
${seriesNav}
<div class="pad-main">
  <div id="editor"></div>
  <article id="preview" aria-label="Preview"></article>
  <aside class="people" aria-label="People here"><h2>Here now (<span id="people-count">0</span>)</h2><ul id="people-list"></ul></aside>
</div>
<div id="notice" class="notice" role="alert" hidden><span data-notice-text></span> ${pad ? html`<a href="/p/${id}/history">History</a>` : ''} <button type="button" class="secondary small">Dismiss</button></div>
<dialog id="name-dialog" aria-labelledby="name-title">
  <form method="dialog" class="stack">
    <h2 id="name-title">Your name</h2>
    <p class="muted">Shown next to your cursor and in the pad's history. Remembered in this browser.</p>
    <label>Name <input name="name" required maxlength="64" autocomplete="name"></label>
    <button type="submit">Join the pad</button>
  </form>
</dialog>
</div>`
    res
      .type('html')
      .send(page({ title, body, scripts: ['editor.js'], styles: ['editor.css'], bodyClass: 'pad-page' }))
  }

  router.get('/p/:id/series', (req, res, next) => {
    const tokens = tokensOf(req)
    const canRead = async (id: string) =>
      (await access.decide({ kind: 'pad', padId: id }, tokens)).role !== 'none'
    series
      .view(req.params.id, canRead)
      .then((view) => res.type('html').send(page({ title: 'Series', body: seriesPage(view) })))
      .catch(next)
  })

  router.get(
    '/p/:id/history',
    asyncRoute(async (req, res) => {
      const pad = await meetings.findPad(String(req.params.id))
      if (!pad) throw new HttpError(404, 'not_found', `no stored pad "${req.params.id}"`)
      const title = padTitle(pad)
      const event = pad.event ? await meetings.event(pad.event) : null
      const body = html`${siteHeader(html`${event ? html`<a href="/e/${event.slug}">${event.name}</a> / ` : ''}<a href="/p/${pad.id}">${title}</a> / History`)}
<main class="history" data-history="${pad.id}"${event ? html` data-zone="${event.timezone}"` : ''}>
  <h1>History of ${title}</h1>
  <p id="closed-note" class="message" hidden>This session is closed: the notes are read-only.</p>
  <p id="history-status" class="message" role="status" hidden></p>
  <label class="slider">Drag through the meeting <input id="slider" type="range" min="0" max="0" value="0"></label>
  <div id="time-axis" class="time-axis" aria-hidden="true"></div>
  <p id="step-label" class="muted" aria-live="polite"></p>
  <div class="row-buttons"><button id="prev-change" type="button" class="secondary small">← One change</button><button id="next-change" type="button" class="secondary small">One change →</button></div>
  <div class="row-buttons" id="checkpoints" role="group" aria-label="Checkpoints"></div>
  <div class="history-panes">
    <section><h2>The notes at this point</h2><pre id="revision-text" class="revision"></pre></section>
    <section><h2>What this step changed</h2><div id="step-changes" class="diff"></div></section>
  </div>
  <div class="row-buttons"${accessOf(res).role === 'read' ? html` hidden` : ''}>
    <button id="restore" type="button">Restore this version</button>
    <button id="add-checkpoint" type="button" class="secondary">Add a checkpoint now</button>
    <button id="close-session" type="button" class="secondary">Close the session</button>
  </div>
  <h2>Minutes</h2>
  ${downloadLinks(pad.id)}
</main>`
      res.type('html').send(page({ title: `${title} — history`, body, scripts: ['history-page.js'] }))
    }),
  )

  router.get(
    '/p/:id/qr',
    asyncRoute(async (req, res) => {
      const pad = await meetings.pad(String(req.params.id))
      // In protected mode the code carries a link, or the room could not open it: a short link
      // (/q/<code>, a secret of its own) that stands for the read-only link by default, since
      // anyone who photographs the projector gets it; for the edit link only when someone who may
      // edit asks for it (?link=edit), with a warning on the page.
      const { role, mode } = accessOf(res)
      const wantsEdit = req.query.link === 'edit' && role !== 'read'
      const code = mode === 'protected' ? await links.shortCode(pad.id, wantsEdit ? 'edit' : 'read') : null
      const url = code ? `${publicBase(req)}/q/${code}` : `${publicBase(req)}/p/${pad.id}`
      const choice = !code
        ? ''
        : wantsEdit
          ? html`<p class="message">This code opens the pad <strong>for editing</strong>: anyone who photographs it can edit. <a href="/p/${pad.id}/qr">Show the read-only link instead</a></p>`
          : role === 'read'
            ? html`<p class="muted">Read-only link: people follow the notes live.</p>`
            : html`<p class="muted">Read-only link: people follow the notes live. <a href="/p/${pad.id}/qr?link=edit">Show the edit link instead</a></p>`
      const what = code && !wantsEdit ? 'Scan to follow the notes live' : 'Scan to take notes'
      // Loaded on first use (its own chunk in the build): most servers' starts never need it.
      const { default: QRCode } = await import('qrcode')
      const svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 })
      {
        // The address stays on one line: its size follows its length (a monospace character is
        // about 0.6 em wide), so a long pad name shrinks instead of breaking mid-word.
        const body = html`<main class="qr" style="--url-chars: ${url.length}">
  <h1>${padTitle(pad)}</h1>
  <p class="scan">${what}</p>
  <div class="code" role="img" aria-label="QR code for ${url}">${new Html(svg)}</div>
  <div class="url">${url}</div>
  <div class="qr-foot">
  ${choice}
  <p><a href="/p/${pad.id}">Open the pad</a>${pad.event ? html` · <a href="/e/${pad.event}">All sessions</a>` : ''}</p>
  </div>
</main>`
        res.type('html').send(page({ title: `${padTitle(pad)} — QR`, body, bodyClass: 'qr-page' }))
      }
    }),
  )

  // A QR code's short link: open the pad through the event link it stands for. That link's
  // token goes through the usual path (kept in a cookie, removed from the address bar).
  router.get(
    '/q/:code',
    asyncRoute(async (req, res) => {
      const target = await links.resolveShort(String(req.params.code))
      if (!target)
        throw new HttpError(
          404,
          'not_found',
          'This link does not work (any more): the organisers may have replaced it. Ask them for the current one.',
        )
      res.redirect(303, `/p/${encodeURIComponent(target.padId)}?${TOKEN_PARAM}=${target.secret}`)
    }),
  )

  return router
}
