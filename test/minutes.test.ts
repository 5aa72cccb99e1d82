/**
 * The minutes end to end, as the people who come back after a session meet them: each export
 * format of a pad typed through stock y-websocket clients, the HTML export of a hostile pad parsed
 * and checked for anything that could run, the event zip, the action-item roll-up, search kept up
 * to date as pads change and are deleted, and "forget history" for a pasted password. A real
 * server on port 0 with a temp data dir, real HTTP, real sockets.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { strFromU8, unzipSync } from 'fflate'
import { type DefaultTreeAdapterTypes, parse } from 'parse5'
import * as Y from 'yjs'
import type { EventInfo, PadInfo } from '../server/meetings/model.ts'
import { textWidth } from '../server/minutes/text-width.ts'
import {
  type ApiReply,
  apiCall,
  type Client,
  connectClient,
  okJson,
  sleep,
  startTestServer,
  type TestServer,
} from './helpers.ts'
import { countPadRows, padPk, queryRows, tableNames, tableValues } from './stored-rows.ts'

type Element = DefaultTreeAdapterTypes.Element
type ParentNode = DefaultTreeAdapterTypes.ParentNode

const fixture = (name: string) => fs.readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
/** Typed on Windows: every line ends in CRLF. */
const REALISTIC = fixture('minutes-realistic.md').replace(/\r?\n/g, '\r\n')
const HOSTILE = fixture('minutes-hostile.md').replace(/\r\n/g, '\n')

// ------------------------------------------------------------------ a tiny HTTP vocabulary

const call = apiCall
const ok = okJson
type Reply = ApiReply

/** The one error shape, `{ error: { code, message } }`, with no stack trace or path in it. */
function assertApiError(reply: Reply, status: number, code?: string): void {
  assert.equal(reply.status, status, reply.text)
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/)
  const body = reply.json as { error?: { code?: unknown; message?: unknown } }
  assert.deepEqual(Object.keys(body), ['error'], reply.text)
  assert.deepEqual(Object.keys(body.error ?? {}).sort(), ['code', 'message'], reply.text)
  if (code !== undefined) assert.equal(body.error?.code, code, reply.text)
  assert.ok(typeof body.error?.message === 'string' && body.error.message.length > 0)
  assert.doesNotMatch(reply.text, /\n\s+at |\/work\/|\/tmp\/|node_modules|\.ts:\d/)
}

const createEvent = async (server: TestServer, fields: Record<string, unknown>) =>
  ok<EventInfo>(await call(server, 'POST', '/api/events', fields), 201)

const createPad = async (server: TestServer, fields: Record<string, unknown>, event?: string) =>
  ok<PadInfo>(await call(server, 'POST', event ? `/api/events/${event}/pads` : '/api/pads', fields), 201)

const exportPad = (server: TestServer, padId: string, format: string) =>
  call(server, 'GET', `/api/pads/${padId}/export?format=${format}`)

interface Hit {
  padId: string
  title: string | null
  event: string | null
  kind: string | null
  snippet: string
}

async function searchHits(server: TestServer, query: string): Promise<Hit[]> {
  return ok<{ hits: Hit[] }>(await call(server, 'GET', `/api/search?${query}`)).hits
}

// ------------------------------------------------------------------ people typing into pads

/** Polls an async check until it holds; bounded. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

/** Someone opens the pad under a name; resolves once the server knows them by it. */
async function join(server: TestServer, padId: string, name: string): Promise<Client> {
  const client = connectClient(server.wsUrl, padId, { name })
  try {
    await client.synced()
    await eventually(`${name} to be present in ${padId}`, async () => {
      const presence = ok<{ people: string[] }>(await call(server, 'GET', `/api/pads/${padId}/presence`))
      return presence.people.includes(name)
    })
  } catch (err) {
    client.destroy()
    throw err
  }
  return client
}

/** Types `markdown` at the end of the pad, a line at a time (each line one edit, as a person would). */
function typeAtEnd(client: Client, markdown: string): void {
  for (const line of markdown.split(/(?<=\n)/)) client.text.insert(client.text.length, line)
}

/** Selects everything and types `markdown` instead. */
function typeOver(client: Client, markdown: string): void {
  client.text.delete(0, client.text.length)
  typeAtEnd(client, markdown)
}

function deleteText(client: Client, what: string): void {
  const at = client.text.toString().indexOf(what)
  assert.ok(at >= 0, `"${what}" is not in the pad`)
  client.text.delete(at, what.length)
}

/** The pad's text as the server would export it now. */
async function serverText(server: TestServer, padId: string): Promise<string> {
  return ok<{ text: string }>(await exportPad(server, padId, 'json')).text
}

async function serverHas(server: TestServer, padId: string, expected: string): Promise<void> {
  await eventually(`the server to hold the typed text of ${padId}`, async () => {
    return (await serverText(server, padId)) === expected
  })
}

// ------------------------------------------------------------------ reading the plain-text minutes

/** Lines inside fenced code blocks of a pad's Markdown: the only lines allowed to stay long. */
function fencedLines(markdown: string): string[] {
  const out: string[] = []
  let fence: string | null = null
  for (const line of markdown.split(/\r?\n/)) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line)
    if (m && (fence === null || line.trim().startsWith(fence))) {
      fence = fence === null ? m[1]! : null
      continue
    }
    if (fence !== null) out.push(line)
  }
  return out
}

/** A footnote holding one unbreakable URL, "[n] URL": the one kind of line allowed past 72 columns. */
const FOOTNOTE = /^\[(\d+)\] (\S+)$/

function assertEmailReady(txt: string, markdown: string, where: string): void {
  const code = fencedLines(markdown).filter((l) => l.trim() !== '')
  assert.ok(txt.endsWith('\n') && !txt.includes('\r'), `${where}: LF line endings`)
  const over = txt.split('\n').filter((line) => {
    if (textWidth(line) <= 72) return false
    const footnote = FOOTNOTE.exec(line)
    if (footnote && /^(https?|mailto):/.test(footnote[2]!)) return false
    // Code is kept verbatim, indented.
    return !code.some((c) => /^\s{4}/.test(line) && line.endsWith(c.trimEnd()))
  })
  assert.deepEqual(over, [], `${where}: lines over 72 columns`)
}

/** The header block: "Label: value" lines (values may wrap with a hanging indent) before the first blank line. */
function headerBlock(txt: string): Map<string, string> {
  const fields = new Map<string, string>()
  let last: string | null = null
  for (const line of txt.split('\n')) {
    if (line === '') break
    const m = /^([A-Z][a-z]+):\s+(.*)$/.exec(line)
    if (m) {
      last = m[1]!
      fields.set(last, m[2]!)
    } else {
      assert.ok(last !== null && /^\s+\S/.test(line), `header line ${JSON.stringify(line)}`)
      fields.set(last, `${fields.get(last)} ${line.trim()}`)
    }
  }
  return fields
}

/** A list item's lines: the one starting with `marker` and the continuation lines indented by `indent`. */
function itemLines(txt: string, marker: string, indent: number): string[] {
  const lines = txt.split('\n')
  const start = lines.findIndex((l) => l.startsWith(marker))
  assert.ok(start >= 0, `no line starts with ${JSON.stringify(marker)}:\n${txt}`)
  const out = [lines[start]!]
  for (const line of lines.slice(start + 1)) {
    const isContinuation =
      line.startsWith(' '.repeat(indent)) &&
      /^[^\s]/.test(line.slice(indent)) &&
      !/^(- |\d+\. )/.test(line.slice(indent))
    if (!isContinuation) break
    out.push(line)
  }
  return out
}

