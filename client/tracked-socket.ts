/**
 * A WebSocket class for the stock y-websocket provider (its `WebSocketPolyfill` option) that
 * shows every frame in both directions to the save tracker. The message listener is added in the
 * constructor, so it runs before the provider's own `onmessage`.
 */
import type { SaveTracker } from './save-state.ts'

export function trackedWebSocket(tracker: SaveTracker): typeof WebSocket {
  return class TrackedWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener('open', () => tracker.socketOpened(this))
      this.addEventListener('close', () => tracker.socketClosed(this))
      this.addEventListener('message', (event: MessageEvent) => {
        if (event.data instanceof ArrayBuffer) tracker.incoming(this, new Uint8Array(event.data))
      })
    }

    override close(code?: number, reason?: string): void {
      // The provider drops a socket it thinks is dead (our reconnect, or 30 s of silence) without
      // waiting for its close event, which can take long on a dead network: stop counting on it now.
      tracker.socketClosed(this)
      super.close(code, reason)
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (data instanceof Uint8Array) tracker.outgoing(this, data)
      else if (data instanceof ArrayBuffer) tracker.outgoing(this, new Uint8Array(data))
      super.send(data)
    }
  }
}
