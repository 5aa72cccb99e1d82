/**
 * Every WebSocket close code the server sends, in one place, each with why it is that code and
 * what the stock y-websocket client does on it (docs/protocol.md has the same table for clients).
 *
 * The rule behind the choice: y-websocket 3.1 stops reconnecting (and emits `closed`) on 4400-4499,
 * and reconnects on anything else with a backoff capped at 2.5 s, reset once a connection syncs.
 * So 44xx only for refusals a retry cannot fix; everything a later attempt can get past is
 * retryable. The 44xx codes echo the HTTP status that means the same (4401, 4403, 4413, 4429...).
 */

/** Codes of RFC 6455 section 7.4.1 and the IANA registry: the stock client reconnects on each. */
export const CLOSE = {
  /** A pad unloaded: only when no socket is on it, so in practice nobody reads this one. */
  normal: 1000,
  /**
   * Never sent on a socket: the refusal of a server write (a restore) that found the pad being
   * unloaded; the HTTP door answers 503 (send it again).
   */
  goingAway: 1001,
  /** A malformed message (a bug or a script: the stock client never sends one); it reconnects. */
  protocolError: 1002,
  /** A text frame: the protocol is binary only. */
  unsupportedData: 1003,
  /** An invalid Yjs update (shape, clocks, or it would not apply). */
  invalidPayload: 1007,
  /** A frame over MAX_FRAME_BYTES: sent by ws itself (its maxPayload); named here for the metrics. */
  tooBig: 1009,
  /** The pad could not be loaded or stored, or authorisation failed: nothing was lost, a retry may work. */
  internalError: 1011,
  /** The server is restarting: the client reconnects to the new process. */
  serviceRestart: 1012,
} as const

/**
 * A limit broken on purpose-shaped input (1008 Policy Violation): flooding, too many awareness
 * ids, too many frames before authorisation. Retryable: a reconnect starts a fresh allowance, and
 * the stock client and the editor stay far inside these limits.
 */
export const CLOSE_POLICY = 1008

/**
 * A wait said "later" (1013 Try Again Later): authorisation too slow, or a step 2 building on
 * another writer's edits not here yet. Only where the stock client's next attempt, a few seconds
 * on, can succeed without it changing what it sends; its backoff grows, since it never synced.
 */
export const CLOSE_TRY_LATER = 1013

/**
 * A socket that reads too slowly to keep up (its send buffer passed its bound). Not 44xx: the
 * stock client reconnects and catches up with a normal sync (though it cannot read this either).
 */
export const CLOSE_SLOW_READER = 4001

/** A closed session was reopened: not 44xx, so the stock client reconnects at once, writable. */
export const CLOSE_REOPENED = 4100

/** A malformed `writer` parameter in the URL: 44xx, the same URL would be refused again. */
export const CLOSE_BAD_WRITER_KEY = 4400

/**
 * No token, an unknown one, or a replaced link (as HTTP 401). The upgrade completes and closes at
 * once: an HTTP 401 at the upgrade reaches a browser as 1006 and is retried forever; 44xx stops it.
 */
export const CLOSE_UNAUTHORIZED = 4401

/** A token that does not open this pad, or a socket from another site's page (as HTTP 403); the client stops. */
export const CLOSE_FORBIDDEN = 4403

/**
 * A live update under another writer's client id (as HTTP 409): 44xx, so a client built to squat
 * stops, instead of retrying what would be refused again.
 */
export const CLOSE_NOT_YOUR_EDITS = 4409

/**
 * The pad was deleted (as HTTP 410 Gone): 44xx stops the stock client from reconnecting (and
 * re-creating it). The editor (client/editor.ts, its own copy of the number) also drops its local copy.
 */
export const CLOSE_PAD_DELETED = 4410

/** The pad is full, MAX_PAD_BYTES (as HTTP 413): 44xx, so the client stops re-sending what cannot fit. */
export const CLOSE_PAD_FULL = 4413

/**
 * A server write (a restore) into a closed session: a refusal code, never sent on a socket (peers
 * of a closed pad are told "read-only" and kept); the HTTP door answers it with 409.
 */
export const REFUSED_SESSION_CLOSED = 4423

/** An update putting something other than text into `notes` (as HTTP 415): never stored, the client stops. */
export const CLOSE_NOT_TEXT = 4415

/**
 * This address created too many pads in the last minute (as HTTP 429): 44xx, so the stock client
 * stops. It syncs (empty) before its first edit is refused, and a synced connection resets its
 * backoff: with a retryable code it would reconnect every ~200 ms until the minute is over,
 * re-sending the same refused edit each time. The browser shows the reason; the text stays in
 * its local copy and is sent when the page is reloaded.
 */
export const CLOSE_TOO_MANY_NEW_PADS = 4429

/**
 * A presence state over MAX_AWARENESS_STATE_BYTES (as HTTP 431, fields too large): 44xx, so the
 * stock client stops. It re-sends its own state on every connection, after syncing (which resets
 * its backoff): a retryable code would bring it back every ~200 ms.
 */
export const CLOSE_AWARENESS_TOO_LARGE = 4431
