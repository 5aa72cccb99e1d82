/**
 * The time slider: drag through the meeting and see the notes as they were, who wrote each step,
 * what changed in it; jump to checkpoints; restore a revision as a new change; close the session.
 */
import type { DiffLine, Timeline } from '../shared/history.ts'
import { api } from './api.ts'
import { clockTime } from './clock-time.ts'
import { storedIdentity } from './identity.ts'

const root = document.querySelector<HTMLElement>('[data-history]')!
const padId = root.dataset.history!
const $ = <T extends HTMLElement>(s: string) => root.querySelector<T>(s)!
const slider = $<HTMLInputElement>('#slider')
const label = $('#step-label')
const textView = $('#revision-text')
const changes = $('#step-changes')
const status = $('#history-status')

/** Wait this long after the slider stops before fetching: dragging stays smooth. */
const FETCH_DELAY_MS = 60

const time = (iso: string) => clockTime(iso, root, true)
let timeline: Timeline
let timer: ReturnType<typeof setTimeout> | null = null
let shown = -1

function renderDiff(lines: DiffLine[]): void {
  const changed = lines.filter((l) => l.op !== 'same')
  // Children go through a fragment: spreading a list into replaceChildren overflows the stack
  // past ~65k elements (shared/arrays.ts).
  const shownLines = document.createDocumentFragment()
  for (const l of changed.slice(0, 200)) {
    const div = document.createElement('div')
    div.className = l.op
    div.textContent = `${l.op === 'add' ? '+ ' : '− '}${l.text}`
    shownLines.append(div)
  }
  if (changed.length === 0) {
    shownLines.append(
      Object.assign(document.createElement('p'), {
        className: 'muted',
        textContent: 'No visible change (formatting or a restore of the same text).',
      }),
    )
  }
  changes.replaceChildren(shownLines)
}

async function show(index: number): Promise<void> {
  const step = timeline.steps[index]
  if (!step || index === shown) return
  shown = index
  const who = step.author ?? 'someone without a name'
  const what =
    step.restoredSeq === undefined
      ? `${who} · ${step.edits} ${step.edits === 1 ? 'edit' : 'edits'}`
      : `${who} restored ${versionName(step.restoredSeq)}`
  label.textContent = `Step ${index + 1} of ${timeline.steps.length}: ${what} · ${time(step.startAt)}`
  const [rev, diff] = await Promise.all([
    api<{ text: string }>('GET', `/api/pads/${padId}/revisions/${step.seq}`),
    api<{ lines: DiffLine[] }>(
      'GET',
      `/api/pads/${padId}/diff?from=${Math.max(0, step.firstSeq - 1)}&to=${step.seq}`,
    ),
  ])
  if (shown !== index) return
  textView.textContent = rev.text
  renderDiff(diff.lines)
}

/** "the version of 10:32": the time of the step that ended at or after revision `seq`. */
function versionName(seq: number): string {
  const step = timeline.steps.find((s) => s.seq >= seq)
  return step ? `the version of ${time(step.endAt)}` : 'an earlier version'
}

function jumpToSeq(seq: number): void {
  let index = timeline.steps.findIndex((s) => s.seq >= seq)
  if (index < 0) index = timeline.steps.length - 1
  slider.value = String(index)
  void show(index)
}

function say(text: string, isError = false): void {
  status.textContent = text
  status.hidden = false
  status.classList.toggle('error', isError)
}

async function load(): Promise<void> {
  timeline = await api<Timeline>('GET', `/api/pads/${padId}/history`)
  slider.max = String(Math.max(0, timeline.steps.length - 1))
  slider.value = slider.max
  slider.disabled = timeline.steps.length === 0
  const marks = $('#checkpoints')
  const buttons = document.createDocumentFragment()
  for (const c of timeline.checkpoints) {
    const b = document.createElement('button')
    b.type = 'button'
    b.className = 'secondary'
    b.textContent = `${c.name} (${time(c.at)})`
    b.addEventListener('click', () => jumpToSeq(c.seq))
    buttons.append(b)
  }
  marks.replaceChildren(buttons)
  const closeButton = $<HTMLButtonElement>('#close-session')
  closeButton.textContent = timeline.closedAt ? 'Reopen the session' : 'Close the session'
  $('#closed-note').hidden = !timeline.closedAt
  shown = -1
  if (timeline.steps.length) await show(timeline.steps.length - 1)
  else textView.textContent = '(This pad has no history yet.)'
}

slider.addEventListener('input', () => {
  if (timer) clearTimeout(timer)
  timer = setTimeout(() => void show(Number(slider.value)), FETCH_DELAY_MS)
})

$('#restore').addEventListener('click', async () => {
  const step = timeline.steps[Number(slider.value)]
  if (!step) return
  if (!confirm('Bring this version back? It becomes a new change; nothing in the history is lost.')) return
  try {
    const name = storedIdentity()?.name
    const done = await api<{ changed: boolean }>('POST', `/api/pads/${padId}/restore`, {
      seq: step.seq,
      ...(name ? { name } : {}),
    })
    say(
      done.changed
        ? 'Restored. Everyone editing sees it now, and is told who restored which version.'
        : 'This version is the same as the current text: nothing to restore.',
    )
    await load()
  } catch (err) {
    say((err as Error).message, true)
  }
})

$('#add-checkpoint').addEventListener('click', async () => {
  const name = prompt('Name this moment (e.g. "after the agenda")')?.trim()
  if (!name) return
  try {
    await api('POST', `/api/pads/${padId}/checkpoints`, { name })
    await load()
  } catch (err) {
    say((err as Error).message, true)
  }
})

$('#close-session').addEventListener('click', async () => {
  try {
    if (timeline.closedAt) {
      await api('POST', `/api/pads/${padId}/reopen`, {})
      say('Reopened: everyone can edit again.')
    } else {
      if (!confirm('Close the session? The notes become read-only for everyone until reopened.')) return
      await api('POST', `/api/pads/${padId}/close`, {})
      say(
        'Closed: the notes are read-only now, with an "end of session" checkpoint. Download the minutes below.',
      )
    }
    await load()
  } catch (err) {
    say((err as Error).message, true)
  }
})

load().catch((err) => say((err as Error).message, true))
