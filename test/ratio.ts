/**
 * "Is it linear?" without timing assertions: the cost of a pathological input is compared with
 * that of a plain input of the same size, and with itself at a tenth of the size. Each figure is
 * the best of several runs, each run repeating the call until it has taken a while, so a
 * scheduler hiccup on a shared machine cannot decide the ratio. Costs are CPU time, not wall
 * time: on a loaded machine (load 12 on 2 cores) a wall-clock run also counts the time the
 * process waited for a core, which made figures 5 to 7 times larger and a growth ratio of 10
 * read anywhere from 1.6 to 17; in CPU time they read as on a quiet machine.
 */
import { performance } from 'node:perf_hooks'

/** CPU milliseconds this process has used (user and system, all its threads). */
function cpuMs(): number {
  const used = process.cpuUsage()
  return (used.user + used.system) / 1000
}

/** A measured run uses at least this much CPU time (calls are repeated until it does). */
const RUN_MS = 40
/**
 * ...and lasts at most this long on the clock: on a loaded machine, where the process gets a
 * fraction of a core, a run is then shorter in CPU time (still many calls) instead of the test
 * taking load-times longer than on a quiet machine.
 */
const RUN_WALL_MS = 2 * RUN_MS
/** Runs per figure; the fastest counts. */
const RUNS = 5
/** Bounds the repetitions of a very fast call. */
const MAX_CALLS = 10_000

/**
 * CPU milliseconds per call of `f`: the best of RUNS runs, each repeating `f` for at least RUN_MS
 * of CPU time (or RUN_WALL_MS on the clock).
 * A call over `budget` ms ends the measurement at once: the verdict is already clear, and
 * repeating a call that slow would only hold the (synchronous) test longer.
 */
export function costOf(f: () => unknown, budget = Number.POSITIVE_INFINITY): number {
  let best = Number.POSITIVE_INFINITY
  for (let run = 0; run < RUNS; run++) {
    const start = cpuMs()
    const wallStart = performance.now()
    let calls = 0
    let elapsed = 0
    do {
      f()
      calls++
      elapsed = cpuMs() - start
      if (elapsed > budget) return elapsed / calls
    } while (elapsed < RUN_MS && performance.now() - wallStart < RUN_WALL_MS && calls < MAX_CALLS)
    best = Math.min(best, elapsed / calls)
  }
  return best
}

/** Repeats `unit` to exactly `bytes` characters. */
export const fill = (unit: string, bytes: number): string =>
  unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes)

export interface Linearity {
  /** Cost of the pathological input over that of the plain one, both of the large size. */
  vsPlain: number
  /** Cost of the pathological input at the large size over that at a tenth of it. */
  growth: number
  describe: string
}

/** Two doublings of the input that multiply a cost of at least LADDER_MIN_MS by more than this are super-linear (linear: 4, quadratic: 16). */
const LADDER_GROWTH = 10
const LADDER_MIN_MS = 2

/**
 * Measures `f` on `pathological(size)`, `plain(size)` and `pathological(size / 10)`. Linear work
 * gives vsPlain near 1 and growth near 10; a quadratic pattern gives growth near 100.
 *
 * It climbs to the tenth by doublings from a thousandth first, and stops at the first pair of
 * doublings that multiplies the cost by more than ten, or at the first size that already costs
 * more than MAX_VS_PLAIN times ordinary text of the full size: a quadratic pattern would
 * otherwise hold this (synchronous) test for minutes, where no test timeout can interrupt it.
 */
export function linearity(
  f: (input: string) => unknown,
  pathological: (bytes: number) => string,
  plain: (bytes: number) => string,
  size = 1_000_000,
): Linearity {
  const ordinary = plain(size)
  const tPlain = costOf(() => f(ordinary))
  const budget = MAX_VS_PLAIN * tPlain
  const ladder: { bytes: number; ms: number }[] = []
  for (let bytes = Math.ceil(size / 1000); bytes < size / 10; bytes *= 2) {
    const input = pathological(bytes)
    const ms = costOf(() => f(input), budget)
    if (ms > budget) {
      return {
        vsPlain: Number.POSITIVE_INFINITY,
        growth: Number.POSITIVE_INFINITY,
        describe: `super-linear: ${ms.toFixed(1)} ms at ${bytes} bytes, ordinary text of ${size} bytes ${tPlain.toFixed(1)} ms`,
      }
    }
    const previous = ladder.at(-2)
    ladder.push({ bytes, ms })
    if (previous && previous.ms >= LADDER_MIN_MS && ms / previous.ms > LADDER_GROWTH) {
      return {
        vsPlain: Number.POSITIVE_INFINITY,
        growth: Number.POSITIVE_INFINITY,
        describe: `super-linear: ${previous.ms.toFixed(1)} ms at ${previous.bytes} bytes, ${ms.toFixed(1)} ms at ${bytes}`,
      }
    }
  }
  const big = pathological(size)
  const small = pathological(size / 10)
  // Past the budget the verdict is clear (over MAX_VS_PLAIN): stop at the first such call.
  const tSmall = costOf(() => f(small), budget)
  const tBig = costOf(() => f(big), budget)
  return {
    vsPlain: tBig / tPlain,
    growth: tBig / tSmall,
    describe: `pathological ${tBig.toFixed(2)} ms, plain ${tPlain.toFixed(2)} ms, a tenth ${tSmall.toFixed(2)} ms`,
  }
}

/** The bounds: within 5x of plain text, and at most 15x the cost for 10x the size. */
export const MAX_VS_PLAIN = 5
export const MAX_GROWTH = 15

/**
 * The growth bound applies to inputs that cost at least a tenth of ordinary text of their size:
 * below that, a megabyte string falling out of the CPU cache moves a sub-millisecond figure by
 * more than 1.5x, and an input that cheap cannot stall anything ordinary text would not.
 */
export const GROWTH_JUDGED_ABOVE = 0.1

/** Measurements per verdict: a linear input passes if any is within bounds, a quadratic one fails them all. */
const ATTEMPTS = 3

/**
 * The two bounds, as one verdict with its reason (null when linear). A failed measurement is
 * repeated (other processes share the machine); every attempt's figures are in the reason.
 */
export function checkLinear(
  what: string,
  f: (input: string) => unknown,
  pathological: (bytes: number) => string,
  plain: (bytes: number) => string,
  size = 1_000_000,
): string | null {
  const reasons: string[] = []
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const r = linearity(f, pathological, plain, size)
    const verdict = notLinear(what, r)
    if (verdict === null) return null
    reasons.push(verdict)
    // Twice past a bound is not the machine's noise: no need to wait for another attempt.
    if (r.vsPlain > 2 * MAX_VS_PLAIN || r.growth > 2 * MAX_GROWTH) break
  }
  return reasons.join('; ')
}

/** The two bounds for one measurement (null when linear). */
export function notLinear(what: string, r: Linearity): string | null {
  if (r.vsPlain > MAX_VS_PLAIN) return `${what}: ${r.vsPlain.toFixed(1)}x ordinary text (${r.describe})`
  if (r.growth > MAX_GROWTH && r.vsPlain >= GROWTH_JUDGED_ABOVE)
    return `${what}: ${r.growth.toFixed(1)}x for 10x the size (${r.describe})`
  return null
}
