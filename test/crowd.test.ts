/**
 * A whole room behind one address, with the shipped defaults: the chair puts a new pad's address
 * on the projector and everyone opens it at once; a venue's 40 rooms do the same. Every client is
 * the stock y-websocket one, from 127.0.0.1 (a venue's NAT address). No client may be refused,
 * every one syncs, and the first line typed reaches all of them. Deadlines are generous: the
 * machine is shared, and the test asserts what people see, not how fast.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Client, connectClient, startTestServer, type TestServer, waitFor } from './helpers.ts'

// Every stock client in node adds a process 'exit' listener; a thousand of them are expected here.
process.setMaxListeners(1100)

/**
 * Generous: hundreds of clients, their presence storm and the server share one process on a busy
 * 2-core machine (300 took 14 s on a quiet one, 85 s with other engineers' suites running).
 */
const SYNC_DEADLINE_MS = 200_000
/** From the first keystroke until the line is everywhere: one update to each client. */
const LINE_DEADLINE_MS = 60_000

interface Watched extends Client {
  /** Close codes this client's connections got (any close is a refusal or a failure here). */
  closes: number[]
  /** Connection errors (a refused upgrade, a reset), for the failure message. */
  errors: string[]
}

function join(server: TestServer, padId: string, name: string): Watched {
  const client = connectClient(server.wsUrl, padId, { name })
  const closes: number[] = []
  const errors: string[] = []
  client.provider.on('connection-close', (event) => {
    closes.push(event?.code ?? 0)
  })
  client.provider.on('connection-error', (event) => {
    errors.push(String((event as { message?: string }).message ?? event.type))
  })
  return Object.assign(client, { closes, errors })
}

function refusals(clients: readonly Watched[]): string {
  const codes = clients.flatMap((c) => c.closes)
  const errors = [...new Set(clients.flatMap((c) => c.errors))].slice(0, 5)
  return `${codes.length} closes (codes ${[...new Set(codes)].join(', ')})${errors.length ? `; errors: ${errors.join(' | ')}` : ''}`
}

/** Everyone joins at once; all sync; one types a line; it reaches everyone; nobody was closed. */
async function roomJoins(server: TestServer, pads: readonly string[], perPad: number): Promise<void> {
  const rooms = pads.map((pad) =>
    Array.from({ length: perPad }, (_, i) => join(server, pad, `${pad} person ${i}`)),
  )
  const everyone = rooms.flat()
  try {
    await waitFor(
      `all ${everyone.length} synced`,
      () => everyone.every((c) => c.provider.synced),
      SYNC_DEADLINE_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; ${refusals(everyone)}`)
    })
    const lines = rooms.map((room, p) => {
      const line = `Attendees: the whole room of ${pads[p]}\n`
      room[0]!.text.insert(0, line)
      return line
    })
    await waitFor(
      'the first line reaches everyone',
      () => rooms.every((room, p) => room.every((c) => c.text.toString() === lines[p])),
      LINE_DEADLINE_MS,
    )
    assert.equal(refusals(everyone), '0 closes (codes )')
    for (const pad of pads) assert.ok(server.store.exists(pad), `${pad} is stored`)
  } finally {
    for (const c of everyone) c.destroy()
  }
}

describe('a whole room behind one address, shipped defaults', () => {
  test('300 people open one new pad at once: none refused, all synced, the first line reaches all', async () => {
    const server = await startTestServer()
    try {
      await roomJoins(server, ['bof-new'], 300)
    } finally {
      await server.close()
    }
  })

  test('40 new pads × 25 people at once: none refused, all synced, each first line reaches its room', async () => {
    const server = await startTestServer()
    try {
      await roomJoins(
        server,
        Array.from({ length: 40 }, (_, i) => `room-${i}`),
        25,
      )
    } finally {
      await server.close()
    }
  })
})
