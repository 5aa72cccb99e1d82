/**
 * The minutes: a pad's current text in the forms people take away (md, html, txt, json, yjs),
 * an event's bundle (zip), the action items and decisions of an event, a Yjs import, and
 * "forget history". Reads the live room when the pad is open (after committing what is pending),
 * the store otherwise.
 */
import { strToU8, zipSync } from 'fflate'
import * as Y from 'yjs'
import { attendeesOf, fenceTracker, findOutcomes } from '../shared/markers.ts'
import type { EventInfo, PadInfo, PadKind } from '../shared/meetings.ts'
import { describeSlot, inZone } from '../shared/time.ts'
import { checkUpdate, withinClockBound } from '../shared/update-check.ts'
import { EXPORT_CSP, minutesPage } from './export-html.ts'
import { markdownToText, type TextHeader } from './export-text.ts'
import { escapeHtml } from './html.ts'
import { HttpError } from './http-errors.ts'
import type { Logger } from './logger.ts'
import type { Meetings } from './meetings.ts'
import { docFromStored, encodeState, readStoredDoc } from './pad-doc.ts'
import type { Rooms } from './rooms.ts'
import type { SearchIndex } from './search-index.ts'
import type { AuthorSummary, PadStore } from './store.ts'
import { NOTES_TEXT } from './templates.ts'

