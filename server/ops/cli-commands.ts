/**
 * The admin CLI's commands: each is its help, its options and a `run` over the shared core
 * (meetings, minutes, store) — the code the HTTP API calls, on the same database. A command
 * reports a bad invocation with UsageError (exit 2) and anything else that stops it with Failure
 * (exit 1); the domain's errors ("no event ...") get theirs in cli-run.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { ParseArgsConfig } from 'node:util'
import type { Core } from '../core.ts'
import { maxOf } from '../lib/arrays.ts'
import { DomainError } from '../lib/domain-errors.ts'
import type { ImportReport } from '../meetings/meetings.ts'
import { PAD_KINDS, type PadKind } from '../meetings/model.ts'
import { MAX_SCHEDULE_BYTES } from '../meetings/schedule.ts'
import { isValidTimeZone } from '../meetings/time.ts'
import type { ScheduleFormat } from '../untrusted/schedule-read.ts'

/** The invocation is wrong: exit code 2. */
export class UsageError extends Error {}
/** The command could not do its job: exit code 1. */
export class Failure extends Error {}

export interface CommandContext {
  dataDir: string
  /** DATA_DIR/summitpad.sqlite */
  dbFile: string
  /** DATABASE_URL: the installation is in PostgreSQL (null: SQLite in `dbFile`). */
  databaseUrl: string | null
  out(text: string): void
  /** The core on the data directory's database; refuses a missing database unless `create`. */
  open(options?: { create?: boolean }): Promise<Core>
}

export type Values = Record<string, string | boolean | undefined>

export interface Command {
  name: string
  summary: string
  usage: string
  description: string
  optionHelp: string[]
  options: NonNullable<ParseArgsConfig['options']>
  arguments: { min: number; max: number }
  /** Heavy modules are imported inside `run`, so `--help` answers fast. */
  run(context: CommandContext, args: string[], values: Values): Promise<void>
}

/** Event slugs: the API's rule (api-routes.ts). */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/

