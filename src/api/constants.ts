// Limits of the local API. Each one bounds what a single local client, or a
// web page trying its luck against 127.0.0.1, can make the daemon hold.

export const API_HOST_DEFAULT = '127.0.0.1'

/** Request bodies are small JSON commands; anything bigger is a mistake or an attack. */
export const BODY_BYTES_MAX_DEFAULT = 64 * 1024
/** After a 413 we keep reading (and discarding) this much so the client sees the answer, not a reset. */
export const BODY_DRAIN_BYTES_MAX = 1024 * 1024

/** Whole request (headers and body) must arrive within this; defeats slowloris-style trickling. */
export const REQUEST_TIMEOUT_MS_DEFAULT = 5_000
/** How often Node checks the timeout above (its default, 30 s, would make it meaningless). */
export const TIMEOUT_CHECK_INTERVAL_MS = 500
export const KEEP_ALIVE_TIMEOUT_MS = 5_000
export const HEADER_BYTES_MAX = 8 * 1024
export const HEADERS_COUNT_MAX = 64
export const CONNECTIONS_MAX = 512

export const WS_CLIENTS_MAX_DEFAULT = 32
/** A subscriber that falls this far behind is dropped rather than buffered for forever. */
export const WS_BUFFERED_BYTES_MAX = 1024 * 1024
/** The event stream is one-way; clients have no reason to send big frames. */
export const WS_INCOMING_BYTES_MAX = 4 * 1024
export const WS_CLOSE_GRACE_MS = 1_000

export const EVENTS_PATH = '/v1/events'
/** Browsers cannot set headers on a WebSocket, so they offer the token as a subprotocol. */
export const WS_PROTOCOL = 'parley-token'
export const WS_TOKEN_PROTOCOL_PREFIX = `${WS_PROTOCOL}.`

export const TOKEN_FILE = 'api-token'
export const DAEMON_FILE = 'daemon.json'
export const TOKEN_BYTES = 32

export const CLIENT_TIMEOUT_MS_DEFAULT = 60_000
export const CLIENT_RESPONSE_BYTES_MAX = 16 * 1024 * 1024
export const CLIENT_HANDSHAKE_TIMEOUT_MS = 10_000
