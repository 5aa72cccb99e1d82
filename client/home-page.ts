/** The home page: create an event, open a pad by name. */
import { api, fields, say } from './api.ts'

const tz = document.querySelector<HTMLInputElement>('#tz')
if (tz && !tz.value) tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone

document.querySelector<HTMLFormElement>('#new-event')?.addEventListener('submit', async (e) => {
  e.preventDefault()
  const form = e.currentTarget as HTMLFormElement
  try {
    const event = await api<{ slug: string }>('POST', '/api/events', fields(form))
    location.href = `/e/${event.slug}`
  } catch (err) {
    say(form, (err as Error).message, true)
  }
})

document.querySelector<HTMLFormElement>('#open-pad')?.addEventListener('submit', (e) => {
  e.preventDefault()
  const name = fields(e.currentTarget as HTMLFormElement).pad
  if (name) location.href = `/p/${encodeURIComponent(name)}`
})
