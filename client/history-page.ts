/**
 * The time slider: drag through the meeting and see the notes as they were, who wrote each step,
 * what changed in it; jump to checkpoints; restore a revision as a new change; close the session.
 */
import type { DiffLine, Revision, Timeline } from '../shared/history.ts'
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
const axis = $('#time-axis')
const prevButton = $<HTMLButtonElement>('#prev-change')
const nextButton = $<HTMLButtonElement>('#next-change')

/** Wait this long after the slider stops before fetching: dragging stays smooth. */
const FETCH_DELAY_MS = 60
/** Labels on the time axis: as many as fit under the slider on a phone. */
const AXIS_LABELS = 5

const time = (iso: string) => clockTime(iso, root, true)
const shortTime = (iso: string) => clockTime(iso, root)
let timeline: Timeline
let timer: ReturnType<typeof setTimeout> | null = null
/** The revision shown: a step's last one, or any single change (the "one change" buttons). */
let current: Revision | null = null
let wanted = -1

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

function names(authors: string[]): string {
  if (authors.length <= 2) return authors.join(' and ')
  return `${authors.slice(0, 2).join(', ')} and ${authors.length - 2} more`
}

function describeStep(index: number): string {
  const step = timeline.steps[index]!
  const what =
    step.restoredSeq === undefined
      ? `${names(step.authors)} · ${step.edits} ${step.edits === 1 ? 'edit' : 'edits'}`
      : `${names(step.authors)} restored ${versionName(step.restoredSeq)}`
  const span =
    step.startAt === step.endAt ? time(step.startAt) : `${time(step.startAt)}–${shortTime(step.endAt)}`
  return `Step ${index + 1} of ${timeline.steps.length}: ${what} · ${span}`
}

/** The step a revision belongs to: the first whose last revision is at or after it. */
function stepOf(seq: number): number {
  const index = timeline.steps.findIndex((s) => s.seq >= seq)
  return index < 0 ? timeline.steps.length - 1 : index
}

/** Shows revision `seq`: the text then, and what changed since `from` (the step's start, or one change). */
async function show(
  seq: number,
  from: number | 'prev',
  caption: (rev: Revision, authors: string[]) => string,
): Promise<void> {
  wanted = seq
  const rev = await api<Revision>('GET', `/api/pads/${padId}/revisions/${seq}`)
  const since = from === 'prev' ? (rev.prevSeq ?? rev.seq) : from
  const diff = await api<{ lines: DiffLine[]; authors: string[] }>(
    'GET',
    `/api/pads/${padId}/diff?from=${since}&to=${rev.seq}`,
  )
  if (wanted !== seq) return
  current = rev
  label.textContent = caption(rev, diff.authors)
  slider.setAttribute('aria-valuetext', label.textContent)
  textView.textContent = rev.text
  renderDiff(diff.lines)
  prevButton.disabled = rev.prevSeq === null
  nextButton.disabled = rev.nextSeq === null
}

function showStep(index: number): Promise<void> {
  const step = timeline.steps[index]
  if (!step) return Promise.resolve()
  return show(step.seq, Math.max(0, step.firstSeq - 1), () => describeStep(index))
}

/** One change back or forward, across steps: the precision of the log, one click away. */
function showChange(seq: number): Promise<void> {
  slider.value = String(stepOf(seq))
  return show(seq, 'prev', (rev, authors) => {
    const who = authors.length ? names(authors) : 'nobody'
    return `One change: ${who}${rev.at ? ` · ${time(rev.at)}` : ''} (in step ${stepOf(seq) + 1} of ${timeline.steps.length})`
  })
}

/** "the version of 10:32": the time of the step that ended at or after revision `seq`. */
function versionName(seq: number): string {
  const step = timeline.steps.find((s) => s.seq >= seq)
  return step ? `the version of ${time(step.endAt)}` : 'an earlier version'
}

function jumpToSeq(seq: number): void {
  const index = stepOf(seq)
  slider.value = String(index)
  void showStep(index)
}

/**
 * Times under the slider, in the event's zone. The slider moves by steps, not by minutes (a pause
 * of an hour is one step), so the labels are the start times of evenly spread steps: each says
 * when the notes were at that position.
 */
function drawAxis(): void {
  const steps = timeline.steps
  const ticks = document.createDocumentFragment()
  const count = Math.min(AXIS_LABELS, steps.length)
  let previous = ''
  for (let k = 0; k < count && steps.length > 1; k++) {
    const index = Math.round((k * (steps.length - 1)) / Math.max(1, count - 1))
    const label = shortTime(steps[index]!.startAt)
    if (label === previous) continue
    previous = label
    const tick = document.createElement('span')
    tick.style.left = `${(100 * index) / (steps.length - 1)}%`
    // The ends stay inside the slider's width.
    if (index === 0) tick.style.transform = 'none'
    else if (index === steps.length - 1) tick.style.transform = 'translateX(-100%)'
    tick.textContent = label
    ticks.append(tick)
  }
  axis.replaceChildren(ticks)
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
  drawAxis()
  if (timeline.steps.length) await showStep(timeline.steps.length - 1)
  else textView.textContent = '(This pad has no history yet.)'
}

slider.addEventListener('input', () => {
  if (timer) clearTimeout(timer)
  timer = setTimeout(() => void showStep(Number(slider.value)), FETCH_DELAY_MS)
})
prevButton.addEventListener('click', () => {
  if (current?.prevSeq != null) void showChange(current.prevSeq)
})
nextButton.addEventListener('click', () => {
  if (current?.nextSeq != null) void showChange(current.nextSeq)
})

$('#restore').addEventListener('click', async () => {
  const shownSeq = current?.seq
  if (shownSeq === undefined) return
  if (!confirm('Bring this version back? It becomes a new change; nothing in the history is lost.')) return
  try {
    const name = storedIdentity()?.name
    const done = await api<{ changed: boolean }>('POST', `/api/pads/${padId}/restore`, {
      seq: shownSeq,
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