const words = (text: string) => text.split(/\s+/).filter(Boolean)

// ------------------------------------------------------------------ reading HTML

function* elements(node: ParentNode): Generator<Element> {
  for (const child of node.childNodes) {
    if (!('tagName' in child)) continue
    yield child
    yield* elements(child)
    if (child.tagName === 'template') yield* elements((child as DefaultTreeAdapterTypes.Template).content)
  }
}

function textOf(node: ParentNode): string {
  let out = ''
  for (const child of node.childNodes) {
    if (child.nodeName === '#text') out += (child as DefaultTreeAdapterTypes.TextNode).value
    else if ('childNodes' in child) out += textOf(child)
  }
  return out
}

const attr = (el: Element, name: string) => el.attrs.find((a) => a.name === name)?.value

const byTag = (root: ParentNode, tag: string) => [...elements(root)].filter((e) => e.tagName === tag)

/** Elements that run script, load a document or plug-in, or rewrite where links and forms go. */
const SCRIPTABLE = new Set([
  'script',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'svg',
  'math',
  'base',
  'form',
  'input',
  'button',
  'textarea',
  'select',
  'link',
  'video',
  'audio',
  'source',
  'noscript',
  'portal',
])
const URL_ATTRS = new Set([
  'href',
  'src',
  'action',
  'formaction',
  'data',
  'poster',
  'background',
  'cite',
  'srcset',
  'ping',
  'xlink:href',
])
const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:'])

/**
 * Parses the page as a browser would and checks that nothing in it can run: no scriptable
 * element, no event-handler attribute, every URL http/https/mailto once resolved (relative links
 * and fragments resolve to the page's own scheme), and links that open without an opener.
 */
function assertInert(
  html: string,
  where: string,
  options: { linksNeedRel: boolean },
): DefaultTreeAdapterTypes.Document {
  const doc = parse(html)
  let styles = 0
  for (const el of elements(doc)) {
    const tag = `<${el.tagName}> in ${where}`
    assert.ok(!SCRIPTABLE.has(el.tagName), `${tag}`)
    if (el.tagName === 'style') styles++
    if (el.tagName === 'meta') {
      const equiv = attr(el, 'http-equiv')
      assert.ok(
        equiv === undefined || equiv.toLowerCase() === 'content-security-policy',
        `${tag} http-equiv=${equiv}`,
      )
    }
    for (const a of el.attrs) {
      const name = a.name.toLowerCase()
      assert.ok(!name.startsWith('on'), `${tag} has ${a.name}="${a.value}"`)
      assert.ok(name !== 'srcdoc', `${tag} has srcdoc`)
      if (URL_ATTRS.has(name)) {
        const resolved = new URL(a.value, 'https://minutes.example/pads/notes.html')
        assert.ok(SAFE_PROTOCOLS.has(resolved.protocol), `${tag} has ${a.name}="${a.value}"`)
      }
    }
    if (el.tagName === 'a' && options.linksNeedRel) {
      const rel = (attr(el, 'rel') ?? '').split(/\s+/)
      assert.ok(
        rel.includes('noopener') && rel.includes('noreferrer'),
        `${tag} href="${attr(el, 'href')}" rel="${attr(el, 'rel')}"`,
      )
    }
  }
  assert.ok(styles <= 1, `${where}: ${styles} <style> elements`)
  return doc
}

/** The served CSP: nothing by default, no script at all, styles only by hash; and nosniff. */
function assertStrictHeaders(reply: Reply): string {
  const csp = reply.headers.get('content-security-policy') ?? ''
  const directives = new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!.toLowerCase(), values]),
  )
  assert.deepEqual(directives.get('default-src'), ["'none'"], csp)
  assert.ok(!directives.has('script-src') && !directives.has('script-src-elem'), csp)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, csp)
  assert.equal(reply.headers.get('x-content-type-options'), 'nosniff')
  return csp
}

// ------------------------------------------------------------------ the zip

function unzip(reply: Reply): Map<string, string> {
  assert.equal(reply.status, 200, reply.text.slice(0, 300))
  assert.equal(reply.headers.get('content-type'), 'application/zip')
  const files = unzipSync(reply.bytes)
  return new Map(Object.entries(files).map(([name, data]) => [name, strFromU8(data)]))
}

const contains = (bytes: Uint8Array | Buffer, secret: string) =>
  Buffer.from(bytes).includes(Buffer.from(secret))

// ==================================================================================================

