/**
 * The LiveCounts interface (../live-counts.ts) on PostgreSQL: each server's rows in live_servers,
 * live_pads and live_addresses (schema migration 3), under an instance id drawn when the storage
 * is opened. Freshness is judged by the database's clock (`now()`), so servers on machines whose
 * clocks differ still agree on what is stale.
 */
import { randomUUID } from 'node:crypto'
import { pushAll } from '../../lib/arrays.ts'
import {
  type AddressLoad,
  LIVE_COUNTS_READ_TIMEOUT_MS,
  LIVE_COUNTS_STALE_MS,
  type LiveCounts,
  type PadPeople,
  type ServerLoad,
} from '../live-counts.ts'
import type { PgPool } from './pool.ts'
import { inTransaction } from './transaction.ts'

/** `make_interval(secs => $n)` of LIVE_COUNTS_STALE_MS. */
const STALE_SECONDS = LIVE_COUNTS_STALE_MS / 1000

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
    const addresses = [...load.addresses]
    return inTransaction(this.pool, async (client) => {
      // Whoever publishes clears the servers that stopped publishing (killed, or cut off); their
      // pads and addresses go with them (ON DELETE CASCADE).
      await client.query('DELETE FROM live_servers WHERE published_at < now() - make_interval(secs => $1)', [
        STALE_SECONDS,
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
      if (addresses.length > 0)
        await client.query(
          `INSERT INTO live_addresses (server, address, sockets, new_pads)
           SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::integer[])`,
          [
            this.server,
            addresses.map(([address]) => address),
            addresses.map(([, a]) => a.sockets),
            addresses.map(([, a]) => a.newPads),
          ],
        )
      const { rows } = await client.query<{ address: string; sockets: number; new_pads: number }>(
        `SELECT a.address, sum(a.sockets) AS sockets, sum(a.new_pads) AS new_pads
         FROM live_addresses a JOIN live_servers s ON s.server = a.server
         WHERE a.server <> $1 AND s.published_at >= now() - make_interval(secs => $2)
         GROUP BY a.address`,
        [this.server, STALE_SECONDS],
      )
      return new Map(rows.map((r) => [r.address, { sockets: r.sockets, newPads: r.new_pads }]))
    })
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
