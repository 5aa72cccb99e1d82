import fs from 'node:fs'
import { readSchedule } from './server/schedule-read.ts'
for (const f of fs.readdirSync('test/fixtures/schedules')) {
  if (f.endsWith('.md')) continue
  const t = Date.now()
  const r = readSchedule(fs.readFileSync('test/fixtures/schedules/' + f), { eventZone: 'UTC', fallbackKind: 'talk' })
  if (!r.ok) { console.log(f, r.error); continue }
  const e = r.value.entries
  const uids = new Set(e.map((x) => x.uid))
  console.log(f, r.value.format, e.length, 'uids', uids.size, Date.now() - t, 'ms', JSON.stringify(e[0]).slice(0, 400))
  console.log('  kinds', JSON.stringify(Object.entries(e.reduce((a: Record<string, number>, x) => (a[x.kind] = (a[x.kind] ?? 0) + 1, a), {}))), 'noend', e.filter(x=>x.endsAt===null).length)
}
