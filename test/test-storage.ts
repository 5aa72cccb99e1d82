/**
 * The storage engine test servers run on: SQLite in their data dir (the default), or, with
 * SUMMITPAD_TEST_STORAGE=postgres, PostgreSQL: each data dir gets a database of its own, made on
 * first use, so a server restarted on the same data dir (in this process or as a child process,
 * server-process.ts) finds its pads again, as it would in its SQLite file.
 *
 * The PostgreSQL server is SUMMITPAD_TEST_POSTGRES_URL's when set (a database there to connect to
 * for CREATE DATABASE: suites-on-postgres.test.ts starts one server for all its child runs), else
 * this process's own (postgres.ts), started on first use.
 */
import pg from 'pg'
import { testPostgres } from './postgres.ts'

export type TestEngine = 'sqlite' | 'postgres'

/**
 * The engine SUMMITPAD_TEST_STORAGE asks for (anything but "postgres" is SQLite).
 * SUMMITPAD_TEST_PAD_LOG=postgres, which once put only the rooms' log there, means the same.
 */
export const TEST_ENGINE: TestEngine =
  process.env.SUMMITPAD_TEST_STORAGE === 'postgres' || process.env.SUMMITPAD_TEST_PAD_LOG === 'postgres'
    ? 'postgres'
    : 'sqlite'

export const onPostgres = TEST_ENGINE === 'postgres'

/**
 * Printed once a test process has made its first database: suites-on-postgres.test.ts checks
 * that its children really ran servers on PostgreSQL.
 */
export const ON_POSTGRES_LINE = 'test servers on PostgreSQL (SUMMITPAD_TEST_STORAGE=postgres)'

const databaseOfDataDir = new Map<string, Promise<string>>()
let created = 0
let announced = false

/**
 * The DATABASE_URL of a server on `dataDir`: null on SQLite; on PostgreSQL the same database for
 * the same data dir, a fresh one for a new data dir.
 */
export function testDatabaseUrl(dataDir: string): Promise<string | null> {
  if (!onPostgres) return Promise.resolve(null)
  let url = databaseOfDataDir.get(dataDir)
  if (url === undefined) {
    url = freshDatabase()
    // A failed CREATE is not remembered: the next server on the data dir tries again.
    url.catch(() => databaseOfDataDir.delete(dataDir))
    databaseOfDataDir.set(dataDir, url)
  }
  return url
}

/** An empty database of its own on the test PostgreSQL server. */
export async function freshDatabase(): Promise<string> {
  if (!announced) {
    announced = true
    console.log(ON_POSTGRES_LINE)
  }
  const given = process.env.SUMMITPAD_TEST_POSTGRES_URL
  if (!given) return (await testPostgres()).freshDatabase()
  // Several child processes share the server: their pid keeps the names apart.
  const name = `suite_${process.pid}_${++created}`
  const admin = new pg.Client({ connectionString: given })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(given)
  url.pathname = `/${name}`
  return url.toString()
}