describe('per-pad exports of a realistic pad typed through the stock client', () => {
  let server: TestServer
  let event: EventInfo
  let pad: PadInfo
  let expected: string
  const clients: Client[] = []
  const STEPHANE = 'Stéphane Graber'
  const BRUCE = '李小龙 🐉'

  before(async () => {
    server = await startTestServer()
    event = await createEvent(server, {
      slug: 'lpc-2026',
      name: 'Linux Plumbers Conference 2026 東京',
      startsOn: '2026-12-10',
      endsOn: '2026-12-12',
      timezone: 'Asia/Tokyo',
    })
    // 08:30 in Tokyo is still the day before in UTC: the file name must carry the local date.
    pad = await createPad(
      server,
      {
        title: 'Memory cgroup BoF — Stéphane & 李小龙',
        kind: 'bof',
        room: 'Hall B — 会議室 2',
        startsAt: '2026-12-11T08:30:00+09:00',
        endsAt: '2026-12-11T09:15:00+09:00',
        speakers: ['Stéphane Graber', '李小龙'],
      },
      event.slug,
    )
    const stephane = await join(server, pad.id, STEPHANE)
    const bruce = await join(server, pad.id, BRUCE)
    clients.push(stephane, bruce)
    // Stéphane replaces the template with most of the notes; 李小龙 types the last lines.
    const split = REALISTIC.indexOf('ACTION(Stéphane)')
    typeOver(stephane, REALISTIC.slice(0, split))
    await serverHas(server, pad.id, REALISTIC.slice(0, split))
    await eventually('the second client to see the notes', async () => bruce.text.length === split)
    typeAtEnd(bruce, REALISTIC.slice(split))
    expected = REALISTIC
    await serverHas(server, pad.id, expected)
  })

  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
  })

  test('every format downloads under a file name made of event, title and local date', async () => {
    const types: Record<string, RegExp> = {
      md: /^text\/markdown; charset=utf-8/,
      html: /^text\/html; charset=utf-8/,
      txt: /^text\/plain; charset=utf-8/,
      json: /^application\/json/,
      yjs: /^application\/octet-stream/,
    }
    for (const [format, type] of Object.entries(types)) {
      const reply = await exportPad(server, pad.id, format)
      assert.equal(reply.status, 200, `${format}: ${reply.text.slice(0, 200)}`)
      assert.match(reply.headers.get('content-type') ?? '', type, format)
      const disposition = reply.headers.get('content-disposition') ?? ''
      assert.match(disposition, /^attachment;/, `${format}: ${disposition}`)
      const ascii = /filename="([^"]*)"/.exec(disposition)?.[1] ?? ''
      const utf8 = decodeURIComponent(/filename\*=UTF-8''(\S+)/.exec(disposition)?.[1] ?? '')
      for (const name of [ascii, utf8]) {
        assert.match(
          name,
          new RegExp(`^lpc-2026_memory-cgroup-bof-[^/\\\\]*_2026-12-11\\.${format}$`),
          disposition,
        )
      }
      assert.match(ascii, /^[\x20-\x7e]+$/, 'the fallback file name is plain ASCII')
    }
  })

  test('md: a YAML header with event, session, times and room, then the text exactly as typed (CRLF kept)', async () => {
    const reply = await exportPad(server, pad.id, 'md')
    const body = reply.text
    assert.ok(body.startsWith('---\n'), body.slice(0, 200))
    const end = body.indexOf('\n---\n', 3)
    assert.ok(end > 0, 'the front matter is closed')
    const meta = new Map(
      body
        .slice(4, end)
        .split('\n')
        .map((line) => {
          const m = /^([a-z]+): (.*)$/.exec(line)
          assert.ok(m, `front matter line ${JSON.stringify(line)}`)
          return [m[1]!, JSON.parse(m[2]!) as string] as const
        }),
    )
    assert.equal(meta.get('event'), 'Linux Plumbers Conference 2026 東京')
    assert.equal(meta.get('session'), 'Memory cgroup BoF — Stéphane & 李小龙')
    assert.equal(meta.get('room'), 'Hall B — 会議室 2')
    assert.equal(Date.parse(meta.get('start') ?? ''), Date.parse('2026-12-11T08:30:00+09:00'))
    assert.equal(Date.parse(meta.get('end') ?? ''), Date.parse('2026-12-11T09:15:00+09:00'))
    assert.equal(meta.get('timezone'), 'Asia/Tokyo')
    const rest = body.slice(end + '\n---\n'.length).replace(/^\n/, '')
    assert.equal(rest, expected, 'the Markdown is exactly what was typed, CRLF and all')
  })

  test('txt: a header block with event, session, date, room, leads and attendees', async () => {
    const txt = (await exportPad(server, pad.id, 'txt')).text
    const header = headerBlock(txt)
    assert.deepEqual(
      [...header.keys()],
      ['Event', 'Session', 'When', 'Room', 'Leads', 'Attendees'],
      txt.slice(0, 600),
    )
    assert.equal(header.get('Event'), 'Linux Plumbers Conference 2026 東京')
    assert.equal(header.get('Session'), 'Memory cgroup BoF — Stéphane & 李小龙')
    assert.match(header.get('When') ?? '', /2026-12-11.*08:30.*09:15/)
    assert.equal(header.get('Room'), 'Hall B — 会議室 2')
    for (const name of [
      'Stéphane Graber',
      '李小龙 (Li Xiaolong)',
      'Zoë Ångström 🦀',
      'Nguyễn Thị Minh Khai',
    ]) {
      assert.ok(header.get('Attendees')?.includes(name), `${name} in ${header.get('Attendees')}`)
    }
  })

  test('txt: no line over 72 columns except one-URL footnotes and code kept verbatim', async () => {
    const txt = (await exportPad(server, pad.id, 'txt')).text
    assertEmailReady(txt, expected, 'pad txt')
    // The long code line is still there, whole and indented.
    const codeLine = fencedLines(expected).find((l) => l.includes('calculate_high_delay'))!
    assert.ok(txt.split('\n').includes(`    ${codeLine}`), 'code kept verbatim, indented by four')
    assert.ok(textWidth(codeLine) > 72, 'the fixture has a code line wider than 72 columns')
  })

  test('txt: headings are underlined to their width', async () => {
    const lines = (await exportPad(server, pad.id, 'txt')).text.split('\n')
    const headings = expected
      .split('\r\n')
      .filter((l) => /^#{1,3} /.test(l))
      .map((l) => ({ level: /^#+/.exec(l)![0].length, text: l.replace(/^#+ /, '') }))
    assert.ok(headings.length >= 6)
    for (const h of headings) {
      const at = lines.indexOf(h.text)
      assert.ok(at >= 0, `heading "${h.text}" on a line of its own`)
      const rule = h.level === 1 ? '=' : h.level === 2 ? '-' : '~'
      assert.equal(lines[at + 1], rule.repeat(textWidth(h.text)), `underline of "${h.text}"`)
    }
  })

  test('txt: list items wrap with hanging indents, nested lists further in', async () => {
    const txt = (await exportPad(server, pad.id, 'txt')).text
    const cases = [
      { marker: '- Stéphane: memory.high', indent: 2, source: '- Stéphane: memory.high' },
      { marker: '  - 李小龙 agreed', indent: 4, source: '  - 李小龙 agreed' },
      { marker: '    - Zoë asked', indent: 6, source: '    - Zoë asked' },
      { marker: '   2. swap.max semantics', indent: 6, source: '   2. swap.max semantics' },
    ]
    for (const c of cases) {
      const item = itemLines(txt, c.marker, c.indent)
      assert.ok(item.length >= 2, `"${c.marker}" wraps:\n${item.join('\n')}`)
      const typed = expected.split('\r\n').find((l) => l.startsWith(c.source))!
      assert.deepEqual(words(item.join(' ')), words(typed), 'every word kept, in order')
    }
  })

  test('txt: every URL becomes a numbered footnote under "Links:"', async () => {
    const txt = (await exportPad(server, pad.id, 'txt')).text
    const [body = '', links = ''] = txt.split('\nLinks:\n')
    assert.ok(links, `a "Links:" section:\n${txt}`)
    const footnotes = new Map(
      links
        .trimEnd()
        .split('\n')
        .map((line) => {
          const m = FOOTNOTE.exec(line)
          assert.ok(m, `footnote line ${JSON.stringify(line)}`)
          return [m[2]!, Number(m[1])] as const
        }),
    )
    const urls = [
      'https://lore.kernel.org/linux-mm/20260110093012.4172093-1-stephane.graber@example.com/T/#m3c9f0d2a1b8e7f6a5d4c3b2a1',
      'https://docs.kernel.org/admin-guide/cgroup-v2.html#memory-interface-files-memory-high-and-memory-max',
      'https://github.com/torvalds/linux/blob/master/mm/memcontrol.c#L2400-L2470',
      'https://fr.wikipedia.org/wiki/St%C3%A9phane_Graber',
    ]
    for (const url of urls) {
      const n = footnotes.get(url)
      assert.ok(n !== undefined, `${url} is a footnote: ${[...footnotes.keys()].join(', ')}`)
      assert.ok(body.includes(`[${n}]`), `the body refers to [${n}]`)
    }
    assert.doesNotMatch(body, /https?:|www\.|wikipedia\.org/, 'no URL (or piece of one) left in the body')
  })

  test('txt: the narrow table stays a table, the wide one becomes a list', async () => {
    const lines = (await exportPad(server, pad.id, 'txt')).text.split('\n')
    assert.ok(
      lines.some((l) => /^memory\.high\s+\| max$/.test(l)),
      'narrow table row aligned',
    )
    assert.ok(
      lines.some((l) => /^-+-\+-+$/.test(l)),
      'narrow table rule',
    )
    assert.ok(
      !lines.some((l) => l.includes('Stéphane Graber |') || l.includes('| Zabbly')),
      'wide table not drawn',
    )
    assert.ok(lines.includes('- Name: Stéphane Graber'))
    assert.ok(lines.includes('  Affiliation: Zabbly'))
    assert.ok(lines.includes('- Name: 李小龙'))
    assert.ok(lines.includes('  Affiliation: Example Corp'))
    const next = itemLines(lines.join('\n'), '  Next step: send an RFC', 4)
    assert.deepEqual(
      words(next.join(' ')),
      words('Next step: send an RFC to linux-mm before the merge window opens'),
    )
  })

  test('json: metadata, the text as typed, and the names of those who typed', async () => {
    const reply = await exportPad(server, pad.id, 'json')
    const body = ok<{
      id: string
      pad: PadInfo
      event: EventInfo
      text: string
      authors: { name: string | null; edits: number; firstAt: string; lastAt: string }[]
    }>(reply)
    assert.equal(body.id, pad.id)
    assert.equal(body.pad.title, pad.title)
    assert.equal(body.pad.room, 'Hall B — 会議室 2')
    assert.equal(body.pad.startsAt, pad.startsAt)
    assert.equal(body.event.name, event.name)
    assert.equal(body.event.timezone, 'Asia/Tokyo')
    assert.equal(body.text, expected)
    assert.deepEqual(body.authors.map((a) => a.name).sort(), [BRUCE, STEPHANE].sort())
    for (const a of body.authors) {
      assert.ok(a.edits > 0)
      assert.ok(Date.parse(a.firstAt) <= Date.parse(a.lastAt))
    }
  })

  test('html: a readable page of the same notes', async () => {
    const reply = await exportPad(server, pad.id, 'html')
    assertStrictHeaders(reply)
    const doc = assertInert(reply.text, 'pad html', { linksNeedRel: true })
    assert.equal(textOf(byTag(doc, 'title')[0]!), `${pad.title} — ${event.name}`)
    assert.deepEqual(
      byTag(doc, 'h1').map(textOf),
      [pad.title, 'Memory cgroup BoF'],
      'the session (header), then the heading typed in the pad, once',
    )
    assert.equal(byTag(doc, 'table').length, 2)
    const code = byTag(doc, 'pre').map(textOf).join('\n')
    for (const line of fencedLines(expected)) assert.ok(code.includes(line), `code line ${line}`)
    const nested = byTag(doc, 'li').filter((li) => byTag(li, 'ul').length > 0)
    assert.ok(nested.length >= 2, 'nested lists stay nested')
    const hrefs = byTag(doc, 'a').map((a) => attr(a, 'href'))
    assert.ok(hrefs.includes('https://fr.wikipedia.org/wiki/St%C3%A9phane_Graber'))
    assert.ok(hrefs.includes('https://github.com/torvalds/linux/blob/master/mm/memcontrol.c#L2400-L2470'))
    const dl = byTag(doc, 'dd').map(textOf)
    assert.ok(dl.includes('Hall B — 会議室 2'), 'room in the header')
    assert.ok(!reply.text.includes('\r'), 'CRLF normalised')
  })

  test('yjs: a backup re-imported is a new pad with the same text', async () => {
    const backup = await exportPad(server, pad.id, 'yjs')
    assert.equal(backup.status, 200)
    const probe = new Y.Doc()
    Y.applyUpdate(probe, backup.bytes)
    assert.equal(probe.getText('notes').toString(), expected, 'the backup holds the text')
    probe.destroy()

    const title = 'Memory cgroup BoF (restored) — 李小龙'
    const imported = ok<PadInfo>(
      await call(
        server,
        'POST',
        `/api/pads/import?title=${encodeURIComponent(title)}&kind=meeting`,
        backup.bytes,
        'application/octet-stream',
      ),
      201,
    )
    assert.notEqual(imported.id, pad.id)
    assert.equal(imported.title, title)
    assert.equal(imported.kind, 'meeting')
    assert.equal(await serverText(server, imported.id), expected)
    // Someone opening the restored pad gets the same text, and can edit it.
    const reader = connectClient(server.wsUrl, imported.id)
    clients.push(reader)
    await reader.synced()
    await eventually('the restored pad to reach a client', async () => reader.text.toString() === expected)
    assert.equal(await serverText(server, pad.id), expected, 'the original is untouched')
  })

  test('import refuses what is not a whole Yjs state, in the one error shape', async () => {
    const backup = (await exportPad(server, pad.id, 'yjs')).bytes
    const importAs = (body: Uint8Array | string, type = 'application/octet-stream') =>
      call(server, 'POST', '/api/pads/import?title=Broken&kind=meeting', body, type)
    assertApiError(await importAs(new TextEncoder().encode('this is not a Yjs document, just text')), 400)
    assertApiError(await importAs(backup.slice(0, Math.floor(backup.length / 2))), 400)
    assertApiError(
      await importAs(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])),
      400,
    )
    assertApiError(await importAs('{"notes": "json is not yjs"}', 'application/json'), 415)
    assertApiError(
      await call(server, 'POST', '/api/pads/import?kind=meeting', backup, 'application/octet-stream'),
      400,
    )
    const pads = ok<{ pads: PadInfo[] }>(await call(server, 'GET', '/api/pads')).pads
    assert.ok(!pads.some((p) => p.title === 'Broken'), 'nothing was created')
  })

  test('an unknown format or pad is refused in the one error shape', async () => {
    assertApiError(await exportPad(server, pad.id, 'docx'), 400)
    assertApiError(await exportPad(server, 'no-such-pad', 'md'), 404)
    assertApiError(await call(server, 'GET', '/api/events/no-such-event/export'), 404)
    assertApiError(await call(server, 'GET', '/api/events/no-such-event/outcomes'), 404)
    assertApiError(await call(server, 'POST', '/api/pads/no-such-pad/forget-history'), 404)
  })

  test('sessions with non-Latin titles download under names that tell them apart', async () => {
    const titles = ['内存控制组 BoF', '调度器 BoF']
    const names: string[] = []
    for (const title of titles) {
      const other = await createPad(
        server,
        { title, kind: 'bof', startsAt: '2026-12-11T14:00:00+09:00' },
        event.slug,
      )
      const disposition = (await exportPad(server, other.id, 'md')).headers.get('content-disposition') ?? ''
      const utf8 = decodeURIComponent(/filename\*=UTF-8''(\S+)/.exec(disposition)?.[1] ?? '')
      assert.ok(utf8.includes(title.split(' ')[0]!), `"${title}" in the file name: ${disposition}`)
      names.push(utf8)
    }
    assert.notEqual(names[0], names[1], 'two sessions of the same day, two file names')
  })

  test('the pad page and the event page offer the downloads', async () => {
    const padPage = parse((await call(server, 'GET', `/p/${pad.id}`)).text)
    const hrefs = byTag(padPage, 'a').map((a) => attr(a, 'href'))
    for (const format of ['md', 'html', 'txt', 'json', 'yjs']) {
      assert.ok(hrefs.includes(`/api/pads/${pad.id}/export?format=${format}`), `download ${format}`)
    }
    const eventPage = parse((await call(server, 'GET', `/e/${event.slug}`)).text)
    const eventHrefs = byTag(eventPage, 'a').map((a) => attr(a, 'href'))
    assert.ok(eventHrefs.includes(`/api/events/${event.slug}/export`), 'zip of the event')
    assert.ok(eventHrefs.includes(`/e/${event.slug}/outcomes`), 'action items of the event')
  })
})

