/**
 * What the PostgreSQL engine guarantees beyond the storage contract, on this file's own
 * PostgreSQL (postgres.ts): migrations racing at start, a database restart under an idle pool,
 * two servers appending to one pad at once, a COMMIT whose answer never comes, deadlocks retried,
 * the round trips of an append.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { LogRow } from '../server/storage/pad-log.ts'
import { probePg } from '../server/storage/postgres/health.ts'
import { MIGRATION_LOCK_KEY, migratePg, NewerSchemaError } from '../server/storage/postgres/migrate.ts'
import { openPostgres } from '../server/storage/postgres/open.ts'
import type { PgPadLog } from '../server/storage/postgres/pad-log.ts'
import { createPgPool } from '../server/storage/postgres/pool.ts'
import { PG_MIGRATIONS } from '../server/storage/postgres/schema.ts'
import { inTransaction } from '../server/storage/postgres/transaction.ts'
import { waitFor } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let server: TestPostgres
before(async () => {
  server = await testPostgres()
  console.log(`# PostgreSQL started in ${server.startMs} ms on port ${server.port}`)
})
after(() => server.stop())

const row = (padId: string, data: number[], conn = 'c1'): LogRow => ({
  padId,
  at: Date.now(),
  conn,
  author: 'Ann',
  data: new Uint8Array(data),
})

describe('PostgreSQL engine', () => {
  test('several servers migrating an empty database at once make one schema; a newer schema is refused', async () => {
    const url = await server.freshDatabase()
    const MIGRATORS = 6
    const pools = Array.from({ length: MIGRATORS }, () => createPgPool({ connectionString: url }))
    try {
      const versions = await Promise.all(pools.map((pool) => migratePg(pool)))
      assert.deepEqual(versions, Array(MIGRATORS).fill(PG_MIGRATIONS.length))
      const pool = pools[0]!
      const schema = await pool.query('SELECT version FROM summitpad_schema')
      assert.deepEqual(schema.rows, [{ version: PG_MIGRATIONS.length }], 'one version row')
      const tables = await pool.query<{ n: number }>(
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'updates'",
      )
      assert.equal(tables.rows[0]!.n, 1)
      // A transaction-scoped lock: nothing stays held on the pooled connections afterwards.
      const held = await pool.query<{ n: number }>(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ($1::bigint & 4294967295)::oid",
        [MIGRATION_LOCK_KEY],
      )
      assert.equal(held.rows[0]!.n, 0)

      // A newer server migrated this database: this one refuses it, and changes nothing.
      await pool.query('UPDATE summitpad_schema SET version = $1', [PG_MIGRATIONS.length + 1])
      await assert.rejects(openPostgres({ connectionString: url }), (err: unknown) => {
        assert.ok(err instanceof NewerSchemaError)
        assert.match(
          err.message,
          new RegExp(`schema version ${PG_MIGRATIONS.length + 1} is newer than this server`),
        )
        return true
      })
      assert.deepEqual((await pool.query('SELECT version FROM summitpad_schema')).rows, [
        { version: PG_MIGRATIONS.length + 1 },
      ])
    } finally {
      await Promise.all(pools.map((pool) => pool.end()))
    }
  })

  test('search: a stored tsvector, accent-insensitive, prefix queries, gone with its pad', async () => {
    const storage = await openPostgres({ connectionString: await server.freshDatabase() })
    try {
      await storage.padLog.appendBatch([row('kernel', [1])])
      const pk = (await storage.pool.query<{ pk: number }>("SELECT pk FROM pads WHERE id = 'kernel'"))
        .rows[0]!.pk
      await storage.pool.query('INSERT INTO pad_search (pad, title, body) VALUES ($1, $2, $3)', [
        pk,
        'Réseau du noyau',
        'Le schéma de mémoire partagée',
      ])
      const find = async (query: string) =>
        (
          await storage.pool.query<{ id: string }>(
            `SELECT p.id FROM pad_search s JOIN pads p ON p.pk = s.pad
             WHERE s.words @@ to_tsquery('simple', summitpad_unaccent($1))`,
            [query],
          )
        ).rows.map((r) => r.id)
      assert.deepEqual(await find('reseau & memoire'), ['kernel'], 'without accents')
      assert.deepEqual(await find('Schéma'), ['kernel'], 'with accents, any case')
      assert.deepEqual(await find('parta:*'), ['kernel'], 'a prefix')
      assert.deepEqual(await find('absent'), [])
      const plan = await storage.pool.query(
        "EXPLAIN SELECT pad FROM pad_search WHERE words @@ to_tsquery('simple', 'x')",
      )
      assert.ok(plan.rows.length > 0)
      const indexes = await storage.pool.query<{ indexdef: string }>(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'pad_search' AND indexname = 'pad_search_words'",
      )
      assert.match(indexes.rows[0]!.indexdef, /USING gin \(words\)/)
      await storage.padLog.delete('kernel')
      assert.equal((await storage.pool.query('SELECT 1 FROM pad_search')).rowCount, 0, 'cascaded')
    } finally {
      await storage.close()
    }
  })

  test('every session commits synchronously and ends a transaction left idle, whatever the database defaults', async () => {
    const url = await server.freshDatabase()
    const admin = createPgPool({ connectionString: url })
    await admin.query(`ALTER DATABASE ${new URL(url).pathname.slice(1)} SET synchronous_commit = off`)
    await admin.end()
    const storage = await openPostgres({ connectionString: url })
    try {
      const { rows } = await storage.pool.query<Record<string, string>>(
        "SELECT current_setting('synchronous_commit') AS sync, current_setting('idle_in_transaction_session_timeout') AS idle",
      )
      assert.deepEqual(rows[0], { sync: 'on', idle: '30s' })
    } finally {
      await storage.close()
    }
  })

  test('writer claims within one batch: the first claim of a client id stands, as in SQLite', async () => {
    const storage = await openPostgres({ connectionString: await server.freshDatabase() })
    try {
      await storage.padLog.appendBatch([
        { ...row('w', [1]), claims: [7], writer: 'aa'.repeat(32) },
        { ...row('w', [2]), claims: [7, 8], writer: 'bb'.repeat(32) },
        { ...row('v', [3]), claims: [7], writer: 'cc'.repeat(32) },
      ])
      const writers = (await storage.padLog.load('w'))!.writers
      assert.deepEqual(
        [...writers].sort((a, b) => a[0] - b[0]),
        [
          [7, 'aa'.repeat(32)],
          [8, 'bb'.repeat(32)],
        ],
      )
      assert.deepEqual(
        [...(await storage.padLog.load('v'))!.writers],
        [[7, 'cc'.repeat(32)]],
        'claims are per pad',
      )
    } finally {
      await storage.close()
    }
  })

  test("an append of many rows, pads and claims is three round trips (BEGIN with the locks, one statement, COMMIT), and a pad's load one", async () => {
    // Each round trip waits for the database's process to be scheduled: on a busy host that, not
    // the work, is what an append's latency (and every keystroke's broadcast behind it) is made of.
    const storage = await openPostgres({ connectionString: await server.freshDatabase() })
    try {
      await storage.padLog.appendBatch([row('a', [0])])
      const sent: string[] = []
      const counted = new WeakSet<object>()
      storage.pool.on('acquire', (client) => {
        if (counted.has(client)) return
        counted.add(client)
        const query = client.query.bind(client) as (...args: unknown[]) => unknown
        client.query = ((...args: unknown[]) => {
          const text = args[0]
          sent.push(typeof text === 'string' ? text : String((text as { text?: string }).text))
          return query(...args)
        }) as typeof client.query
      })
      const rows = Array.from({ length: 40 }, (_, i) => ({
        ...row(['a', 'b', 'c'][i % 3]!, [i]),
        claims: [i],
        writer: 'ab'.repeat(32),
      }))
      const seqs = await storage.padLog.appendBatch(rows)
      // The locks go with BEGIN, so that the statement after them reads each pad's head as its last
      // writer left it (pad-log.ts APPEND_SQL): one round trip more than a statement that waits for
      // the locks itself, whose snapshot would be older than the commit it waited for.
      assert.equal(sent.length, 3, sent.join('\n'))
      assert.match(sent[0]!, /^BEGIN ISOLATION LEVEL READ COMMITTED; SELECT count\(pg_advisory_xact_lock/)
      assert.match(sent[1]!, /^\s*WITH upserted AS/)
      assert.equal(sent[2], 'COMMIT')
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
        'seqs ascending in batch order',
      )
      sent.length = 0
      const loaded = (await storage.padLog.load('b'))!
      assert.equal(sent.length, 1, sent.join('\n'))
      assert.deepEqual(
        loaded.updates.map((u) => u.data[0]),
        rows.filter((r) => r.padId === 'b').map((r) => r.data[0]),
      )
      assert.equal(loaded.writers.size, rows.filter((r) => r.padId === 'b').length)
    } finally {
      await storage.close()
    }
  })

  test('a database restart under an idle pool: the process lives, the pool says so, the next query works', async () => {
    const lost: Error[] = []
    const storage = await openPostgres({
      connectionString: await server.freshDatabase(),
      onIdleError: (err) => lost.push(err),
    })
    try {
      await storage.padLog.appendBatch([row('p', [1])])
      // Several idle connections in the pool, each dropped by the restart.
      await Promise.all([1, 2, 3].map(() => storage.pool.query('SELECT pg_sleep(0.05)')))
      assert.ok(storage.pool.idleCount >= 2)
      assert.deepEqual(await probePg(storage.pool), { ok: true })
      await server.stopServer('immediate')
      await waitFor('the pool to report its lost connections', () => lost.length > 0)
      // What /healthz can say meanwhile.
      const down = await probePg(storage.pool)
      assert.equal(down.ok, false)
      assert.match((down as { error: string }).error, /^database unreachable: .*ECONNREFUSED/)
      await server.startServer()
      assert.deepEqual(await probePg(storage.pool), { ok: true })
      assert.deepEqual(await storage.padLog.appendBatch([row('p', [2])]).then((s) => s.length), 1)
      assert.equal((await storage.padLog.load('p'))!.updates.length, 2)
    } finally {
      await storage.close()
    }
  })

  test("two servers appending to one pad at once: no row lost or doubled, seqs in commit order, each batch told the pad's exact head before it", async () => {
    const url = await server.freshDatabase()
    const one = await openPostgres({ connectionString: url })
    const two = await openPostgres({ connectionString: url })
    const reader = await openPostgres({ connectionString: url })
    const APPENDS = 150
    try {
      let writing = true
      // A reader tailing the pad, as a snapshot's cutoff does: once it has seen seq N, no row at
      // or below N may appear later (identity values alone break this: drawn 10, then 11
      // committed first).
      const seen = new Set<number>()
      let cutoff = 0
      const violations: number[] = []
      const tail = (async () => {
        while (writing) {
          const rows = await reader.historyLog.rows('shared')
          for (const r of rows) if (r.seq <= cutoff && !seen.has(r.seq)) violations.push(r.seq)
          for (const r of rows) seen.add(r.seq)
          cutoff = rows.at(-1)?.seq ?? 0
        }
      })()
      /** Each shared row's seq -> the pad's head its batch was told it had before it. */
      const headBefore = new Map<number, number>()
      const writer = async (log: PgPadLog, tag: number) => {
        const seqs: number[] = []
        for (let i = 0; i < APPENDS; i++) {
          // Rows of another pad in the same batch: longer transactions, more interleaving.
          const got = await log.appendBatchWithHeads([
            row(`other-${tag}`, [tag, i]),
            row('shared', [tag, i], `s${tag}`),
          ])
          seqs.push(got.seqs[1]!)
          headBefore.set(got.seqs[1]!, got.headsBefore.get('shared')!)
        }
        return seqs
      }
      const [ones, twos] = await Promise.all([writer(one.padLog, 1), writer(two.padLog, 2)])
      writing = false
      await tail
      const loaded = (await reader.padLog.load('shared'))!
      assert.equal(loaded.updates.length, 2 * APPENDS, 'none lost')
      const seqs = loaded.updates.map((u) => u.seq)
      assert.equal(new Set(seqs).size, seqs.length, 'none doubled')
      for (const [tag, mine] of [
        [1, ones],
        [2, twos],
      ] as const) {
        const rows = loaded.updates.filter((u) => u.data[0] === tag)
        assert.deepEqual(
          rows.map((u) => u.data[1]),
          Array.from({ length: APPENDS }, (_, i) => i),
          `server ${tag}'s rows in its order`,
        )
        assert.deepEqual(
          rows.map((u) => u.seq),
          mine,
        )
      }
      assert.deepEqual(violations, [], 'no row appeared below a seq already seen')
      // A server whose batch was told a stale head would skip the other server's rows between
      // (sync/catch-up): the head must be the row just before, whoever wrote it.
      const wrongHeads = seqs.flatMap((seq, i) => {
        const expected = i === 0 ? 0 : seqs[i - 1]!
        return headBefore.get(seq) === expected ? [] : [{ seq, told: headBefore.get(seq), expected }]
      })
      assert.deepEqual(wrongHeads, [], 'each batch told the exact head before it')
    } finally {
      await Promise.all([one.close(), two.close(), reader.close()])
    }
  })

  test('a COMMIT whose answer never comes rejects the append (not acknowledged)', async () => {
    const url = await server.freshDatabase()
    const storage = await openPostgres({ connectionString: url })
    const admin = createPgPool({ connectionString: server.url('postgres') })
    try {
      await storage.padLog.appendBatch([row('p', [1])])
      // A synchronous standby that never comes: every COMMIT waits for it, written locally but
      // never acknowledged; then the connection is cut, as a network or a failover would.
      await admin.query("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
      await admin.query('SELECT pg_reload_conf()')
      const database = new URL(url).pathname.slice(1)
      /** The backend of an append waiting in its COMMIT, or null once the append has settled. */
      const waitingCommit = async (settled: () => boolean): Promise<number | null> => {
        for (let i = 0; i < 400 && !settled(); i++) {
          const found = await admin.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND datname = $1",
            [database],
          )
          if (found.rows[0]) return found.rows[0].pid
          await new Promise((resolve) => setTimeout(resolve, 25))
        }
        return null
      }
      // The setting reaches the backends (and the checkpointer, which arms the wait) a little
      // after the reload: appends may still commit at once for a moment. Bounded tries.
      let cut = false
      for (let attempt = 0; attempt < 50; attempt++) {
        let outcome: 'pending' | 'resolved' | 'rejected' = 'pending'
        const append = storage.padLog.appendBatch([row('p', [2, attempt])])
        append.then(
          () => {
            outcome = 'resolved'
          },
          () => {
            outcome = 'rejected'
          },
        )
        const pid = await waitingCommit(() => outcome !== 'pending')
        if (pid === null) {
          await append
          continue
        }
        assert.equal(outcome, 'pending', 'not acknowledged while its COMMIT waits')
        await admin.query('SELECT pg_terminate_backend($1)', [pid])
        await assert.rejects(append, /terminat/i)
        assert.equal(outcome, 'rejected')
        cut = true
        break
      }
      assert.ok(cut, 'an append waited in its COMMIT')
      await admin.query('ALTER SYSTEM RESET synchronous_standby_names')
      await admin.query('SELECT pg_reload_conf()')
      // Its outcome was unknown to the caller, yet it had committed: why a room treats a
      // rejected append as not acknowledged and the client's re-send of the same structs must be
      // harmless (Yjs applies them once).
      const rows = (await storage.padLog.load('p'))!.updates.map((u) => u.data[0])
      assert.equal(rows.at(-1), 2, 'committed locally all the same')
      // The pool goes on with new connections.
      assert.equal((await storage.padLog.appendBatch([row('p', [3])])).length, 1)
    } finally {
      await admin.query('ALTER SYSTEM RESET synchronous_standby_names').catch(() => {})
      await admin.query('SELECT pg_reload_conf()').catch(() => {})
      await Promise.all([storage.close(), admin.end()])
    }
  })

  test('a deadlock is retried: both transactions end up committed', async () => {
    const storage = await openPostgres({ connectionString: await server.freshDatabase() })
    try {
      await storage.pool.query('CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)')
      await storage.pool.query('INSERT INTO t VALUES (1, 0), (2, 0)')
      // Each locks one row, waits until the other has too, then wants the other's: a cycle.
      let locked = 0
      const tries = [0, 0]
      const cross = (first: number, second: number, who: 0 | 1) =>
        inTransaction(storage.pool, async (client) => {
          tries[who]!++
          await client.query('UPDATE t SET n = n + 1 WHERE id = $1', [first])
          if (tries[who] === 1) {
            locked++
            await waitFor('the other transaction to lock its row', () => locked === 2)
          }
          await client.query('UPDATE t SET n = n + 1 WHERE id = $1', [second])
        })
      await Promise.all([cross(1, 2, 0), cross(2, 1, 1)])
      // At least one ran again (on a loaded machine both may be chosen as the deadlock's victim).
      assert.ok(tries[0]! + tries[1]! >= 3, `tries: ${tries.join(', ')}`)
      const { rows } = await storage.pool.query<{ n: number }>('SELECT n FROM t ORDER BY id')
      assert.deepEqual(
        rows.map((r) => r.n),
        [2, 2],
        'each committed once',
      )
    } finally {
      await storage.close()
    }
  })
})
