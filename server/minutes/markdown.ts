/**
 * Markdown parsing shared by the exports: one markdown-it configuration (raw HTML off, links
 * limited to http/https/mailto) and a small block tree built from its token stream.
 */
import markdownIt, { type MarkdownIt, type Token } from 'markdown-it'

export type { Token }

const SAFE_LINK = /^(https?:|mailto:)/i
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters hide schemes from naive checks
const CONTROL_OR_SPACE = /[\u0000-\u0020]/

/** The one configuration: raw HTML is shown as text, never passed through. */
export function createMarkdown(): MarkdownIt {
  // breaks: a newline typed in a pad is a line break. Notes are typed line by line ("DECISION: ..."
  // under "ACTION(...): ..."), and joining such lines into one paragraph would garble the minutes.
  const md = markdownIt({ html: false, linkify: true, typographer: false, breaks: true })
  // markdown-it already refuses javascript:, vbscript:, file: and most data:; we allow only what
  // minutes need. Relative links and fragments stay (they cannot carry a scheme).
  md.validateLink = (url) => {
    const trimmed = url.trim()
    if (SAFE_LINK.test(trimmed)) return true
    return (
      !/^[a-z][a-z0-9+.-]*:/i.test(trimmed) && !/^\s*\/\//.test(trimmed) && !CONTROL_OR_SPACE.test(trimmed)
    )
  }
  return md
}

/** Line endings as the parser expects them (pads typed on Windows arrive with CRLF). */
export const normalizeNewlines = (text: string) => text.replace(/\r\n?/g, '\n')

export interface BlockNode {
  type: string
  token: Token
  children: BlockNode[]
}

/** Nests markdown-it's flat block tokens (`*_open` ... `*_close`) into a tree. */
export function blockTree(tokens: Token[]): BlockNode[] {
  const root: BlockNode = { type: 'root', token: tokens[0]!, children: [] }
  const stack: BlockNode[] = [root]
  for (const token of tokens) {
    const parent = stack.at(-1)!
    if (token.nesting === 1) {
      const node = { type: token.type.replace(/_open$/, ''), token, children: [] }
      parent.children.push(node)
      stack.push(node)
    } else if (token.nesting === -1) {
      stack.pop()
    } else {
      parent.children.push({ type: token.type, token, children: [] })
    }
  }
  return root.children
}
