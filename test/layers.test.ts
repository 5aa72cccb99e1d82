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
  StorageUnavailable,
  TooCostly,
  TooLarge,
  TooMany,
  Unsupported,
  WrongHost,
} from '../server/lib/domain-errors.ts'
import { EXIT, EXIT_OF_KIND, runCli } from '../server/ops/cli-run.ts'
import { createLogger } from '../server/ops/logger.ts'
import * as closeCodes from '../server/sync/close-codes.ts'
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
  {
    error: new Unsupported('backups: use your database’s own backup tools'),
    status: 501,
    code: 'unsupported',
  },
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
    error: new StorageUnavailable('database unreachable: connect ECONNREFUSED'),
    status: 503,
    code: 'storage_unavailable',
  },
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

/** The calls that take a close code, and which argument it is. */
const CODE_ARGUMENT: Record<string, number> = {
  close: 0,
  closeAll: 0,
  refuseEntry: 0,
  closePad: 1,
  closeWhere: 1,
}
/** Calls of those names that close something else (history.close ends a meeting session). */
const NOT_A_SOCKET = new Set(['history.close'])

/** Every close code of close-codes.ts: [name, value]. */
const ALL_CODES: [string, number][] = Object.entries(closeCodes).flatMap(([name, value]) =>
  typeof value === 'number'
    ? [[name, value] as [string, number]]
    : Object.entries(value).map(([key, code]) => [`${name}.${key}`, code] as [string, number]),
)

describe('close codes: one module names them all', () => {
  test('every close in server/ takes its code from server/sync/close-codes.ts (or passes one on)', () => {
    const home = path.join('server', 'sync', 'close-codes.ts')
    const found: string[] = []
    let checked = 0
    for (const [file, source] of sources('server')) {
      if (file === home) continue
      // The names this file imports from close-codes.ts.
      const imported = new Set<string>()
      for (const statement of source.statements) {
        if (
          ts.isImportDeclaration(statement) &&
          ts.isStringLiteral(statement.moduleSpecifier) &&
          /(^|\/)close-codes\.ts$/.test(statement.moduleSpecifier.text)
        ) {
          const bindings = statement.importClause?.namedBindings
          if (bindings && ts.isNamedImports(bindings))
            for (const b of bindings.elements) imported.add(b.name.text)
        }
      }
      const isParameter = (node: ts.Identifier): boolean => {
        for (let at: ts.Node | undefined = node.parent; at; at = at.parent) {
          if (
            ts.isFunctionLike(at) &&
            at.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === node.text)
          )
            return true
        }
        return false
      }
      const check = (code: ts.Expression, where: ts.Node) => {
        checked++
        const ok =
          // CLOSE.protocolError
          (ts.isPropertyAccessExpression(code) &&
            ts.isIdentifier(code.expression) &&
            imported.has(code.expression.text) &&
            code.expression.text === 'CLOSE') ||
          // CLOSE_PAD_FULL, or REFUSED_SESSION_CLOSED (a refusal never sent on a socket)
          (ts.isIdentifier(code) && /^(CLOSE|REFUSED)_/.test(code.text) && imported.has(code.text)) ||
          // A code passed on: a parameter (`close(code, reason)`), or a refusal's (`refusal.code`).
          (ts.isIdentifier(code) && isParameter(code)) ||
          (ts.isPropertyAccessExpression(code) && code.name.text === 'code')
        if (!ok) found.push(`${file}:${lineOf(source, where)}: ${where.getText().slice(0, 80)}`)
      }
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node)) {
          const callee = node.expression
          const name = ts.isPropertyAccessExpression(callee)
            ? callee.name.text
            : ts.isIdentifier(callee)
              ? callee.text
              : ''
          const index = CODE_ARGUMENT[name]
          const code = index === undefined ? undefined : node.arguments[index]
          // db.close(), server.close(callback): not a socket's close.
          if (code && !ts.isFunctionLike(code) && !NOT_A_SOCKET.has(callee.getText())) check(code, node)
        }
        // A refusal, { code, reason }, closes the socket it is returned for.
        if (ts.isObjectLiteralExpression(node)) {
          const names = node.properties.map((p) => (p.name && ts.isIdentifier(p.name) ? p.name.text : ''))
          const code = node.properties.find(
            (p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && p.name.getText() === 'code',
          )
          if (code && names.includes('reason')) check(code.initializer, node)
        }
        // No close code is declared anywhere else.
        if (
          ts.isVariableDeclaration(node) &&
          ts.isIdentifier(node.name) &&
          /^CLOSE(_|$)/.test(node.name.text)
        )
          found.push(`${file}:${lineOf(source, node)}: declares ${node.name.text}`)
        ts.forEachChild(node, visit)
      }
      visit(source)
    }
    assert.ok(checked > 30, `found the close sites (${checked})`)
    assert.deepEqual(found, [], 'name the code in server/sync/close-codes.ts and import it from there')
  })

  test('each code is distinct, documented in docs/protocol.md, and the editor agrees on 4410', () => {
    const values = ALL_CODES.map(([, value]) => value)
    assert.equal(new Set(values).size, values.length, JSON.stringify(ALL_CODES))
    const doc = fs.readFileSync('docs/protocol.md', 'utf8')
    const table = doc.slice(doc.indexOf('## Close codes'))
    for (const [name, value] of ALL_CODES)
      assert.match(table, new RegExp(`^\\| ${value} \\| \`${name.replace('.', '\\.')}\` \\|`, 'm'), name)
    // The browser editor cannot import server code: its copy must be the same number.
    const editor = fs.readFileSync('client/editor.ts', 'utf8')
    assert.match(editor, new RegExp(`const CLOSE_PAD_DELETED = ${closeCodes.CLOSE_PAD_DELETED}\\b`))
  })
})

