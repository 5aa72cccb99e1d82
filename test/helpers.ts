/**
 * Test helpers: a real server on port 0 with a temp data dir, real y-websocket clients, raw
 * sockets speaking y-protocols, and a bounded `waitFor`.
 */

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { type OpsOptions, type Summitpad, startSummitpad } from '../server/app.ts'
import { type Config, DEFAULTS } from '../server/ops/config.ts'
import { createLogger } from '../server/ops/logger.ts'
import { MemoryPadLog, type MemoryPadLogOptions } from '../server/storage/memory-pad-log.ts'
import { type MemoryStorage, openMemoryStorage } from '../server/storage/memory-storage.ts'
import type { PadLog } from '../server/storage/pad-log.ts'
import { prng } from './prng.ts'
import { testDatabaseUrl } from './test-storage.ts'

export function tempDir(prefix = 'summitpad-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export interface TestServer extends Summitpad {
  wsUrl: string
  dataDir: string
  /** Log lines the server wrote (JSON objects). */
  logLines: Record<string, unknown>[]
}

/**
 * The pad log the rooms of test servers persist to: SQLite's, unless SUMMITPAD_TEST_PAD_LOG=memory
 * (then a MemoryPadLog answering after random delays, seeded by SUMMITPAD_TEST_PAD_LOG_SEED or at
 * random, printed), so that any suite can run its sync tests against an asynchronous store.
 * (SUMMITPAD_TEST_PAD_LOG=postgres, once the rooms' log alone on PostgreSQL, is now the whole
 * storage there: SUMMITPAD_TEST_STORAGE=postgres, test-storage.ts.)
 */
function padLogFromEnv(): OpsOptions['padLog'] {
  if (process.env.SUMMITPAD_TEST_PAD_LOG !== 'memory') return undefined
  const seed = seedFromEnv('SUMMITPAD_TEST_PAD_LOG_SEED')
  console.log(`# pad log in memory: SUMMITPAD_TEST_PAD_LOG_SEED=${seed}`)
  return () => slowMemoryPadLog(seed)
}

/** Longest random wait of `slowMemoryPadLog`: a few ticks of the event loop, as a networked store. */
export const MEMORY_PAD_LOG_MAX_DELAY_MS = 15

/** A MemoryPadLog whose every call waits 0–MEMORY_PAD_LOG_MAX_DELAY_MS ms, drawn from `seed`. */
export function slowMemoryPadLog(seed: number, options: MemoryPadLogOptions = {}): MemoryPadLog {
  const random = prng(seed)
  return new MemoryPadLog({ delayMs: () => random() * MEMORY_PAD_LOG_MAX_DELAY_MS, ...options })
}

/** The in-memory engine whole (pad log, history, search), every call waiting as `slowMemoryPadLog`'s. */
export function slowMemoryStorage(seed: number): MemoryStorage {
  const random = prng(seed)
  return openMemoryStorage({ delayMs: () => random() * MEMORY_PAD_LOG_MAX_DELAY_MS })
}

/**
 * Starts a server as a test's own, on the engine SUMMITPAD_TEST_STORAGE picks (test-storage.ts):
 * on PostgreSQL through DATABASE_URL (`config.databaseUrl`, the production path), a database per
 * data dir, so a restart on the same data dir finds its pads. A test that gives its own storage
 * or pad log, or a `databaseUrl` (null: SQLite), runs on that.
 */
