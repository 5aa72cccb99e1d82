/**
 * The Markdown highlighting of the editor, in CSS variables (editor.css) rather than CodeMirror's
 * default style's fixed colours, which are unreadable on a dark background: the same style serves
 * both colour schemes, and only the tags Markdown uses are styled.
 */
import { HighlightStyle } from '@codemirror/language'
import { tags } from '@lezer/highlight'

export const markdownHighlight = HighlightStyle.define([
  { tag: tags.heading, fontWeight: 'bold', textDecoration: 'underline' },
  { tag: tags.emphasis, fontStyle: 'italic' },
  { tag: tags.strong, fontWeight: 'bold' },
  { tag: tags.strikethrough, textDecoration: 'line-through' },
  { tag: tags.link, textDecoration: 'underline' },
  { tag: [tags.url, tags.contentSeparator], color: 'var(--cm-url)' },
  { tag: tags.monospace, color: 'var(--cm-code)' },
  { tag: [tags.processingInstruction, tags.meta, tags.quote, tags.comment], color: 'var(--cm-mark)' },
])
