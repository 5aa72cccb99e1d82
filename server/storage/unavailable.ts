/**
 * Storage errors that mean "the database is not there now" (issue 24, the database failing), as
 * the domain's StorageUnavailable, whatever the engine: the HTTP layer answers them with a 503 to
 * retry instead of an internal error, without knowing any engine's error codes. Each engine says
 * which of its errors those are (PostgreSQL: postgres/unreachable.ts). SQLite's file is always
 * there; its SQLITE_BUSY is a different matter (a writer holding the lock), not recognised here.
 */
import { StorageUnavailable } from '../lib/domain-errors.ts'
import { pgUnreachable } from './postgres/unreachable.ts'

/** Causes looked through: a driver wraps one error in another (pg-pool's connect timeout). */
const MAX_CAUSE_DEPTH = 3

/** `err` as a StorageUnavailable when it (or what caused it) says the storage is unreachable; else null. */
export function storageUnavailable(err: unknown): StorageUnavailable | null {
  let at: unknown = err
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && at != null; depth++) {
    if (at instanceof StorageUnavailable) return at
    const reason = pgUnreachable(at)
    if (reason !== null) return new StorageUnavailable(reason)
    at = typeof at === 'object' && 'cause' in at ? at.cause : null
  }
  return null
}