const text = (values: Values, name: string): string | undefined => {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`

function day(value: string | undefined, option: string): string | null {
  if (value === undefined) return null
  const ms = Date.parse(`${value}T00:00:00Z`)
  if (
    !/^\d{4}-\d\d-\d\d$/.test(value) ||
    Number.isNaN(ms) ||
    new Date(ms).toISOString().slice(0, 10) !== value
  )
    throw new UsageError(`--${option} must be a date, YYYY-MM-DD (got "${value}")`)
  return value
}

function readInput(file: string, maxBytes: number): string {
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new Failure(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
  }
  if (!stat.isFile()) throw new Failure(`cannot read ${file}: not a file`)
  if (stat.size > maxBytes) throw new Failure(`${file} is larger than ${formatBytes(maxBytes)}`)
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new Failure(`cannot read ${file}: ${(err as Error).message}`)
  }
}

const createEvent: Command = {
  name: 'create-event',
  summary: 'create an event (a conference) that pads and schedules belong to',
  usage: 'create-event <slug> --name <name> [--starts YYYY-MM-DD] [--ends YYYY-MM-DD] [--timezone <zone>]',
  description: `
Creates an event. The slug is its address (/e/<slug>): 1-60 of a-z 0-9 and inner dashes.
Creates the database if the data directory has none yet.`,
  optionHelp: [
    '--name <name>          the event\'s name (required), e.g. "Linux Plumbers 2026"',
    '--starts <YYYY-MM-DD>  first day',
    '--ends <YYYY-MM-DD>    last day',
    '--timezone <zone>      IANA time zone of the venue (default UTC), e.g. Europe/Prague',
    '--description <text>   a line about it',
    '--json                 print the event as JSON',
  ],
  options: {
    name: { type: 'string' },
    starts: { type: 'string' },
    ends: { type: 'string' },
    timezone: { type: 'string' },
    description: { type: 'string' },
    json: { type: 'boolean' },
  },
  arguments: { min: 1, max: 1 },
  async run(context, [slug], values) {
    if (!SLUG.test(slug!))
      throw new UsageError(`slug must be 1-60 of a-z 0-9 and inner dashes, e.g. "lpc-2026" (got "${slug}")`)
    const name = text(values, 'name')?.trim()
    if (!name) throw new UsageError('--name is required')
    if (name.length > 200) throw new UsageError('--name is longer than 200 characters')
    const timezone = text(values, 'timezone') ?? 'UTC'
    if (!isValidTimeZone(timezone))
      throw new UsageError(`--timezone must be an IANA time zone, e.g. Europe/Prague (got "${timezone}")`)
    const startsOn = day(text(values, 'starts'), 'starts')
    const endsOn = day(text(values, 'ends'), 'ends')
    if (startsOn && endsOn && endsOn < startsOn) throw new UsageError('--ends is before --starts')
    const event = await (await context.open({ create: true })).meetings.createEvent({
      slug: slug!,
      name,
      startsOn,
      endsOn,
      timezone,
      description: text(values, 'description')?.trim() || null,
    })
    context.out(
      values.json ? json(event) : `created event ${event.slug}: ${event.name} (${event.timezone})\n`,
    )
  },
}

const importSchedule: Command = {
  name: 'import-schedule',
  summary: "create or update an event's pads from a schedule (.ics, frab XML/JSON, JSON list)",
  usage: 'import-schedule <event> <file> [--dry-run] [--kind <kind>] [--default-minutes <n>]',
  description: `
Reads a schedule (iCalendar, frab/Pentabarf/pretalx schedule.xml, frab/C3VOC schedule.json or a
JSON list of sessions: the format is read from the content) and creates a pad per session,
matched with the pads of earlier imports by the schedule's own id (UID, guid, id), and by title
and start when the ids are new. Importing again updates titles, times and rooms and never touches
what people wrote. Sessions missing from the file are reported, never deleted.
JSON list: [{ "id", "title", "kind"?, "track"?, "room"?, "start"?, "end"?, "speakers"?, "links"? }]`,
  optionHelp: [
    '--dry-run          say what importing would do; change nothing',
    `--kind <kind>      kind of sessions the file does not say (${PAD_KINDS.join(', ')}; default talk)`,
    '--default-minutes <n>  length of a session the file gives no end (default 30)',
    '--format <f>       what the file should be (ics, frab-xml, frab-json, json-list): named in errors',
    '--json             print the full import report as JSON',
  ],
  options: {
    format: { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'default-minutes': { type: 'string' },
  },
  arguments: { min: 2, max: 2 },
  async run(context, [slug, file], values) {
    const { SCHEDULE_FORMATS } = await import('../untrusted/schedule-read.ts')
    const format = text(values, 'format')
    if (format !== undefined && !(SCHEDULE_FORMATS as readonly string[]).includes(format))
      throw new UsageError(`--format must be one of ${SCHEDULE_FORMATS.join(', ')} (got "${format}")`)
    const kind = text(values, 'kind') ?? 'talk'
    if (!(PAD_KINDS as readonly string[]).includes(kind))
      throw new UsageError(`--kind must be one of ${PAD_KINDS.join(', ')} (got "${kind}")`)
    const minutesText = text(values, 'default-minutes')
    const defaultMinutes = minutesText === undefined ? undefined : Number(minutesText)
    if (
      defaultMinutes !== undefined &&
      !(Number.isInteger(defaultMinutes) && defaultMinutes >= 1 && defaultMinutes <= 1440)
    )
      throw new UsageError(`--default-minutes must be a whole number from 1 to 1440 (got "${minutesText}")`)
    const body = readInput(file!, MAX_SCHEDULE_BYTES)
    const { importScheduleFile } = await import('../http/schedule-routes.ts')
    const ext = path.extname(file!).toLowerCase()
    const declared =
      (format as ScheduleFormat | undefined) ??
      (ext === '.ics' || ext === '.ical' ? 'ics' : ext === '.xml' ? 'frab-xml' : null)
    const core = await context.open()
    await core.meetings.event(slug!) // "no event …" before reading the file
    let report: Awaited<ReturnType<typeof importScheduleFile>>
    try {
      report = await importScheduleFile(core.meetings, slug!, {
        body,
        declared,
        kind: kind as PadKind,
        dryRun: values['dry-run'] === true,
        defaultMinutes,
      })
    } catch (err) {
      // A refusal of the file's content names the file; a busy server is not the file's fault.
      if (err instanceof DomainError && err.kind !== 'busy') throw new Failure(`${file}: ${err.message}`)
      throw err
    }
    if (values.json) return context.out(json(report))
    context.out(`${describeImport(report, slug!).join('\n')}\n`)
  },
}

/** The import report as lines a person reads in a terminal. */
export function describeImport(report: ImportReport & { format: string }, slug: string): string[] {
  const verb = report.dryRun ? 'would import' : 'imported'
  return [
    `${verb} ${report.sessions} sessions (${report.format}) into ${slug}: ${report.created.length} created, ` +
      `${report.updated.length} updated, ${report.unchanged.length} unchanged, ` +
      `${report.skipped.length} skipped, ${report.notInSchedule.length} no longer in the schedule` +
      (report.dryRun ? ' (dry run: nothing was changed)' : ''),
    ...report.created.map((p) => `  + ${p.id ?? '(new)'}  ${p.title}`),
    ...report.updated.map((p) => `  ~ ${p.id}  ${p.title} (${p.changed.join(', ')})`),
    ...report.skipped.map((p) => `  - ${p.title} (${p.reason})`),
    ...report.notInSchedule.map((p) => `  ? ${p.id}  ${p.title} (not in this schedule; kept as it is)`),
    ...(report.matchedByTitleAndStart.length
      ? [
          `  ${report.matchedByTitleAndStart.length} sessions have new ids but the title and start of an existing pad: matched, not doubled`,
        ]
      : []),
    ...report.defaultDuration.map((p) => `  no end in the file, given ${p.minutes} min: ${p.title}`),
    ...report.outsideEventDates.map((p) => `  outside the event's dates (${p.startsAt}): ${p.title}`),
  ]
}

