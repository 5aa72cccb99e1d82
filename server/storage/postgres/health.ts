/**
 * Whether the database answers, for `/healthz`: one `SELECT 1` through the pool, bounded in time.
 * A load balancer polls it every few seconds, so it must be cheap and must not hang; its answer
 * says what is wrong in words an operator can act on (unreachable, refusing, too slow).
 */
import type { PgPool } from './pool.ts'
import { pgUnreachable } from './unreachable.ts'

/** A probe that takes longer says "too slow": /healthz must answer before its poller gives up. */
export const HEALTH_PROBE_TIMEOUT_MS = 2000

export type PgHealth = { ok: true } | { ok: false; error: string }

/** What went wrong, in an operator's words (the driver's message says which address and why). */
function describe(err: unknown): string {
  return pgUnreachable(err) ?? `database error: ${err instanceof Error ? err.message : String(err)}`
}

export async function probePg(pool: PgPool, timeoutMs = HEALTH_PROBE_TIMEOUT_MS): Promise<PgHealth> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<PgHealth>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: `database did not answer within ${timeoutMs} ms` }),
      timeoutMs,
    )
  })
  const answer = pool.query('SELECT 1').then(
    (): PgHealth => ({ ok: true }),
    (err: unknown): PgHealth => ({ ok: false, error: describe(err) }),
  )
  try {
    return await Promise.race([answer, late])
  } finally {
    clearTimeout(timer)
  }
}
