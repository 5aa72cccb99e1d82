/**
 * Pad templates: plain Markdown files in server/templates/<kind>.md (an event may override one),
 * filled with the pad's title and event. The server writes the result into the pad itself, as the first
 * log row of the transaction that creates the pad, so it is applied exactly once.
 */
import fs from 'node:fs'
import * as Y from 'yjs'
import type { PadFields } from '../storage/meetings-store.ts'
import { type EventInfo, PAD_KINDS, type PadKind } from './model.ts'

/** The Y.Text every client edits: the pad's Markdown. Exports and history read the same type. */
export const NOTES_TEXT = 'notes'

export type Templates = Record<PadKind, string>

export function loadDefaultTemplates(): Templates {
  const out = {} as Templates
  for (const kind of PAD_KINDS) {
    out[kind] = fs.readFileSync(new URL(`./templates/${kind}.md`, import.meta.url), 'utf8')
  }
  return out
}

/**
 * Fills a template. Schedule facts (when, room, track, speakers, links) are never written into
 * the text: they change with a re-import, and the editor and the minutes show them from the pad's
 * metadata. `{{details}}` (in event templates from before) is dropped with its blank line;
 * `{{room}}`, `{{track}}` and `{{speakers}}` are filled once, at creation, if a template asks.
 */
export function renderTemplate(body: string, pad: PadFields, event: EventInfo | null): string {
  const values: Record<string, string> = {
    title: pad.title ?? 'Untitled',
    event: event?.name ?? '',
    room: pad.room ?? '',
    track: pad.track ?? '',
    speakers: pad.speakers.join(', '),
  }
  const source = body.replace(/\{\{\s*details\s*\}\}\n*/g, '')
  // Unknown placeholders stay as written: a typo in a template shows instead of vanishing.
  return source.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole)
}

/** The Yjs update that writes `markdown` into a fresh pad. */
export function textUpdate(markdown: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText(NOTES_TEXT).insert(0, markdown)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}