// ==================================================================================================

describe('the HTML export of a hostile pad', () => {
  let server: TestServer
  let event: EventInfo
  let pad: PadInfo
  let client: Client | undefined
  const EVENT_NAME = `<script>alert("event")</script> "><img src=x onerror=alert(1)> & Co`
  const TITLE = `</title><script>alert(1)</script>"><svg onload=alert(1)> [x](javascript:alert(1))`
  // Names lose < and > on the way in; what is left still tries to break out of an attribute.
  const WHO = `" autofocus onfocus="alert(1)" x="&quot;`

  before(async () => {
    server = await startTestServer()
    event = await createEvent(server, { slug: 'hostile', name: EVENT_NAME, timezone: 'UTC' })
    pad = await createPad(
      server,
      {
        title: TITLE,
        kind: 'talk',
        room: `"><svg onload=alert(1)>`,
        track: `<img src=x onerror=alert(1)>`,
        startsAt: '2026-12-11T10:00:00Z',
        speakers: ['<script>alert(1)</script>', '[x](javascript:alert(1))', `'><img src=x onerror=alert(1)>`],
        links: [{ title: `"><script>alert(1)</script>`, url: 'https://example.com/slides' }],
      },
      event.slug,
    )
    client = await join(server, pad.id, WHO)
    const template = await serverText(server, pad.id)
    typeAtEnd(client, `\n${HOSTILE}`)
    await serverHas(server, pad.id, `${template}\n${HOSTILE}`)
  })

  after(async () => {
    client?.destroy()
    await server.close()
  })

  test('is served with a strict CSP and nosniff', async () => {
    const reply = await exportPad(server, pad.id, 'html')
    assert.equal(reply.status, 200)
    assert.match(reply.headers.get('content-type') ?? '', /^text\/html/)
    assertStrictHeaders(reply)
  })

  test('holds no element, attribute or link that can run script', async () => {
    assert.ok(HOSTILE.split(/\n\n+/).length >= 50, 'the pad holds at least 50 payloads')
    const reply = await exportPad(server, pad.id, 'html')
    const doc = assertInert(reply.text, 'hostile pad html', { linksNeedRel: true })
    assert.ok(byTag(doc, 'a').length >= 3, 'the good links are still links')
    const hrefs = byTag(doc, 'a').map((a) => attr(a, 'href'))
    assert.ok(hrefs.includes('https://example.com/agenda'))
    assert.ok(hrefs.includes('mailto:someone@example.org'))
    assert.ok(hrefs.includes('#notes'))
  })

  test('shows the payloads as text instead of running or silently dropping them', async () => {
    const doc = parse((await exportPad(server, pad.id, 'html')).text)
    const body = textOf(byTag(doc, 'body')[0]!)
    for (const shown of [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '[x](javascript:alert(1))',
      '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    ]) {
      assert.ok(body.includes(shown), `${shown} shown as text`)
    }
    assert.equal(textOf(byTag(doc, 'title')[0]!), `${TITLE} — ${EVENT_NAME}`)
    const header = byTag(doc, 'dd').map(textOf)
    assert.ok(header.includes(EVENT_NAME), 'event name in the header, as text')
    assert.ok(header.includes(WHO), 'the author name in the header, as text')
  })

  test('keeps its own stylesheet, allowed by hash in its CSP', async () => {
    const reply = await exportPad(server, pad.id, 'html')
    const csp = assertStrictHeaders(reply)
    const styles = byTag(parse(reply.text), 'style')
    assert.equal(styles.length, 1)
    const hash = createHash('sha256').update(textOf(styles[0]!)).digest('base64')
    assert.ok(csp.includes(`'sha256-${hash}'`), 'the page is still styled under its own CSP')
  })

  test('every page of the event zip is inert too', async () => {
    const files = unzip(await call(server, 'GET', `/api/events/${event.slug}/export`))
    const pages = [...files.keys()].filter((name) => name.endsWith('.html'))
    assert.ok(pages.includes('index.html') && pages.length === 2, pages.join(', '))
    for (const name of pages) {
      const doc = assertInert(files.get(name)!, `zip ${name}`, { linksNeedRel: name !== 'index.html' })
      assert.ok(textOf(byTag(doc, 'title')[0]!).includes(EVENT_NAME), `${name}: event name as text`)
    }
  })
})

// ==================================================================================================

describe('the event zip', () => {
  let server: TestServer
  let event: EventInfo
  const pads: { pad: PadInfo; text: string; word: string }[] = []
  const clients: Client[] = []

  before(async () => {
    server = await startTestServer()
    event = await createEvent(server, {
      slug: 'kernel-recipes',
      name: 'Kernel Recipes 2026 — Paris',
      startsOn: '2026-09-22',
      endsOn: '2026-09-24',
      timezone: 'Europe/Paris',
    })
    // Created out of order: the zip follows the schedule, not the order of creation.
    const sessions = [
      { title: 'Rust for Linux: état des lieux', startsAt: '2026-09-23T14:00:00', word: 'borrowchecker' },
      { title: 'Opening — Stéphane', startsAt: '2026-09-22T09:00:00', word: 'welcomebreakfast' },
      { title: 'Hallway notes', word: 'hallwaytrack' },
      { title: 'Memory cgroup BoF', startsAt: '2026-09-22T11:30:00', word: 'reclaimknob' },
    ]
    for (const s of sessions) {
      const { word, ...fields } = s
      const pad = await createPad(server, { ...fields, kind: 'talk', room: 'Main hall' }, event.slug)
      const client = await join(server, pad.id, 'Zoë')
      clients.push(client)
      const text =
        s.title === 'Memory cgroup BoF'
          ? `${REALISTIC}\r\nKeyword: ${word}\r\n`
          : `# ${s.title}\n\n## Notes\n\n- keyword ${word}, see https://example.org/${word}\n`
      typeOver(client, text)
      await serverHas(server, pad.id, text)
      pads.push({ pad, text, word })
    }
  })

  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
  })

  /** Pads in schedule order: by start time, the unscheduled ones last. */
  const scheduled = () =>
    [...pads].sort(
      (a, b) =>
        (a.pad.startsAt ? Date.parse(a.pad.startsAt) : Number.POSITIVE_INFINITY) -
        (b.pad.startsAt ? Date.parse(b.pad.startsAt) : Number.POSITIVE_INFINITY),
    )

  test('opens and holds every pad as md, html and txt, with their text', async () => {
    const reply = await call(server, 'GET', `/api/events/${event.slug}/export`)
    assert.match(
      reply.headers.get('content-disposition') ?? '',
      /^attachment; filename="kernel-recipes[^"]*\.zip"/,
    )
    const files = unzip(reply)
    for (const ext of ['md', 'html', 'txt']) {
      const names = [...files.keys()].filter((n) => n.startsWith('pads/') && n.endsWith(`.${ext}`))
      assert.equal(names.length, pads.length, `${ext}: ${names.join(', ')}`)
      for (const { word, text } of pads) {
        const holders = names.filter((n) => files.get(n)!.includes(word))
        assert.equal(holders.length, 1, `${word} in exactly one .${ext}`)
        // Less the template's title line (untouched): the header carries the session's title.
        const typed = text.replace(/^# .*\r?\n(\r?\n)?/, '')
        if (ext === 'md') assert.ok(files.get(holders[0]!)!.endsWith(typed), 'md holds the text as typed')
      }
    }
    for (const name of ['index.html', 'minutes.md', 'minutes.txt']) assert.ok(files.has(name), name)
  })

  test('index.html links every pad in schedule order', async () => {
    const files = unzip(await call(server, 'GET', `/api/events/${event.slug}/export`))
    const doc = assertInert(files.get('index.html')!, 'index.html', { linksNeedRel: false })
    const padLinks = byTag(doc, 'a').filter((a) => attr(a, 'href')?.endsWith('.html'))
    assert.deepEqual(
      padLinks.map(textOf),
      scheduled().map((p) => p.pad.title),
    )
    for (const [i, link] of padLinks.entries()) {
      const target = files.get(attr(link, 'href')!)
      assert.ok(target, `${attr(link, 'href')} is in the zip`)
      assert.ok(target.includes(scheduled()[i]!.word), 'and is that pad')
    }
    for (const a of byTag(doc, 'a'))
      assert.ok(files.has(attr(a, 'href')!), `${attr(a, 'href')} is in the zip`)
  })

  test('minutes.md has a table of contents in schedule order, each entry leading to its pad', async () => {
    const md = unzip(await call(server, 'GET', `/api/events/${event.slug}/export`)).get('minutes.md')!
    const toc = [...md.matchAll(/^\d+\. \[([^\]]+)\]\(#([^)]+)\)/gm)]
    assert.deepEqual(
      toc.map((m) => m[1]),
      scheduled().map((p) => p.pad.title),
    )
    const order = scheduled().map((p) => md.indexOf(p.word))
    assert.ok(
      order.every((at) => at > 0),
      'every pad is in the combined minutes',
    )
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      'in schedule order',
    )
    for (const [i, m] of toc.entries()) {
      const anchor = md.indexOf(`id="${m[2]}"`)
      assert.ok(anchor > 0, `anchor ${m[2]}`)
      assert.ok(anchor < order[i]!, `${m[2]} leads to ${m[1]}`)
      const nextStart = order[i + 1] ?? md.length
      assert.ok(md.indexOf(`id="${m[2]}"`) < nextStart)
    }
  })

  test('minutes.txt is one email-ready text: 72 columns, every pad in it', async () => {
    const txt = unzip(await call(server, 'GET', `/api/events/${event.slug}/export`)).get('minutes.txt')!
    assertEmailReady(txt, pads.map((p) => p.text).join('\n'), 'minutes.txt')
    const order = scheduled().map((p) => txt.indexOf(p.word))
    assert.ok(
      order.every((at) => at >= 0),
      'every pad is in it',
    )
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      'in schedule order',
    )
  })
})

