/**
 * Whether a PostgreSQL error means "the database is not there now" (stopped, restarting, failing
 * over, unreachable, not answering) rather than "this request is wrong": the same request succeeds
 * once the database is back. Said in an operator's words (the driver's message says which address
 * and why), for /healthz (health.ts) and for the log line of a request refused meanwhile
 * (storage/unavailable.ts). Only the error's code and node-postgres' own messages are read: no
 * import of `pg` needed.
 */

/** The network said no: nothing listens, no route, no such host, the connection was cut. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
])

/** SQLSTATEs of a server going away: admin_shutdown (a stop or restart), crash_shutdown. */
const SHUTDOWN_STATES = new Set(['57P01', '57P02'])

/** cannot_connect_now: the server is starting up, shutting down or in recovery. */
const STARTING_STATE = '57P03'

/**
 * node-postgres' and pg-pool's errors for a lost or never-made connection, which carry no code:
 * a connection closed under a query, the pool's connect timeout (CONNECT_TIMEOUT_MS), a query
 * with no answer (QUERY_TIMEOUT_MS), a client whose connection already failed.
 */
const LOST_CONNECTION =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/

/** The error's `code` (a SQLSTATE or a node network code), if it has one. */
const codeOf = (err: unknown): string =>
  typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : ''

/** What is wrong when `err` says the database is not there now, in an operator's words; else null. */
export function pgUnreachable(err: unknown): string | null {
  const code = codeOf(err)
  const message = err instanceof Error ? err.message : String(err)
  if (NETWORK_CODES.has(code)) return `database unreachable: ${message}`
  if (code === STARTING_STATE) return `database starting up or shutting down: ${message}`
  if (SHUTDOWN_STATES.has(code)) return `database shut down: ${message}`
  // Class 08: connection exceptions (the connection failed or was refused at the protocol level).
  if (code.startsWith('08')) return `database connection failed: ${message}`
  if (err instanceof Error && LOST_CONNECTION.test(message)) return `database not answering: ${message}`
  return null
}
