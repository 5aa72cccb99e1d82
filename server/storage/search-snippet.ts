/**
 * A search hit's snippet, cut from a bounded window of the pad's text around the first match.
 * FTS5's own snippet() scores every instance of every phrase against every other: on a 15 MiB pad
 * where a one-letter prefix matches everywhere that is quadratic (35 s, the server frozen). Here
 * the cost is one scan of at most SNIPPET_SCAN_CHARS, whatever the pad's size; a match further in is
 * found by SQLite's instr() (one linear pass in C, no scoring) and only a window around it is read.
 */
import { escapeHtml } from '../http/html.ts'

/** How much of a pad's text is searched here for the match to show (about four hours of dense notes). */
export const SNIPPET_SCAN_CHARS = 256 * 1024
/** Characters read around a match found further in (instr): more than a snippet shows. */
export const SNIPPET_WINDOW_CHARS = 400
/** Characters of context shown before and after the match (FTS5 showed ~16 words in all). */
const BEFORE = 60
const AFTER = 100

const WORD_CHAR = /[\p{L}\p{N}_]/u

/** The regex finding any of `words` at the start of a word (FTS5 matched them as prefixes). */
function matcher(words: readonly string[]): RegExp | null {
  if (words.length === 0) return null
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${escaped.join('|')})[\\p{L}\\p{N}_]*`, 'giu')
}

/** Moves `i` back (or on, when `forward`) to the nearest whitespace, at most 20 characters. */
function toWordEdge(text: string, i: number, forward: boolean): number {
  let j = i
  for (let k = 0; k < 20 && j > 0 && j < text.length && WORD_CHAR.test(text[j - (forward ? 0 : 1)]!); k++)
    j += forward ? 1 : -1
  return j
}

/** Whether `words` match in `text` as the snippet marks them. */
export function hasMatch(text: string, words: readonly string[]): boolean {
  return matcher(words)?.test(text) ?? false
}

/**
 * HTML: `head` (a part of a pad's text) around the first match of `words`, escaped, with every
 * match in the window in <mark>, '…' where it was cut (`cut`: where `head` itself was cut already).
 */
export function snippetOf(
  head: string,
  words: readonly string[],
  cut: { before: boolean; after: boolean } = { before: false, after: false },
): string {
  const find = matcher(words)
  const first = find?.exec(head) ?? null
  const at = first?.index ?? 0
  const start = at - BEFORE <= 0 ? 0 : toWordEdge(head, at - BEFORE, false)
  const end = at + AFTER >= head.length ? head.length : toWordEdge(head, at + AFTER, true)
  const window = head.slice(start, end)
  let out = start > 0 || cut.before ? '…' : ''
  let last = 0
  if (find && first) {
    find.lastIndex = 0
    for (const m of window.matchAll(find)) {
      out += `${escapeHtml(window.slice(last, m.index))}<mark>${escapeHtml(m[0])}</mark>`
      last = m.index + m[0].length
    }
  }
  out += escapeHtml(window.slice(last))
  return end < head.length || cut.after ? `${out}…` : out
}
