/**
 * Which layer says what: the domain throws domain errors (server/lib/domain-errors.ts), only the
 * HTTP layer turns them into statuses and only the CLI into exit codes; every socket close names
 * its code from server/sync/close-codes.ts. Source scans keep it so as the code grows.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { describe, test } from 'node:test'
import express from 'express'
import ts from 'typescript'
import { errorHandler, STATUS_OF_KIND } from '../server/http/http-errors.ts'
import {
  Busy,
  Conflict,
  DOMAIN_ERROR_KINDS,
  type DomainError,
  Forbidden,
  Invalid,
  NotFound,
  TooCostly,
  TooLarge,
  TooMany,
  WrongHost,
} from '../server/lib/domain-errors.ts'
import { EXIT, EXIT_OF_KIND, runCli } from '../server/ops/cli-run.ts'
import { createLogger } from '../server/ops/logger.ts'
import { apiCall, assertApiError, tempDir } from './helpers.ts'

/** Every .ts file under `dir`, as [path, parsed source]. */
function sources(dir: string): [string, ts.SourceFile][] {
  const out: [string, ts.SourceFile][] = []
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (!name.endsWith('.ts')) continue
    const file = path.join(dir, name)
    out.push([file, ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)])
  }
  return out
}

function lineOf(source: ts.SourceFile, node: ts.Node): number {
  return source.getLineAndCharacterOfPosition(node.getStart()).line + 1
}

/** One of each kind, with the status and code the API answered before kinds existed. */
const ONE_OF_EACH: { error: DomainError; status: number; code: string }[] = [
  { error: new NotFound('no pad "x"'), status: 404, code: 'not_found' },
  { error: new Conflict('event "x" already exists'), status: 409, code: 'conflict' },
  { error: new Invalid('The last day is before the first day.'), status: 400, code: 'invalid' },
  {
    error: new Invalid('schedule: the file could not be read', 'invalid_schedule'),
    status: 400,
    code: 'invalid_schedule',
  },
  { error: new TooLarge('Yjs state over 16 MiB'), status: 413, code: 'too_large' },
  { error: new TooLarge('schedule: over its memory', 'over_budget'), status: 413, code: 'over_budget' },
  {
    error: new TooCostly('schedule: reading the file took longer than 5 s'),
    status: 422,
    code: 'over_budget',
  },
  {
    error: new TooMany('too many new pads from your address', 'too_many_new_pads'),
    status: 429,
    code: 'too_many_new_pads',
  },
  { error: new Busy('too many files being read at once; try again in a minute'), status: 503, code: 'busy' },
  {
    error: new Forbidden('refused: this request came from another site', 'cross_site'),
    status: 403,
    code: 'cross_site',
  },
  { error: new WrongHost('this server does not answer to the name "x"'), status: 421, code: 'unknown_host' },
]

describe('domain errors: the domain names them, HTTP and the CLI map them', () => {
  test('no file outside server/http/ imports the HTTP errors', () => {
    const found: string[] = []
    for (const dir of ['server', 'shared', 'client']) {
      for (const [file, source] of sources(dir)) {
        if (file.startsWith(`server${path.sep}http${path.sep}`)) continue
        for (const statement of source.statements) {
          if (
            (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
            statement.moduleSpecifier &&
            ts.isStringLiteral(statement.moduleSpecifier) &&
            /(^|\/)http-errors(\.ts)?$/.test(statement.moduleSpecifier.text)
          )
            found.push(`${file}:${lineOf(source, statement)}`)
        }
      }
    }
    assert.deepEqual(found, [], 'throw a domain error (server/lib/domain-errors.ts); http-errors.ts maps it')
  })

  test('every kind has its status, and the table covers every kind', () => {
    assert.deepEqual(
      [...new Set(ONE_OF_EACH.map((e) => e.error.kind))].sort(),
      [...DOMAIN_ERROR_KINDS].sort(),
      'one example of each kind',
    )
    for (const { error, status } of ONE_OF_EACH) assert.equal(STATUS_OF_KIND[error.kind], status, error.kind)
  })

  test('over HTTP, each kind answers its old status and the one error shape, word for word', async () => {
    const app = express()
    ONE_OF_EACH.forEach(({ error }, i) => {
      app.get(`/api/fail/${i}`, () => {
        throw error
      })
      // Middleware hands errors to next() rather than throwing (host and origin checks).
      app.get(`/api/next/${i}`, (_req, _res, next) => next(error))
      app.get(`/page/${i}`, () => {
        throw error
      })
    })
    app.use(errorHandler(createLogger('silent')))
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const base = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
    try {
      for (const [i, { error, status, code }] of ONE_OF_EACH.entries()) {
        for (const route of ['fail', 'next']) {
          const reply = await apiCall(base, 'GET', `/api/${route}/${i}`)
          assert.equal(assertApiError(reply, status, code, `${error.kind}: `), error.message)
        }
        // A person following a link gets a page, with the same status.
        const page = await apiCall(base, 'GET', `/page/${i}`, undefined, undefined, { accept: 'text/html' })
        assert.equal(page.status, status, error.kind)
        assert.match(page.contentType, /^text\/html/)
      }
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  test('in the CLI, each kind is exit 1 with its message on one line', async () => {
    for (const kind of DOMAIN_ERROR_KINDS) assert.equal(EXIT_OF_KIND[kind], EXIT.failure, kind)
    const dataDir = tempDir()
    const run = async (...argv: string[]) => {
      let out = ''
      let err = ''
      const code = await runCli(
        [...argv, '--data-dir', dataDir],
        {},
        {
          out: (text) => {
            out += text
          },
          err: (text) => {
            err += text
          },
        },
      )
      return { code, out, err }
    }
    assert.equal((await run('create-event', 'lpc', '--name', 'LPC')).code, EXIT.ok)
    // Conflict, thrown by meetings.ts.
    assert.deepEqual(await run('create-event', 'lpc', '--name', 'LPC'), {
      code: EXIT.failure,
      out: '',
      err: 'summitpad create-event: event "lpc" already exists\n',
    })
    // NotFound, thrown by meetings.ts.
    assert.deepEqual(await run('list-pads', '--event', 'nope'), {
      code: EXIT.failure,
      out: '',
      err: 'summitpad list-pads: no event "nope"\n',
    })
  })
})
