/**
 * What can go wrong in the domain (meetings, minutes, history, access, untrusted files), said in
 * the domain's words. Each error has a kind (what it means), a stable `code` for scripts (the API's
 * `error.code`, e.g. "invalid_schedule") and a plain message for a person. No transport here: only
 * the HTTP layer turns a kind into a status (http/http-errors.ts), only the CLI into an exit code
 * (ops/cli-run.ts), so the same refusal reads the same through both doors.
 */

/** Every kind, for the exhaustive tables of the HTTP layer and the CLI (and their tests). */
export const DOMAIN_ERROR_KINDS = [
  'not_found',
  'conflict',
  'invalid',
  'too_large',
  'too_costly',
  'too_many',
  'busy',
  'forbidden',
  'wrong_host',
  'unsupported',
] as const

export type DomainErrorKind = (typeof DOMAIN_ERROR_KINDS)[number]

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind
  /** Stable and machine-readable: scripts branch on it, so it never changes once published. */
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** The class of one kind: `new NotFound(message)`, or `new Invalid(message, 'invalid_schedule')`. */
function kindOf<K extends DomainErrorKind>(kind: K, defaultCode: string) {
  return class extends DomainError {
    readonly kind: K = kind
    constructor(message: string, code = defaultCode) {
      super(code, message)
    }
  }
}

/** The thing asked for (event, pad, stored pad) does not exist. */
export class NotFound extends kindOf('not_found', 'not_found') {}

/** It would clash with what exists: a slug or pad name already taken. */
export class Conflict extends kindOf('conflict', 'conflict') {}

/** The input is wrong in a way its sender can fix (a backwards time range, an unreadable file). */
export class Invalid extends kindOf('invalid', 'invalid') {}

/** The input is over a size limit (bytes, or the memory reading it takes). */
export class TooLarge extends kindOf('too_large', 'too_large') {}

/** The input is small enough but takes more work than a file is allowed (a reader's time budget). */
export class TooCostly extends kindOf('too_costly', 'over_budget') {}

/** The sender (one address) did this too often lately; the same request later succeeds. */
export class TooMany extends kindOf('too_many', 'too_many') {}

/** The server cannot take this now (full queue, a backup holding the log); try again shortly. */
export class Busy extends kindOf('busy', 'busy') {}

/** The sender is known but may not do this (a request from another site's page). */
export class Forbidden extends kindOf('forbidden', 'forbidden') {}

/** This server's storage engine does not do this (a backup on an engine with its own tools). */
export class Unsupported extends kindOf('unsupported', 'unsupported') {}

/** The request named a host that is not this server (a DNS-rebinding page, a wrong vhost). */
export class WrongHost extends kindOf('wrong_host', 'unknown_host') {}

/**
 * The storage does not answer now (the database is restarting, failing over or unreachable); the
 * same request succeeds once it is back. A Busy kind of its own code: a person is told to try again
 * in a moment, and `reason` says what is wrong in an operator's words (for the log, not the reply).
 */
export class StorageUnavailable extends kindOf('busy', 'storage_unavailable') {
  readonly reason: string

  constructor(reason: string, message = 'The database is not answering; try again in a moment.') {
    super(message)
    this.reason = reason
  }
}
