/**
 * When a pad's snapshot is worth writing, and which of its snapshots are worth keeping.
 *
 * A snapshot is the whole pad (every keystroke's struct, deleted text included), so writing one
 * on every leave or every `snapshotEvery` rows made storage grow with the square of a session:
 * an hour of five typists logged 6.6 MiB of updates and 23.3 MiB of snapshots, and ten "connect,
 * type a character, leave" on a 15 MiB pad wrote 150 MiB. Now a snapshot is written only once the
 * log since the last one is worth a fair share of its size, and older snapshots are thinned to a
 * few per period (history stays complete: a revision replays the log from the nearest one kept).
 */

/**
 * A snapshot costs at most this many times the bytes logged since the previous one: the whole
 * snapshot series then stays within this multiple of the log (before thinning).
 */
export const SNAPSHOT_COST_RATIO = 4
/**
 * However small the edits, a tail this many times `snapshotEvery` rows is snapshotted: it bounds
 * what a load or a revision read replays (a giant pad typed into one character at a time).
 */
export const MAX_TAIL_FACTOR = 20

export interface SnapshotDebt {
  /** Log rows after the newest snapshot. */
  rowsSince: number
  /** Their bytes. */
  bytesSince: number
  /** Size of the newest snapshot (0 when none). */
  snapshotBytes: number
}

/**
 * Whether to write a snapshot now. `leaving`: the last person left (a snapshot covering the whole
 * log lets the next reader be served without rebuilding the pad), so any row count will do.
 */
export function snapshotDue(debt: SnapshotDebt, snapshotEvery: number, leaving = false): boolean {
  if (debt.rowsSince === 0) return false
  if (debt.rowsSince >= MAX_TAIL_FACTOR * snapshotEvery) return true
  if (!leaving && debt.rowsSince < snapshotEvery) return false
  return debt.bytesSince * SNAPSHOT_COST_RATIO >= debt.snapshotBytes
}

/**
 * Kept per period, by age: one per 5 minutes for a day (a revision then replays at most 5 minutes
 * of the log: ~7,500 rows, ~0.15 s, for five typists), then one per day (and see `thinned`).
 */
export const RECENT_PERIOD_MS = 5 * 60_000
export const RECENT_SPAN_MS = 24 * 3600_000
export const OLD_PERIOD_MS = 24 * 3600_000
/** The newest few are always kept: the next load and the latest revisions start from them. */
export const NEWEST_KEPT = 2

export interface SnapshotMeta {
  id: number
  upto: number
  at: number
}

/**
 * The snapshots to delete from a pad's `snapshots` (any order), keeping: the oldest (after "forget
 * history" it is the only record of what came before), the newest NEWEST_KEPT, the newest at or
 * before each checkpoint (a named revision opens fast), and the newest of each period.
 */
export function thinned(
  snapshots: readonly SnapshotMeta[],
  checkpoints: readonly number[],
  now: number,
): number[] {
  if (snapshots.length <= NEWEST_KEPT + 1) return []
  const byUpto = [...snapshots].sort((a, b) => a.upto - b.upto || a.id - b.id)
  const keep = new Set<number>([byUpto[0]!.id])
  for (const s of byUpto.slice(-NEWEST_KEPT)) keep.add(s.id)
  for (const seq of checkpoints) {
    let best: SnapshotMeta | null = null
    for (const s of byUpto) if (s.upto <= seq) best = s
    if (best) keep.add(best.id)
  }
  const newestOfPeriod = new Map<number, SnapshotMeta>()
  for (const s of byUpto) {
    const age = now - s.at
    const period =
      age < RECENT_SPAN_MS ? Math.floor(s.at / RECENT_PERIOD_MS) : -1 - Math.floor(s.at / OLD_PERIOD_MS)
    newestOfPeriod.set(period, s)
  }
  for (const s of newestOfPeriod.values()) keep.add(s.id)
  return byUpto.filter((s) => !keep.has(s.id)).map((s) => s.id)
}