const exportEvent: Command = {
  name: 'export-event',
  summary: "write an event's minutes bundle (zip: every pad as md/txt/html, combined minutes)",
  usage: 'export-event <event> [<file.zip>] [--force]',
  description: `
Writes the event's minutes as a zip file: every pad as Markdown, plain text and HTML, an
index.html, and all minutes combined in minutes.md and minutes.txt. The default file name is
<event>-minutes.zip in the current directory.`,
  optionHelp: ['--force  overwrite the file if it exists'],
  options: { force: { type: 'boolean' } },
  arguments: { min: 1, max: 2 },
  async run(context, [slug, file], values) {
    const core = await context.open()
    const zip = await core.minutes.eventZip(slug!, await core.materials.linksOfEvent(slug!))
    const target = path.resolve(file ?? zip.filename)
    let fd: number | null = null
    let bytes = 0
    try {
      fd = fs.openSync(target, values.force ? 'w' : 'wx')
      const out = fd
      await zip.write((chunk) => {
        fs.writeSync(out, chunk)
        bytes += chunk.length
      })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') throw new Failure(`${target} already exists (add --force to overwrite it)`)
      throw new Failure(`cannot write ${target}: ${(err as Error).message}`)
    } finally {
      if (fd !== null) fs.closeSync(fd)
    }
    const pads = (await core.meetings.pads({ event: slug! })).length
    context.out(`wrote ${target} (${formatBytes(bytes)}, ${count(pads, 'pad')})\n`)
  },
}

const backup: Command = {
  name: 'backup',
  summary: 'copy the database to a new file, safely, even while the server runs',
  usage: 'backup <file>',
  description: `
Writes a consistent copy of the database (SQLite VACUUM INTO through a read-only connection)
while the server keeps serving: it holds every edit committed before the copy started. The file
must not exist yet. To restore: stop the server, copy the file to DATA_DIR/summitpad.sqlite,
delete DATA_DIR/summitpad.sqlite-wal and -shm, start the server.`,
  optionHelp: ['--json  print the result as JSON'],
  options: { json: { type: 'boolean' } },
  arguments: { min: 1, max: 1 },
  async run(context, [file], values) {
    const core = await context.open()
    const result = await core.storage.backups.copyTo(file!)
    context.out(
      values.json
        ? json(result)
        : `backup written: ${result.path} (${formatBytes(result.bytes)}, ${count(result.pads, 'pad')}, ${result.tookMs} ms)\n`,
    )
  },
}

