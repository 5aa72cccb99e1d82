/**
 * The first lines of "the next meeting": the previous meeting's open action items (each with its
 * owner and a link back to where it was recorded) and its decisions as context, under a heading
 * that names where they came from. Pure: outcomes in, Markdown out.
 *
 * Items stay action markers (markers.ts), so the roll-up and the series view see them in the new
 * meeting, and ticking one there marks it done. Decisions become plain bullets, not DECISION:
 * lines: they were taken before, and must not count again as this meeting's.
 */
import type { Outcomes } from './markers.ts'

export interface CarrySource {
  padId: string
  title: string
  /** "LPC 2026, 2026-11-10": where and when, for the heading; null if neither is known. */
  context: string | null
}

/**
 * Where an item was first recorded, as appended to a carried item. An item carried again keeps
 * the reference it already has: the link goes back to where it was written, not to the last copy.
 */
const RECORDED_AT = / \(recorded at \[[^\]\n]*\]\(\/p\/[A-Za-z0-9._-]+\)\)$/

/** An item's text without the reference a carry-over appended (for matching across meetings). */
export function withoutCarryReference(text: string): string {
  return text.replace(RECORDED_AT, '')
}

/** One line, no Markdown link brackets: safe inside `[...]` and a heading. */
function inline(text: string): string {
  return text
    .replace(/[\r\n\u2028\u2029]+/g, ' ')
    .replace(/[[\]]/g, (c) => (c === '[' ? '(' : ')'))
    .trim()
}

/** An owner the `- [ ] @name` form can carry (one word); others keep the ACTION(name): form. */
const TASK_OWNER = /^[^\s,:()]+$/

export function carryOverMarkdown(source: CarrySource, outcomes: Outcomes): string {
  const open = outcomes.actions.filter((a) => !a.done)
  if (open.length === 0 && outcomes.decisions.length === 0) return ''
  const title = inline(source.title)
  const from = `[“${title}”](/p/${source.padId})`
  const lines = [
    `## Carried over from “${title}”${source.context ? ` (${inline(source.context)})` : ''}`,
    '',
    `From the previous meeting, ${from}: its open action items (tick one when it is done) and its decisions.`,
    '',
  ]
  if (open.length) {
    lines.push('### Open action items', '')
    for (const a of open) {
      const text = RECORDED_AT.test(a.text)
        ? a.text
        : `${a.text} (recorded at [“${title}”, line ${a.line}](/p/${source.padId}))`
      if (a.owner === null) lines.push(`- ACTION: ${text}`)
      else if (TASK_OWNER.test(a.owner)) lines.push(`- [ ] @${a.owner} ${text}`)
      else lines.push(`- ACTION(${a.owner}): ${text}`)
    }
    lines.push('')
  }
  if (outcomes.decisions.length) {
    lines.push(`### Decisions taken in “${title}”`, '')
    for (const d of outcomes.decisions) lines.push(`- ${withoutCarryReference(d.text)}`)
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