// ==================================================================================================

describe('action items and decisions across an event', () => {
  let server: TestServer
  let event: EventInfo
  let sched: PadInfo
  let rt: PadInfo
  let docs: PadInfo
  const clients: Client[] = []

  const SCHED = [
    '# Scheduler BoF',
    '',
    'ACTION(Alice): post the sched_ext benchmark results',
    'ACTION: find a venue for the next call',
    '- [ ] @bob review the EEVDF lag patch',
    '- [x] @Alice rebase the series on v6.20',
    'DECISION: sched_ext stays out of tree until the API is frozen',
    '- ACTION(carol): collect latency traces from the fleet',
    '1. DECISION: drop the legacy knob',
    '* [ ] @BOB write the documentation',
    'ACTION(Alice):',
    'ACTION:   ',
    'DECISION:',
    '- [ ] @carol',
    '```python',
    'ACTION(mallory): this is code, not an action',
    'DECISION: neither is this',
    '```',
    '~~~',
    '- [ ] @mallory nor this',
    '~~~',
    '',
  ].join('\n')
  const RT = [
    '# Real-time MC',
    '',
    'ACTION(alice): check the PREEMPT_RT numbers',
    'DECISION: merge the printk series',
    '',
  ].join('\r\n')
  // How to write a marker, shown in a longer fence: the inner ``` lines are the example's own.
  const DOCS = [
    '# Documentation BoF',
    '',
    'To record an action, write:',
    '',
    '````markdown',
    '```',
    'ACTION(name): what to do',
    '```',
    '````',
    '',
    'DECISION: put the marker syntax in the README',
    '',
  ].join('\n')

  interface Item {
    padId: string
    padTitle: string
    line: number
    text: string
    done?: boolean
  }
  interface Rollup {
    actionsByOwner: { owner: string; items: Item[] }[]
    decisions: Item[]
  }

  before(async () => {
    server = await startTestServer()
    event = await createEvent(server, {
      slug: 'osseu-2026',
      name: 'OSS Europe 2026',
      timezone: 'Europe/Amsterdam',
    })
    sched = await createPad(
      server,
      { title: 'Scheduler BoF', kind: 'bof', startsAt: '2026-10-01T09:00:00' },
      event.slug,
    )
    rt = await createPad(
      server,
      { title: 'Real-time MC', kind: 'mini-summit', startsAt: '2026-10-01T14:00:00' },
      event.slug,
    )
    // In an event of its own, so the roll-up of the first one does not depend on it.
    await createEvent(server, { slug: 'docs-day', name: 'Docs day', timezone: 'UTC' })
    docs = await createPad(
      server,
      { title: 'Documentation BoF', kind: 'bof', startsAt: '2026-10-02T09:00:00' },
      'docs-day',
    )
    for (const [pad, text] of [
      [sched, SCHED],
      [rt, RT],
      [docs, DOCS],
    ] as const) {
      const client = await join(server, pad.id, 'Zoë')
      clients.push(client)
      typeOver(client, text)
      await serverHas(server, pad.id, text)
    }
  })

  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
  })

  const rollup = async (slug = event.slug) =>
    ok<Rollup>(await call(server, 'GET', `/api/events/${slug}/outcomes`))
  const summary = (items: Item[]) =>
    items.map((i) => `${i.padTitle}:${i.line}:${i.done ? 'done ' : ''}${i.text}`)

  test('finds every marker form, grouped by owner whatever the case, unassigned last', async () => {
    const { actionsByOwner } = await rollup()
    const groups = new Map(actionsByOwner.map((g) => [g.owner.toLowerCase(), summary(g.items)]))
    assert.deepEqual(
      actionsByOwner.map((g) => g.owner.toLowerCase()),
      ['alice', 'bob', 'carol', 'unassigned'],
    )
    assert.deepEqual(groups.get('alice'), [
      'Scheduler BoF:3:post the sched_ext benchmark results',
      'Scheduler BoF:6:done rebase the series on v6.20',
      'Real-time MC:3:check the PREEMPT_RT numbers',
    ])
    assert.deepEqual(groups.get('bob'), [
      'Scheduler BoF:5:review the EEVDF lag patch',
      'Scheduler BoF:10:write the documentation',
    ])
    assert.deepEqual(groups.get('carol'), ['Scheduler BoF:8:collect latency traces from the fleet'])
    assert.deepEqual(groups.get('unassigned'), ['Scheduler BoF:4:find a venue for the next call'])
  })

  test('collects decisions, including after a list number', async () => {
    const { decisions } = await rollup()
    assert.deepEqual(summary(decisions), [
      'Scheduler BoF:7:sched_ext stays out of tree until the API is frozen',
      'Scheduler BoF:9:drop the legacy knob',
      'Real-time MC:4:merge the printk series',
    ])
  })

  test('ignores markers in code blocks and markers with nothing after them', async () => {
    const { actionsByOwner, decisions } = await rollup()
    const all = [...actionsByOwner.flatMap((g) => g.items), ...decisions]
    assert.ok(!actionsByOwner.some((g) => /mallory/i.test(g.owner)), 'code is not an action')
    assert.ok(!all.some((i) => /neither is this|nor this/.test(i.text)), 'code is not a decision')
    assert.ok(
      all.every((i) => i.text.trim().length > 0),
      'no empty items',
    )
  })

  test('each item leads back to its pad and line', async () => {
    const { actionsByOwner, decisions } = await rollup()
    const texts = new Map([
      [sched.id, SCHED],
      [rt.id, RT],
      [docs.id, DOCS],
    ])
    for (const item of [...actionsByOwner.flatMap((g) => g.items), ...decisions]) {
      const line = texts.get(item.padId)?.split(/\r?\n/)[item.line - 1]
      assert.ok(line?.includes(item.text), `${item.padId} line ${item.line} is "${line}"`)
    }
  })

  test('the outcomes page shows the same, with links to the pads', async () => {
    const doc = parse((await call(server, 'GET', `/e/${event.slug}/outcomes`)).text)
    const owners = byTag(doc, 'h3').map(textOf)
    assert.deepEqual(
      owners.map((o) => o.toLowerCase()),
      ['alice', 'bob', 'carol', 'unassigned'],
    )
    const items = byTag(doc, 'li')
    const review = items.find((li) => textOf(li).includes('review the EEVDF lag patch'))
    assert.ok(review, 'the action is listed')
    assert.ok(
      // At its line: the editor opens there (issue 27).
      byTag(review, 'a').some(
        (a) =>
          /^\/p\/[^#]+#L\d+$/.test(attr(a, 'href') ?? '') && attr(a, 'href')!.startsWith(`/p/${sched.id}#L`),
      ),
      'with a link to its line in its pad',
    )
    const done = items.find((li) => textOf(li).includes('rebase the series'))
    assert.ok(done && byTag(done, 's').length === 1, 'a done item is struck through')
    const printk = items.find((li) => textOf(li).includes('merge the printk series'))
    assert.ok(printk && byTag(printk, 'a').some((a) => (attr(a, 'href') ?? '').startsWith(`/p/${rt.id}#L`)))
  })

  test('an example inside a longer fence is not an action item (a fence closes only with its own length)', async () => {
    // What readers of the minutes see: the example is code.
    const html = parse((await exportPad(server, docs.id, 'html')).text)
    assert.ok(byTag(html, 'pre').some((pre) => textOf(pre).includes('ACTION(name): what to do')))
    const { actionsByOwner, decisions } = await rollup('docs-day')
    const docsItems = actionsByOwner.flatMap((g) => g.items)
    assert.deepEqual(summary(decisions), ['Documentation BoF:11:put the marker syntax in the README'])
    assert.deepEqual(
      summary(docsItems),
      [],
      'the example in the ```` block is code, as the HTML export shows it',
    )
  })
})