/** Reads of a pad `compact` makes beside a busy server before giving up (each is ms). */
const BUSY_ATTEMPTS = 5

/** A note for the two commands that rewrite a pad's stored rows behind a server's back. */
const OPEN_PAD_NOTE = `Meant for pads nobody has open: the running server does not learn of it. For a pad
in use, prefer the HTTP API (POST /api/pads/<pad>/forget-history goes through the live pad).`

const compact: Command = {
  name: 'compact',
  summary: 'write a snapshot of a pad now, so loading it replays nothing',
  usage: 'compact <pad>',
  description: `
Writes a snapshot (the pad's whole state in one row) covering every update logged so far. The log
itself is kept: history stays. The server does this every SNAPSHOT_EVERY updates and when the last
editor leaves; this is for a pad whose log grew long while the server was stopped or crashed.
${OPEN_PAD_NOTE}`,
  optionHelp: [],
  options: {},
  arguments: { min: 1, max: 1 },
  async run(context, [padId]) {
    const core = await context.open()
    const { docFromStored, encodeState } = await import('../sync/pad-doc.ts')
    // A server beside us may commit meanwhile: the snapshot is stored only while the row it ends
    // at is still the pad's and nothing newer covers it (else it is built again from a new read).
    let result: { rows: number; bytes: number } | null = null
    for (let attempt = 1; result === null; attempt++) {
      const stored = await core.padLog.load(padId!)
      if (!stored) break
      if (stored.updates.length === 0) {
        result = { rows: 0, bytes: stored.snapshot?.byteLength ?? 0 }
        break
      }
      const doc = docFromStored(stored)
      const state = encodeState(doc)
      doc.destroy()
      if (await core.padLog.snapshotIfCurrent(padId!, stored.updates.at(-1)!.seq, state))
        result = { rows: stored.updates.length, bytes: state.byteLength }
      else if (attempt === BUSY_ATTEMPTS) throw new Failure(`${padId} keeps changing; try again`)
    }
    if (!result) throw new Failure(`no stored pad "${padId}"`)
    context.out(
      result.rows === 0
        ? `${padId} is already compact: its newest snapshot covers every update\n`
        : `compacted ${padId}: a ${formatBytes(result.bytes)} snapshot now covers ${count(result.rows, 'logged update')}\n`,
    )
  },
}

const forgetHistory: Command = {
  name: 'forget-history',
  summary: "keep a pad's current text and delete its edit history (a pasted secret)",
  usage: 'forget-history <pad> --yes',
  description: `
Replaces the pad's update log and every snapshot with one snapshot of its current content: what
was deleted from the pad is then gone from the database too (backups keep it: delete those too).
Cannot be undone, hence --yes.
${OPEN_PAD_NOTE}`,
  optionHelp: ['--yes  confirm: delete the history'],
  options: { yes: { type: 'boolean' } },
  arguments: { min: 1, max: 1 },
  async run(context, [padId], values) {
    if (!values.yes)
      throw new UsageError(`this deletes the edit history of "${padId}" for good; add --yes to go ahead`)
    const core = await context.open()
    const before = (await core.padLog.list()).find((p) => p.id === padId)
    if (!before) throw new Failure(`no stored pad "${padId}"`)
    // Replaced only if no update was committed since it was read (a server beside us).
    await core.minutes.forgetStored(padId!)
    if (!(await core.minutes.scrubForgotten()))
      throw new Failure(
        'the history is forgotten, but a reader keeps its old copy in the write-ahead log: run this again',
      )
    const after = (await core.padLog.list()).find((p) => p.id === padId)
    context.out(
      `forgot the history of ${padId}: ${count(before.updateCount, 'logged update')} dropped, ` +
        `stored size ${formatBytes(before.bytes)} -> ${formatBytes(after?.bytes ?? 0)}\n`,
    )
  },
}

