/**
 * SQLite answers in-process: an engine behind a promise-returning interface runs its synchronous
 * transaction at once and hands back the settled result (a failure as a rejected promise, never
 * a throw out of the call).
 */
export function settled<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work())
  } catch (err) {
    return Promise.reject(err)
  }
}
