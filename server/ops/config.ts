/**
 * Server configuration: every knob with its default, read once from the environment by the entry
 * point and passed down. Nothing else reads `process.env`.
 */
import path from 'node:path'
import { parseAllowedHosts } from '../access/host-check.ts'
import { parseAllowedOrigins } from '../access/origin-check.ts'
import { parseTrustProxy, type TrustProxySetting } from '../access/trusted-proxies.ts'

export type Durability = 'normal' | 'full'

export interface Config {
  port: number
  host: string
  /** Directory holding the SQLite database; created on first start. */
  dataDir: string
  /**
   * DATABASE_URL: a PostgreSQL connection string (postgres:// or postgresql://) selects PostgreSQL
   * instead of SQLite in `dataDir`; null = SQLite.
   */
  databaseUrl: string | null
  logLevel: string
  /** `full` = SQLite synchronous=FULL: survives power loss. `normal` survives a process crash. */
  durability: Durability
  /**
   * Largest websocket frame accepted. A reconnecting client's sync step 2 can carry the whole pad,
   * so this must exceed the largest pad we allow (maxPadBytes), with room for framing: + 1 MiB.
   */
  maxFrameBytes: number
  /** Write a compacted snapshot after this many log rows, so a load replays a bounded tail. */
  snapshotEvery: number
  /** Keep a pad in memory this long after its last client leaves: reconnects after a blip are free. */
  unloadDelayMs: number
  /**
   * Ping every socket this often; one that has not answered the previous ping is dead (half-open
   * after a laptop sleeps or leaves the Wi-Fi) and is terminated.
   */
  pingIntervalMs: number
  /** Give up a graceful shutdown after this long and exit anyway. */
  shutdownTimeoutMs: number
  /**
   * Largest pad state. Hours of minutes are a few hundred KiB; 16 MiB only stops a runaway script
   * or a pasted binary from bloating every snapshot, export and client. The update that would pass
   * it is rejected whole.
   */
  maxPadBytes: number
  /**
   * Messages per second one socket may send, and the burst it may save up. Fast typing is ~15/s
   * and a reconnect sends a handful; a flooding socket is slowed (we stop reading it), then closed.
   */
  messageRate: number
  messageBurst: number
  /** A socket kept throttled this long without pause is flooding, not typing: it is closed. */
  throttleCloseMs: number
  /**
   * A socket with more than 1 MiB unsent (connection.ts, UNSENT_PAUSE_BYTES) is not served until
   * it reads; one whose unsent bytes have not shrunk for this long is closed (4001, the stock
   * client reconnects). 15 s: a laptop on bad Wi-Fi still takes some bytes in that time; one that
   * takes none is gone (the ping would find it only after 30-60 s) or never reads.
   */
  stalledReaderCloseMs: number
  /**
   * Open sockets per client address. A venue's Wi-Fi puts everyone behind one NAT address: 1,000
   * people × 2 devices (laptop, phone) × 1.5 pads open each (the session's, and the last one's
   * tab left open) = 3,000, + a third for sockets of people who roamed or closed a lid, kept
   * until the ping finds them dead (30–60 s) = 4,000. Each costs a file descriptor and ~13 KiB;
   * the limit stops one script from taking every descriptor the process has.
   */
  maxConnectionsPerIp: number
  /**
   * Distinct pads one address may create per minute: pads whose first content is stored, not
   * connections (a room joining a new pad creates one). A venue of 40 rooms where every session
   * starts a new pad at the same minute creates 40, and ad-hoc BoF pads a few more: 60. Random
   * names from a script would fill the disk; this slows that to one a second.
   */
  maxNewPadsPerIpPerMinute: number
  /**
   * TRUST_PROXY: the reverse proxies we run (addresses, CIDR ranges; `true` = loopback). Forwarded
   * headers are believed only on connections from them (server/trusted-proxies.ts). Off by default.
   */
  trustProxy: TrustProxySetting
  /**
   * Origins, besides the request's own Host, whose pages may open sockets and send changes
   * (ALLOWED_ORIGINS, comma-separated): for a proxy that rewrites Host. Empty by default.
   */
  allowedOrigins: string[]
  /**
   * Names this server is reached by without a proxy, besides IP addresses and localhost
   * (ALLOWED_HOSTS, comma-separated): requests for any other name are refused (DNS rebinding).
   */
  allowedHosts: string[]
  /** Largest awareness state (cursor, name, colour) of one client: a few hundred bytes in practice. */
  maxAwarenessStateBytes: number
  /**
   * Client ids one socket may introduce. A browser tab has one; echoes of other sockets' states
   * are normal and do not count. More means someone is inventing people.
   */
  maxAwarenessClientsPerSocket: number
  /**
   * Frames a socket may send before it is authorised: the stock client sends two (step 1 and
   * awareness) at once; a socket that piles up more is not waiting politely.
   */
  maxPreAuthMessages: number
  /** A socket not authorised within this time is closed (retryable: 1013). */
  authDeadlineMs: number
}

export const DEFAULTS: Config = {
  port: 1234,
  host: '127.0.0.1',
  dataDir: './data',
  databaseUrl: null,
  logLevel: 'info',
  durability: 'normal',
  maxFrameBytes: 17 * 1024 * 1024,
  snapshotEvery: 1000,
  unloadDelayMs: 10_000,
  pingIntervalMs: 30_000,
  shutdownTimeoutMs: 5_000,
  maxPadBytes: 16 * 1024 * 1024,
  messageRate: 300,
  messageBurst: 1500,
  throttleCloseMs: 10_000,
  stalledReaderCloseMs: 15_000,
  maxConnectionsPerIp: 4000,
  maxNewPadsPerIpPerMinute: 60,
  trustProxy: false,
  allowedOrigins: [],
  allowedHosts: [],
  maxAwarenessStateBytes: 8 * 1024,
  maxAwarenessClientsPerSocket: 4,
  maxPreAuthMessages: 32,
  authDeadlineMs: 10_000,
}