const listPads: Command = {
  name: 'list-pads',
  summary: 'list stored pads with their size and last activity',
  usage: 'list-pads [--event <event> | --unfiled] [--json]',
  description: `
Lists every stored pad, most recently edited first: its id, event, number of logged updates,
stored size (log + snapshots) and the time of its last edit (UTC).`,
  optionHelp: [
    '--event <event>  only the pads of this event',
    '--unfiled        only pads that belong to no event',
    '--json           print JSON',
  ],
  options: { event: { type: 'string' }, unfiled: { type: 'boolean' }, json: { type: 'boolean' } },
  arguments: { min: 0, max: 0 },
  async run(context, _args, values) {
    const eventFilter = text(values, 'event')
    if (eventFilter !== undefined && values.unfiled)
      throw new UsageError('give --event or --unfiled, not both')
    const core = await context.open()
    if (eventFilter !== undefined) await core.meetings.event(eventFilter)
    const stored = []
    for (const summary of await core.padLog.list())
      stored.push({ summary, pad: await core.meetings.findPad(summary.id) })
    const rows = stored
      .filter(({ pad }) =>
        eventFilter !== undefined ? pad?.event === eventFilter : values.unfiled ? !pad?.event : true,
      )
      .map(({ summary, pad }) => ({
        id: summary.id,
        event: pad?.event ?? null,
        title: pad?.title ?? null,
        kind: pad?.kind ?? null,
        updates: summary.updateCount,
        bytes: summary.bytes,
        createdAt: new Date(summary.createdAt).toISOString(),
        lastActivity: new Date(summary.updatedAt).toISOString(),
      }))
    if (values.json) return context.out(json(rows))
    if (rows.length === 0) return context.out('no pads\n')
    const table = [
      ['PAD', 'EVENT', 'UPDATES', 'SIZE', 'LAST ACTIVITY (UTC)', 'TITLE'],
      ...rows.map((r) => [
        r.id,
        r.event ?? '-',
        String(r.updates),
        formatBytes(r.bytes),
        r.lastActivity.slice(0, 16).replace('T', ' '),
        r.title ?? '',
      ]),
    ]
    const widths = table[0]!.map((_, col) => maxOf(table.map((row) => row[col]!.length)))
    const lines = table.map((row) =>
      row
        .map((cell, col) =>
          col === 2 || col === 3 ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!),
        )
        .join('  ')
        .trimEnd(),
    )
    const total = rows.reduce((n, r) => n + r.bytes, 0)
    context.out(`${lines.join('\n')}\n${count(rows.length, 'pad')}, ${formatBytes(total)}\n`)
  },
}

/** What a transfer moved, in a line: the tables a person checks, then the rest in one number. */
function describeTransfer(tables: Record<string, number>): string {
  const { events = 0, pads = 0, updates = 0, snapshots = 0, ...rest } = tables
  const others = Object.values(rest).reduce((a, b) => a + b, 0)
  return `${count(events, 'event')}, ${count(pads, 'pad')}, ${count(updates, 'logged update')}, ${count(snapshots, 'snapshot')}, ${count(others, 'other row')}`
}

const TRANSFER_NOTE = `Every table is copied row for row with its keys, from one consistent snapshot of the source,
into the target in one transaction: all of it or nothing, counts checked before it commits. The
target must be empty. Servers may keep running on the source, but what they write after the copy
began is not in it: stop them (or take the event offline) to move an installation for good.`

