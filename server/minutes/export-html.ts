/**
 * The minutes as a standalone web page: readable, printable, and inert. Raw HTML in a pad is shown
 * as text (markdown-it `html: false`), links are limited to http/https/mailto and open with
 * `rel="noopener noreferrer"`, and the page is served with a CSP that allows nothing but its own
 * inline stylesheet (by hash), so nothing a pad holds can ever run script.
 */
import { createHash } from 'node:crypto'
import { escapeHtml } from '../http/html.ts'
import { createMarkdown, normalizeNewlines } from './markdown.ts'

const md = createMarkdown()
const renderLinkOpen =
  md.renderer.rules.link_open ??
  ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options))
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('rel', 'noopener noreferrer')
  return renderLinkOpen(tokens, idx, options, env, self)
}
// An image is shown as a link to it, never loaded: an image in the minutes would tell its server
// who read them and when (a tracking pixel). The CSP below loads no image either.
md.renderer.rules.image = (tokens, idx, _options, _env, self) => {
  const token = tokens[idx]!
  const src = String(token.attrGet('src') ?? '')
  const alt = self.renderInlineAsText(token.children ?? [], _options, _env) || 'untitled'
  return `<a href="${escapeHtml(src)}" rel="noopener noreferrer" class="image">[image: ${escapeHtml(alt)}]</a>`
}

/** The minutes' stylesheet (the event zip's index page uses it too). */
export const MINUTES_STYLE = `
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif; color: #1d2330; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
header.minutes { border-bottom: 1px solid #dde1e8; margin-bottom: 1.5rem; }
header.minutes h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
header.minutes dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; color: #5b6474; }
header.minutes dt { font-weight: 600; }
header.minutes dd { margin: 0; }
pre { background: #f4f5f7; padding: .7rem; overflow-x: auto; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .92em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #dde1e8; padding: .25rem .5rem; text-align: left; vertical-align: top; }
blockquote { border-left: 3px solid #dde1e8; margin-left: 0; padding-left: 1rem; color: #5b6474; }
a { color: #2457c5; }
footer { margin-top: 2rem; color: #5b6474; font-size: .85rem; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
`

const STYLE_HASH = `'sha256-${createHash('sha256').update(MINUTES_STYLE).digest('base64')}'`

/** The CSP for exported pages: no script, no frames, no images, no remote anything; only our own style. */
export const EXPORT_CSP = `default-src 'none'; style-src ${STYLE_HASH}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

export function renderMarkdownHtml(markdown: string): string {
  return md.render(normalizeNewlines(markdown))
}

export interface HtmlMeta {
  /** The page's <title>. */
  title: string
  /** The heading above the header fields: the session's current title. */
  heading: string
  fields: { label: string; value: string; url?: string }[]
  footer: string
}

export function minutesPage(markdown: string, meta: HtmlMeta): string {
  const fields = meta.fields
    .map(
      (f) =>
        `<dt>${escapeHtml(f.label)}</dt><dd>${f.url ? `<a href="${escapeHtml(f.url)}" rel="noopener noreferrer">${escapeHtml(f.value)}</a>` : escapeHtml(f.value)}</dd>`,
    )
    .join('')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(EXPORT_CSP)}">
<title>${escapeHtml(meta.title)}</title>
<style>${MINUTES_STYLE}</style>
</head>
<body>
<header class="minutes"><h1>${escapeHtml(meta.heading)}</h1><dl>${fields}</dl></header>
<main>
${renderMarkdownHtml(markdown)}
</main>
<footer>${escapeHtml(meta.footer)}</footer>
</body>
</html>
`
}
