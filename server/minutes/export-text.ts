/**
 * Email-ready minutes: Markdown rendered as plain text for a mailing-list post. Wrapped at 72
 * columns with hanging indents for lists, headings underlined, URLs moved to numbered footnotes,
 * code blocks kept verbatim (indented: rewrapping would change them), tables too wide for 72
 * columns turned into lists. No line exceeds 72 columns except a footnote holding one unbreakable
 * URL and code block lines.
 */
import { maxOf, pushAll } from '../lib/arrays.ts'
import { type BlockNode, blockTree, createMarkdown, normalizeNewlines, type Token } from './markdown.ts'
import { textWidth, wrap } from './text-width.ts'

export const TEXT_WIDTH = 72
const CODE_INDENT = '    '

const md = createMarkdown()

interface Ctx {
  /** Prefix of the first line of the next block (e.g. a list marker), then of every other line. */
  first: string
  rest: string
  footnotes: Footnotes
}

/**
 * Link targets in order of first use. The map finds a repeated URL in constant time: a pad of
 * 50,000 links would otherwise search the list for each one (quadratic).
 */
interface Footnotes {
  urls: string[]
  numbers: Map<string, number>
}

const newFootnotes = (): Footnotes => ({ urls: [], numbers: new Map() })

/** Inline content as plain text; link targets become footnote numbers. */
function inlineText(token: Token | undefined, ctx: Ctx): string {
  if (!token?.children) return token?.content ?? ''
  // Pieces, joined once at the end: dropping a bare URL's label must not copy all the text
  // before it (a paragraph of bare URLs would cost its length squared).
  const out: string[] = []
  let href: string | null = null
  let autolink = false
  let linkStart = 0
  for (const child of token.children) {
    switch (child.type) {
      case 'text':
        out.push(child.content)
        break
      case 'code_inline':
        out.push(`\`${child.content}\``)
        break
      case 'softbreak':
      case 'hardbreak':
        out.push('\n')
        break
      case 'strong_open':
      case 'strong_close':
        out.push('*')
        break
      case 'em_open':
      case 'em_close':
        out.push('_')
        break
      case 'link_open':
        href = String(child.attrGet('href') ?? '') || null
        // A bare URL or <autolink>: markdown-it marks it, and its label is the URL itself
        // (decoded, maybe without the scheme), so comparing label and href would miss it.
        autolink = child.markup === 'linkify' || child.markup === 'autolink' || child.info === 'auto'
        linkStart = out.length
        break
      case 'link_close': {
        if (href) {
          const isMail = /^mailto:/i.test(href)
          if (isMail && autolink) {
            // A bare address stays in the text: it is short and people copy it from there.
          } else if (isMail) {
            out.push(` <${href.replace(/^mailto:/i, '')}>`)
          } else if (autolink) {
            // A bare URL: the footnote number replaces it.
            out.length = linkStart
            out.push(`[${footnote(ctx, href)}]`)
          } else {
            out.push(` [${footnote(ctx, href)}]`)
          }
        }
        href = null
        break
      }
      case 'image': {
        const src = String(child.attrGet('src') ?? '')
        out.push(`[image: ${child.content || 'untitled'}]${src ? ` [${footnote(ctx, src)}]` : ''}`)
        break
      }
      default:
        out.push(child.content)
    }
  }
  return out.join('')
}

function footnote(ctx: Ctx, url: string): number {
  const { urls, numbers } = ctx.footnotes
  const existing = numbers.get(url)
  if (existing !== undefined) return existing
  urls.push(url)
  numbers.set(url, urls.length)
  return urls.length
}

function wrapParagraph(text: string, ctx: Ctx): string[] {
  const lines: string[] = []
  text.split('\n').forEach((part, i) => {
    pushAll(lines, wrap(part, TEXT_WIDTH, i === 0 ? ctx.first : ctx.rest, ctx.rest))
  })
  return lines
}

function heading(node: BlockNode, inline: Token | undefined, ctx: Ctx): string[] {
  const level = Number(node.token.tag.slice(1))
  const lines = wrapParagraph(inlineText(inline, ctx), ctx)
  const underline = level === 1 ? '=' : level === 2 ? '-' : '~'
  const widest = maxOf(lines.map((l) => textWidth(l) - textWidth(ctx.rest)))
  return [
    ...lines,
    ctx.rest + underline.repeat(Math.min(Math.max(widest, 3), TEXT_WIDTH - textWidth(ctx.rest))),
  ]
}

function codeBlock(content: string, ctx: Ctx): string[] {
  const body = content.replace(/\n$/, '').split('\n')
  return body.map((line, i) => `${i === 0 ? ctx.first : ctx.rest}${CODE_INDENT}${line}`.trimEnd())
}

function cellsOf(row: BlockNode, ctx: Ctx): string[] {
  return row.children.map((cell) => inlineText(cell.children[0]?.token, ctx).trim())
}

