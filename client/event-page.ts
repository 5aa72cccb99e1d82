/** The event page: new pad, schedule import, and the live head count of every session. */
import { api, fields, say } from './api.ts'

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

interface ImportReport {
  created: unknown[]
  updated: unknown[]
  unchanged: unknown[]
  skipped: unknown[]
  notInSchedule: unknown[]
}

document.querySelector<HTMLFormElement>('#import')?.addEventListener('submit', async (e) => {
  e.preventDefault()
  const form = e.currentTarget as HTMLFormElement
  const file = (form.elements.namedItem('file') as HTMLInputElement).files?.[0]
  const text = file ? await file.text() : (form.elements.namedItem('text') as HTMLTextAreaElement).value
  if (!text.trim()) return say(form, 'Choose a file or paste a schedule first.', true)
  const isIcs = /^\s*BEGIN:VCALENDAR/i.test(text)
  try {
    const body = isIcs ? text : JSON.parse(text)
    const r = await api<ImportReport>(
      'POST',
      `/api/events/${slug}/import`,
      body,
      isIcs ? 'text/calendar' : 'application/json',
    )
    // The report stays until the organiser has read it; the schedule shows on the next load.
    say(
      form,
      `Created ${r.created.length}, updated ${r.updated.length}, unchanged ${r.unchanged.length}` +
        `, skipped ${r.skipped.length}, not in this schedule ${r.notInSchedule.length}.` +
        ' Reload the page to see the schedule.',
    )
  } catch (err) {
    say(
      form,
      err instanceof SyntaxError ? 'That is neither an .ics file nor valid JSON.' : (err as Error).message,
      true,
    )
  }
})

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
