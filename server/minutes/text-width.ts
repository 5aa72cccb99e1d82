/**
 * Display width in terminal columns, for the 72-column plain-text minutes: combining marks take
 * none, East Asian wide characters and most emoji take two, everything else one.
 */

const COMBINING = /\p{Mn}|\p{Me}|\u200d|\ufe0f/u
const WIDE =
  /\p{Extended_Pictographic}|[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{20000}-\u{3fffd}]/u

export function charWidth(ch: string): number {
  if (COMBINING.test(ch)) return 0
  return WIDE.test(ch) ? 2 : 1
}

export function textWidth(text: string): number {
  let w = 0
  for (const ch of text) w += charWidth(ch)
  return w
}

/** Splits `word` into pieces of at most `width` columns (for words that cannot fit a line). */
export function breakWord(word: string, width: number): string[] {
  const pieces: string[] = []
  let cur = ''
  let curW = 0
  for (const ch of word) {
    const w = charWidth(ch)
    if (curW + w > width && cur) {
      pieces.push(cur)
      cur = ''
      curW = 0
    }
    cur += ch
    curW += w
  }
  if (cur) pieces.push(cur)
  return pieces
}

/**
 * Greedy word wrap. `first` prefixes the first line, `rest` every following one (a hanging
 * indent); no line exceeds `width` columns unless a prefix alone does.
 */
export function wrap(text: string, width: number, first = '', rest = first): string[] {
  const words = text.split(/[ \t]+/).filter(Boolean)
  const lines: string[] = []
  let line = first
  let lineW = textWidth(first)
  let empty = true
  const room = (prefix: string) => Math.max(8, width - textWidth(prefix))
  for (const word of words) {
    const wordW = textWidth(word)
    if (!empty && lineW + 1 + wordW <= width) {
      line += ` ${word}`
      lineW += 1 + wordW
      continue
    }
    if (!empty) {
      lines.push(line)
      line = rest
      lineW = textWidth(rest)
    }
    const prefix = lines.length === 0 ? first : rest
    if (wordW > room(prefix)) {
      const pieces = breakWord(word, room(prefix))
      for (const piece of pieces.slice(0, -1)) {
        lines.push(line + piece)
        line = rest
      }
      line += pieces.at(-1)!
      lineW = textWidth(line)
    } else {
      line += word
      lineW += wordW
    }
    empty = false
  }
  if (!empty || lines.length === 0) lines.push(empty ? first.trimEnd() : line)
  return lines
}
