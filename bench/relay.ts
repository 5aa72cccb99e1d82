/**
 * The floor for fan-out: a relay that forwards frames between the sockets of one room and knows
 * no Yjs. It answers a client's sync step 1 with an empty step 2 (it holds no state, and the stock
 * client waits for a step 2 before it counts as synced), drops the step 1 / step 2 frames clients
 * send, and forwards everything else (updates, awareness) to every other socket of the room.
 * No persistence, no validation: whatever a server does beyond this costs latency.
 *
 * Run as a child by the benchmark: `PORT=... HOST=127.0.0.1 node --import tsx bench/relay.ts`.
 */
import http from 'node:http'
import { type WebSocket, WebSocketServer } from 'ws'

const MESSAGE_SYNC = 0
const SYNC_STEP1 = 0
const SYNC_STEP2 = 1
/** sync, step 2, varBytes of the empty update [0, 0]. */
const EMPTY_STEP2 = Uint8Array.of(MESSAGE_SYNC, SYNC_STEP2, 2, 0, 0)

const rooms = new Map<string, Set<WebSocket>>()
const server = http.createServer((_req, res) => res.end('relay'))
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 17 * 1024 * 1024 })

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy())
  const room = (req.url ?? '/').split('?', 1)[0]!
  wss.handleUpgrade(req, socket, head, (ws) => {
    let peers = rooms.get(room)
    if (!peers) {
      peers = new Set()
      rooms.set(room, peers)
    }
    const members = peers
    members.add(ws)
    ws.on('error', () => ws.terminate())
    ws.on('close', () => {
      members.delete(ws)
      if (members.size === 0) rooms.delete(room)
    })
    ws.on('message', (data: Buffer) => {
      if (data[0] === MESSAGE_SYNC && data[1] === SYNC_STEP1) return ws.send(EMPTY_STEP2)
      if (data[0] === MESSAGE_SYNC && data[1] === SYNC_STEP2) return
      for (const peer of members) if (peer !== ws && peer.readyState === peer.OPEN) peer.send(data)
    })
  })
})

const port = Number(process.env.PORT ?? 0)
const host = process.env.HOST ?? '127.0.0.1'
server.listen(port, host, () => {
  console.log(`relay listening on ws://${host}:${(server.address() as { port: number }).port}`)
})
const stop = () => {
  for (const ws of wss.clients) ws.close(1012, 'relay restart')
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
