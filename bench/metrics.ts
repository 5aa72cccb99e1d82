/**
 * What the benchmark measures besides latency: CPU and RSS of a process from /proc, the load
 * generator's own CPU and event-loop delay, and the host's CPU steal and busy time from /proc/stat
 * (this machine is shared, so every figure comes with how noisy the host was while it was taken).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { prng } from '../test/prng.ts'

export const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU seconds (user + system, all threads) a process has used so far; NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
  } catch {
    return Number.NaN
  }
}

/** Resident set size of a process in bytes; NaN once it is gone. */
export function processRssBytes(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status)
    return match ? Number(match[1]) * 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

interface HostTimes {
  total: number
  idle: number
  steal: number
}

function hostTimes(): HostTimes {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  // guest time is already counted in user/nice.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  return { total, idle: (v[3] ?? 0) + (v[4] ?? 0), steal: v[7] ?? 0 }
}

export interface WindowStats {
  seconds: number
  /** The server's CPU over the window, in % of one core. */
  serverCpuPct: number
  /** CPU seconds the server used in the window. */
  serverCpuSeconds: number
  /** The load generator's (this process's) CPU, in % of one core. */
  loadgenCpuPct: number
  /** 99th percentile event-loop delay of the load generator (ms): its own queueing. */
  loadgenLoopP99Ms: number
  /** Host CPU steal over the window, % of all CPU time. */
  stealPct: number
  /**
   * CPU of everything else on the host (other engineers' tests, the OS), in % of one core:
   * host busy time minus the server's and the load generator's.
   */
  othersCpuPct: number
}

/** Measures one window of a scenario: start it, do the work, `stop()` it. */
export class Window {
  private readonly pid: number | null
  private readonly t0 = performance.now()
  private readonly host0 = hostTimes()
  private readonly self0 = process.cpuUsage()
  private readonly server0: number
  private readonly loop = monitorEventLoopDelay({ resolution: 10 })

  constructor(serverPid: number | null) {
    this.pid = serverPid
    this.server0 = serverPid === null ? 0 : processCpuSeconds(serverPid)
    this.loop.enable()
  }

  stop(): WindowStats {
    const seconds = (performance.now() - this.t0) / 1000
    const self = process.cpuUsage(this.self0)
    const host1 = hostTimes()
    this.loop.disable()
    const serverCpuSeconds = this.pid === null ? 0 : processCpuSeconds(this.pid) - this.server0
    const loadgenSeconds = (self.user + self.system) / 1e6
    const dTotal = host1.total - this.host0.total
    const dBusy = dTotal - (host1.idle - this.host0.idle) - (host1.steal - this.host0.steal)
    const busyCoreSeconds = dBusy / CLOCK_TICKS_PER_SECOND
    return {
      seconds,
      serverCpuPct: (serverCpuSeconds / seconds) * 100,
      serverCpuSeconds,
      loadgenCpuPct: (loadgenSeconds / seconds) * 100,
      loadgenLoopP99Ms: this.loop.percentile(99) / 1e6,
      stealPct: dTotal > 0 ? ((host1.steal - this.host0.steal) / dTotal) * 100 : 0,
      othersCpuPct: Math.max(0, ((busyCoreSeconds - serverCpuSeconds - loadgenSeconds) / seconds) * 100),
    }
  }
}

/** Several windows of one server as one: CPU and steal weighted by time, the worst loop delay. */
export function mergeWindows(windows: readonly WindowStats[]): WindowStats {
  const seconds = windows.reduce((a, w) => a + w.seconds, 0)
  const weighted = (pick: (w: WindowStats) => number) =>
    seconds > 0 ? windows.reduce((a, w) => a + pick(w) * w.seconds, 0) / seconds : Number.NaN
  return {
    seconds,
    serverCpuPct: weighted((w) => w.serverCpuPct),
    serverCpuSeconds: windows.reduce((a, w) => a + w.serverCpuSeconds, 0),
    loadgenCpuPct: weighted((w) => w.loadgenCpuPct),
    loadgenLoopP99Ms: Math.max(...windows.map((w) => w.loadgenLoopP99Ms)),
    stealPct: weighted((w) => w.stealPct),
    othersCpuPct: weighted((w) => w.othersCpuPct),
  }
}

/** Starts measuring host steal; the returned function gives the % of CPU time stolen since. */
export function hostStealMark(): () => number {
  const t0 = hostTimes()
  return () => {
    const t1 = hostTimes()
    const dTotal = t1.total - t0.total
    return dTotal > 0 ? ((t1.steal - t0.steal) / dTotal) * 100 : 0
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[] | Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/**
 * How far the noise of a shared host moves the ratio of two p99s: rounds are resampled with
 * replacement (a paired bootstrap: both servers keep the same rounds, typed at nearly the same
 * moments, so a noisy moment counts for both), and the middle 90 % of the resampled ratios is
 * returned. `a[i]` and `b[i]` are the latencies of round i, each sorted.
 */
export function p99RatioInterval(
  a: readonly Float64Array[],
  b: readonly Float64Array[],
  iterations = 400,
  random = prng(0x5eed),
): [number, number] {
  const rounds = Math.min(a.length, b.length)
  if (rounds === 0) return [Number.NaN, Number.NaN]
  const pooled = (slices: readonly Float64Array[], picks: readonly number[]): Float64Array => {
    let n = 0
    for (const i of picks) n += slices[i]!.length
    const out = new Float64Array(n)
    let at = 0
    for (const i of picks) {
      out.set(slices[i]!, at)
      at += slices[i]!.length
    }
    return out.sort()
  }
  const ratios = new Float64Array(iterations)
  for (let k = 0; k < iterations; k++) {
    const picks = Array.from({ length: rounds }, () => Math.floor(random() * rounds))
    ratios[k] = percentile(pooled(a, picks), 99) / percentile(pooled(b, picks), 99)
  }
  ratios.sort()
  return [percentile(ratios, 5), percentile(ratios, 95)]
}

export interface LatencySummary {
  samples: number
  p50: number
  p99: number
  max: number
}

export function summarize(latencies: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort()
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 10 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(check: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) return false
    await sleep(everyMs)
  }
  return true
}

/** Waits until a process has been (nearly) idle for `quietMs`: its writes and timers are done. */
export async function waitForIdle(pid: number, quietMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  let last = processCpuSeconds(pid)
  let quietSince = performance.now()
  while (performance.now() < deadline) {
    await sleep(100)
    const now = processCpuSeconds(pid)
    // Up to 2 ticks per 100 ms is timers and GC, not work.
    if (now - last > 0.02) quietSince = performance.now()
    last = now
    if (performance.now() - quietSince >= quietMs) return true
  }
  return false
}

export function machine(): {
  cpus: number
  model: string
  memoryGiB: number
  node: string
  kernel: string
  openFilesLimit: number
} {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8')
  const limits = fs.readFileSync('/proc/self/limits', 'utf8')
  const kernel = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()
  return {
    cpus: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    model: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGiB: Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024 / 1024,
    node: process.version,
    kernel,
    openFilesLimit: Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? 1024),
  }
}
