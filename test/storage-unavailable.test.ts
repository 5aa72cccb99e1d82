/**
 * Pages and API calls while the database is down (issue 24, "the database failing"): a server on a
 * PostgreSQL of the test's own, stopped as a crash. A person opening a pad gets an HTML page saying
 * to try again in a moment, a script gets the one JSON error shape with `storage_unavailable`, both
 * a 503 with Retry-After; the log has a warning, not an internal error with a stack per request;
 * and once the database is back both answer 200 by themselves.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { StorageUnavailable } from '../server/lib/domain-errors.ts'
import { storageUnavailable } from '../server/storage/unavailable.ts'
import { apiCall, assertApiError, assertNoInternals, okJson, startTestServer, waitFor } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let postgres: TestPostgres
before(async () => {
  postgres = await testPostgres()
})
after(() => postgres.stop())

/** As a browser asks for a page. */
const AS_BROWSER = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }

/** pino's numeric levels. */
const WARN = 40
const ERROR = 50

test('PostgreSQL down: the pad page is a 503 HTML page, the API a 503 storage_unavailable, both with Retry-After; both recover by themselves', async () => {
  const server = await startTestServer({ databaseUrl: await postgres.freshDatabase() })
  let stopped = false
  try {
    assert.equal(server.storage.engine, 'postgres')
    const pad = okJson<{ id: string }>(
      await apiCall(server, 'POST', '/api/pads', { title: 'Kernel BoF', kind: 'bof' }),
      201,
    )
    const padPage = () => apiCall(server, 'GET', `/p/${pad.id}`, undefined, undefined, AS_BROWSER)
    const exportTxt = () => apiCall(server, 'GET', `/api/pads/${pad.id}/export?format=txt`)
    assert.equal((await padPage()).status, 200)
    assert.equal((await exportTxt()).status, 200)

    await postgres.stopServer('immediate')
    stopped = true
    const loggedBefore = server.logLines.length

    const page = await padPage()
    assert.equal(page.status, 503, page.text.slice(0, 300))
    assert.match(page.contentType, /^text\/html/)
    assert.ok(Number(page.headers.get('retry-after')) > 0, `Retry-After: ${page.headers.get('retry-after')}`)
    assert.match(page.text, /The database is not answering; try again in a moment/)
    assert.doesNotMatch(page.text, /"error"|internal server error/)
    assertNoInternals(page.text)

    const api = await exportTxt()
    const message = assertApiError(api, 503, 'storage_unavailable')
    assert.match(message, /database is not answering/)
    assert.ok(Number(api.headers.get('retry-after')) > 0, `Retry-After: ${api.headers.get('retry-after')}`)

    // One warning per request, in plain words: no internal error, no stack.
    const logged = server.logLines.slice(loggedBefore)
    assert.deepEqual(
      logged.filter((l) => (l.level as number) >= ERROR),
      [],
      'no error-level lines for an outage',
    )
    const warnings = logged.filter((l) => (l.level as number) === WARN && l.msg === 'storage unavailable')
    assert.equal(warnings.length, 2, JSON.stringify(logged))
    assert.ok(!JSON.stringify(warnings).includes('\\n    at '), 'no stack in the warning')

    await postgres.startServer()
    stopped = false
    await waitFor('the pad page to answer again', async () => (await padPage()).status === 200, 20_000)
    assert.equal((await exportTxt()).status, 200)
  } finally {
    // Started again for the next test and the `after` hook's stop, even when this one failed.
    if (stopped) await postgres.startServer()
    await server.close()
  }
})

/** An error as node-postgres or node's net module makes them: a message and a code. */
const withCode = (message: string, code?: string): Error => Object.assign(new Error(message), { code })

test("each way the database goes away is recognised, with its reason; a request's own errors are not", () => {
  const away: [Error, RegExp][] = [
    [withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), /^database unreachable: /],
    [withCode('read ECONNRESET', 'ECONNRESET'), /^database unreachable: /],
    [withCode('terminating connection due to administrator command', '57P01'), /^database shut down: /],
    [
      withCode('terminating connection because of crash of another server process', '57P02'),
      /^database shut down: /,
    ],
    [withCode('the database system is starting up', '57P03'), /^database starting up or shutting down: /],
    [withCode('connection failure', '08006'), /^database connection failed: /],
    [new Error('Connection terminated unexpectedly'), /^database not answering: /],
    [new Error('timeout exceeded when trying to connect'), /^database not answering: /],
    // pg-pool wraps the cause of its connect timeout.
    [
      new Error('wrapped', { cause: new Error('Connection terminated due to connection timeout') }),
      /not answering/,
    ],
  ]
  for (const [err, reason] of away) {
    const found = storageUnavailable(err)
    assert.ok(found instanceof StorageUnavailable, err.message)
    assert.equal(found.code, 'storage_unavailable')
    assert.match(found.reason, reason)
    assert.match(found.message, /^The database is not answering; try again in a moment/)
  }
  for (const err of [
    withCode('duplicate key value violates unique constraint "pads_pkey"', '23505'),
    withCode('syntax error at or near "SELEC"', '42601'),
    withCode('canceling statement due to statement timeout', '57014'),
    withCode('database is locked', 'SQLITE_BUSY'),
    new Error('Connection is fine, this is something else'),
    'a string',
    null,
  ])
    assert.equal(storageUnavailable(err), null, String(err))
})