export const EXPORT_FORMATS = ['md', 'html', 'txt', 'json', 'yjs'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** Largest Yjs state accepted for import: the same bound as a whole pad over the websocket. */
export const MAX_IMPORT_BYTES = 16 * 1024 * 1024

export interface Exported {
  filename: string
  contentType: string
  body: string | Uint8Array
  /** Extra headers (the CSP of HTML exports). */
  headers?: Record<string, string>
}

export interface RolledUpItem {
  padId: string
  padTitle: string
  line: number
  text: string
  done?: boolean
}

export interface Rollup {
  actionsByOwner: { owner: string; items: RolledUpItem[] }[]
  decisions: RolledUpItem[]
}

export interface MinutesDeps {
  store: PadStore
  rooms: Rooms
  meetings: Meetings
  search: SearchIndex
  /** Log rows after which a snapshot is due (config SNAPSHOT_EVERY). */
  snapshotEvery: number
  log: Logger
}

function fileSlug(text: string): string {
  // Letters of any script stay ("内存控制组 BoF" must not become "bof"); the Content-Disposition
  // header carries an ASCII fallback separately.
  return (
    text
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .toLowerCase() || 'pad'
  )
}

export class Minutes {
  private readonly d: MinutesDeps

  constructor(deps: MinutesDeps) {
    this.d = deps
  }

  /** The pad's Markdown now, or null when it has never been stored nor opened. */
  text(padId: string): string | null {
    return this.withDoc(padId, (doc) => doc.getText(NOTES_TEXT).toString())
  }

  /** The pad's Yjs state now (no pending structs). */
  state(padId: string): Uint8Array | null {
    return this.withDoc(padId, (doc) => encodeState(doc))
  }

  exportPad(padId: string, format: ExportFormat): Exported {
    const pad = this.d.meetings.findPad(padId)
    const text = this.text(padId)
    if (text === null) throw new HttpError(404, 'not_found', `no pad "${padId}"`)
    const event = pad?.event ? this.d.meetings.event(pad.event) : null
    const base = this.fileBase(padId, pad, event)
    const title = pad?.title ?? padId
    switch (format) {
      case 'md':
        return {
          filename: `${base}.md`,
          contentType: 'text/markdown; charset=utf-8',
          body: this.markdownWithHeader(text, pad, event),
        }
      case 'html':
        return {
          filename: `${base}.html`,
          contentType: 'text/html; charset=utf-8',
          body: minutesPage(text, {
            title: event ? `${title} — ${event.name}` : title,
            fields: this.headerFields(text, padId, pad, event),
            footer: `Exported from Summitpad on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
          }),
          headers: { 'Content-Security-Policy': EXPORT_CSP },
        }
      case 'txt':
        return {
          filename: `${base}.txt`,
          contentType: 'text/plain; charset=utf-8',
          body: markdownToText(text, this.headerFields(text, padId, pad, event)),
        }
      case 'json':
        return {
          filename: `${base}.json`,
          contentType: 'application/json; charset=utf-8',
          body: `${JSON.stringify(
            {
              id: padId,
              pad,
              event,
              text,
              authors: this.d.store.authors(padId).map(authorJson),
              exportedAt: new Date().toISOString(),
            },
            null,
            2,
          )}\n`,
        }
      case 'yjs':
        return { filename: `${base}.yjs`, contentType: 'application/octet-stream', body: this.state(padId)! }
      default: {
        const unknown: never = format
        throw new HttpError(400, 'invalid', `unknown format ${String(unknown)}`)
      }
    }
  }

  /** A new pad holding an exported Yjs state (backup / moving between servers). */
  importYjs(
    state: Uint8Array,
    input: { title: string; kind: PadKind; event?: string | null; id?: string },
  ): PadInfo {
    if (state.byteLength > MAX_IMPORT_BYTES) throw new HttpError(413, 'too_large', 'Yjs state over 16 MiB')
    const shape = checkUpdate(state)
    if (!shape.ok) throw new HttpError(400, 'invalid_yjs', `not a Yjs document state: ${shape.error}`)
    if (!withinClockBound(shape.value))
      throw new HttpError(400, 'invalid_yjs', 'not a Yjs document state: clock out of range')
    // It must stand alone: a state that depends on data we do not have would load as nothing.
    const probe = new Y.Doc()
    try {
      Y.applyUpdate(probe, state)
      if (probe.store.pendingStructs || probe.store.pendingDs) {
        throw new HttpError(400, 'invalid_yjs', 'the Yjs state is incomplete (it depends on missing updates)')
      }
    } catch (err) {
      if (err instanceof HttpError) throw err
      throw new HttpError(400, 'invalid_yjs', 'not a Yjs document state')
    } finally {
      probe.destroy()
    }
    const pad = this.d.meetings.createPad({ ...input, event: input.event ?? null }, state)
    this.d.search.markDirty(pad.id)
    return pad
  }

  /** Keeps the pad's current text, drops its log and older snapshots (for a secret pasted by mistake). */
  forgetHistory(padId: string): void {
    this.d.rooms.flush()
    if (!this.d.store.exists(padId)) throw new HttpError(404, 'not_found', `no stored pad "${padId}"`)
    const room = this.d.rooms.get(padId)
    if (room) room.forgetHistory()
    else {
      const doc = docFromStored(this.d.store.load(padId))
      this.d.store.forgetHistory(padId, encodeState(doc))
      doc.destroy()
    }
    this.d.search.purge(padId)
  }

  /**
   * After `forgetHistory` has committed: the write-ahead log still holds the forgotten text;
   * checkpoint it and cut it. Returns false when a reader (a backup) kept it (try again later).
   */
  scrubForgotten(): boolean {
    return this.d.store.truncateWal()
  }

  /** Every pad of the event as md, html and txt, an index.html, and combined minutes.md / minutes.txt. */
  exportEvent(slug: string): Exported {
    const event = this.d.meetings.event(slug)
    const pads = this.d.meetings.pads({ event: slug })
    const files: Record<string, Uint8Array> = {}
    const index: string[] = []
    const combinedMd: string[] = [`# ${event.name} — minutes`, '']
    const combinedTxt: string[] = []
    const toc: string[] = []
    pads.forEach((pad, i) => {
      const text = this.text(pad.id) ?? ''
      const name = `${String(i + 1).padStart(2, '0')}-${fileSlug(pad.title ?? pad.id)}`
      const fields = this.headerFields(text, pad.id, pad, event)
      files[`pads/${name}.md`] = strToU8(this.markdownWithHeader(text, pad, event))
      files[`pads/${name}.txt`] = strToU8(markdownToText(text, fields))
      files[`pads/${name}.html`] = strToU8(
        minutesPage(text, {
          title: `${pad.title ?? pad.id} — ${event.name}`,
          fields,
          footer: `${event.name}`,
        }),
      )
      const when = describeSlot(ms(pad.startsAt), ms(pad.endsAt), event.timezone) ?? 'unscheduled'
      index.push(
        `<li><a href="pads/${name}.html">${escapeHtml(pad.title ?? pad.id)}</a> — ${escapeHtml(when)}${pad.room ? ` · ${escapeHtml(pad.room)}` : ''} (<a href="pads/${name}.md">md</a>, <a href="pads/${name}.txt">txt</a>)</li>`,
      )
      const anchor = `session-${i + 1}`
      toc.push(`${i + 1}. [${pad.title ?? pad.id}](#${anchor}) — ${when}`)
      combinedMd.push(
        `<a id="${anchor}"></a>`,
        '',
        `## ${pad.title ?? pad.id}`,
        '',
        ...this.detailLines(pad, event),
        '',
        demoteHeadings(text),
        '',
      )
      combinedTxt.push(markdownToText(text, fields), '', '='.repeat(72), '')
    })
    combinedMd.splice(2, 0, '## Contents', '', ...toc, '')
    files['minutes.md'] = strToU8(`${combinedMd.join('\n').trimEnd()}\n`)
    files['minutes.txt'] = strToU8(`${combinedTxt.join('\n').trimEnd()}\n`)
    files['index.html'] = strToU8(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(event.name)} — minutes</title></head>
<body><h1>${escapeHtml(event.name)} — minutes</h1>
<p>${escapeHtml(event.startsOn ?? '')}${event.endsOn && event.endsOn !== event.startsOn ? ` – ${escapeHtml(event.endsOn)}` : ''} · ${escapeHtml(event.timezone)}</p>
<p><a href="minutes.md">All minutes (Markdown)</a> · <a href="minutes.txt">All minutes (plain text)</a></p>
<ol>
${index.join('\n')}
</ol></body></html>
`)
    return {
      filename: `${fileSlug(event.slug)}-minutes.zip`,
      contentType: 'application/zip',
      body: zipSync(files, { level: 6 }),
    }
  }

  /** Action items (grouped by owner) and decisions across the event's pads. */
  rollup(slug: string): Rollup {
    const pads = this.d.meetings.pads({ event: slug })
    const owners = new Map<string, { owner: string; items: RolledUpItem[] }>()
    const decisions: RolledUpItem[] = []
    for (const pad of pads) {
      const found = findOutcomes(this.text(pad.id) ?? '')
      const ref = { padId: pad.id, padTitle: pad.title ?? pad.id }
      for (const a of found.actions) {
        const owner = a.owner ?? 'Unassigned'
        const key = owner.toLowerCase()
        let group = owners.get(key)
        if (!group) {
          group = { owner, items: [] }
          owners.set(key, group)
        }
        group.items.push({ ...ref, line: a.line, text: a.text, done: a.done })
      }
      for (const d of found.decisions) decisions.push({ ...ref, line: d.line, text: d.text })
    }
    const actionsByOwner = [...owners.values()].sort((a, b) =>
      a.owner === 'Unassigned' ? 1 : b.owner === 'Unassigned' ? -1 : a.owner.localeCompare(b.owner),
    )
    return { actionsByOwner, decisions }
  }

  private withDoc<T>(padId: string, read: (doc: Y.Doc) => T): T | null {
    const room = this.d.rooms.get(padId)
    if (room) {
      this.d.rooms.flush()
      return read(room.doc)
    }
    const doc = readStoredDoc(this.d.store, padId, this.d.snapshotEvery, (err) =>
      this.d.log.warn({ pad: padId, err }, 'could not keep a snapshot of a replayed pad'),
    )
    if (!doc) return null
    try {
      return read(doc)
    } finally {
      doc.destroy()
    }
  }

  private fileBase(padId: string, pad: PadInfo | null, event: EventInfo | null): string {
    const when = pad?.startsAt ?? pad?.updatedAt
    const date = when ? inZone(Date.parse(when), event?.timezone ?? 'UTC').date : null
    return [event ? fileSlug(event.slug) : null, fileSlug(pad?.title ?? padId), date]
      .filter(Boolean)
      .join('_')
  }

  private detailLines(pad: PadInfo | null, event: EventInfo | null): string[] {
    const lines: string[] = []
    const when = pad ? describeSlot(ms(pad.startsAt), ms(pad.endsAt), event?.timezone ?? 'UTC') : null
    if (event) lines.push(`- Event: ${event.name}`)
    if (when) lines.push(`- When: ${when}`)
    if (pad?.room) lines.push(`- Room: ${pad.room}`)
    return lines
  }

  private headerFields(
    text: string,
    padId: string,
    pad: PadInfo | null,
    event: EventInfo | null,
  ): TextHeader[] {
    const fields: TextHeader[] = []
    if (event) fields.push({ label: 'Event', value: event.name })
    fields.push({ label: 'Session', value: pad?.title ?? padId })
    const when = pad ? describeSlot(ms(pad.startsAt), ms(pad.endsAt), event?.timezone ?? 'UTC') : null
    if (when) fields.push({ label: 'Date', value: when })
    if (pad?.room) fields.push({ label: 'Room', value: pad.room })
    let attendees = attendeesOf(text)
    if (attendees.length === 0) {
      attendees = this.d.store
        .authors(padId)
        .map((a) => a.name)
        .filter((n): n is string => n !== null)
    }
    if (attendees.length) fields.push({ label: 'Attendees', value: attendees.join(', ') })
    return fields
  }

  /** YAML front matter (event, session, date/time, room), then the Markdown as written. */
  private markdownWithHeader(text: string, pad: PadInfo | null, event: EventInfo | null): string {
    const yaml = (v: string) => JSON.stringify(v)
    const lines = ['---']
    if (event) lines.push(`event: ${yaml(event.name)}`)
    lines.push(`session: ${yaml(pad?.title ?? pad?.id ?? '')}`)
    if (pad?.startsAt) lines.push(`start: ${yaml(pad.startsAt)}`)
    if (pad?.endsAt) lines.push(`end: ${yaml(pad.endsAt)}`)
    if (event) lines.push(`timezone: ${yaml(event.timezone)}`)
    if (pad?.room) lines.push(`room: ${yaml(pad.room)}`)
    lines.push('---', '')
    return `${lines.join('\n')}${text.endsWith('\n') ? text : `${text}\n`}`
  }
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso))

function authorJson(a: AuthorSummary) {
  return {
    name: a.name,
    edits: a.edits,
    firstAt: new Date(a.firstAt).toISOString(),
    lastAt: new Date(a.lastAt).toISOString(),
  }
}

/** In the combined minutes each pad is a section: its own headings move one level down. */
function demoteHeadings(text: string): string {
  const inCode = fenceTracker()
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => (!inCode(line) && /^#{1,5}\s/.test(line) ? `#${line}` : line))
    .join('\n')
}
