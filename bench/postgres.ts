/**
 * The benchmark's PostgreSQL: the same private server the tests start (test/postgres.ts, imported
 * from there rather than copied: Debian's package, stock `initdb` into a temp dir, `pg_ctl` on a
 * free port, loopback only, stopped when the benchmark exits), started on first use.
 *
 * A Summitpad on PostgreSQL gets one database per data directory: a fresh server (a new temp dir)
 * starts on an empty database, as a fresh SQLite server starts on an empty file, and a restart on
 * the same directory (kill -9, cold load) finds the same database again.
 */
import fs from 'node:fs'
import pg from 'pg'
import { testPostgres } from '../test/postgres.ts'
import { CLOCK_TICKS_PER_SECOND } from './metrics.ts'

const databases = new Map<string, Promise<string>>()

/** The DATABASE_URL of the database that belongs to `dataDir` (made empty on first use). */
export function databaseFor(dataDir: string): Promise<string> {
  let url = databases.get(dataDir)
  if (!url) {
    url = testPostgres().then((server) => server.freshDatabase())
    databases.set(dataDir, url)
  }
  return url
}

/** The server settings a reader of the results needs, as the running server reports them. */
const REPORTED_SETTINGS = [
  'server_version',
  'shared_buffers',
  'max_connections',
  'fsync',
  'synchronous_commit',
  'wal_sync_method',
  'wal_level',
  'full_page_writes',
  'max_wal_size',
  'checkpoint_timeout',
  'commit_delay',
] as const

export interface PostgresInfo {
  settings: Record<string, string>
  /** How long initdb + start took, ms. */
  startMs: number
}

export async function postgresInfo(): Promise<PostgresInfo> {
  const server = await testPostgres()
  const client = new pg.Client({ connectionString: server.url('postgres') })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string; value: string }>(
      'SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1::text[])',
      [[...REPORTED_SETTINGS]],
    )
    const settings: Record<string, string> = {}
    for (const name of REPORTED_SETTINGS) {
      const row = rows.find((r) => r.name === name)
      if (row) settings[name] = row.value
    }
    return { settings, startMs: server.startMs }
  } finally {
    await client.end()
  }
}

function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

let postmaster: Promise<number> | null = null

/** The PostgreSQL server's main process: the parent of any backend. */
function postmasterPid(): Promise<number> {
  postmaster ??= (async () => {
    const server = await testPostgres()
    const client = new pg.Client({ connectionString: server.url('postgres') })
    await client.connect()
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const fields = statFields(rows[0]!.pid)
      if (!fields) throw new Error('cannot read the backend process of the benchmark PostgreSQL')
      return Number(fields[1])
    } finally {
      await client.end()
    }
  })()
  return postmaster
}

/**
 * CPU seconds the whole PostgreSQL server has used so far: the postmaster (with the children it
 * has reaped: backends that ended) and every process it runs now (backends, WAL writer,
 * checkpointer…). Its work for a Summitpad on PostgreSQL, which the server's own CPU leaves out.
 */
export async function postgresCpuSeconds(): Promise<number> {
  const main = await postmasterPid()
  let ticks = 0
  const own = statFields(main)
  if (own) ticks += Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const fields = statFields(Number(entry))
    if (fields && Number(fields[1]) === main) ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / CLOCK_TICKS_PER_SECOND
}
