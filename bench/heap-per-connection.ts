/**
 * Live JS heap per idle websocket connection, by kind of object: the evidence behind the idle
 * benchmark's "JS heap" column, which says how much but not what.
 *
 *   node --expose-gc --import tsx bench/heap-per-connection.ts --server=summitpad
 *   node --expose-gc --import tsx bench/heap-per-connection.ts --server=reference
 *   options: --connections=1000 (measured), --warm=50 (opened before the first snapshot), --top=40
 *
 * The server runs in this process (Summitpad through `startSummitpad`, as the tests start it; the
 * reference as its server.js does: `setupWSConnection` behind a noServer ws server); the clients
 * run in a child process, so their objects are not counted. All of them join one pad, synced and
 * without awareness, as in the benchmark. After a warm-up batch (JIT, the room loaded) a heap
 * snapshot is written; after `connections` more, another (each preceded by a full GC). The diff,
 * grouped by node type and constructor or closure name, is printed per connection.
 */
import { fork } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import { setupWSConnection } from '@y/websocket-server/utils'
import { WebSocketServer } from 'ws'
import { startSummitpad } from '../server/app.ts'
import { DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { openAll, RawClient } from './clients.ts'

type ServerName = 'summitpad' | 'reference'

/** Messages between this script and its client child. */
type ToChild = { open: number } | { exit: true }
type FromChild = { opened: number } | { failed: string }

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback
}

const PAD = 'idle'

/** The child: opens raw synced clients when told to, and keeps them open until told to exit. */
async function runClients(url: string): Promise<void> {
  const clients: RawClient[] = []
  const send = (message: FromChild) => process.send?.(message)
  process.on('message', (message: ToChild) => {
    if ('exit' in message) {
      for (const client of clients) client.close()
      process.exit(0)
    }
    openAll(message.open, () => new RawClient(url)).then(
      (opened) => {
        clients.push(...opened)
        send({ opened: clients.length })
      },
      (err: Error) => send({ failed: err.message }),
    )
  })
}

interface InProcessServer {
  url: string
  close(): Promise<void>
}

async function startServer(name: ServerName, dataDir: string): Promise<InProcessServer> {
  if (name === 'summitpad') {
    const config = {
      ...DEFAULTS,
      port: 0,
      dataDir,
      logLevel: 'warn',
      // One address opens every connection (one pad, so no new-pad limit applies): lifted so that
      // `--connections` past the shipped 4,000 measures memory, not the limit.
      maxConnectionsPerIp: 1_000_000,
    }
    const server = await startSummitpad(config, createLogger(config.logLevel))
    return { url: `${server.url.replace(/^http/, 'ws')}/sync/${PAD}`, close: () => server.close() }
  }
  // As node_modules/@y/websocket-server/src/server.js wires it.
  const wss = new WebSocketServer({ noServer: true })
  wss.on('connection', setupWSConnection)
  const httpServer = http.createServer((_req, res) => res.end('okay'))
  httpServer.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  )
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const { port } = httpServer.address() as { port: number }
  return {
    url: `ws://127.0.0.1:${port}/${PAD}`,
    close: async () => {
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      await new Promise((resolve) => httpServer.close(resolve))
    },
  }
}

interface Group {
  count: number
  bytes: number
}

/** Heap-snapshot nodes grouped by "type name" (strings by type only: their names are their text). */
function groupSnapshot(file: string): Map<string, Group> {
  const snapshot = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
    nodes: number[]
    strings: string[]
    /** Flat (node index, script id, line, column) for closures: anonymous ones are told apart by place. */
    locations?: number[]
  }
  const { node_fields: fields, node_types: types } = snapshot.snapshot.meta
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const typeNames = types[0]
  const groups = new Map<string, Group>()
  const { nodes, strings } = snapshot
  const where = new Map<number, string>()
  const locations = snapshot.locations ?? []
  for (let i = 0; i < locations.length; i += 4) {
    where.set(
      locations[i]!,
      ` @script ${locations[i + 1]} line ${locations[i + 2]! + 1}:${locations[i + 3]! + 1}`,
    )
  }
  for (let i = 0; i < nodes.length; i += width) {
    const type = typeNames[nodes[i + typeAt]!] ?? '?'
    const place = type === 'closure' ? (where.get(i) ?? '') : ''
    const key =
      type.includes('string') || type === 'number' ? type : `${type} ${strings[nodes[i + nameAt]!]}${place}`
    const group = groups.get(key) ?? { count: 0, bytes: 0 }
    group.count++
    group.bytes += nodes[i + sizeAt]!
    groups.set(key, group)
  }
  return groups
}

