// Implementation limits of the session layer. Protocol timings (ping
// interval, idle timeout, backoff) are in src/wire/constants.ts with the spec.

/** How long `ping()` waits for its pong. */
export const PING_TIMEOUT_MS = 5_000
/** Bound on pings in flight per session. */
export const PINGS_PENDING_MAX = 64
/** After a goodbye, how long the stream may drain before it is destroyed. */
export const GOODBYE_FLUSH_MS = 1_000
/** Bound on sessions held by one node (each costs a UDX stream and keep-alives). */
export const SESSIONS_MAX = 1_024
/** Default deadline for connecting to an identity; `parley ping` promises "peer not found" within 10 s. */
export const CONNECT_TIMEOUT_MS = 9_000
