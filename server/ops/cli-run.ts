/**
 * The admin CLI's front: arguments -> command -> exit code. Global options, `--help` for the
 * whole CLI and for each command, and the mapping of errors to exit codes (0 ok, 1 failure,
 * 2 usage error) with one clear line on stderr: the one place where the domain's errors
 * (lib/domain-errors.ts) become exit codes. The commands themselves are in cli-commands.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { destination } from 'pino'
import type { Core } from '../core.ts'
import { maxOf } from '../lib/arrays.ts'
import { DomainError, type DomainErrorKind } from '../lib/domain-errors.ts'
import { DB_FILE_NAME } from '../storage/db.ts'
import { COMMANDS, type Command, type CommandContext, Failure, UsageError } from './cli-commands.ts'
import { ConfigError, configFromEnv } from './config.ts'
import { createLogger } from './logger.ts'

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/**
 * The exit code of each domain error kind. All are "the command failed" (the documented codes are
 * 0, 1 and 2, and scripts rely on them): the message says which. A kind a script should tell apart
 * (e.g. busy: try again) would get its own code here, and in the help's list.
 */
export const EXIT_OF_KIND: Readonly<Record<DomainErrorKind, number>> = {
  not_found: EXIT.failure,
  conflict: EXIT.failure,
  invalid: EXIT.failure,
  too_large: EXIT.failure,
  too_costly: EXIT.failure,
  too_many: EXIT.failure,
  busy: EXIT.failure,
  forbidden: EXIT.failure,
  wrong_host: EXIT.failure,
  unsupported: EXIT.failure,
}

export interface CliIo {
  out(text: string): void
  err(text: string): void
}

const GLOBAL_OPTIONS = {
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

function mainHelp(): string {
  const width = maxOf(COMMANDS.map((c) => c.name.length))
  return `Usage: summitpad <command> [arguments] [options]

Admin commands for a Summitpad installation. They open its database directly (SQLite in the data
directory, or PostgreSQL when DATABASE_URL is set), so they work with or without a running server
(run them as the user the server runs as, with its environment).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Global options:
  --data-dir <dir>  the data directory (default: $DATA_DIR, else ./data)
  -h, --help        this help; "summitpad <command> --help" for one command

Exit codes: 0 ok, 1 the command failed, 2 usage error.
`
}

function commandHelp(command: Command): string {
  return `Usage: summitpad ${command.usage}

${command.description.trim()}
${command.optionHelp.length ? `\nOptions:\n${command.optionHelp.map((line) => `  ${line}`).join('\n')}\n` : ''}
Global options: --data-dir <dir>, -h/--help
`
}

/** Splits `[global options] <command> [rest]`; the rest is parsed with the command's options. */
function splitCommand(argv: readonly string[]): { globals: string[]; name: string | null; rest: string[] } {
  const globals: string[] = []
  let i = 0
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const arg = argv[i++]!
    globals.push(arg)
    if (arg === '--data-dir' && i < argv.length) globals.push(argv[i++]!)
  }
  return { globals, name: argv[i] ?? null, rest: argv.slice(i + 1) }
}

/** parseArgs' message for an unknown option is a paragraph; one short line says the same. */
function argsError(err: unknown): UsageError {
  const message = err instanceof Error ? err.message : String(err)
  const unknown = /^Unknown option '([^']+)'/.exec(message)
  return new UsageError(unknown ? `unknown option ${unknown[1]}` : message)
}

