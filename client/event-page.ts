/** The event page: new pad, schedule import, and the live head count of every session. */
import { api, fields, say } from './api.ts'
import { wireMaterials } from './materials-form.ts'

const main = document.querySelector<HTMLElement>('main[data-event]')!
const slug = main.dataset.event!

/** How often the head counts refresh: live enough for a hallway glance, cheap for the server. */
const PRESENCE_POLL_MS = 5000

document.querySelector<HTMLFormElement>('#new-pad')?.addEventListener('submit', async (e) => {
  e.preventDefault()
  const form = e.currentTarget as HTMLFormElement
  try {
    const pad = await api<{ id: string }>('POST', `/api/events/${slug}/pads`, fields(form))
    location.href = `/p/${pad.id}`
  } catch (err) {
    say(form, (err as Error).message, true)
  }
})

interface Session {
  uid: string
  id: string | null
  title: string
}

interface ImportReport {
  dryRun: boolean
  format: string
  sessions: number
  created: Session[]
  updated: (Session & { changed: string[] })[]
  unchanged: Session[]
  skipped: { title: string; reason: string }[]
  notInSchedule: Session[]
  matchedByTitleAndStart: Session[]
  defaultDuration: (Session & { minutes: number })[]
  outsideEventDates: (Session & { startsAt: string })[]
}

const FORMAT_NAMES: Record<string, string> = {
  ics: 'iCalendar',
  'frab-xml': 'frab/pretalx schedule.xml',
  'frab-json': 'frab/pretalx schedule.json',
  'json-list': 'JSON list',
}

/** One part of the preview: a heading with its count, what it means, and the sessions (at most 50 shown). */
function previewPart(box: HTMLElement, heading: string, meaning: string, items: string[]): void {
  if (items.length === 0) return
  const section = document.createElement('section')
  const h = document.createElement('h4')
  h.textContent = `${heading}: ${items.length}`
  const p = document.createElement('p')
  p.className = 'muted'
  p.textContent = meaning
  const ul = document.createElement('ul')
  for (const item of items.slice(0, 50)) {
    const li = document.createElement('li')
    li.textContent = item
    ul.append(li)
  }
  if (items.length > 50) {
    const li = document.createElement('li')
    li.textContent = `…and ${items.length - 50} more`
    ul.append(li)
  }
  section.dataset.part = heading
  section.append(h, p, ul)
  box.append(section)
}

function showPreview(box: HTMLElement, r: ImportReport): void {
  box.replaceChildren()
  const summary = document.createElement('p')
  summary.textContent = `${r.sessions} sessions read (${FORMAT_NAMES[r.format] ?? r.format}).`
  box.append(summary)
  previewPart(
    box,
    'New pads',
    'A pad is created for each.',
    r.created.map((s) => s.title),
  )
  previewPart(
    box,
    'Updated',
    'Their title, time, room, speakers or links change; the notes stay as they are.',
    r.updated.map((s) => `${s.title} (${s.changed.join(', ')})`),
  )
  previewPart(
    box,
    'Unchanged',
    'Nothing to do.',
    r.unchanged.map((s) => s.title),
  )
  previewPart(
    box,
    'Matched by title and start',
    'The file gives these sessions new ids, but an existing pad has the same title and start: that pad is kept and follows the new id, instead of a second pad.',
    r.matchedByTitleAndStart.map((s) => s.title),
  )
  previewPart(
    box,
    'No longer in the schedule',
    'Imported before but missing from this file. They are not deleted: the pads, their notes and links stay as they are; delete one yourself if the session is gone.',
    r.notInSchedule.map((s) => s.title),
  )
  previewPart(
    box,
    'Skipped',
    'Cancelled in the schedule and never created.',
    r.skipped.map((s) => `${s.title} (${s.reason})`),
  )
  previewPart(
    box,
    'No end time in the file',
    'These get a default length; change it on the pad if it is wrong.',
    r.defaultDuration.map((s) => `${s.title}: ${s.minutes} min`),
  )
  previewPart(
    box,
    "Outside the event's dates",
    "They start on a day outside this event's dates: check the file is the right one (or the event's dates).",
    r.outsideEventDates.map((s) => `${s.title} (${new Date(s.startsAt).toLocaleString()})`),
  )
  box.hidden = false
}

