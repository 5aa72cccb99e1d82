/**
 * Which pad each entry of a schedule is, on re-import. The rule (README "Re-importing a schedule"):
 *
 * 1. An entry is first looked for among the pads imported under its own id (UID, guid, id).
 *    Real calendars repeat a UID without RECURRENCE-ID (a UID per track, a session's UID on each
 *    of its days, a collision), so several entries may share one: among them, a pad whose title
 *    and start both still match is that entry's pad; the rest pair up by position, entries and
 *    pads each ordered by start. So a re-import of the same file changes nothing, and a session
 *    that moved keeps its pad (and its notes).
 * 2. An entry with no pad yet takes a still-unmatched imported pad with the same title and start
 *    (a site generator that makes fresh UIDs on every build): the pad now follows the new id.
 * 3. Anything else is new. Pads no entry took are "no longer in the schedule": kept, never deleted.
 *
 * Pure: entries and pads in, pairs out.
 */
import type { PadInfo } from './model.ts'
import type { ScheduleEntry } from './schedule.ts'

export type MatchedBy = 'id' | 'title-and-start'

export interface Match {
  entry: ScheduleEntry
  pad: PadInfo | null
  by: MatchedBy | null
}

export interface MatchResult {
  /** In the file's order. */
  matches: Match[]
  /** Imported pads of the event no entry took. */
  unmatched: PadInfo[]
}

const startMs = (pad: PadInfo): number | null => (pad.startsAt === null ? null : Date.parse(pad.startsAt))

const sameTitle = (a: string | null, b: string | null) =>
  (a ?? '').trim().replace(/\s+/g, ' ').toLowerCase() === (b ?? '').trim().replace(/\s+/g, ' ').toLowerCase()

const sameSession = (entry: ScheduleEntry, pad: PadInfo) =>
  sameTitle(entry.title, pad.title) && entry.startsAt === startMs(pad)

const byStart = (a: number | null, b: number | null) =>
  (a ?? Number.POSITIVE_INFINITY) - (b ?? Number.POSITIVE_INFINITY) || 0

function groupBy<T>(items: readonly T[], key: (item: T) => string | null): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    if (k === null) continue
    const group = groups.get(k)
    if (group) group.push(item)
    else groups.set(k, [item])
  }
  return groups
}

export function matchSchedule(entries: readonly ScheduleEntry[], pads: readonly PadInfo[]): MatchResult {
  const padOf = new Map<ScheduleEntry, { pad: PadInfo; by: MatchedBy }>()
  const taken = new Set<PadInfo>()
  const take = (entry: ScheduleEntry, pad: PadInfo, by: MatchedBy) => {
    padOf.set(entry, { pad, by })
    taken.add(pad)
  }

  // 1. By id: exact title and start first, then by position in start order.
  const padsById = groupBy(pads, (p) => p.sourceUid)
  for (const [uid, group] of groupBy(entries, (e) => e.uid)) {
    const candidates = padsById.get(uid)
    if (!candidates) continue
    const order = [...group].sort((a, b) => byStart(a.startsAt, b.startsAt))
    for (const entry of order) {
      const same = candidates.find((p) => !taken.has(p) && sameSession(entry, p))
      if (same) take(entry, same, 'id')
    }
    const rest = candidates
      .filter((p) => !taken.has(p))
      .sort((a, b) => byStart(startMs(a), startMs(b)) || a.id.localeCompare(b.id))
    for (const entry of order) {
      if (padOf.has(entry)) continue
      const next = rest.shift()
      if (!next) break
      take(entry, next, 'id')
    }
  }

  // 2. Fresh ids, same sessions: title and start.
  const free = pads.filter((p) => p.sourceUid !== null && !taken.has(p))
  for (const entry of entries) {
    if (padOf.has(entry) || entry.startsAt === null) continue
    const same = free.find((p) => !taken.has(p) && sameSession(entry, p))
    if (same) take(entry, same, 'title-and-start')
  }

  return {
    matches: entries.map((entry) => {
      const found = padOf.get(entry)
      return { entry, pad: found?.pad ?? null, by: found?.by ?? null }
    }),
    unmatched: pads.filter((p) => p.sourceUid !== null && !taken.has(p)),
  }
}
