/**
 * The files users upload, each read by its task in a budgeted worker (worker-budget.ts), and what
 * a refusal means (domain-errors.ts): the reader's own message is Invalid, an overrun memory
 * budget TooLarge, an overrun time budget TooCostly, a full queue Busy. Never a JavaScript message: a crashed reader is
 * logged for us and reported to the user as a file that could not be read.
 */
import { Busy, Invalid, TooCostly, TooLarge } from '../lib/domain-errors.ts'
import type { Logger } from '../ops/logger.ts'
import type { ReadSchedule, ScheduleTaskInput } from './schedule-read.ts'
import { type Budget, BudgetExceeded, runInWorker, type WorkerTask, workerTask } from './worker-budget.ts'
import type { YjsStateFacts } from './yjs-state-check.ts'

/**
 * A task module beside this one: its source when the server runs from sources, its own bundle when
 * built (bin/build.ts builds each of WORKER_TASK_MODULES as an entry point next to main.js).
 */
const taskModule = (name: (typeof WORKER_TASK_MODULES)[number]) =>
  new URL(`./${name}${new URL(import.meta.url).pathname.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

/** The modules the tasks below live in, without extension. */
export const WORKER_TASK_MODULES = ['schedule-read', 'yjs-state-check'] as const

export const scheduleTask = workerTask<ScheduleTaskInput, ReadSchedule>(
  taskModule('schedule-read'),
  'readScheduleTask',
)

export const yjsStateTask = workerTask<Uint8Array, YjsStateFacts>(
  taskModule('yjs-state-check'),
  'checkYjsState',
)

export interface UntrustedFile {
  /** The error code of a file the reader refuses, e.g. "invalid_schedule". */
  code: string
  /** What the file should have been, for messages: "schedule", "Yjs state". */
  what: string
}

/** The task's value, or a domain error a person can act on. */
export async function readUntrusted<I, O>(
  task: WorkerTask<I, O>,
  input: I,
  file: UntrustedFile,
  log?: Logger,
  budget?: Partial<Budget>,
): Promise<O> {
  let outcome: Awaited<ReturnType<typeof runInWorker<I, O>>>
  try {
    outcome = await runInWorker(task, input, budget)
  } catch (err) {
    if (!(err instanceof BudgetExceeded)) throw err
    switch (err.reason) {
      case 'time':
        throw new TooCostly(`${file.what}: ${err.message}; nothing was imported`, 'over_budget')
      case 'memory':
        throw new TooLarge(`${file.what}: ${err.message}; nothing was imported`, 'over_budget')
      case 'busy':
        throw new Busy(`${err.message}; try again in a minute`)
      case 'crash':
        log?.error({ task: task.name, detail: err.message }, 'file reader crashed')
        throw new Invalid(`${file.what}: the file could not be read`, file.code)
      default: {
        const unknown: never = err.reason
        throw new Error(`unknown budget failure ${String(unknown)}`)
      }
    }
  }
  if (!outcome.ok) throw new Invalid(outcome.error, file.code)
  return outcome.value
}
