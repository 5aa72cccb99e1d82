/**
 * Picks the storage engine from the configuration: PostgreSQL when DATABASE_URL is set, else
 * SQLite in DATA_DIR (the default, with nothing to install). The PostgreSQL engine is imported
 * only when chosen, so a SQLite server never loads the `pg` client.
 */
import type { Config } from '../ops/config.ts'
import type { Logger } from '../ops/logger.ts'
import { openSqliteStorage, type Storage } from './storage.ts'

export interface OpenStorageOptions {
  /**
   * Another process (a running server) may use the database (the CLI): SQLite then leaves its
   * write-ahead log to that process at close. PostgreSQL's sessions are independent anyway.
   */
  shared?: boolean
}

export async function openStorage(
  config: Pick<Config, 'dataDir' | 'durability' | 'databaseUrl'>,
  log: Logger,
  options: OpenStorageOptions = {},
): Promise<Storage> {
  if (config.databaseUrl) {
    const { openPgStorage } = await import('./postgres/storage.ts')
    return openPgStorage({ connectionString: config.databaseUrl, log })
  }
  return openSqliteStorage({
    dataDir: config.dataDir,
    durability: config.durability,
    log,
    shared: options.shared,
  })
}

/** Where the data is, for the start line and logs: never the URL's password. */
export function describeStorage(config: Pick<Config, 'dataDir' | 'databaseUrl'>): string {
  if (!config.databaseUrl) return `data in ${config.dataDir}`
  const url = new URL(config.databaseUrl)
  return `data in PostgreSQL ${url.hostname || 'localhost'}${url.port ? `:${url.port}` : ''}${url.pathname}`
}
