/**
 * Runs one pure function over an untrusted file in a worker thread, with a time limit and a memory
 * limit, so a file that makes a parser run away (a recurrence that never matches, a bomb of nested
 * elements) costs a worker, never the event loop every pad's keystrokes go through.
 *
 * A task is a named export of a module: `(input) => Outcome`, where a file the task refuses is a
 * value (`{ ok: false, error }`), not an exception. What the budget stops — too slow, too much
 * memory, too many at once, a crash — comes back as a `BudgetExceeded` the caller turns into a 4xx.
 * Input and output cross the thread boundary by structured clone.
 */
import { Worker } from 'node:worker_threads'

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string }

/** A task: `module` exports `name`, a function from `I` to `Outcome<O>` (sync or async). */
export interface WorkerTask<I, O> {
  module: URL
  name: string
  /** Type witnesses only; never set. */
  readonly _types?: (input: I) => O
}

export function workerTask<I, O>(module: URL, name: string): WorkerTask<I, O> {
  return { module, name }
}

export interface Budget {
  /** Wall-clock time for the task itself, from handing over the input (worker start-up excluded). */
  timeMs: number
  /** V8 old generation of the worker (its heap for long-lived objects: the parsed tree). */
  memoryMb: number
}

/**
 * 10 s: a real 2,000-session schedule with abstracts parses in well under a second; ten times
 * that leaves room for a busy 2-core host and still frees the worker soon after a runaway.
 */
export const DEFAULT_TIME_MS = 10_000
/** 512 MiB: a 32 MiB XML file becomes a tree of several times its size; this fits with room. */
export const DEFAULT_MEMORY_MB = 512
/** Start-up (loading the TypeScript loader and the task's module) has its own, generous limit. */
const STARTUP_MS = 60_000
/**
 * Workers running at once, and waiting for one: each can hold `memoryMb`, so an admin script
 * uploading in a loop must not start twenty; a queue longer than this is refused (503).
 */
export const MAX_RUNNING = 2
export const MAX_WAITING = 8

export type BudgetFailure = 'time' | 'memory' | 'busy' | 'crash'

export class BudgetExceeded extends Error {
  readonly reason: BudgetFailure

  constructor(reason: BudgetFailure, message: string) {
    super(message)
    this.reason = reason
  }
}

let running = 0
const waiting: (() => void)[] = []

async function slot(): Promise<() => void> {
  if (running >= MAX_RUNNING) {
    if (waiting.length >= MAX_WAITING) throw new BudgetExceeded('busy', 'too many files being read at once')
    await new Promise<void>((resolve) => waiting.push(resolve))
  } else running++
  let released = false
  return () => {
    if (released) return
    released = true
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

/**
 * A task's module as TypeScript (the sources run through tsx: tests, development) is loaded through
 * tsx's API in the worker; as JavaScript (the build, where tsx is not installed) as it is. By URL:
 * an eval'd worker resolves bare names from the working directory, which for the CLI can be anywhere.
 */
const tsxFor = (module: URL): string | null =>
  module.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null

const BOOT = `
const { parentPort, workerData } = require('node:worker_threads')
Promise.resolve(workerData.tsx && import(workerData.tsx).then((tsx) => tsx.register()))
  .then(() => import(workerData.module))
  .then((mod) => {
    const run = mod[workerData.name]
    if (typeof run !== 'function') throw new Error('no task ' + workerData.name)
    parentPort.once('message', async (input) => {
      let outcome
      try { outcome = await run(input) } catch (err) { outcome = { crashed: String(err && err.stack || err) } }
      parentPort.postMessage(outcome)
    })
    parentPort.postMessage('ready')
  })
  .catch((err) => parentPort.postMessage({ crashed: String(err && err.stack || err) }))
`

/** Runs `task(input)` in a fresh worker under `budget`; rejects with `BudgetExceeded` if it is overrun. */
export async function runInWorker<I, O>(
  task: WorkerTask<I, O>,
  input: I,
  budget: Partial<Budget> = {},
): Promise<Outcome<O>> {
  const timeMs = budget.timeMs ?? DEFAULT_TIME_MS
  const memoryMb = budget.memoryMb ?? DEFAULT_MEMORY_MB
  const release = await slot()
  try {
    return await new Promise<Outcome<O>>((resolve, reject) => {
      const worker = new Worker(BOOT, {
        eval: true,
        // Not the parent's flags (the test runner's, --max-semi-space-size): only the limits below.
        execArgv: [],
        workerData: { module: task.module.href, name: task.name, tsx: tsxFor(task.module) },
        resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      })
      let settled = false
      const finish = (fn: () => void) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        fn()
        void worker.terminate()
      }
      let timer = setTimeout(
        () => finish(() => reject(new BudgetExceeded('time', 'the reader did not start'))),
        STARTUP_MS,
      )
      worker.on('message', (message: unknown) => {
        if (message === 'ready') {
          clearTimeout(timer)
          timer = setTimeout(
            () =>
              finish(() =>
                reject(new BudgetExceeded('time', `reading the file took longer than ${timeMs / 1000} s`)),
              ),
            timeMs,
          )
          worker.postMessage(input)
          return
        }
        if (message && typeof message === 'object' && 'crashed' in message) {
          return finish(() => reject(new BudgetExceeded('crash', String(message.crashed))))
        }
        finish(() => resolve(message as Outcome<O>))
      })
      worker.on('error', (err: Error & { code?: string }) => {
        const memory = err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        finish(() =>
          reject(
            memory
              ? new BudgetExceeded('memory', `reading the file needed more than ${memoryMb} MiB`)
              : new BudgetExceeded('crash', String(err.stack ?? err)),
          ),
        )
      })
      worker.on('exit', (code) =>
        finish(() => reject(new BudgetExceeded('crash', `the reader stopped (exit ${code})`))),
      )
    })
  } finally {
    release()
  }
}