// ==================================================================================================

describe('search', () => {
  let server: TestServer
  const clients: Client[] = []

  before(async () => {
    server = await startTestServer()
  })

  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
  })

  async function padWith(fields: Record<string, unknown>, event?: string) {
    const pad = await createPad(server, fields, event)
    const client = await join(server, pad.id, 'Stéphane')
    clients.push(client)
    return { pad, client }
  }

  const waitForHits = (query: string, n: number) =>
    eventually(`${n} hits for ${query}`, async () => (await searchHits(server, query)).length === n, 30_000)

  test('finds a word typed a moment ago, highlighted, with the rest of the snippet escaped', async () => {
    const { pad, client } = await padWith({ title: 'Allocator call', kind: 'meeting' })
    typeAtEnd(client, '\nThe <b>zygomorphic</b> allocator & "friends" from Stéphane\n')
    await waitForHits('q=zygomorphic', 1)
    const [hit] = await searchHits(server, 'q=zygomorphic')
    assert.equal(hit!.padId, pad.id)
    assert.equal(hit!.title, 'Allocator call')
    assert.match(hit!.snippet, /<mark>zygomorphic<\/mark>/)
    assert.ok(hit!.snippet.includes('&lt;b&gt;'), hit!.snippet)
    assert.ok(hit!.snippet.includes('&amp;'), hit!.snippet)
    assert.ok(!/<(?!\/?mark>)/.test(hit!.snippet), `only <mark> is markup: ${hit!.snippet}`)
    // Accents do not matter to someone searching.
    await waitForHits('q=stephane%20zygomorph', 1)
  })

  test('the /search page shows the hit with the word marked and the typed <b> as text', async () => {
    // Its own pad, so the test stands alone (run by name, or after a failing neighbour).
    const { client } = await padWith({ title: 'Allocator page', kind: 'meeting' })
    typeAtEnd(client, '\nThe <b>zygomorphic</b> page & friends\n')
    await eventually(
      'the word in the index',
      async () => (await searchHits(server, 'q=zygomorphic')).length >= 1,
      30_000,
    )
    const doc = parse((await call(server, 'GET', '/search?q=zygomorphic')).text)
    const snippet = [...elements(doc)].find((e) => attr(e, 'class') === 'snippet')
    assert.ok(snippet, 'a snippet')
    assert.deepEqual(byTag(snippet, 'mark').map(textOf), ['zygomorphic'])
    assert.equal(byTag(snippet, 'b').length, 0, 'no <b> element')
    assert.ok(textOf(snippet).includes('<b>zygomorphic</b>'), textOf(snippet))
    // A hostile query comes back as the search box's value, never as markup.
    const hostile = '<script>alert(1)</script>'
    const page = parse((await call(server, 'GET', `/search?q=${encodeURIComponent(hostile)}`)).text)
    const box = byTag(page, 'input').find((i) => attr(i, 'name') === 'q')
    assert.equal(box && attr(box, 'value'), hostile)
    for (const script of byTag(page, 'script')) {
      assert.equal(textOf(script), '', 'no inline script')
      assert.match(attr(script, 'src') ?? '', /^\/assets\//)
    }
  })

  test('no longer finds a word deleted from the pad', async () => {
    const { client } = await padWith({ title: 'Typo pad', kind: 'meeting' })
    typeAtEnd(client, '\nwe discussed the quixotically named allocator\n')
    await waitForHits('q=quixotically', 1)
    deleteText(client, 'quixotically ')
    await waitForHits('q=quixotically', 0)
    await waitForHits('q=named%20allocator', 1)
  })

  test('filters by event and by kind', async () => {
    await createEvent(server, { slug: 'ev-a', name: 'Event A', timezone: 'UTC' })
    await createEvent(server, { slug: 'ev-b', name: 'Event B', timezone: 'UTC' })
    const a = await padWith({ title: 'A talk', kind: 'talk' }, 'ev-a')
    const b = await padWith({ title: 'B BoF', kind: 'bof' }, 'ev-b')
    const c = await padWith({ title: 'B talk', kind: 'talk' }, 'ev-b')
    for (const p of [a, b, c]) typeAtEnd(p.client, '\nquokka sightings\n')
    await waitForHits('q=quokka', 3)
    const ids = async (query: string) => (await searchHits(server, query)).map((h) => h.padId).sort()
    assert.deepEqual(await ids('q=quokka&event=ev-a'), [a.pad.id])
    assert.deepEqual(await ids('q=quokka&event=ev-b'), [b.pad.id, c.pad.id].sort())
    assert.deepEqual(await ids('q=quokka&kind=talk'), [a.pad.id, c.pad.id].sort())
    assert.deepEqual(await ids('q=quokka&event=ev-b&kind=talk'), [c.pad.id])
    assert.deepEqual(await ids('q=quokka&event=ev-a&kind=bof'), [])
    const page = parse((await call(server, 'GET', '/search?q=quokka&event=ev-b&kind=bof')).text)
    const titles = byTag(page, 'a')
      .filter((e) => attr(e, 'class') === 'title')
      .map(textOf)
    assert.deepEqual(titles, ['B BoF'])
    assertApiError(await call(server, 'GET', '/api/search?q=quokka&kind=keynote'), 400)
  })

  test('finds nothing of a deleted pad, and keeps no row of it', async () => {
    const { pad, client } = await padWith({ title: 'Doomed pad', kind: 'meeting' })
    typeAtEnd(client, '\nthe xylophonist presented\n')
    await waitForHits('q=xylophonist', 1)
    const pk = (await padPk(server, pad.id))!
    assert.equal((await call(server, 'DELETE', `/api/pads/${pad.id}`)).status, 204)
    await waitForHits('q=xylophonist', 0)
    await waitForHits('q=doomed', 0)
    assertApiError(await exportPad(server, pad.id, 'md'), 404)
    for (const table of ['updates', 'snapshots', 'pad_search'] as const)
      assert.equal(await countPadRows(server, table, pk), 0, table)
  })

  test('finds nothing of a deleted event’s pads, and keeps no row of them', async () => {
    await createEvent(server, { slug: 'doomed-event', name: 'Doomed event', timezone: 'UTC' })
    const one = await padWith({ title: 'First doomed', kind: 'talk' }, 'doomed-event')
    const two = await padWith({ title: 'Second doomed', kind: 'bof' }, 'doomed-event')
    typeAtEnd(one.client, '\nthe marimbaphone demo\n')
    typeAtEnd(two.client, '\nmarimbaphone questions\n')
    await waitForHits('q=marimbaphone', 2)
    const pks = [(await padPk(server, one.pad.id))!, (await padPk(server, two.pad.id))!]
    assert.deepEqual(ok(await call(server, 'DELETE', '/api/events/doomed-event')), { deletedPads: 2 })
    await waitForHits('q=marimbaphone', 0)
    assert.deepEqual(await searchHits(server, 'q=marimbaphone&event=doomed-event'), [])
    for (const pk of pks) {
      for (const table of ['updates', 'snapshots', 'pad_search'] as const)
        assert.equal(await countPadRows(server, table, pk), 0, table)
    }
  })
})

