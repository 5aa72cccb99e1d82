/**
 * The series view: every meeting of a series in order (event, date, room, link) with its
 * decisions, and each action item's state across the meetings, matched by owner and text. Pure:
 * the meetings' outcomes in, the view out.
 */
import { withoutCarryReference } from '../minutes/carry-over.ts'
import type { Outcomes } from '../minutes/markers.ts'

export interface ViewMeeting {
  id: string
  title: string
  event: string | null
  startsAt: string | null
  room: string | null
  link: string
  /** False for a deleted meeting (named by the title it had), or one the caller's link does not open. */
  visible: boolean
  gone: boolean
  decisions: string[]
}

export interface ItemState {
  meeting: string
  state: 'open' | 'done'
  line: number
  /** How this appearance was matched to the item: where it was first recorded, or by owner and text. */
  matchedBy: 'first recorded here' | 'same owner and text'
}

export interface ViewItem {
  owner: string | null
  text: string
  states: ItemState[]
}

export interface SeriesView {
  meetings: ViewMeeting[]
  actionItems: ViewItem[]
}

/** The matching key: owner and text, case and spacing aside, without a carry-over's link back. */
const keyOf = (owner: string | null, text: string) =>
  `${(owner ?? '').toLowerCase()}\u0000${withoutCarryReference(text).toLowerCase().replace(/\s+/g, ' ').trim()}`

export function seriesView(
  meetings: readonly (Omit<ViewMeeting, 'decisions'> & { outcomes: Outcomes | null })[],
): SeriesView {
  const items = new Map<string, ViewItem>()
  const out: ViewMeeting[] = []
  for (const m of meetings) {
    const { outcomes, ...meeting } = m
    out.push({ ...meeting, decisions: outcomes?.decisions.map((d) => d.text) ?? [] })
    for (const a of outcomes?.actions ?? []) {
      const key = keyOf(a.owner, a.text)
      let item = items.get(key)
      const first = !item
      if (!item) {
        item = { owner: a.owner, text: withoutCarryReference(a.text), states: [] }
        items.set(key, item)
      }
      if (item.states.some((s) => s.meeting === m.id)) continue
      item.states.push({
        meeting: m.id,
        state: a.done ? 'done' : 'open',
        line: a.line,
        matchedBy: first ? 'first recorded here' : 'same owner and text',
      })
    }
  }
  return { meetings: out, actionItems: [...items.values()] }
}