function table(node: BlockNode, ctx: Ctx): string[] {
  const rows: string[][] = []
  for (const section of node.children) for (const row of section.children) rows.push(cellsOf(row, ctx))
  const [header = [], ...body] = rows
  const columns = maxOf(rows.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) =>
    maxOf(
      rows.map((r) => textWidth(r[c] ?? '')),
      3,
    ),
  )
  const total = textWidth(ctx.rest) + widths.reduce((a, b) => a + b, 0) + 3 * (columns - 1)
  if (total <= TEXT_WIDTH) {
    const pad = (text: string, w: number) => text + ' '.repeat(w - textWidth(text))
    const line = (cells: string[]) =>
      widths
        .map((w, c) => pad(cells[c] ?? '', w))
        .join(' | ')
        .trimEnd()
    const out = [ctx.first + line(header), ctx.rest + widths.map((w) => '-'.repeat(w)).join('-+-')]
    pushAll(
      out,
      body.map((r) => ctx.rest + line(r)),
    )
    return out
  }
  // Too wide for an email: one list item per row, "Header: value" per cell.
  const out: string[] = []
  body.forEach((row, r) => {
    row.forEach((cell, c) => {
      const label = header[c] ? `${header[c]}: ` : ''
      const first = c === 0 ? (r === 0 ? ctx.first : ctx.rest) + '- ' : `${ctx.rest}  `
      pushAll(out, wrap(`${label}${cell}`, TEXT_WIDTH, first, `${ctx.rest}    `))
    })
  })
  return out
}

function list(node: BlockNode, ctx: Ctx): string[] {
  const ordered = node.type === 'ordered_list'
  let n = Number(node.token.attrGet('start') ?? 1)
  const out: string[] = []
  const items = node.children
  const widest = ordered ? `${n + items.length - 1}. `.length : 2
  items.forEach((item, i) => {
    const marker = ordered ? `${n++}.`.padEnd(widest) : '- '
    const itemCtx: Ctx = {
      first: (i === 0 ? ctx.first : ctx.rest) + marker,
      rest: ctx.rest + ' '.repeat(marker.length),
      footnotes: ctx.footnotes,
    }
    const lines = blocks(item.children, itemCtx, false)
    pushAll(out, lines.length ? lines : [itemCtx.first.trimEnd()])
  })
  return out
}

/** Renders sibling blocks; `spaced` puts a blank line between them (false inside tight lists). */
function blocks(nodes: BlockNode[], ctx: Ctx, spaced = true): string[] {
  const out: string[] = []
  let firstBlock = true
  for (const node of nodes) {
    const blockCtx: Ctx = { ...ctx, first: firstBlock ? ctx.first : ctx.rest }
    let lines: string[]
    switch (node.type) {
      case 'paragraph':
        lines = wrapParagraph(inlineText(node.children[0]?.token, blockCtx), blockCtx)
        break
      case 'heading':
        lines = heading(node, node.children[0]?.token, blockCtx)
        break
      case 'bullet_list':
      case 'ordered_list':
        lines = list(node, blockCtx)
        break
      case 'blockquote':
        lines = blocks(node.children, {
          first: `${blockCtx.first}> `,
          rest: `${ctx.rest}> `,
          footnotes: ctx.footnotes,
        })
        break
      case 'fence':
      case 'code_block':
        lines = codeBlock(node.token.content, blockCtx)
        break
      case 'hr':
        lines = [blockCtx.first + '-'.repeat(Math.max(3, TEXT_WIDTH - textWidth(blockCtx.first)))]
        break
      case 'table':
        lines = table(node, blockCtx)
        break
      case 'html_block':
        lines = wrapParagraph(node.token.content.trim(), blockCtx)
        break
      default:
        lines = []
    }
    if (lines.length === 0) continue
    // Lists inside a tight list item follow without a blank line, as they were typed.
    const needsGap = !firstBlock && (spaced || node.type === 'paragraph' || node.token.hidden !== true)
    if (needsGap && spaced) out.push('')
    pushAll(out, lines)
    firstBlock = false
  }
  return out
}

export interface TextHeader {
  label: string
  value: string
  /** A link (a session's material): the value gets its number in the list of links. */
  url?: string
}

/** The whole email body: header block, the notes, then the numbered links. */
export function markdownToText(markdown: string, header: TextHeader[] = []): string {
  const ctx: Ctx = { first: '', rest: '', footnotes: newFootnotes() }
  // The header's links are numbered first: [1] is the session's first material.
  const values = header.map((h) => {
    if (!h.url) return h.value
    const n = footnote(ctx, h.url)
    return h.value === h.url ? `[${n}]` : `${h.value} [${n}]`
  })
  const body = blocks(blockTree(md.parse(normalizeNewlines(markdown), {})), ctx)
  const out: string[] = []
  if (header.length) {
    const labelWidth = maxOf(header.map((h) => h.label.length)) + 2
    for (const [i, h] of header.entries()) {
      const label = `${h.label}:`.padEnd(labelWidth)
      pushAll(out, wrap(values[i]!, TEXT_WIDTH, label, ' '.repeat(labelWidth)))
    }
    out.push('')
  }
  pushAll(out, body)
  if (ctx.footnotes.urls.length) {
    out.push('', 'Links:')
    ctx.footnotes.urls.forEach((url, i) => {
      out.push(`[${i + 1}] ${url}`)
    })
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`
}