/** A frame must hold a whole pad (a reconnecting client's sync step 2) plus framing. */
export const FRAME_MARGIN_BYTES = 1024 * 1024

export class ConfigError extends Error {}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`)
  }
  return value
}

/**
 * DATABASE_URL, checked at start: only PostgreSQL's URL schemes select an engine; anything else
 * (a typo, a MySQL URL, a file path meant for DATA_DIR) stops the server instead of silently
 * running on SQLite.
 */
export function parseDatabaseUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === '') return null
  const value = raw.trim()
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError('DATABASE_URL must be a PostgreSQL URL, postgres://user@host:5432/database')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ConfigError(
      `DATABASE_URL must start with postgres:// or postgresql:// (got "${url.protocol}//…"); unset it to use SQLite in DATA_DIR`,
    )
  return value
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  const maxPadBytes = intFrom(env, 'MAX_PAD_BYTES', DEFAULTS.maxPadBytes, 64 * 1024, 512 * 1024 * 1024)
  const maxFrameBytes = intFrom(
    env,
    'MAX_FRAME_BYTES',
    maxPadBytes + FRAME_MARGIN_BYTES,
    64 * 1024,
    1024 * 1024 * 1024,
  )
  if (maxFrameBytes < maxPadBytes + FRAME_MARGIN_BYTES) {
    throw new ConfigError(
      `MAX_FRAME_BYTES (${maxFrameBytes}) must be at least MAX_PAD_BYTES + 1 MiB (${maxPadBytes + FRAME_MARGIN_BYTES}): a reconnecting client may send a whole pad in one frame`,
    )
  }
  const logLevel = env.LOG_LEVEL || DEFAULTS.logLevel
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  const durability = (env.DURABILITY || DEFAULTS.durability).toLowerCase()
  if (durability !== 'normal' && durability !== 'full')
    throw new ConfigError('DURABILITY must be "normal" or "full"')
  const allowedOrigins = parseAllowedOrigins(env.ALLOWED_ORIGINS)
  if (!Array.isArray(allowedOrigins)) throw new ConfigError(allowedOrigins.error)
  const trustProxy = parseTrustProxy(env.TRUST_PROXY)
  if (typeof trustProxy === 'object' && 'error' in trustProxy) throw new ConfigError(trustProxy.error)
  const allowedHosts = parseAllowedHosts(env.ALLOWED_HOSTS)
  if (!Array.isArray(allowedHosts)) throw new ConfigError(allowedHosts.error)
  return {
    port: intFrom(env, 'PORT', DEFAULTS.port, 0, 65535),
    host: env.HOST || DEFAULTS.host,
    dataDir: path.resolve(env.DATA_DIR || DEFAULTS.dataDir),
    databaseUrl: parseDatabaseUrl(env.DATABASE_URL),
    logLevel,
    durability,
    maxFrameBytes,
    snapshotEvery: intFrom(env, 'SNAPSHOT_EVERY', DEFAULTS.snapshotEvery, 10, 1_000_000),
    unloadDelayMs: intFrom(env, 'UNLOAD_DELAY_MS', DEFAULTS.unloadDelayMs, 0, 3_600_000),
    pingIntervalMs: intFrom(env, 'PING_INTERVAL_MS', DEFAULTS.pingIntervalMs, 1000, 3_600_000),
    shutdownTimeoutMs: DEFAULTS.shutdownTimeoutMs,
    maxPadBytes,
    messageRate: intFrom(env, 'MESSAGE_RATE', DEFAULTS.messageRate, 1, 1_000_000),
    messageBurst: intFrom(env, 'MESSAGE_BURST', DEFAULTS.messageBurst, 1, 10_000_000),
    throttleCloseMs: intFrom(env, 'THROTTLE_CLOSE_MS', DEFAULTS.throttleCloseMs, 100, 3_600_000),
    stalledReaderCloseMs: intFrom(
      env,
      'STALLED_READER_CLOSE_MS',
      DEFAULTS.stalledReaderCloseMs,
      100,
      3_600_000,
    ),
    maxConnectionsPerIp: intFrom(env, 'MAX_CONNECTIONS_PER_IP', DEFAULTS.maxConnectionsPerIp, 1, 1_000_000),
    maxNewPadsPerIpPerMinute: intFrom(
      env,
      'MAX_NEW_PADS_PER_IP_PER_MINUTE',
      DEFAULTS.maxNewPadsPerIpPerMinute,
      1,
      1_000_000,
    ),
    trustProxy,
    allowedOrigins,
    allowedHosts,
    maxAwarenessStateBytes: intFrom(
      env,
      'MAX_AWARENESS_STATE_BYTES',
      DEFAULTS.maxAwarenessStateBytes,
      256,
      1024 * 1024,
    ),
    maxPreAuthMessages: intFrom(env, 'MAX_PREAUTH_MESSAGES', DEFAULTS.maxPreAuthMessages, 1, 100_000),
    authDeadlineMs: intFrom(env, 'AUTH_DEADLINE_MS', DEFAULTS.authDeadlineMs, 100, 600_000),
    maxAwarenessClientsPerSocket: intFrom(
      env,
      'MAX_AWARENESS_CLIENTS_PER_SOCKET',
      DEFAULTS.maxAwarenessClientsPerSocket,
      1,
      1000,
    ),
  }
}