describe('storage: SQL lives in server/storage/, behind its interfaces', () => {
  /**
   * Known, and someone else's to move (issue 23): the CLI's forget-history runs minutes'
   * forgetStored in a transaction of its own. Remove the entry when it goes through PadLog.
   */
  const PENDING = ['server/ops/cli-commands.ts: core.db.transaction(() => core.minutes.forgetStored(padId!))']

  test('no .prepare(, .transaction( or .pragma( call, nor better-sqlite3, outside server/storage/', () => {
    const home = `${path.join('server', 'storage')}${path.sep}`
    const found: string[] = []
    let checked = 0
    for (const [file, source] of sources('server')) {
      if (file.startsWith(home)) continue
      checked++
      const visit = (node: ts.Node): void => {
        if (
          ts.isCallExpression(node) &&
          ts.isPropertyAccessExpression(node.expression) &&
          ['prepare', 'transaction', 'pragma'].includes(node.expression.name.text)
        ) {
          const at = `${file.split(path.sep).join('/')}: ${node.getText(source).split('\n')[0]}`
          if (!PENDING.some((known) => at.startsWith(known)))
            found.push(`${at} (line ${lineOf(source, node)})`)
        }
        ts.forEachChild(node, visit)
      }
      visit(source)
      for (const statement of source.statements)
        if (
          ts.isImportDeclaration(statement) &&
          ts.isStringLiteral(statement.moduleSpecifier) &&
          statement.moduleSpecifier.text === 'better-sqlite3'
        )
          found.push(`${file}: imports better-sqlite3`)
    }
    assert.ok(checked > 50, `scanned ${checked} files`)
    assert.deepEqual(found, [])
  })

  test('the domain (meetings, access, history) and HTTP see storage only through its interfaces', () => {
    const found: string[] = []
    for (const folder of ['meetings', 'access', 'history', 'http'])
      for (const [file, source] of sources(path.join('server', folder)))
        for (const statement of source.statements)
          if (
            ts.isImportDeclaration(statement) &&
            ts.isStringLiteral(statement.moduleSpecifier) &&
            /(^|\/)storage\/(db|store)\.ts$/.test(statement.moduleSpecifier.text)
          )
            found.push(`${file} imports ${statement.moduleSpecifier.text}`)
    assert.deepEqual(found, [])
  })
})
