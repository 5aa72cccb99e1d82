/**
 * What people wrote in a pad, for the minutes: its text without what its template put there and
 * nobody touched — the instructions for note-takers (the template's `>` lines), the title heading
 * (the minutes' header carries the current title), and sections still exactly as the template
 * left them ("## Decisions" with nothing under it). Structural only: it compares the pad's
 * sections with the template's, heading by heading; it never rewrites a line someone typed.
 */
import { pushAll } from '../lib/arrays.ts'
import { fenceTracker } from './markers.ts'

interface Section {
  /** The heading line, or null for what comes before the first heading. */
  heading: string | null
  lines: string[]
}

const HEADING = /^ {0,3}#{1,6}[ \t]/
const QUOTE = /^ {0,3}>/

function sections(text: string): Section[] {
  const inCode = fenceTracker()
  const out: Section[] = [{ heading: null, lines: [] }]
  // Lines keep their "\r" (a CRLF pad's minutes keep its line ends); comparisons trim it.
  for (const line of text.split('\n')) {
    if (!inCode(line) && HEADING.test(line)) out.push({ heading: line, lines: [] })
    else out[out.length - 1]!.lines.push(line)
  }
  return out
}

/** A section's content for comparison: its non-blank lines, trimmed. */
const shape = (lines: readonly string[]) =>
  lines
    .map((l) => l.trim())
    .filter(Boolean)
    .join('\n')

const key = (heading: string | null) => (heading === null ? null : heading.trim())

/**
 * The pad's text as minutes: null when nothing was written beyond the template. `template` is
 * the Markdown the pad started from; null when unknown (then the text is kept whole). A text
 * with nothing of its template left untouched comes back exactly as it is.
 */
export function writtenNotes(text: string, template: string | null): string | null {
  if (!text.trim()) return null
  // '' is a pad that started from an imported state, not a template: all of it is notes.
  if (!template) return text
  const own = sections(template)
  const instructions = new Set(own.flatMap((s) => s.lines.filter((l) => QUOTE.test(l)).map((l) => l.trim())))
  const withoutInstructions = (lines: readonly string[]) => {
    const inCode = fenceTracker()
    return lines.filter((l) => inCode(l) || !instructions.has(l.trim()))
  }
  const untouched = new Map<string | null, string>()
  for (const s of own) {
    if (!untouched.has(key(s.heading))) untouched.set(key(s.heading), shape(withoutInstructions(s.lines)))
  }
  // The template's title heading (its first line): the minutes' header carries the current title.
  const titleLine = own[0]!.lines.every((l) => !l.trim()) ? key(own[1]?.heading ?? null) : null

  const kept: string[] = []
  let dropped = false
  for (const s of sections(text)) {
    const lines = withoutInstructions(s.lines)
    if (lines.length !== s.lines.length) dropped = true
    if (untouched.has(key(s.heading)) && untouched.get(key(s.heading)) === shape(lines)) {
      dropped = true
      continue
    }
    if (s.heading !== null) {
      if (key(s.heading) === titleLine) dropped = true
      else kept.push(s.heading)
    }
    pushAll(kept, lines)
  }
  if (!dropped) return text
  const out = kept
    .join('\n')
    .replace(/^(?:[ \t]*\r?\n)+/, '')
    .replace(/(?:[ \t]*\r?\n){3,}/g, '\n\n')
  return out.trim() ? out : null
}

/** Lines a template puts in a section for people to fill in. */
const STUB = /^(?:[-*+]|\d+[.)]|- \[ \]|- Q:|Q:|A:)?$/
/** What templates before this version wrote under the title: the schedule facts as a list. */
const FACT = /^- \*\*[^*]+:\*\* /

/**
 * Whether a pad's first text (its first log row, for pads from before the template was kept)
 * is a template as Summitpad wrote them: a title, facts and instructions, then headings over
 * empty stubs. An imported backup or anything else is not, and its minutes keep it whole: when
 * in doubt, nothing is left out.
 */
export function looksLikeTemplate(text: string): boolean {
  const all = sections(text)
  return all.every((s, i) =>
    s.lines.every((line) => {
      const l = line.trim()
      if (QUOTE.test(line) || STUB.test(l)) return true
      // Facts belong under the title (or before any heading).
      return i <= 1 && FACT.test(l)
    }),
  )
}
