// Implementation limits of the session layer. Protocol timings (ping
// interval, idle timeout, backoff) are in src/wire/constants.ts with the spec.

/** How long `ping()` waits for its pong. */
export const PING_TIMEOUT_MS = 5_000
/** Bound on pings in flight per session. */
export const PINGS_PENDING_MAX = 64
/**
 * After a goodbye, the longest the stream may take to deliver it and close
 * before it is destroyed. 1 s lost goodbyes at 5% loss in the simulator (one
 * UDX retransmit timeout); 5 s still lost some at 20%.
 */
export const GOODBYE_FLUSH_MS_MAX = 10_000
/** A connection that has not said hello by then is dropped (it holds a session slot). */
export const HELLO_TIMEOUT_MS = 10_000
/** Bound on sessions held by one node (each costs a UDX stream and keep-alives). */
export const SESSIONS_MAX = 1_024
/** Default deadline for connecting to an identity; `parley ping` promises "peer not found" within 10 s. */
export const CONNECT_TIMEOUT_MS = 9_000
/**
 * Bound on tunnels (PROTOCOL.md §5.11) one session may carry at once; more
 * are refused. A gateway holds two channels per tunnel it forwards.
 */
export const TUNNELS_PER_SESSION_MAX = 64
/**
 * Tunnels one connect opens through a gateway when the gateway closes the
 * previous one before the inner handshake ended (it lost its session to the
 * peer; manager.ts throughGateway). A refusal is final and not retried.
 */
export const GATEWAY_TUNNEL_ATTEMPTS = 2
/**
 * A session whose path died (not one closed with a goodbye) is reconnected at
 * once by both sides — the first attempt after this long, then with the
 * delays below — for up to RECOVER_FOR_MS; peers someone maintains keep
 * their own backoff afterwards. This is the failover of PROTOCOL.md §5.9.
 * Every 0.5 s for the first 2 s: a side that notices at once (its gateway
 * link closed) is refused as a duplicate until the peer's copy has been
 * silent for 2 s (§5.8); with 1 s, 2 s steps it then waited up to 3.6 s.
 */
export const RECOVER_DELAYS_MS = [100, 500, 500, 500, 500, 1_000, 2_000, 4_000] as const
export const RECOVER_FOR_MS = 30_000
/** On shutdown, how long tunnelled sessions get to deliver their goodbyes before the gateway links close. */
export const SHUTDOWN_FLUSH_MS = 1_000
/** After a tunnel's channel closed, its reader gets this long to take the last bytes (a GOODBYE). */
export const TUNNEL_DRAIN_MS = 2_000
/**
 * When an identity has several announced devices (or a stale announcement of
 * a gateway that died), the next device is dialled this long after the
 * previous dial started if it has not finished yet, and at once if it failed.
 * The first session wins; a dead announcement then costs this much, not a
 * whole connect timeout.
 */
export const DEVICE_DIAL_STAGGER_MS = 300
