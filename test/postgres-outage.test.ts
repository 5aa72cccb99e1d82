/**
 * The database failing under people typing: a server whose rooms persist to PostgreSQL (PgPadLog)
 * while five stock y-websocket clients type and PostgreSQL is stopped as a crash (`-m immediate`)
 * and started again. Edits made while it is down are not broadcast (never acknowledged), the
 * clients are closed with a retryable code and keep reconnecting by themselves, and once the
 * database is back every character anyone typed is stored: nothing is lost, nobody reloads.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { openPostgres } from '../server/storage/postgres/open.ts'
import { CLOSE } from '../server/sync/close-codes.ts'
import { type Client, connectClient, sleep, startTestServer, storedPadText, waitFor } from './helpers.ts'
import { type TestPostgres, testPostgres } from './postgres.ts'

let postgres: TestPostgres
before(async () => {
  postgres = await testPostgres()
  console.log(`# PostgreSQL started in ${postgres.startMs} ms on port ${postgres.port}`)
})
after(() => postgres.stop())

/** Typists, and how many words each types: bounded in count, paced so the outage falls mid-way. */
const TYPISTS = 5
const WORDS = 60
const PAUSE_MS = 40

test('PostgreSQL restarted while five people type: retryable closes, then everything typed is stored', async () => {
  const storage = await openPostgres({
    connectionString: await postgres.freshDatabase(),
    onIdleError: () => {},
  })
  const server = await startTestServer({}, { padLog: () => storage.padLog })
  const clients: Client[] = []
  const closeCodes: number[] = []
  try {
    for (let i = 0; i < TYPISTS; i++) {
      const client = connectClient(server.wsUrl, 'outage', { name: `T${i}` })
      client.provider.on('connection-close', (event: { code: number } | null) => {
        if (event) closeCodes.push(event.code)
      })
      clients.push(client)
    }
    await Promise.all(clients.map((c) => c.synced()))
    const typed: string[][] = clients.map(() => [])
    const typing = clients.map(async (client, i) => {
      for (let n = 0; n < WORDS; n++) {
        const word = `t${i}w${n}`
        client.text.insert(client.text.length, `${word} `)
        typed[i]!.push(word)
        await sleep(PAUSE_MS)
      }
    })
    await sleep((WORDS * PAUSE_MS) / 3)
    await postgres.stopServer('immediate')
    // Down for a while, people still typing into their local copies.
    await sleep(1500)
    await postgres.startServer()
    await Promise.all(typing)
    // Service resumes by itself: every client reconnects, syncs and sees everyone's words.
    const everything = typed.flat()
    await waitFor(
      'every client to hold every word',
      () => clients.every((c) => everything.every((w) => c.text.toString().includes(`${w} `))),
      60_000,
    )
    await waitFor('every client synced', () => clients.every((c) => c.provider.synced), 30_000)
    // Closed with the retryable "internal error" (the stock client reconnects on it), never 44xx.
    assert.ok(closeCodes.includes(CLOSE.internalError), `close codes seen: ${closeCodes.join(', ')}`)
    assert.ok(
      closeCodes.every((code) => code < 4400 || code > 4499),
      `no code that stops the client: ${closeCodes.join(', ')}`,
    )
    // Everything typed, before, during and after the outage, is in the database.
    let stored = ''
    // The last words' commits may still be on their way: read again, bounded.
    for (let i = 0; i < 100 && !everything.every((w) => stored.includes(`${w} `)); i++) {
      stored = await storedPadText(storage.padLog, 'outage')
      await sleep(100)
    }
    const missing = everything.filter((w) => !stored.includes(`${w} `))
    assert.deepEqual(missing, [], 'no typed word missing from the database')
    assert.equal(stored, clients[0]!.text.toString(), 'the database holds what the clients show')
  } finally {
    for (const c of clients) c.destroy()
    await server.close()
    await storage.close()
  }
})