const exportData: Command = {
  name: 'export-data',
  summary: 'copy the whole installation (SQLite or PostgreSQL) into a new SQLite file',
  usage: 'export-data --to <file.sqlite>',
  description: `
Copies this installation's database — PostgreSQL when DATABASE_URL is set, else DATA_DIR's SQLite
file — into a new SQLite file, e.g. to take a cluster's data to a laptop: start a server with
DATA_DIR pointing at a directory holding it as summitpad.sqlite. The file must not exist.
${TRANSFER_NOTE}`,
  optionHelp: ['--to <file.sqlite>  the new file (required)', '--json  print the row counts as JSON'],
  options: { to: { type: 'string' }, json: { type: 'boolean' } },
  arguments: { min: 0, max: 0 },
  async run(context, _args, values) {
    const to = text(values, 'to')
    if (!to) throw new UsageError('--to <file.sqlite> is required')
    const target = path.resolve(to)
    if (fs.existsSync(target)) throw new Failure(`${target} already exists: export-data writes a new file`)
    if (!context.databaseUrl && !fs.existsSync(context.dbFile))
      throw new Failure(`no database at ${context.dbFile} (set DATA_DIR, --data-dir or DATABASE_URL)`)
    const { transfer, sqliteSide, pgSide } = await import('../storage/transfer.ts')
    // Written beside, renamed when complete: a failed export leaves no half file behind.
    const partial = `${target}.partial-${process.pid}`
    const source = context.databaseUrl
      ? await pgSide(context.databaseUrl, 'source')
      : sqliteSide(context.dbFile, 'source')
    try {
      const sink = sqliteSide(partial, 'target')
      try {
        const report = await transfer(source, sink)
        await sink.close()
        fs.renameSync(partial, target)
        context.out(
          values.json ? json(report.tables) : `exported to ${target}: ${describeTransfer(report.tables)}\n`,
        )
      } finally {
        await sink.close()
      }
    } finally {
      await source.close()
      for (const leftover of [partial, `${partial}-wal`, `${partial}-shm`])
        fs.rmSync(leftover, { force: true })
    }
  },
}

const importData: Command = {
  name: 'import-data',
  summary: 'copy a SQLite file (export-data, or a data directory) into this installation',
  usage: 'import-data --from <file.sqlite>',
  description: `
Copies a Summitpad SQLite database (written by export-data or backup, or a DATA_DIR's
summitpad.sqlite) into this installation's database: PostgreSQL when DATABASE_URL is set (its
schema is created if missing), else DATA_DIR's SQLite file. The target must hold no data yet,
e.g. a new PostgreSQL database for a cluster that takes over from a laptop.
${TRANSFER_NOTE}`,
  optionHelp: [
    '--from <file.sqlite>  the SQLite database to copy (required)',
    '--json  print the row counts as JSON',
  ],
  options: { from: { type: 'string' }, json: { type: 'boolean' } },
  arguments: { min: 0, max: 0 },
  async run(context, _args, values) {
    const from = text(values, 'from')
    if (!from) throw new UsageError('--from <file.sqlite> is required')
    const file = path.resolve(from)
    if (!fs.existsSync(file)) throw new Failure(`cannot read ${file}: no such file`)
    if (!context.databaseUrl && path.resolve(file) === path.resolve(context.dbFile))
      throw new Failure(`${file} is this installation's own database`)
    const { transfer, sqliteSide, pgSide, TargetNotEmpty } = await import('../storage/transfer.ts')
    const source = sqliteSide(file, 'source')
    try {
      if (!context.databaseUrl) fs.mkdirSync(context.dataDir, { recursive: true })
      const target = context.databaseUrl
        ? await pgSide(context.databaseUrl, 'target')
        : sqliteSide(context.dbFile, 'target')
      try {
        const report = await transfer(source, target)
        const where = context.databaseUrl ? 'PostgreSQL' : context.dbFile
        context.out(
          values.json ? json(report.tables) : `imported into ${where}: ${describeTransfer(report.tables)}\n`,
        )
      } catch (err) {
        if (err instanceof TargetNotEmpty) throw new Failure(err.message)
        throw err
      } finally {
        await target.close()
      }
    } finally {
      await source.close()
    }
  },
}

export const COMMANDS: readonly Command[] = [
  createEvent,
  importSchedule,
  exportEvent,
  backup,
  compact,
  forgetHistory,
  listPads,
  exportData,
  importData,
]