function measure(): { usage: NodeJS.MemoryUsage; file: string } {
  globalThis.gc?.()
  globalThis.gc?.()
  return {
    usage: process.memoryUsage(),
    file: v8.writeHeapSnapshot(
      path.join(os.tmpdir(), `heap-per-conn-${process.pid}-${Date.now()}.heapsnapshot`),
    ),
  }
}

async function main(): Promise<void> {
  const clientUrl = option('clients', '')
  if (clientUrl) return runClients(clientUrl)
  if (!globalThis.gc) throw new Error('run with node --expose-gc (see the header of this file)')
  const name = option('server', 'summitpad') as ServerName
  if (name !== 'summitpad' && name !== 'reference') throw new Error(`--server is summitpad or reference`)
  const connections = Number(option('connections', '1000'))
  const warm = Number(option('warm', '50'))
  const top = Number(option('top', '40'))

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heap-per-conn-'))
  const server = await startServer(name, dataDir)
  const child = fork(fileURLToPath(import.meta.url), [`--clients=${server.url}`], {
    execArgv: ['--import', 'tsx'],
  })
  const open = (n: number) =>
    new Promise<void>((resolve, reject) => {
      child.once('message', (reply: FromChild) =>
        'opened' in reply ? resolve() : reject(new Error(reply.failed)),
      )
      child.send({ open: n } satisfies ToChild)
    })
  const files: string[] = []
  try {
    await open(warm)
    // Let the sockets' first timers and promises settle before the baseline.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = measure()
    files.push(before.file)
    await open(connections)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = measure()
    files.push(after.file)

    const a = groupSnapshot(before.file)
    const b = groupSnapshot(after.file)
    const rows: { key: string; count: number; bytes: number }[] = []
    let total = 0
    for (const key of new Set([...a.keys(), ...b.keys()])) {
      const count = (b.get(key)?.count ?? 0) - (a.get(key)?.count ?? 0)
      const bytes = (b.get(key)?.bytes ?? 0) - (a.get(key)?.bytes ?? 0)
      total += bytes
      if (count !== 0 || bytes !== 0) rows.push({ key, count, bytes })
    }
    rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes))
    const per = (n: number) => (n / connections).toFixed(2).padStart(8)
    console.log(`${name}: ${connections} idle connections (after ${warm} warm-up ones), per connection:`)
    // Outside the JS heap: Buffers and ArrayBuffers ("external"), and what RSS adds (sockets' native
    // state, the allocator, heap pages V8 keeps).
    for (const field of ['heapUsed', 'external', 'arrayBuffers', 'rss'] as const)
      console.log(`  ${`${field} after GC`.padEnd(18)} ${per(after.usage[field] - before.usage[field])} B`)
    console.log(`  snapshot self size ${per(total)} B`)
    console.log(`\n${'objects'.padStart(8)} ${'bytes'.padStart(8)}  type and name`)
    for (const row of rows.slice(0, top)) console.log(`${per(row.count)} ${per(row.bytes)}  ${row.key}`)
  } finally {
    child.send({ exit: true } satisfies ToChild)
    await server.close()
    for (const file of files) fs.rmSync(file, { force: true })
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

// The in-process server may keep handles (the reference's per-document state): this is a one-shot script.
await main()
if (!option('clients', '')) process.exit(0)
