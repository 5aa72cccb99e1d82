/**
 * A TCP relay on 127.0.0.1 that a test can cut: one server's way to PostgreSQL, so that it alone
 * loses the database (its connections reset, new ones refused) while other servers go on
 * writing, and then gets it back. A real network cut, with nothing timed.
 */
import net from 'node:net'

export interface TcpProxy {
  port: number
  /** Resets every relayed connection and refuses new ones until `restore`. */
  cut(): void
  /**
   * Stops relaying without a reset (a firewall that dropped its state, a host gone): the
   * connections stay open and nothing arrives; new ones are refused. `restore` then resets them.
   */
  freeze(): void
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const live = new Set<net.Socket>()
  let isCut = false
  let frozen = false
  const server = net.createServer((client) => {
    client.on('error', () => {})
    if (isCut) {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect(targetPort, '127.0.0.1')
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.on('close', () => {
      upstream.destroy()
      live.delete(client)
      live.delete(upstream)
    })
    upstream.on('close', () => client.destroy())
    live.add(client)
    live.add(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      isCut = true
      for (const socket of live) socket.resetAndDestroy()
      live.clear()
    },
    freeze() {
      isCut = true
      frozen = true
      for (const socket of live) socket.pause()
    },
    restore() {
      if (frozen) for (const socket of live) socket.resetAndDestroy()
      if (frozen) live.clear()
      isCut = false
      frozen = false
    },
    close() {
      for (const socket of live) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
