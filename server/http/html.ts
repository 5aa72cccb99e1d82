/**
 * HTML for server-rendered pages: a tagged template that escapes every interpolated value unless
 * it is already `Html` (built by this same tag), so user text — titles, names, rooms — can never
 * become markup.
 */

export class Html {
  readonly value: string
  constructor(value: string) {
    this.value = value
  }
  toString(): string {
    return this.value
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[]

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!
  })
  return new Html(out)
}

/** The bar at the top of every site page (not the editor, which has its own). */
export const siteHeader = (crumbs: Html | string = '') => html`
<header class="site">
  <a class="brand" href="/">Summitpad</a>
  <span class="muted">${crumbs}</span>
</header>`

export interface PageOptions {
  title: string
  body: Html
  /** Script bundles under /assets/ to load (deferred, never inline: the CSP forbids inline script). */
  scripts?: string[]
  /** Files under /assets/ those scripts can load (client-assets.ts), fetched with the page. */
  preloads?: string[]
  styles?: string[]
  bodyClass?: string
}

export function page(options: PageOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Summitpad</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/site.css">
${(options.styles ?? []).map((s) => html`<link rel="stylesheet" href="/assets/${s}">`)}
${(options.preloads ?? []).map((s) => html`<link rel="modulepreload" href="/assets/${s}">`)}
${(options.scripts ?? []).map((s) => html`<script type="module" src="/assets/${s}"></script>`)}
</head>
<body${options.bodyClass ? html` class="${options.bodyClass}"` : ''}>
${options.body}
</body>
</html>
`.value
}
