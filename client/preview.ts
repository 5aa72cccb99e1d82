/**
 * The rendered Markdown preview: markdown-it with raw HTML off; links open safely in a new tab.
 * markdown-it is run on first use (its own chunk, a third of the editor's weight otherwise; the page
 * preloads that chunk with itself, so it is there offline), and the preview renders only while it is
 * visible: a hidden preview costs nothing during an hour of typing. Printing renders it whatever its
 * state: Ctrl-P prints the notes as they read. It follows the editor, as HedgeDoc's does: each
 * rendered block carries its source line (`data-line`), and the preview scrolls to the block of the
 * editor's top line, in proportion between two blocks.
 */

type Render = (markdown: string) => string

let renderer: Promise<Render> | null = null
/** The renderer once loaded, for a render that cannot wait (printing). */
let loaded: Render | null = null

function loadRenderer(): Promise<Render> {
  renderer ??= import('markdown-it').then(({ default: MarkdownIt }) => {
    const md = new MarkdownIt({ html: false, linkify: true, breaks: true })
    const defaultLinkOpen =
      md.renderer.rules.link_open ??
      ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options))
    md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
      const token = tokens[idx]!
      token.attrSet('rel', 'noopener noreferrer')
      token.attrSet('target', '_blank')
      return defaultLinkOpen(tokens, idx, options, env, self)
    }
    // "- [ ] task" and "- [x] done" as checkboxes (read-only: the text is the source of truth).
    md.core.ruler.after('inline', 'task_lists', (state) => {
      const tokens = state.tokens
      for (let i = 2; i < tokens.length; i++) {
        const first = tokens[i]!.children?.[0]
        if (tokens[i - 2]!.type !== 'list_item_open' || first?.type !== 'text') continue
        const m = /^\[([ xX])\] /.exec(first.content)
        if (!m) continue
        first.content = first.content.slice(m[0].length)
        const box = new state.Token('html_inline', '', 0)
        // Fixed markup of ours (raw HTML from the pad stays off).
        box.content =
          m[1] === ' '
            ? '<input type="checkbox" disabled aria-label="to do"> '
            : '<input type="checkbox" checked disabled aria-label="done"> '
        tokens[i]!.children!.unshift(box)
      }
    })
    // The source line of each block, for following the editor.
    md.core.ruler.push('source_lines', (state) => {
      for (const token of state.tokens) {
        if (token.map && token.nesting !== -1 && token.block) token.attrSet('data-line', String(token.map[0]))
      }
    })
    loaded = (markdown: string) => md.render(markdown)
    return loaded
  })
  return renderer
}

/** Re-renders at most this often while people type; the preview lags a little, typing never does. */
const RENDER_DELAY_MS = 150

/**
 * Scrolls the preview to source line `line` (fractional: 12.5 is half-way through line 12): to the
 * last block starting at or before it, plus the same share of the way to the next block.
 */
function follow(target: HTMLElement, line: number): void {
  // The ends match the ends (a heading's margin would otherwise hide the first line's block).
  if (line <= 0 || line === Number.POSITIVE_INFINITY) {
    target.scrollTop = line <= 0 ? 0 : target.scrollHeight
    return
  }
  const blocks = target.querySelectorAll<HTMLElement>('[data-line]')
  let before: HTMLElement | null = null
  let after: HTMLElement | null = null
  for (const block of blocks) {
    if (Number(block.dataset.line) <= line) before = block
    else {
      after = block
      break
    }
  }
  const top = (el: HTMLElement) =>
    el.getBoundingClientRect().top - target.getBoundingClientRect().top + target.scrollTop
  if (!before) {
    target.scrollTop = 0
    return
  }
  const from = Number(before.dataset.line)
  const to = after ? Number(after.dataset.line) : from + 1
  const end = after ? top(after) : top(before) + before.offsetHeight
  target.scrollTop = top(before) + ((line - from) / Math.max(1, to - from)) * (end - top(before))
}

/**
 * `refresh`: call it when the text changes or the preview is shown; `followEditor` when the editor scrolls.
 * `line`: the editor's top visible source line (0-based, fractional; Infinity when the editor is
 * scrolled to its end), which the preview follows.
 */
export function attachPreview(
  target: HTMLElement,
  read: () => string,
  line: () => number,
): { refresh(): void; followEditor(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null
  const render = async () => {
    try {
      const toHtml = await loadRenderer()
      target.innerHTML = toHtml(read())
      follow(target, line())
    } catch {
      // Offline before the renderer was ever loaded: say so, and try again on the next change.
      renderer = null
      target.textContent = 'The preview cannot load while offline. The notes are safe in the editor.'
    } finally {
      timer = null
    }
  }
  // Printing shows the preview (editor.css): render it now, whole, even while it is hidden.
  const renderForPrint = () => {
    if (loaded) target.innerHTML = loaded(read())
    else void render()
  }
  window.addEventListener('beforeprint', renderForPrint)
  window.matchMedia('print').addEventListener('change', (e) => {
    if (e.matches) renderForPrint()
  })
  return {
    refresh: () => {
      // Not displayed (hidden, or the editor is shown instead on a phone): render when it is.
      if (target.getClientRects().length === 0) return
      if (timer === null) timer = setTimeout(() => void render(), RENDER_DELAY_MS)
    },
    // Scrolling needs no new render: only the preview's position.
    followEditor: () => {
      if (target.getClientRects().length > 0 && loaded) follow(target, line())
    },
  }
}
