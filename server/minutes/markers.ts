/**
 * Outcome markers in a pad's Markdown, one per line:
 *   DECISION: what was decided
 *   ACTION(name): what to do            ACTION: what to do  (no owner yet)
 *   - [ ] @name what to do              - [x] @name done already
 * A marker may follow a list bullet or number. Lines inside fenced code blocks are ignored.
 */

export interface ActionItem {
  owner: string | null
  text: string
  done: boolean
  /** 1-based line in the pad, to link back to. */
  line: number
}

export interface Decision {
  text: string
  line: number
}

export interface Outcomes {
  actions: ActionItem[]
  decisions: Decision[]
}

// Every pattern below is unambiguous (each part stops at a character the next part cannot take)
// and ends in `[\s\S]*$`, which cannot fail: so none of them backtracks, and a line of pad text costs
// time linear in its length. `(.*)$` would fail on a `\r` or U+2028 inside the line and make the
// engine retry every split of the spaces before it (ACTION( and 10,000 spaces took minutes).
const BULLET = String.raw`(?:[-*+]\s+|\d+[.)]\s+)?`
const ACTION_WITH_OWNER = new RegExp(String.raw`^\s*${BULLET}ACTION\s*\(([^)]*)\)\s*:([\s\S]*)$`)
const ACTION_NO_OWNER = new RegExp(String.raw`^\s*${BULLET}ACTION\s*:([\s\S]*)$`)
const TASK = /^\s*[-*+]\s+\[( |x|X)\]\s+@([^\s,:]+)([\s\S]*)$/
const TASK_SEPARATOR = /^[\s,:]+/
const DECISION = new RegExp(String.raw`^\s*${BULLET}DECISION\s*:([\s\S]*)$`)
/** A fence opens with 3+ backticks or tildes; only a run of the same character, as long or longer, closes it. */
const FENCE = /^ {0,3}(`{3,}|~{3,})([\s\S]*)$/
const HEADING = /^\s{0,3}#{1,6}\s+([\s\S]*)$/
const LIST_ITEM = /^\s*(?:[-*+]|\d+[.)])(?:\s+([\s\S]*))?$/
/** Lines as the editor (CodeMirror) and the exports (markdown-it) count them: a lone `\r` ends one too. */
const LINE_BREAK = /\r\n?|\n/

/** Tracks fenced code blocks line by line: `inside(line)` says whether the line is code. */
export function fenceTracker(): (line: string) => boolean {
  let fence: string | null = null
  return (line) => {
    const m = FENCE.exec(line)
    if (m) {
      const run = m[1]!
      if (fence === null) {
        fence = run
        return true
      }
      if (run[0] === fence[0] && run.length >= fence.length && m[2]!.trim() === '') {
        fence = null
        return true
      }
    }
    return fence !== null
  }
}

export function findOutcomes(markdown: string): Outcomes {
  const actions: ActionItem[] = []
  const decisions: Decision[] = []
  const inCode = fenceTracker()
  markdown.split(LINE_BREAK).forEach((raw, i) => {
    const line = i + 1
    if (inCode(raw)) return
    let m = ACTION_WITH_OWNER.exec(raw)
    if (m) {
      const owner = m[1]!.trim().replace(/^@/, '')
      if (m[2]!.trim()) actions.push({ owner: owner || null, text: m[2]!.trim(), done: false, line })
      return
    }
    m = ACTION_NO_OWNER.exec(raw)
    if (m) {
      if (m[1]!.trim()) actions.push({ owner: null, text: m[1]!.trim(), done: false, line })
      return
    }
    m = TASK.exec(raw)
    if (m) {
      const text = m[3]!.replace(TASK_SEPARATOR, '').trim()
      if (text) actions.push({ owner: m[2]!, text, done: m[1] !== ' ', line })
      return
    }
    m = DECISION.exec(raw)
    const decision = m?.[1]?.trim()
    if (decision) decisions.push({ text: decision, line })
  })
  return { actions, decisions }
}

/** The names listed under an "Attendees" heading, split on commas and list items. */
export function attendeesOf(markdown: string): string[] {
  const names: string[] = []
  let inSection = false
  for (const raw of markdown.split(LINE_BREAK)) {
    const heading = HEADING.exec(raw)
    if (heading) {
      inSection = /^(attendees|participants|present)\b/i.test(heading[1]!.trim())
      continue
    }
    if (!inSection) continue
    const item = LIST_ITEM.exec(raw)
    const text = item ? (item[1] ?? '') : raw
    for (const name of text.split(/[,;]/)) {
      const clean = name.replace(/[*_`]/g, '').trim()
      if (/[\p{L}\p{N}]/u.test(clean)) names.push(clean)
    }
  }
  return [...new Set(names)]
}