// ==================================================================================================

describe('forget history', () => {
  let server: TestServer
  const clients: Client[] = []

  before(async () => {
    // A snapshot every few rows, so one is written while the password is still in the pad.
    server = await startTestServer({ snapshotEvery: 4 })
  })

  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
  })

  /** Every stored byte of every update and snapshot row, of every pad. */
  const logAndSnapshots = async (s: TestServer) =>
    (
      await Promise.all(
        (['updates', 'snapshots'] as const).map(async (table) =>
          (await queryRows(s, `SELECT data FROM ${table}`)).map((r) => ({ table, data: r.data as Buffer })),
        ),
      )
    ).flat()

  /**
   * Two people in a pad; one pastes a password, it sits there long enough to be indexed and
   * snapshotted, then it is deleted. Resolves with the text after the deletion.
   */
  async function pastedAndDeleted(secret: string, title: string) {
    const pad = await createPad(server, { title, kind: 'meeting' })
    const stephane = await join(server, pad.id, 'Stéphane')
    const zoe = await join(server, pad.id, 'Zoë')
    clients.push(stephane, zoe)
    typeAtEnd(stephane, '\n## Wi-Fi\n\n')
    // Pasted by mistake: one edit holding the whole password.
    typeAtEnd(stephane, `The password is ${secret}\n`)
    typeAtEnd(zoe, 'one\ntwo\nthree\nfour\nfive\n')
    await eventually('Zoë to see the password', async () => zoe.text.toString().includes(secret))
    await eventually(
      'search to find the password',
      async () => (await searchHits(server, `q=${secret}`)).length === 1,
      30_000,
    )
    deleteText(stephane, `The password is ${secret}\n`)
    const text = stephane.text.toString()
    await serverHas(server, pad.id, text)
    // And a moment later search has caught up with the deletion.
    await eventually(
      'search to forget the password',
      async () => (await searchHits(server, `q=${secret}`)).length === 0,
      30_000,
    )
    return { pad, stephane, zoe, text }
  }

  test('a pasted password leaves the log and snapshots; the text and the editors carry on; a restart agrees', async () => {
    const SECRET = 'hunter2-Zq9xK7vB'
    const { pad, stephane, zoe, text: beforeForget } = await pastedAndDeleted(SECRET, 'Infra call')
    const rows = await logAndSnapshots(server)
    assert.ok(
      rows.some((r) => r.table === 'updates' && contains(r.data, SECRET)),
      'before: the password is in the update log',
    )
    assert.ok(
      rows.some((r) => r.table === 'snapshots' && contains(r.data, SECRET)),
      'before: and in an older snapshot',
    )
    assert.deepEqual(await searchHits(server, `q=${SECRET}`), [], 'deleted text is not searchable')

    const reply = await call(server, 'POST', `/api/pads/${pad.id}/forget-history`)
    assert.deepEqual(ok(reply), { id: pad.id, history: 'forgotten' })

    for (const r of await logAndSnapshots(server))
      assert.ok(!contains(r.data, SECRET), `after: the password is in ${r.table}`)
    assert.equal(await serverText(server, pad.id), beforeForget, 'the current text is unchanged')
    assert.ok(!contains((await exportPad(server, pad.id, 'yjs')).bytes, SECRET), 'not in the Yjs backup')

    // The people still in the pad keep editing, and see each other.
    typeAtEnd(stephane, 'Password rotated by Stéphane.\n')
    typeAtEnd(zoe, 'Zoë: thanks!\n')
    await eventually(
      'both editors to hold each other’s lines',
      async () =>
        stephane.text.toString() === zoe.text.toString() &&
        stephane.text.toString().includes('Zoë: thanks!') &&
        stephane.text.toString().includes('Password rotated by Stéphane.'),
    )
    const converged = stephane.text.toString()
    assert.ok(converged.startsWith(beforeForget))
    await serverHas(server, pad.id, converged)
    // Someone opening the pad now gets the same text.
    const late = connectClient(server.wsUrl, pad.id)
    clients.push(late)
    await late.synced()
    await eventually('a late joiner to get the text', async () => late.text.toString() === converged)
    for (const r of await logAndSnapshots(server))
      assert.ok(!contains(r.data, SECRET), `after editing: in ${r.table}`)

    // A restart from the same data directory serves the same text, still without the password.
    const minutesBefore = (await exportPad(server, pad.id, 'md')).text
    assert.ok(minutesBefore.includes('Password rotated by Stéphane.'), minutesBefore)
    for (const c of clients.splice(0)) c.destroy()
    await server.close()
    server = await startTestServer({ dataDir: server.dataDir, snapshotEvery: 4 })
    assert.equal(await serverText(server, pad.id), converged)
    assert.equal((await exportPad(server, pad.id, 'md')).text, minutesBefore, 'the same minutes')
    for (const r of await logAndSnapshots(server))
      assert.ok(!contains(r.data, SECRET), `after restart: in ${r.table}`)
    assert.deepEqual(await searchHits(server, `q=${SECRET}`), [])
  })

  test('nothing of the password is left in any table of the database, search index included', async () => {
    // FTS5 prefix-compresses terms against their neighbours; no other word of this pad starts
    // with "q", so the indexed term "qx7plm3r" would be stored whole, and found.
    const SECRET = 'swordfish-Qx7pLm3R'
    const { pad } = await pastedAndDeleted(SECRET, 'Ops call')
    assert.equal((await call(server, 'POST', `/api/pads/${pad.id}/forget-history`)).status, 200)
    // FTS5 (and a tsvector) stores terms lowercased and split at the dash: look for the rarer half
    // as indexed too.
    const needles = [SECRET, SECRET.split('-')[1]!.toLowerCase()]
    const holders = new Set<string>()
    for (const name of await tableNames(server)) {
      for (const bytes of await tableValues(server, name))
        if (needles.some((n) => contains(bytes, n))) holders.add(name)
    }
    assert.deepEqual([...holders], [], 'tables still holding the password after forget-history')
  })
})