function parseGlobals(args: string[]): { 'data-dir'?: string; help?: boolean } {
  try {
    return parseArgs({ args, options: GLOBAL_OPTIONS, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw argsError(err)
  }
}

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let commandName = ''
  try {
    const split = splitCommand(argv)
    const globals = parseGlobals(split.globals)
    if (split.name === 'help') {
      const topic = split.rest[0]
      const command = COMMANDS.find((c) => c.name === topic)
      if (topic !== undefined && !command) throw new UsageError(`unknown command "${topic}"`)
      io.out(command ? commandHelp(command) : mainHelp())
      return EXIT.ok
    }
    if (split.name === null) {
      if (globals.help) {
        io.out(mainHelp())
        return EXIT.ok
      }
      io.err(mainHelp())
      return EXIT.usage
    }
    const command = COMMANDS.find((c) => c.name === split.name)
    if (!command) throw new UsageError(`unknown command "${split.name}"`)
    commandName = command.name

    let parsed: ReturnType<typeof parseArgs>
    try {
      parsed = parseArgs({
        args: split.rest,
        options: { ...GLOBAL_OPTIONS, ...command.options },
        strict: true,
        allowPositionals: true,
      })
    } catch (err) {
      throw argsError(err)
    }
    const values = parsed.values as Record<string, string | boolean | undefined>
    if (globals.help || values.help) {
      io.out(commandHelp(command))
      return EXIT.ok
    }
    const positionals = parsed.positionals
    if (positionals.length < command.arguments.min)
      throw new UsageError(`missing arguments; usage: summitpad ${command.usage}`)
    if (positionals.length > command.arguments.max)
      throw new UsageError(`too many arguments; usage: summitpad ${command.usage}`)

    let config: ReturnType<typeof configFromEnv>
    try {
      config = configFromEnv(env)
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message)
      throw err
    }
    const dataDirOption = (values['data-dir'] as string | undefined) ?? globals['data-dir']
    const dataDir = dataDirOption ? path.resolve(dataDirOption) : config.dataDir
    const dbFile = path.join(dataDir, DB_FILE_NAME)
    let core: Core | null = null
    const context: CommandContext = {
      dataDir,
      dbFile,
      databaseUrl: config.databaseUrl,
      out: (text) => io.out(text),
      async open(options = {}) {
        if (core) return core
        if (!config.databaseUrl && !options.create && !fs.existsSync(dbFile)) {
          throw new Failure(
            `no database at ${dbFile} (set DATA_DIR or --data-dir to the server's data directory)`,
          )
        }
        // Loaded on first use: help and usage errors answer without loading the whole server.
        const [{ openCore }, { openStorage }] = await Promise.all([
          import('../core.ts'),
          import('../storage/open-storage.ts'),
        ])
        // Warnings from the shared code go to stderr as JSON lines, like the server's.
        const log = createLogger(
          env.LOG_LEVEL ? config.logLevel : 'warn',
          destination({ dest: 2, sync: true }),
        )
        // DATABASE_URL: PostgreSQL; else SQLite in the data directory, shared: a server may run on
        // the same database, and its write-ahead log is left to it.
        const storage = await openStorage({ ...config, dataDir }, log, { shared: true })
        try {
          core = openCore({
            dataDir,
            durability: config.durability,
            log,
            storage,
            snapshotEvery: config.snapshotEvery,
            unloadDelayMs: config.unloadDelayMs,
            limits: config,
          })
        } catch (err) {
          await storage.close()
          throw err
        }
        return core
      },
    }
    try {
      await command.run(context, positionals, values)
    } finally {
      if (core) {
        const opened: Core = core
        await opened.close()
      }
    }
    return EXIT.ok
  } catch (err) {
    const prefix = commandName ? `summitpad ${commandName}` : 'summitpad'
    if (err instanceof UsageError) {
      const hint = commandName ? `summitpad ${commandName} --help` : 'summitpad --help'
      io.err(`${prefix}: ${err.message}\nRun "${hint}" for usage.\n`)
      return EXIT.usage
    }
    // Failures, the domain's errors ("no event ...") and SQLite's errors alike: one line.
    io.err(`${prefix}: ${err instanceof Error ? err.message : String(err)}\n`)
    return err instanceof DomainError ? EXIT_OF_KIND[err.kind] : EXIT.failure
  }
}
