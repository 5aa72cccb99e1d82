/**
 * server/http/closing-connections.ts on a plain node HTTP server: once it shuts down, a response
 * ends its kept-alive connection, so `server.close()` completes instead of waiting on a connection
 * that a load balancer keeps reusing (HAProxy does), and then cutting a request mid-way.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { closeConnectionsWhen } from '../server/http/closing-connections.ts'
import { waitFor } from './helpers.ts'

test('a request in flight when the shutdown begins is answered, and its kept-alive connection then ends', async () => {
  let shuttingDown = false
  let arrived: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    arrived = resolve
  })
  let release: () => void = () => {}
  const server = http.createServer((req, res) => {
    if (req.url !== '/held') {
      res.end('quick')
      return
    }
    arrived()
    new Promise<void>((resolve) => {
      release = resolve
    }).then(() => res.end('held'))
  })
  // Far longer than the deadline below: only the module under test can end the connection in time.
  server.keepAliveTimeout = 120_000
  closeConnectionsWhen(server, () => shuttingDown)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const get = (path: string) =>
    new Promise<{ body: string; socket: import('node:net').Socket }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          const socket = res.socket
          let body = ''
          res.setEncoding('utf8').on('data', (chunk: string) => {
            body += chunk
          })
          res.on('end', () => resolve({ body, socket }))
        })
        .on('error', reject)
    })
  try {
    assert.equal((await get('/quick')).body, 'quick')
    const inFlight = get('/held')
    await held
    shuttingDown = true
    let closed = false
    server.close(() => {
      closed = true
    })
    release()
    const answer = await inFlight
    assert.equal(answer.body, 'held', 'the request in flight is answered')
    await waitFor('the server to close: its last connection ended', () => closed, 30_000)
    await waitFor('the client to see its connection end', () => answer.socket.destroyed, 30_000)
  } finally {
    agent.destroy()
    server.closeAllConnections()
  }
})
