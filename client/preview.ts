/**
 * The rendered Markdown preview: markdown-it with raw HTML off; links open safely in a new tab.
 * markdown-it is run on first use (its own chunk, a third of the editor's weight otherwise; the page
 * preloads that chunk with itself, so it is there offline), and the preview renders only while it is
 * visible: a hidden preview costs nothing during an hour of typing. Printing renders it whatever its
 * state: Ctrl-P prints the notes as they read.
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
    loaded = (markdown: string) => md.render(markdown)
    return loaded
  })
  return renderer
}

/** Re-renders at most this often while people type; the preview lags a little, typing never does. */
const RENDER_DELAY_MS = 150

/** Returns `refresh`: call it when the text changes or the preview is shown. */
export function attachPreview(target: HTMLElement, read: () => string): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null
  const render = async () => {
    try {
      const toHtml = await loadRenderer()
      target.innerHTML = toHtml(read())
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
  return () => {
    // Not displayed (hidden, or the editor is shown instead on a phone): render when it is.
    if (target.getClientRects().length === 0) return
    if (timer === null) timer = setTimeout(() => void render(), RENDER_DELAY_MS)
  }
}
