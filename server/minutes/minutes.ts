/**
 * The minutes: a pad's current text in the forms people take away (md, html, txt, json, yjs),
 * an event's bundle (zip), the action items and decisions of an event, a Yjs import, and
 * "forget history". Reads the live room when the pad is open (after committing what is pending),
 * the store otherwise.
 */
import * as Y from 'yjs'
import { escapeHtml } from '../http/html.ts'
import { pushAll } from '../lib/arrays.ts'
import { Busy, Invalid, NotFound, TooLarge } from '../lib/domain-errors.ts'
import type { Meetings } from '../meetings/meetings.ts'
import type { EventInfo, PadInfo, PadKind, PadLink } from '../meetings/model.ts'
import { scheduleFacts } from '../meetings/pad-facts.ts'
import { NOTES_TEXT } from '../meetings/templates.ts'
import { describeSlot, inZone } from '../meetings/time.ts'
import type { Logger } from '../ops/logger.ts'
import type { AuthorSummary, PadLog } from '../storage/pad-log.ts'
import type { SearchIndex } from '../storage/search-index.ts'
import { MAX_PAD_ITEMS, tooManyItems } from '../sync/item-budget.ts'
import { docFromStored, encodeState } from '../sync/pad-doc.ts'
import type { PadReader } from '../sync/pad-reader.ts'
import type { Rooms } from '../sync/rooms.ts'
import { readUntrusted, yjsStateTask } from '../untrusted/untrusted-files.ts'
import type { TextHeader } from './export-text.ts'
import { attendeesOf, fenceTracker, findOutcomes, type Outcomes } from './markers.ts'
import { looksLikeTemplate, writtenNotes } from './written-notes.ts'
import type { DeferredEntry, ZipSink } from './zip-stream.ts'

/**
 * The HTML and plain-text renderers (markdown-it and its kin, ~200 KB of code) and the zip writer
 * (fflate, which builds its tables as it loads), loaded by the first export rather than by every
 * start of the server: a restart listens sooner, and only the first export after it waits for the
 * load (tens of ms, once).
 */
async function renderers() {
  const [html, text] = await Promise.all([import('./export-html.ts'), import('./export-text.ts')])
  return { ...html, ...text }
}

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

/** An event's minutes bundle, written as it is made (`write` resolves when the last byte is handed on). */
export interface EventZip {
  filename: string
  contentType: string
  write(sink: ZipSink): Promise<void>
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
  padLog: PadLog
  /** The pads' current text: the live room's, or rebuilt from the log. */
  reader: PadReader
  rooms: Rooms
  meetings: Meetings
  search: SearchIndex
  log: Logger
  /** Cuts the write-ahead log to nothing; false if a reader kept it (WalCheckpointer.scrub). */
  scrubWal: () => Promise<boolean>
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

/** Reads of a pad a "forget history" beside a busy server makes before giving up (each is ms). */
const FORGET_ATTEMPTS = 5

/** Pads whose outcomes are kept (a few hundred bytes each): more than a large conference has. */
const MAX_CACHED_OUTCOMES = 20_000

export class Minutes {
  private readonly d: MinutesDeps
  private readonly outcomes = new Map<string, { version: number; found: Outcomes }>()

  constructor(deps: MinutesDeps) {
    this.d = deps
  }

  /** The pad's Markdown now, or null when it has never been stored nor opened. */
  text(padId: string): Promise<string | null> {
    return this.d.reader.text(padId)
  }

  /** The pad's Yjs state now (no pending structs). */
  state(padId: string): Promise<Uint8Array | null> {
    return this.d.reader.state(padId)
  }

  private async stateOf(padId: string): Promise<Uint8Array> {
    const state = await this.state(padId)
    if (state === null) throw new NotFound(`no pad "${padId}"`)
    return state
  }

