/** The pad page's "Start the next meeting" form: creates (or finds) the next meeting and opens it. */
import { api, say } from './api.ts'

interface NextReply {
  created: boolean
  pad: { id: string }
}

export function wireNextMeetingForm(): void {
  const form = document.querySelector<HTMLFormElement>('form.next-meeting')
  if (!form) return
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const event = (new FormData(form).get('event') ?? '').toString().trim()
    try {
      const reply = await api<NextReply>(
        'POST',
        `/api/pads/${encodeURIComponent(form.dataset.pad ?? '')}/next`,
        {
          event: event || null,
        },
      )
      location.assign(`/p/${encodeURIComponent(reply.pad.id)}`)
    } catch (err) {
      say(form, (err as Error).message, true)
    }
  })
}
