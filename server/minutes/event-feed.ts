/**
 * Following an event from afar: its Atom feed, an entry per closed session (newest first), its
 * content the minutes as HTML with the session's materials. An entry's id comes from the pad (not
 * from when it was closed), so a session reopened and closed again updates its entry instead of
 * adding one. The feed holds links to pads and materials, never a token.
 */
import { escapeHtml } from '../http/html.ts'
import { MATERIAL_LABEL, materialKindOf } from '../meetings/material-kinds.ts'
import type { Materials } from '../meetings/materials.ts'
import type { Meetings } from '../meetings/meetings.ts'
import type { PadLink } from '../meetings/model.ts'
import { atomFeed, type FeedEntry, uuidUrn } from './atom-feed.ts'
import { renderMarkdownHtml } from './export-html.ts'
import type { Minutes } from './minutes.ts'

/**
 * Entries in one feed: the latest closed sessions. Readers poll often and keep what they saw;
 * the whole event is in its minutes bundle. Bounds the work of one request on a 2,000-session event.
 */
export const MAX_FEED_ENTRIES = 200

export interface EventFeedDeps {
  meetings: Meetings
  minutes: Minutes
  materials: Materials
}

function materialsHtml(links: readonly PadLink[]): string {
  if (!links.length) return ''
  const items = links.map(
    (l) =>
      `<li>${escapeHtml(MATERIAL_LABEL[l.kind ?? materialKindOf(l.title, l.url)])}: <a href="${escapeHtml(l.url)}">${escapeHtml(l.title ?? l.url)}</a></li>`,
  )
  return `<h2>Materials</h2>\n<ul>${items.join('')}</ul>\n`
}

export class EventFeed {
  constructor(private readonly d: EventFeedDeps) {}

  /** The feed as XML; `base` is this server's address as the reader reached it. */
  async atom(slug: string, base: string): Promise<string> {
    const event = await this.d.meetings.event(slug)
    const closed = (await this.d.meetings.pads({ event: slug }))
      .filter((p) => p.closedAt !== null)
      .sort((a, b) => b.closedAt!.localeCompare(a.closedAt!) || a.id.localeCompare(b.id))
      .slice(0, MAX_FEED_ENTRIES)
    const links = await this.d.materials.linksOfEvent(slug)
    const entries: FeedEntry[] = []
    for (const pad of closed) {
      const notes = await this.d.minutes.notesOf(pad.id, (await this.d.minutes.text(pad.id)) ?? '')
      entries.push({
        id: uuidUrn(`summitpad pad ${pad.id} ${pad.createdAt}`),
        title: pad.title ?? pad.id,
        updated: pad.closedAt!,
        link: `${base}/p/${encodeURIComponent(pad.id)}`,
        contentHtml: `${notes ? renderMarkdownHtml(notes) : '<p>No notes were taken.</p>\n'}${materialsHtml(links.get(pad.id) ?? [])}`,
      })
    }
    return atomFeed(
      {
        id: uuidUrn(`summitpad event ${event.slug} ${event.createdAt}`),
        title: `${event.name} — minutes`,
        updated: entries[0]?.updated ?? event.updatedAt,
        selfUrl: `${base}/api/events/${encodeURIComponent(event.slug)}/feed`,
        alternateUrl: `${base}/e/${encodeURIComponent(event.slug)}`,
        author: event.name,
      },
      entries,
    )
  }
}
