/**
 * No super-linear work on user text (issue 20): every pattern and hand parser that reads pad text
 * costs time linear in it. Each case compares a pathological input with ordinary meeting notes of
 * the same size (within MAX_VS_PLAIN) and with itself at a tenth of the size (within MAX_GROWTH),
 * as ratios of best-of-several costs: never absolute timings.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { minutesPage } from '../server/minutes/export-html.ts'
import { markdownToText } from '../server/minutes/export-text.ts'
import { attendeesOf, findOutcomes } from '../server/minutes/markers.ts'
import { checkLinear, fill } from './ratio.ts'

/** Ordinary minutes: headings, bullets, links, outcome markers, a code block. */
const NOTES = `## Memory cgroup BoF
Attendees: Ada, Linus, Tejun
- Ada: reclaim stalls under [PSI](https://example.org/psi) pressure, see https://lore.example.org/r/1
- Linus: *not* in 6.20; needs numbers first
ACTION(Tejun): send the deprecation patch
DECISION: cgroup v1 memory controller is deprecated
- [ ] @roman benchmark the new reclaim path
\`\`\`
echo 1 > memory.reclaim
\`\`\`
`
const notes = (bytes: number) => fill(NOTES, bytes)

function assertLinear(
  what: string,
  f: (input: string) => unknown,
  pathological: (bytes: number) => string,
  size = 1_000_000,
): void {
  assert.equal(checkLinear(what, f, pathological, notes, size), null)
}

describe('outcome markers are linear in the pad text', () => {
  test('ACTION( followed by spaces and no closing parenthesis', { timeout: 300_000 }, () => {
    assertLinear('ACTION(+spaces', findOutcomes, (n) => `ACTION(${fill(' ', n - 7)}`)
  })

  test('a marker whose line holds a lone \\r after many spaces', { timeout: 300_000 }, () => {
    assertLinear('DECISION+spaces+\\r', findOutcomes, (n) => `DECISION:${fill(' ', n - 12)}x\rx`)
    assertLinear('ACTION:+spaces+\\r', findOutcomes, (n) => `- ACTION:${fill(' ', n - 12)}x\rx`)
    assertLinear('task+separators+\\r', findOutcomes, (n) => `- [ ] @ada${fill(' ,:', n - 12)}x\rx`)
  })

  test('a fence of many backticks with a lone \\r', { timeout: 300_000 }, () => {
    assertLinear('fence+\\r', findOutcomes, (n) => `${fill('`', n - 3)}x\rx`)
  })

  test('an attendees heading or item of spaces with a lone \\r', { timeout: 300_000 }, () => {
    assertLinear('heading+spaces+\\r', attendeesOf, (n) => `#${fill(' ', n - 3)}x\r`)
    assertLinear('item+spaces+\\r', attendeesOf, (n) => `# Attendees\n-${fill(' ', n - 16)}x\rx`)
  })

  test('the markers still read as before', () => {
    const found = findOutcomes(
      'ACTION( @ada ): send it\nACTION(  ): nobody yet\r- [x] @bob,: done it\nDECISION:  ship\u2028it\n',
    )
    assert.deepEqual(
      found.actions.map((a) => [a.owner, a.text, a.done, a.line]),
      [
        ['ada', 'send it', false, 1],
        [null, 'nobody yet', false, 2],
        ['bob', 'done it', true, 3],
      ],
    )
    assert.deepEqual(found.decisions, [{ text: 'ship\u2028it', line: 4 }])
    // A lone \r ends a line, as in the editor and the exports.
    assert.deepEqual(attendeesOf('# Attendees\r- Ada\r- Linus\r# Notes\r- not a name'), ['Ada', 'Linus'])
  })
})

describe('exports are linear in the pad text', () => {
  test('txt: a paragraph of bare URLs (each becomes a footnote)', { timeout: 300_000 }, () => {
    let i = 0
    const urls = (n: number) => {
      const parts: string[] = []
      let length = 0
      while (length < n) {
        const url = `https://example.org/${i++} `
        parts.push(url)
        length += url.length
      }
      return parts.join('').slice(0, n)
    }
    assertLinear('bare URLs', (s) => markdownToText(s), urls)
  })

  test('txt and html: a heading of spaces with a lone \\r', { timeout: 300_000 }, () => {
    const heading = (n: number) => `#${fill(' ', n - 3)}x\r`
    assertLinear('txt heading', (s) => markdownToText(s), heading)
    assertLinear(
      'html heading',
      (s) => minutesPage(s, { title: 't', heading: 't', fields: [], footer: '' }),
      heading,
    )
  })

  test('txt: a table of 300,000 rows and a heading of 40,000 lines export (no stack overflow)', () => {
    const rows = `a|b\n-|-\n${'x|y\n'.repeat(300_000)}`
    const text = markdownToText(rows)
    assert.equal(text.split('\n').filter((l) => l === 'x   | y').length, 300_000)
    const heading = `# ${'word '.repeat(600_000)}`
    assert.ok(markdownToText(heading).split('\n').length > 40_000)
  })
})
