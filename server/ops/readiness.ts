/**
 * Whether the storage answers, for GET /healthz: the storage's own probe (`Storage.health`),
 * bounded in time and shared.
 *
 * - Bounded: a probe that has not answered after HEALTH_TIMEOUT_MS is a failure ("did not answer
 *   within"): a monitor or load balancer gives up after a few seconds, and /healthz must answer
 *   before it does, saying why.
 * - Shared: an answer is reused for HEALTH_CACHE_MS, and callers meanwhile wait for the one probe
 *   in flight, so a storm of health checks (every proxy of a cluster, every few seconds, plus a
 *   dashboard) costs the database at most one query a second per server.
 */
import type { StorageHealth } from '../storage/storage.ts'

/** Under the 2-5 s a load balancer or monitor typically waits for an answer. */
export const HEALTH_TIMEOUT_MS = 2000

/** One probe a second at most, whatever polls us; a change shows within that second. */
export const HEALTH_CACHE_MS = 1000

export class Readiness {
  private last: { at: number; health: StorageHealth } | null = null
  private inFlight: Promise<StorageHealth> | null = null

  constructor(
    private readonly probe: () => Promise<StorageHealth>,
    private readonly timeoutMs = HEALTH_TIMEOUT_MS,
    private readonly cacheMs = HEALTH_CACHE_MS,
  ) {}

  check(): Promise<StorageHealth> {
    if (this.last && Date.now() - this.last.at < this.cacheMs) return Promise.resolve(this.last.health)
    this.inFlight ??= this.bounded().then((health) => {
      this.last = { at: Date.now(), health }
      this.inFlight = null
      return health
    })
    return this.inFlight
  }

  private async bounded(): Promise<StorageHealth> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<StorageHealth>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, error: `storage did not answer within ${this.timeoutMs} ms` }),
        this.timeoutMs,
      )
    })
    const answer = this.probe().catch(
      (err: unknown): StorageHealth => ({
        ok: false,
        error: `storage error: ${err instanceof Error ? err.message : String(err)}`,
      }),
    )
    try {
      return await Promise.race([answer, late])
    } finally {
      clearTimeout(timer)
    }
  }
}
