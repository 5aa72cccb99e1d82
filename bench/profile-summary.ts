/**
 * Reads V8 CPU profiles (`node --cpu-prof`, written by `npm run bench -- --profile` into
 * bench/out/profiles) and prints where the time went: self time by function, and the total
 * (inclusive) time of the functions under a name filter.
 *
 *   node --import tsx bench/profile-summary.ts bench/out/profiles/CPU.*.cpuprofile [--top=30] [--match=room.ts] [--under=open]
 *
 * `--under=text` keeps only the samples with a caller whose name contains `text` (e.g. the load of
 * a pad, `open rooms.ts`, apart from the same functions called at startup).
 */
import fs from 'node:fs'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const frameName = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame
  const file = url ? path.basename(url.replace(/^file:\/\//, '')) : ''
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`
}

function summarize(file: string, top: number, match: string | undefined, under: string | undefined): void {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const totalUs = profile.endTime - profile.startTime
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const hasCaller = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (frameName(byId.get(at)!).includes(under!)) return true
    }
    return false
  }
  for (const [id, us] of selfUs) {
    if (under && !hasCaller(id)) continue
    const node = byId.get(id)!
    const name = frameName(node)
    self.set(name, (self.get(name) ?? 0) + us)
    // Inclusive: count once per distinct name on the stack.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = frameName(byId.get(at)!)
      if (seen.has(n)) continue
      seen.add(n)
      inclusive.set(n, (inclusive.get(n) ?? 0) + us)
    }
  }
  const idle = [...self].filter(([n]) => n.startsWith('(idle)')).reduce((a, [, us]) => a + us, 0)
  console.log(
    `\n${file}: ${(totalUs / 1e6).toFixed(2)} s profiled, ${((totalUs - idle) / 1e6).toFixed(2)} s busy`,
  )
  const show = (title: string, rows: [string, number][]) => {
    console.log(`\n  ${title}`)
    for (const [name, us] of rows.slice(0, top)) {
      console.log(
        `  ${(us / 1000).toFixed(1).padStart(9)} ms ${((us / totalUs) * 100).toFixed(1).padStart(5)} %  ${name}`,
      )
    }
  }
  show(
    'self time',
    [...self].sort((a, b) => b[1] - a[1]),
  )
  const filtered = [...inclusive]
    .filter(([n]) => (match ? n.includes(match) : true))
    .sort((a, b) => b[1] - a[1])
  show(`inclusive time${match ? ` (matching "${match}")` : ''}`, filtered)
}

const args = process.argv.slice(2)
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 30)
const match = args.find((a) => a.startsWith('--match='))?.slice(8)
const under = args.find((a) => a.startsWith('--under='))?.slice(8)
const files = args.filter((a) => !a.startsWith('--'))
if (files.length === 0) {
  console.error(
    'usage: node --import tsx bench/profile-summary.ts <file.cpuprofile>... [--top=30] [--match=text]',
  )
  process.exit(2)
}
for (const file of files) summarize(file, top, match, under)
