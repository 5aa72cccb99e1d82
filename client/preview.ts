/** The rendered Markdown preview: markdown-it with raw HTML off; links open safely in a new tab. */
import MarkdownIt from 'markdown-it'

const md = new MarkdownIt({ html: false, linkify: true, breaks: false })
const defaultLinkOpen =
  md.renderer.rules.link_open ??
  ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options))
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!
  token.attrSet('rel', 'noopener noreferrer')
  token.attrSet('target', '_blank')
  return defaultLinkOpen(tokens, idx, options, env, self)
}

/** Re-renders at most this often while people type; the preview lags a little, typing never does. */
const RENDER_DELAY_MS = 150

export function attachPreview(target: HTMLElement, read: () => string): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null
  const render = () => {
    timer = null
    target.innerHTML = md.render(read())
  }
  render()
  return () => {
    if (timer === null) timer = setTimeout(render, RENDER_DELAY_MS)
  }
}
