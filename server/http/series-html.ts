/**
 * The pad page's series line ("Continues: …", "Continued in: …", deleted meetings named as gone)
 * and its "Start the next meeting" form (client/series-form.ts posts it).
 */
import type { Neighbour, Neighbours } from '../meetings/series.ts'
import { type Html, html } from './html.ts'

function neighbour(label: string, n: Neighbour): Html {
  const gone = n.gone.length
    ? html` <span class="muted">(${n.meeting ? 'after ' : ''}${n.gone.map((g, i) => html`${i ? ', ' : ''}“${g.title}”`)} — deleted)</span>`
    : ''
  return html`<span class="series-link">${label}: ${n.meeting ? html`<a href="/p/${n.meeting.id}" data-series="${label === 'Continues' ? 'continues' : 'continued-in'}">${n.meeting.title}</a>` : ''}${gone}</span>`
}

export function seriesLine(padId: string, eventSlug: string | null, n: Neighbours, canEdit: boolean): Html {
  const parts = [
    n.continues ? neighbour('Continues', n.continues) : '',
    n.continuedIn ? neighbour('Continued in', n.continuedIn) : '',
  ]
  const form =
    canEdit && !n.continuedIn?.meeting
      ? html`<form class="next-meeting" data-pad="${padId}">
  <label>Event <input name="event" value="${eventSlug ?? ''}" maxlength="60" placeholder="event name, e.g. lpc-2027"></label>
  <button type="submit" class="secondary">Start the next meeting</button>
  <span class="message" hidden role="status"></span>
</form>`
      : ''
  if (!parts.some(Boolean) && !form) return html``
  return html`<nav class="series" aria-label="Series">${parts}${form}</nav>`
}
