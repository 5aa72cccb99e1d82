/**
 * Array helpers that never spread an array into a call's arguments. `out.push(...lines)`,
 * `Math.max(...xs)` and `String.fromCharCode(...bytes)` put every element on the stack: past
 * ~65k–120k elements (V8's argument limit, lower when the stack is deeper) they throw a
 * RangeError, so an ordinary pad of 100,000 short paragraphs made its export answer 500.
 * test/hostile.test.ts scans server/, shared/ and client/ so such spreads cannot come back.
 */

/** Appends every item to `into`, one at a time; returns `into`. */
export function pushAll<T>(into: T[], items: Iterable<T>): T[] {
  for (const item of items) into.push(item)
  return into
}

/** The largest of `values`, or `floor` when there is none larger (-Infinity by default). */
export function maxOf(values: Iterable<number>, floor = Number.NEGATIVE_INFINITY): number {
  let max = floor
  for (const v of values) if (v > max) max = v
  return max
}
