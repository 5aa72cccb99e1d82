/**
 * A pad's facts from the schedule (event, when, room, track, speakers, links), as label/value
 * pairs: the editor shows them above the notes and every export puts them in its header. They
 * live in the pad's metadata only, never in its text, so a re-import that moves a session moves
 * it everywhere at once.
 */
import { MATERIAL_LABEL, materialKindOf } from './material-kinds.ts'
import type { EventInfo, PadInfo } from './model.ts'
import { describeSlot } from './time.ts'

export interface PadFact {
  label: string
  value: string
  /** For a link: where it goes, and what a page shows as its text. */
  url?: string
  linkText?: string
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso))

/** The schedule facts that are known, in reading order (the event and the title are not among them). */
export function scheduleFacts(pad: PadInfo, event: EventInfo | null): PadFact[] {
  const facts: PadFact[] = []
  const when = describeSlot(ms(pad.startsAt), ms(pad.endsAt), event?.timezone ?? 'UTC')
  if (when) facts.push({ label: 'When', value: when })
  if (pad.room) facts.push({ label: 'Room', value: pad.room })
  if (pad.track) facts.push({ label: 'Track', value: pad.track })
  if (pad.speakers.length)
    facts.push({ label: pad.kind === 'talk' ? 'Speakers' : 'Leads', value: pad.speakers.join(', ') })
  for (const link of pad.links)
    facts.push({
      label: MATERIAL_LABEL[link.kind ?? materialKindOf(link.title, link.url)],
      value: link.title ? `${link.title} — ${link.url}` : link.url,
      url: link.url,
      linkText: link.title ?? link.url,
    })
  return facts
}
