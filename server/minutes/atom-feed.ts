/**
 * An Atom feed (RFC 4287) as text: the feed's facts and its entries in, XML out. Pure. Text is
 * escaped for XML and stripped of what XML 1.0 cannot carry (control characters, lone
 * surrogates), so a pad holding them cannot make the feed unreadable.
 */
import { createHash } from 'node:crypto'

export interface FeedEntry {
  id: string
  title: string
  /** ISO 8601. */
  updated: string
  link: string
  /** HTML, carried escaped in `<content type="html">`. */
  contentHtml: string
}

export interface FeedInfo {
  id: string
  title: string
  updated: string
  selfUrl: string
  alternateUrl: string
  author: string
}

const NOT_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu
const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
}

export function escapeXml(text: string): string {
  return text.replace(NOT_XML, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!)
}

/** A stable `urn:uuid:` from a name (RFC 4122 version 5 layout over SHA-1): the same name, the same id. */
export function uuidUrn(name: string): string {
  const h = createHash('sha1').update(name).digest()
  h[6] = (h[6]! & 0x0f) | 0x50
  h[8] = (h[8]! & 0x3f) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export function atomFeed(feed: FeedInfo, entries: readonly FeedEntry[]): string {
  const out = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    `<id>${escapeXml(feed.id)}</id>`,
    `<title>${escapeXml(feed.title)}</title>`,
    `<updated>${escapeXml(feed.updated)}</updated>`,
    `<link rel="self" type="application/atom+xml" href="${escapeXml(feed.selfUrl)}"/>`,
    `<link rel="alternate" type="text/html" href="${escapeXml(feed.alternateUrl)}"/>`,
    `<author><name>${escapeXml(feed.author)}</name></author>`,
    '<generator>Summitpad</generator>',
  ]
  for (const e of entries) {
    out.push(
      '<entry>',
      `<id>${escapeXml(e.id)}</id>`,
      `<title type="text">${escapeXml(e.title)}</title>`,
      `<updated>${escapeXml(e.updated)}</updated>`,
      `<link rel="alternate" type="text/html" href="${escapeXml(e.link)}"/>`,
      `<content type="html">${escapeXml(e.contentHtml)}</content>`,
      '</entry>',
    )
  }
  out.push('</feed>', '')
  return out.join('\n')
}
