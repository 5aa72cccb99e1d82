/**
 * While the server shuts down, no HTTP connection outlives its response. `server.close()` stops
 * the listener and closes the connections idle at that moment, but a connection busy then stays
 * kept alive afterwards: a load balancer in front (which keeps its connections to each server and
 * reuses them) goes on sending requests down it, and the shutdown timeout then cuts one of them
 * mid-way (the person sees an error page). Ended after its response instead, the connection is
 * gone before the balancer's next request, which opens a new one, is refused, and goes to another
 * server (HAProxy: `retries` and `option redispatch`).
 */
import type http from 'node:http'

export function closeConnectionsWhen(server: http.Server, shuttingDown: () => boolean): void {
  // Prepended: the decision must be made before the app writes the response headers.
  server.prependListener('request', (req, res) => {
    if (shuttingDown()) res.shouldKeepAlive = false
    // A response begun before the shutdown went out kept-alive: end its connection once it is done.
    res.once('finish', () => {
      if (shuttingDown()) req.socket.end()
    })
  })
}