  /** `links`: the pad's materials (Materials.withMaterials), shown instead of the schedule's links alone. */
  async exportPad(padId: string, format: ExportFormat, links?: PadLink[]): Promise<Exported> {
    const found = await this.d.meetings.findPad(padId)
    const pad = found && links ? { ...found, links } : found
    const text = await this.text(padId)
    if (text === null) throw new NotFound(`no pad "${padId}"`)
    const { EXPORT_CSP, markdownToText, minutesPage } = await renderers()
    const event = pad?.event ? await this.d.meetings.event(pad.event) : null
    const base = this.fileBase(padId, pad, event)
    const title = pad?.title ?? padId
    // The minutes hold what people wrote; the JSON and Yjs exports keep the text whole (data).
    const notes = (await this.notesOf(padId, text)) ?? NO_NOTES
    switch (format) {
      case 'md':
        return {
          filename: `${base}.md`,
          contentType: 'text/markdown; charset=utf-8',
          body: this.markdownWithHeader(notes, pad, event),
        }
      case 'html':
        return {
          filename: `${base}.html`,
          contentType: 'text/html; charset=utf-8',
          body: minutesPage(notes, {
            title: event ? `${title} — ${event.name}` : title,
            heading: title,
            fields: withoutSession(await this.headerFields(text, padId, pad, event)),
            footer: `Exported from Summitpad on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
          }),
          headers: { 'Content-Security-Policy': EXPORT_CSP },
        }
      case 'txt':
        return {
          filename: `${base}.txt`,
          contentType: 'text/plain; charset=utf-8',
          body: markdownToText(notes, await this.headerFields(text, padId, pad, event)),
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
              authors: (await this.d.padLog.authors(padId)).map(authorJson),
              exportedAt: new Date().toISOString(),
            },
            null,
            2,
          )}\n`,
        }
      case 'yjs':
        return {
          filename: `${base}.yjs`,
          contentType: 'application/octet-stream',
          body: await this.stateOf(padId),
        }
      default: {
        const unknown: never = format
        throw new Invalid(`unknown format ${String(unknown)}`)
      }
    }
  }

  /**
   * A new pad holding an exported Yjs state (backup / moving between servers). The state is
   * checked in a budgeted worker (untrusted-files.ts), not on the event loop.
   */
  async importYjs(
    state: Uint8Array,
    input: { title: string; kind: PadKind; event?: string | null; id?: string },
  ): Promise<PadInfo> {
    if (state.byteLength > MAX_IMPORT_BYTES) throw new TooLarge('Yjs state over 16 MiB')
    const facts = await readUntrusted(
      yjsStateTask,
      state,
      { code: 'invalid_yjs', what: 'Yjs state' },
      this.d.log,
    )
    if (facts.items > MAX_PAD_ITEMS)
      throw new TooLarge(`${tooManyItems('this Yjs state')}; nothing was imported`)
    const pad = await this.d.meetings.createPad({ ...input, event: input.event ?? null }, state)
    this.d.search.markDirty(pad.id)
    return pad
  }

  /** Keeps the pad's current text, drops its log and older snapshots (for a secret pasted by mistake). */
  async forgetHistory(padId: string): Promise<void> {
    await this.d.rooms.flush()
    if (!(await this.d.padLog.exists(padId))) throw new NotFound(`no stored pad "${padId}"`)
    const room = this.d.rooms.get(padId)
    if (!room) return this.forgetStored(padId)
    await room.forgetHistory()
    await this.d.search.purge(padId)
  }

  /**
   * `forgetHistory` for a pad no room here holds (the CLI's, beside a running server): the state
   * is rebuilt from a read and replaces the history only if no row was committed since
   * (PadLog.forgetHistoryIfCurrent); else it is read again, a few times at most.
   */
  async forgetStored(padId: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const stored = await this.d.padLog.load(padId)
      if (!stored) throw new NotFound(`no stored pad "${padId}"`)
      const doc = docFromStored(stored)
      const state = encodeState(doc)
      doc.destroy()
      const upto = stored.updates.at(-1)?.seq ?? stored.snapshotUpto
      if (await this.d.padLog.forgetHistoryIfCurrent(padId, upto, state)) break
      if (attempt === FORGET_ATTEMPTS)
        throw new Busy('the pad is being written to; its history was kept: try again')
    }
    await this.d.search.purge(padId)
  }

  /**
   * After `forgetHistory` has committed: the write-ahead log still holds the forgotten text;
   * checkpoint it and cut it. Returns false when a reader (a backup) kept it (try again later).
   */
  scrubForgotten(): Promise<boolean> {
    return this.d.scrubWal()
  }

  /**
   * Every pad of the event with notes as md, html and txt, an index.html in schedule order (pads
   * nobody wrote in are listed as "no notes", without files), and combined minutes.md / minutes.txt,
   * as a zip written to `sink` while it is made: one pad is rendered at a time, its files are
   * compressed and handed on, and the event loop is given back between pads (typing on other pads
   * goes on). Memory held: one pad's rendering, plus the combined minutes compressed.
   * Throws (404) before anything is written when the event does not exist.
   */
  /** `links`: each pad's materials by pad id (Materials.linksOfEvent). */
  async eventZip(slug: string, links?: Map<string, PadLink[]>): Promise<EventZip> {
    const event = await this.d.meetings.event(slug)
    return {
      filename: `${fileSlug(event.slug)}-minutes.zip`,
      contentType: 'application/zip',
      write: (sink) => this.writeEventZip(event, sink, links),
    }
  }

  private async writeEventZip(
    event: EventInfo,
    sink: ZipSink,
    links?: Map<string, PadLink[]>,
  ): Promise<void> {
    const [{ MINUTES_STYLE, markdownToText, minutesPage }, { ZipStream }] = await Promise.all([
      renderers(),
      import('./zip-stream.ts'),
    ])
    const zip = new ZipStream(sink)
    // Each combined file ends trimmed, as one string would be: its last piece is held back.
    const combinedMd = new TrimmedTail(zip.deferred('minutes.md'))
    const combinedTxt = new TrimmedTail(zip.deferred('minutes.txt'))
    const pads = (await this.d.meetings.pads({ event: event.slug })).map((p) => {
      const own = links?.get(p.id)
      return own ? { ...p, links: own } : p
    })
    const yieldTurn = () => new Promise((resolve) => setImmediate(resolve))
    // The contents come first and say which pads have notes: a first pass keeps only that, so
    // memory stays one pad's worth (the notes are read again when each pad is written).
    const toc: string[] = []
    for (const [i, pad] of pads.entries()) {
      const title = pad.title ?? pad.id
      const when = describeSlot(ms(pad.startsAt), ms(pad.endsAt), event.timezone) ?? 'unscheduled'
      const hasNotes = (await this.notesOf(pad.id, (await this.text(pad.id)) ?? '')) !== null
      toc.push(
        hasNotes
          ? `${i + 1}. [${title}](#session-${i + 1}) — ${when}`
          : `${i + 1}. ${title} — ${when} — no notes`,
      )
      await yieldTurn()
    }
    combinedMd.push(`# ${event.name} — minutes\n\n## Contents\n\n${toc.length ? `${toc.join('\n')}\n` : ''}`)
    const index: string[] = []
    let anyNotes = false
    for (const [i, pad] of pads.entries()) {
      const text = (await this.text(pad.id)) ?? ''
      const notes = await this.notesOf(pad.id, text)
      const title = pad.title ?? pad.id
      const when = describeSlot(ms(pad.startsAt), ms(pad.endsAt), event.timezone) ?? 'unscheduled'
      const where = `${escapeHtml(when)}${pad.room ? ` · ${escapeHtml(pad.room)}` : ''}`
      if (notes === null) {
        index.push(
          `<li><span class="title">${escapeHtml(title)}</span> <span class="none">no notes</span><br><span class="when">${where}</span></li>`,
        )
        continue
      }
      anyNotes = true
      const name = `${String(i + 1).padStart(2, '0')}-${fileSlug(title)}`
      const fields = await this.headerFields(text, pad.id, pad, event)
      const txt = markdownToText(notes, fields)
      await zip.file(`pads/${name}.md`, this.markdownWithHeader(notes, pad, event))
      await zip.file(`pads/${name}.txt`, txt)
      await zip.file(
        `pads/${name}.html`,
        minutesPage(notes, {
          title: `${title} — ${event.name}`,
          heading: title,
          fields: withoutSession(fields),
          footer: event.name,
        }),
      )
      index.push(
        `<li><a class="title" href="pads/${name}.html">${escapeHtml(title)}</a> <span class="formats">(<a href="pads/${name}.md">md</a>, <a href="pads/${name}.txt">txt</a>)</span><br><span class="when">${where}</span></li>`,
      )
      const section = [`<a id="session-${i + 1}"></a>`, '', `## ${title}`, '']
      pushAll(section, this.detailLines(pad, event))
      section.push('', demoteHeadings(notes), '')
      combinedMd.push(`\n${section.join('\n')}`)
      combinedTxt.push(`${txt}\n\n${'='.repeat(72)}\n\n`)
      // Give the event loop back between pads: a big event must not stall everyone's typing.
      await yieldTurn()
    }
    if (!anyNotes) combinedTxt.push('No notes were taken.')
    const days = `${escapeHtml(event.startsOn ?? '')}${event.endsOn && event.endsOn !== event.startsOn ? ` – ${escapeHtml(event.endsOn)}` : ''}`
    await zip.file(
      'index.html',
      `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(event.name)} — minutes</title>
<style>${MINUTES_STYLE}${INDEX_STYLE}</style></head>
<body><header class="minutes"><h1>${escapeHtml(event.name)} — minutes</h1>
<p>${days ? `${days} · ` : ''}${escapeHtml(event.timezone)}</p>
<p><a href="minutes.md">All minutes (Markdown)</a> · <a href="minutes.txt">All minutes (plain text)</a></p></header>
<main><ol class="sessions">
${index.join('\n')}
</ol></main></body></html>
`,
    )
    await combinedMd.finish()
    await combinedTxt.finish()
    await zip.end()
  }

  /** What people wrote in the pad (its text without untouched template parts); null for nothing. */
  async notesOf(padId: string, text: string): Promise<string | null> {
    return writtenNotes(text, await this.startingText(padId))
  }

  private async startingText(padId: string): Promise<string | null> {
    const start = await this.d.meetings.startingText(padId)
    if (!start) return null
    if ('text' in start) return start.text
    const doc = new Y.Doc()
    try {
      Y.applyUpdate(doc, start.firstUpdate)
      const first = doc.getText(NOTES_TEXT).toString()
      return looksLikeTemplate(first) ? first : null
    } catch {
      return null
    } finally {
      doc.destroy()
    }
  }

  /** Action items (grouped by owner) and decisions across the event's pads. */
  async rollup(slug: string): Promise<Rollup> {
    const pads = await this.d.meetings.pads({ event: slug })
    const owners = new Map<string, { owner: string; items: RolledUpItem[] }>()
    const decisions: RolledUpItem[] = []
    await this.d.rooms.flush()
    for (const pad of pads) {
      const found = await this.outcomesOf(pad.id)
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

  /**
   * A pad's outcomes, read again only when its log has grown: the version is the seq of its last
   * row (never reused, see db.ts). Rebuilding every pad per view cost 8.7 ms a pad, 5 s a view of
   * a 600-session event. Call after `rooms.flush()`.
   */
  private async outcomesOf(padId: string): Promise<Outcomes> {
    const version = await this.d.padLog.lastSeq(padId)
    const cached = this.outcomes.get(padId)
    if (cached?.version === version) return cached.found
    const found = findOutcomes((await this.text(padId)) ?? '')
    if (this.outcomes.size >= MAX_CACHED_OUTCOMES) this.outcomes.clear()
    this.outcomes.set(padId, { version, found })
    return found
  }

  private fileBase(padId: string, pad: PadInfo | null, event: EventInfo | null): string {
    const when = pad?.startsAt ?? pad?.updatedAt
    const date = when ? inZone(Date.parse(when), event?.timezone ?? 'UTC').date : null
    return [event ? fileSlug(event.slug) : null, fileSlug(pad?.title ?? padId), date]
      .filter(Boolean)
      .join('_')
  }

  private detailLines(pad: PadInfo, event: EventInfo): string[] {
    return scheduleFacts(pad, event).map((f) => `- ${f.label}: ${f.value}`)
  }

  /** The minutes' header: event, session, the schedule facts, attendees. */
  private async headerFields(
    text: string,
    padId: string,
    pad: PadInfo | null,
    event: EventInfo | null,
  ): Promise<TextHeader[]> {
    const fields: TextHeader[] = []
    if (event) fields.push({ label: 'Event', value: event.name })
    fields.push({ label: 'Session', value: pad?.title ?? padId })
    // Materials go to the header as links: numbered references in text, anchors in HTML.
    if (pad)
      for (const f of scheduleFacts(pad, event))
        fields.push(
          f.url
            ? { label: f.label, value: f.linkText ?? f.url, url: f.url }
            : { label: f.label, value: f.value },
        )
    let attendees = attendeesOf(text)
    if (attendees.length === 0) {
      attendees = (await this.d.padLog.authors(padId))
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
    if (pad?.track) lines.push(`track: ${yaml(pad.track)}`)
    if (pad?.speakers.length) lines.push(`speakers: [${pad.speakers.map(yaml).join(', ')}]`)
    if (pad?.links.length) lines.push(`links: [${pad.links.map((l) => yaml(l.url)).join(', ')}]`)
    lines.push('---', '')
    return `${lines.join('\n')}${text.endsWith('\n') ? text : `${text}\n`}`
  }
}

/** Passes pieces on one behind, so the last can be trimmed: the file ends in exactly one newline. */
class TrimmedTail {
  private readonly out: DeferredEntry
  private held = ''

  constructor(out: DeferredEntry) {
    this.out = out
  }

  push(text: string): void {
    if (this.held) this.out.push(this.held)
    this.held = text
  }

  finish(): Promise<void> {
    this.out.push(`${this.held.trimEnd()}\n`)
    return this.out.finish()
  }
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso))

/** The HTML minutes have the session as their heading: not again among the fields. */
const withoutSession = (fields: TextHeader[]) => fields.filter((f) => f.label !== 'Session')

/** The body of the minutes of a pad nobody wrote in. */
const NO_NOTES = '*No notes were taken.*\n'

/** The zip's index page: the sessions as a readable list (on top of the minutes' own style). */
const INDEX_STYLE = `
ol.sessions { padding-left: 1.6rem; }
ol.sessions li { margin: .6rem 0; }
ol.sessions .title { font-weight: 600; }
ol.sessions .when, ol.sessions .formats, ol.sessions .none { color: #5b6474; font-size: .92rem; }
ol.sessions .none { font-style: italic; }
`

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