export async function startTestServer(
  overrides: Partial<Config> = {},
  options: OpsOptions = {},
): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir()
  const databaseUrl =
    overrides.databaseUrl !== undefined || options.storage || options.padLog
      ? (overrides.databaseUrl ?? null)
      : await testDatabaseUrl(dataDir)
  const ops: OpsOptions = { padLog: padLogFromEnv(), ...options }
  const logLines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line))
      done()
    },
  })
  const config: Config = {
    ...DEFAULTS,
    port: 0,
    logLevel: 'warn',
    unloadDelayMs: 200,
    ...overrides,
    dataDir,
    databaseUrl,
  }
  const server = await startSummitpad(config, createLogger(config.logLevel, sink), ops)
  return Object.assign(server, { wsUrl: server.url.replace(/^http/, 'ws') + '/sync', dataDir, logLines })
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A pad's text as its pad log holds it (a fresh server's load): its snapshot and rows applied to a new document. */
export async function storedPadText(padLog: PadLog, padId: string): Promise<string> {
  const stored = await padLog.load(padId)
  const doc = new Y.Doc()
  if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
  for (const row of stored?.updates ?? []) Y.applyUpdate(doc, row.data)
  const text = doc.getText('notes').toString()
  doc.destroy()
  return text
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface Client {
  doc: Y.Doc
  text: Y.Text
  provider: WebsocketProvider
  synced(): Promise<void>
  destroy(): void
}

/** The stock npm y-websocket client, as a bot or another editor would use it. */
export function connectClient(
  wsUrl: string,
  padId: string,
  options: {
    name?: string
    doc?: Y.Doc
    connect?: boolean
    params?: Record<string, string>
    /** The socket class (ws's by default): a subclass sees every frame, as the editor's save tracker does. */
    webSocket?: new (
      url: string,
      protocols?: string | string[],
    ) => WebSocket
  } = {},
): Client {
  const doc = options.doc ?? new Y.Doc()
  const provider = new WebsocketProvider(wsUrl, padId, doc, {
    WebSocketPolyfill: (options.webSocket ?? WebSocket) as unknown as typeof globalThis.WebSocket,
    connect: options.connect ?? true,
    disableBc: true,
    params: options.params ?? {},
  })
  if (options.name) provider.awareness.setLocalStateField('user', { name: options.name, color: '#3366cc' })
  return {
    doc,
    text: doc.getText('notes'),
    provider,
    // A generous deadline: a large pad on a busy 2-core machine can take seconds to load and apply.
    synced: () => waitFor(`client of ${padId} to sync`, () => provider.synced, 30_000),
    destroy: () => {
      provider.destroy()
      doc.destroy()
    },
  }
}

/** A raw websocket, for frames the stock client would never send. */
export async function rawSocket(
  wsUrl: string,
  padId: string,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<RawSocket> {
  const ws = new WebSocket(`${wsUrl}/${padId}${options.query ? `?${options.query}` : ''}`, {
    headers: options.headers ?? {},
  })
  const raw: RawSocket = { ws, received: [], closed: null }
  ws.binaryType = 'nodebuffer'
  ws.on('message', (data) => raw.received.push(new Uint8Array(data as Buffer)))
  ws.on('close', (code, reason) => {
    raw.closed = { code, reason: reason.toString() }
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
    )
    ws.once('error', reject)
  })
  return raw
}

export interface RawSocket {
  ws: WebSocket
  received: Uint8Array[]
  closed: { code: number; reason: string } | null
}

/**
 * The upgrade response status for a raw path (not normalised, as a script could send it), or 101.
 * `localAddress`: the loopback address it comes from (127.0.0.x: one attendee of several).
 */
export function upgradeStatus(
  baseUrl: string,
  rawPath: string,
  extraHeaders: Record<string, string> = {},
  localAddress?: string,
): Promise<number> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port,
      localAddress,
      path: rawPath,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...extraHeaders,
      },
    })
    req.on('upgrade', (_res, socket) => {
      socket.destroy()
      resolve(101)
    })
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

export { prng }

export function seedFromEnv(name: string): number {
  const fromEnv = process.env[name]
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
}

/** An HTTP reply as the API tests read it: the status, the headers, the body as bytes, text and JSON. */
export interface ApiReply {
  status: number
  headers: Headers
  contentType: string
  bytes: Uint8Array
  text: string
  /** The parsed body when it is JSON, else null. */
  json: unknown
}

