/**
 * The pad page's series line ("Continues: …", "Continued in: …", deleted meetings named as gone)
 * and its "Start the next meeting" form (client/series-form.ts posts it).
 */
import type { Neighbour, Neighbours } from '../meetings/series.ts'
import type { SeriesView } from '../meetings/series-view.ts'
import { type Html, html, siteHeader } from './html.ts'

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
  const all = n.continues || n.continuedIn ? html`<a href="/p/${padId}/series">The whole series</a>` : ''
  if (!parts.some(Boolean) && !form) return html``
  parts.push(all)
  return html`<nav class="series" aria-label="Series">${parts}${form}</nav>`
}

/** The series page: the meetings in order with their decisions, then each action item over time. */
export function seriesPage(view: SeriesView): Html {
  const titleOf = new Map(view.meetings.map((m) => [m.id, m.title]))
  return html`${siteHeader(html`Series`)}
<main>
  <h1>The series</h1>
  <ol class="series-meetings">${view.meetings.map(
    (m) =>
      html`<li>${m.gone ? html`“${m.title}” <span class="muted">(deleted)</span>` : html`<a href="${m.link}">${m.title}</a>`}${m.visible ? html` <span class="muted">${[m.event, m.startsAt?.slice(0, 10), m.room].filter(Boolean).join(' · ')}</span>${m.decisions.length ? html`<ul>${m.decisions.map((d) => html`<li>Decision: ${d}</li>`)}</ul>` : ''}` : m.gone ? '' : html` <span class="muted">(your link does not open it)</span>`}</li>`,
  )}</ol>
  <h2>Action items over time</h2>
  ${view.actionItems.length ? html`<ul>${view.actionItems.map((i) => html`<li>${i.owner ? html`<strong>${i.owner}</strong>: ` : ''}${i.text}<ul>${i.states.map((s) => html`<li>${s.state} in “${titleOf.get(s.meeting) ?? s.meeting}”, line ${s.line} <span class="muted">(${s.matchedBy})</span></li>`)}</ul></li>`)}</ul>` : html`<p class="muted">None.</p>`}
  <p><a href="/api/pads/${view.meetings[0]?.id ?? ''}/series/view">JSON</a></p>
</main>`
}
