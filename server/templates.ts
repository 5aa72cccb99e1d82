/**
 * Pad templates: plain Markdown files in server/templates/<kind>.md (an event may override one),
 * filled with the pad's details. The server writes the result into the pad itself, as the first
 * log row of the transaction that creates the pad, so it is applied exactly once.
 */
import fs from 'node:fs'
import * as Y from 'yjs'
import { type EventInfo, PAD_KINDS, type PadKind } from '../shared/meetings.ts'
import { describeSlot } from '../shared/time.ts'
import type { PadFields } from './meetings-store.ts'

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

/** The pad's facts as Markdown list items, only those that are known. */
export function detailsBlock(pad: PadFields, event: EventInfo | null): string {
  const zone = event?.timezone ?? 'UTC'
  const lines: string[] = []
  if (event) lines.push(`- **Event:** ${event.name}`)
  const when = describeSlot(pad.startsAt, pad.endsAt, zone)
  if (when) lines.push(`- **When:** ${when}`)
  if (pad.room) lines.push(`- **Room:** ${pad.room}`)
  if (pad.track) lines.push(`- **Track:** ${pad.track}`)
  if (pad.speakers.length)
    lines.push(`- **${pad.kind === 'talk' ? 'Speakers' : 'Leads'}:** ${pad.speakers.join(', ')}`)
  for (const link of pad.links)
    lines.push(`- **Link:** ${link.title ? `[${link.title}](${link.url})` : `<${link.url}>`}`)
  return lines.join('\n')
}

export function renderTemplate(body: string, pad: PadFields, event: EventInfo | null): string {
  const values: Record<string, string> = {
    title: pad.title ?? 'Untitled',
    details: detailsBlock(pad, event),
    event: event?.name ?? '',
    room: pad.room ?? '',
    track: pad.track ?? '',
    speakers: pad.speakers.join(', '),
  }
  // With nothing known about the session, drop the details line and its blank line entirely.
  const source = values.details ? body : body.replace(/\{\{\s*details\s*\}\}\n*/, '')
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