/** One request to a test server: a JSON body by default; a string or bytes go as they are. */
export async function apiCall(
  server: { url: string },
  method: string,
  urlPath: string,
  body?: unknown,
  contentType = 'application/json',
  headers: Record<string, string> = {},
): Promise<ApiReply> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body =
      typeof body === 'string' || body instanceof Uint8Array
        ? (body as RequestInit['body'])
        : JSON.stringify(body)
    init.headers = { ...headers, 'content-type': contentType }
  }
  const res = await fetch(`${server.url}${urlPath}`, init)
  const bytes = new Uint8Array(await res.arrayBuffer())
  const text = new TextDecoder().decode(bytes)
  const contentTypeOut = res.headers.get('content-type') ?? ''
  return {
    status: res.status,
    headers: res.headers,
    contentType: contentTypeOut,
    bytes,
    text,
    json: contentTypeOut.startsWith('application/json') && text ? JSON.parse(text) : null,
  }
}

/** The JSON body of a reply, after checking its status. */
export function okJson<T>(reply: ApiReply, status = 200): T {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status}: ${reply.text.slice(0, 500)}`)
  return reply.json as T
}

// ------------------------------------------------------------------ the admin CLI

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BIN = path.join(ROOT, 'bin', 'summitpad.js')
const TSX = import.meta.resolve('tsx')
/** A command that has not finished by then has hung: the test fails instead of waiting forever. */
const CLI_TIMEOUT_MS = 60_000

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI in a child process: through the bin shim, or as `node --import tsx server/cli.ts`. */
export function cli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; viaBin?: boolean } = {},
) {
  // tsx by URL: the CLI may run in any directory, where a bare 'tsx' would not resolve.
  const argv = options.viaBin ? [BIN, ...args] : ['--import', TSX, path.join(ROOT, 'server/cli.ts'), ...args]
  const env = { ...process.env, LOG_LEVEL: '', DATA_DIR: '', ...options.env }
  return new Promise<CliResult>((resolve, reject) => {
    execFile(
      process.execPath,
      argv,
      { cwd: options.cwd ?? ROOT, env, timeout: CLI_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err)
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr })
      },
    )
  })
}

/** Nothing of the server's insides: no stack frames, no file paths, no error class names. */
export function assertNoInternals(text: string): void {
  assert.doesNotMatch(text, /\n\s+at |\bat \S+ \(|\/work\/|\/tmp\/|node_modules|file:\/\/|\.ts:\d|\w+Error\b/)
}

/** The one error shape: `{ error: { code, message } }` and nothing else; returns the message. */
export function assertApiError(reply: ApiReply, status: number, code?: string, context = ''): string {
  assert.equal(reply.status, status, `${context}expected ${status}, got ${reply.status}: ${reply.text}`)
  assert.match(reply.contentType, /^application\/json/)
  const body = reply.json as { error?: { code?: unknown; message?: unknown } }
  assert.deepEqual(Object.keys(body), ['error'], reply.text)
  assert.deepEqual(Object.keys(body.error ?? {}).sort(), ['code', 'message'], reply.text)
  assert.equal(typeof body.error?.code, 'string')
  assert.equal(typeof body.error?.message, 'string')
  if (code !== undefined) assert.equal(body.error?.code, code, reply.text)
  const message = body.error?.message as string
  assert.ok(message.length > 0)
  assertNoInternals(reply.text)
  return message
}

/**
 * A Yjs update by `client` from clock 0: a GC struct `gap` clocks long, then `text` in notes, so
 * the text sits at clock `gap` (clocks near 2^53, issue 20).
 */
export function gapThenText(client: number, gap: number, text: string): Uint8Array {
  const e = encoding.createEncoder()
  for (const v of [1, 2, client, 0]) encoding.writeVarUint(e, v)
  encoding.writeUint8(e, 0) // GC
  encoding.writeVarUint(e, gap)
  encoding.writeUint8(e, 4) // ContentString, parent named
  encoding.writeVarUint(e, 1)
  encoding.writeVarString(e, 'notes')
  encoding.writeVarString(e, text)
  encoding.writeVarUint(e, 0)
  return encoding.toUint8Array(e)
}
