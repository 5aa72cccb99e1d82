/**
 * The LiveCounts interface (../live-counts.ts) on PostgreSQL: each server's rows in live_servers,
 * live_pads and live_addresses (schema migration 3), under an instance id drawn when the storage
 * is opened. Freshness is judged by the database's clock (`now()`), so servers on machines whose
 * clocks differ still agree on what is stale.
 */
import { createHash, randomUUID } from 'node:crypto'
import { pushAll } from '../../lib/arrays.ts'
import {
  type AddressLoad,
  LIVE_COUNTS_READ_TIMEOUT_MS,
  LIVE_COUNTS_STALE_MS,
  type LiveCounts,
  NEW_PADS_WINDOW_MS,
  type PadPeople,
  type ServerLoad,
} from '../live-counts.ts'
import type { PgClient, PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

/** `make_interval(secs => $n)` of LIVE_COUNTS_STALE_MS and NEW_PADS_WINDOW_MS. */
const STALE_SECONDS = LIVE_COUNTS_STALE_MS / 1000
const WINDOW_SECONDS = NEW_PADS_WINDOW_MS / 1000

/** One address's advisory lock key (64 bits of a hash, a bigint as PostgreSQL takes it). */
function newPadsLockKey(address: string): bigint {
  return createHash('sha256').update(`new-pads:${address}`).digest().readBigInt64BE(0)
}

export class PgLiveCounts implements LiveCounts {
  /** This server's rows: a new id at every start, so a restarted server never reuses a dead one's. */
  readonly server = randomUUID()
  private readonly pool: PgPool
  private readonly readTimeoutMs: number

  constructor(pool: PgPool, readTimeoutMs = LIVE_COUNTS_READ_TIMEOUT_MS) {
    this.pool = pool
    this.readTimeoutMs = readTimeoutMs
  }

  publish(load: ServerLoad): Promise<ReadonlyMap<string, AddressLoad>> {
    const pads = [...load.pads]
    const sockets = [...load.sockets]
    return inTransaction(this.pool, async (client) => {
      // Whoever publishes clears the servers that stopped publishing (killed, or cut off); their
      // pads and addresses go with them (ON DELETE CASCADE); and new pads past the window.
      await client.query('DELETE FROM live_servers WHERE published_at < now() - make_interval(secs => $1)', [
        STALE_SECONDS,
      ])
      await client.query('DELETE FROM live_new_pads WHERE created_at < now() - make_interval(secs => $1)', [
        WINDOW_SECONDS,
      ])
      await client.query(
        `INSERT INTO live_servers (server, published_at) VALUES ($1, now())
         ON CONFLICT (server) DO UPDATE SET published_at = now()`,
        [this.server],
      )
      await client.query('DELETE FROM live_pads WHERE server = $1', [this.server])
      await client.query('DELETE FROM live_addresses WHERE server = $1', [this.server])
      if (pads.length > 0)
        await client.query(
          `INSERT INTO live_pads (server, pad, people, names)
           SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::text[])`,
          [
            this.server,
            pads.map(([pad]) => pad),
            pads.map(([, p]) => p.count),
            pads.map(([, p]) => JSON.stringify(p.names)),
          ],
        )
      if (sockets.length > 0)
        await client.query(
          `INSERT INTO live_addresses (server, address, sockets)
           SELECT $1, * FROM unnest($2::text[], $3::integer[])`,
          [this.server, sockets.map(([address]) => address), sockets.map(([, n]) => n)],
        )
      const { rows } = await client.query<{ address: string; sockets: number; new_pads: number }>(
        `WITH sockets AS (
           SELECT a.address, sum(a.sockets) AS n
           FROM live_addresses a JOIN live_servers s ON s.server = a.server
           WHERE a.server <> $1 AND s.published_at >= now() - make_interval(secs => $2)
           GROUP BY a.address
         ), new_pads AS (
           SELECT address, count(*) AS n FROM live_new_pads
           WHERE server <> $1 AND created_at >= now() - make_interval(secs => $3)
           GROUP BY address
         )
         SELECT address, coalesce(s.n, 0) AS sockets, coalesce(p.n, 0) AS new_pads
         FROM sockets s FULL JOIN new_pads p USING (address)`,
        [this.server, STALE_SECONDS, WINDOW_SECONDS],
      )
      return new Map(rows.map((r) => [r.address, { sockets: r.sockets, newPads: r.new_pads }]))
    })
  }

  admitNewPad(address: string, key: string, max: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      // One address's checks one after another (any server's): the count and the insert below
      // are then one step. Other addresses wait only on a rare shared key.
      await client.query('SELECT pg_advisory_xact_lock($1)', [String(newPadsLockKey(address))])
      const { rows } = await client.query<{ n: number; counted: boolean }>(
        `SELECT count(*) AS n, bool_or(pad = $2) AS counted FROM live_new_pads
         WHERE address = $1 AND created_at >= now() - make_interval(secs => $3)`,
        [address, key, WINDOW_SECONDS],
      )
      const { n = 0, counted = false } = rows[0] ?? {}
      if (counted) return true
      if (n >= max) return false
      await this.insertNewPad(client, address, key)
      return true
    })
  }

  async recordNewPad(address: string, key: string): Promise<void> {
    await this.insertNewPad(this.pool, address, key)
  }

  private async insertNewPad(on: PgPool | PgClient, address: string, key: string): Promise<void> {
    // A pad counted before (by a socket of the address on another server, or an old row past the
    // window) is counted from now.
    await on.query(
      `INSERT INTO live_new_pads (address, pad, server, created_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (address, pad) DO UPDATE SET server = EXCLUDED.server, created_at = now()
       WHERE live_new_pads.created_at < now() - make_interval(secs => $4)`,
      [address, key, this.server, WINDOW_SECONDS],
    )
  }

  async padsElsewhere(padIds: readonly string[]): Promise<ReadonlyMap<string, PadPeople>> {
    if (padIds.length === 0) return new Map()
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<ReadonlyMap<string, PadPeople>>((resolve) => {
      timer = setTimeout(() => resolve(new Map()), this.readTimeoutMs)
    })
    const answer = this.pool
      .query<{ pad: string; people: number; names: string }>(
        `SELECT p.pad, p.people, p.names
         FROM live_pads p JOIN live_servers s ON s.server = p.server
         WHERE p.pad = ANY($1::text[]) AND p.server <> $2
           AND s.published_at >= now() - make_interval(secs => $3)`,
        [[...padIds], this.server, STALE_SECONDS],
      )
      .then(
        ({ rows }) => {
          const pads = new Map<string, { count: number; names: string[] }>()
          for (const row of rows) {
            const pad = pads.get(row.pad) ?? { count: 0, names: [] }
            pad.count += row.people
            pushAll(pad.names, namesOf(row.names))
            pads.set(row.pad, pad)
          }
          return pads
        },
        () => new Map<string, PadPeople>(),
      )
    try {
      return await Promise.race([answer, late])
    } finally {
      clearTimeout(timer)
    }
  }

  async withdraw(): Promise<void> {
    await this.pool.query('DELETE FROM live_servers WHERE server = $1', [this.server])
  }
}

/** The stored names (written by publish): a JSON array of strings, anything else none. */
function namesOf(json: string): string[] {
  try {
    const names: unknown = JSON.parse(json)
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : []
  } catch {
    return []
  }
}