const importForm = document.querySelector<HTMLFormElement>('#import')
if (importForm) {
  const form = importForm
  const preview = form.querySelector<HTMLElement>('.import-preview')!
  const confirmButton = form.querySelector<HTMLButtonElement>('[data-confirm-import]')!
  /** The text previewed: what "Import" sends, so the import is exactly what was shown. */
  let previewed: string | null = null

  const scheduleText = async (): Promise<string> => {
    const file = (form.elements.namedItem('file') as HTMLInputElement).files?.[0]
    return file ? await file.text() : (form.elements.namedItem('text') as HTMLTextAreaElement).value
  }
  const send = (text: string, dryRun: boolean) =>
    // The server reads the format from the content; text/plain carries any of them.
    api<ImportReport>('POST', `/api/events/${slug}/import${dryRun ? '?dryRun=1' : ''}`, text, 'text/plain')

  form.addEventListener('input', () => {
    previewed = null
    confirmButton.hidden = true
    preview.hidden = true
  })
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const text = await scheduleText()
    if (!text.trim()) return say(form, 'Choose a file or paste a schedule first.', true)
    try {
      const r = await send(text, true)
      showPreview(preview, r)
      previewed = text
      const changes = r.created.length + r.updated.length
      confirmButton.hidden = changes === 0
      confirmButton.textContent = `Import: create ${r.created.length}, update ${r.updated.length}`
      say(
        form,
        changes === 0
          ? 'Nothing to import: every session is up to date.'
          : 'Nothing is written until you press Import.',
      )
    } catch (err) {
      preview.hidden = true
      confirmButton.hidden = true
      say(form, (err as Error).message, true)
    }
  })
  confirmButton.addEventListener('click', async () => {
    if (previewed === null) return
    try {
      const r = await send(previewed, false)
      say(
        form,
        `Created ${r.created.length}, updated ${r.updated.length}, unchanged ${r.unchanged.length}` +
          `, skipped ${r.skipped.length}, no longer in the schedule ${r.notInSchedule.length} (kept).` +
          ' Reload the page to see the schedule.',
      )
      // The report stays until the organiser has read it; the schedule shows on the next load.
      confirmButton.hidden = true
    } catch (err) {
      say(form, (err as Error).message, true)
    }
  })
}

async function refreshPresence(): Promise<void> {
  try {
    const { pads } = await api<{ pads: Record<string, { count: number; people: string[] }> }>(
      'GET',
      `/api/events/${slug}/presence`,
    )
    for (const el of document.querySelectorAll<HTMLElement>('[data-live]')) {
      const p = pads[el.dataset.live!]
      const count = p?.count ?? 0
      el.textContent = count ? `● ${count} here` : ''
      el.title = p?.people.join(', ') ?? ''
      el.classList.toggle('here', count > 0)
    }
  } catch {
    // A missed refresh is harmless; the next one catches up.
  }
}

void refreshPresence()
setInterval(refreshPresence, PRESENCE_POLL_MS)

// ---- the organiser's links (protected mode, admin only): copy on focus, replace on request
const linksBox = document.querySelector<HTMLElement>('section.links')
if (linksBox) {
  const message = linksBox.querySelector<HTMLElement>('#links-message')!
  const show = (text: string, isError = false) => {
    message.hidden = false
    message.textContent = text
    message.classList.toggle('error', isError)
  }
  for (const input of linksBox.querySelectorAll<HTMLInputElement>('input[data-link]'))
    input.addEventListener('focus', () => input.select())
  for (const button of linksBox.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const input = linksBox.querySelector<HTMLInputElement>(`input[data-link="${button.dataset.copy}"]`)!
      const what = button.dataset.copy === 'edit' ? 'Edit' : 'Read-only'
      try {
        // The clipboard API needs https or localhost; a conference LAN is often plain http.
        if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(input.value)
        else {
          input.select()
          if (!document.execCommand('copy')) throw new Error('copy refused')
        }
        show(`${what} link copied.`)
      } catch {
        input.select()
        show('This browser did not let the page copy: the link is selected, press Ctrl-C.', true)
      }
    })
  }
  for (const button of linksBox.querySelectorAll<HTMLButtonElement>('button[data-rotate]')) {
    button.addEventListener('click', async () => {
      const kind = button.dataset.rotate as 'edit' | 'read'
      const what = kind === 'edit' ? 'edit' : 'read-only'
      if (!confirm(`Replace the ${what} link? Everyone using the old one is cut off at once.`)) return
      try {
        const urls = await api<{ edit: string; read: string }>('POST', `/api/events/${slug}/links/rotate`, {
          link: kind,
        })
        linksBox.querySelector<HTMLInputElement>(`input[data-link="${kind}"]`)!.value = urls[kind]
        show(`New ${what} link made; the old one no longer works.`)
      } catch (err) {
        show((err as Error).message, true)
      }
    })
  }
}

wireMaterials()
