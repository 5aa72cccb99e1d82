/**
 * Server configuration: every knob with its default, read once from the environment by the entry
 * point and passed down. Nothing else reads `process.env`.
 */
import path from 'node:path'

export type Durability = 'normal' | 'full'

export interface Config {
  port: number
  host: string
  /** Directory holding the SQLite database; created on first start. */
  dataDir: string
  logLevel: string
  /** `full` = SQLite synchronous=FULL: survives power loss. `normal` survives a process crash. */
  durability: Durability
  /**
   * Largest websocket frame accepted. A reconnecting client's sync step 2 can carry the whole pad,
   * so this must exceed the largest pad we allow, with room for framing: 16 MiB + 1 MiB.
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
}

export const DEFAULTS: Config = {
  port: 1234,
  host: '127.0.0.1',
  dataDir: './data',
  logLevel: 'info',
  durability: 'normal',
  maxFrameBytes: 17 * 1024 * 1024,
  snapshotEvery: 1000,
  unloadDelayMs: 10_000,
  pingIntervalMs: 30_000,
  shutdownTimeoutMs: 5_000,
}

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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  const logLevel = env.LOG_LEVEL || DEFAULTS.logLevel
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  const durability = (env.DURABILITY || DEFAULTS.durability).toLowerCase()
  if (durability !== 'normal' && durability !== 'full')
    throw new ConfigError('DURABILITY must be "normal" or "full"')
  return {
    port: intFrom(env, 'PORT', DEFAULTS.port, 0, 65535),
    host: env.HOST || DEFAULTS.host,
    dataDir: path.resolve(env.DATA_DIR || DEFAULTS.dataDir),
    logLevel,
    durability,
    maxFrameBytes: intFrom(env, 'MAX_FRAME_BYTES', DEFAULTS.maxFrameBytes, 64 * 1024, 1024 * 1024 * 1024),
    snapshotEvery: intFrom(env, 'SNAPSHOT_EVERY', DEFAULTS.snapshotEvery, 10, 1_000_000),
    unloadDelayMs: intFrom(env, 'UNLOAD_DELAY_MS', DEFAULTS.unloadDelayMs, 0, 3_600_000),
    pingIntervalMs: intFrom(env, 'PING_INTERVAL_MS', DEFAULTS.pingIntervalMs, 1000, 3_600_000),
    shutdownTimeoutMs: DEFAULTS.shutdownTimeoutMs,
  }
}
