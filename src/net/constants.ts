// Implementation limits of the network layer (see docs/ARCHITECTURE.md, "net").

/** Most DHT nodes kept in the host cache file (Skype kept a few hundred supernodes). */
export const HOST_CACHE_NODES_MAX = 256
/** The cache is rewritten at most this often while the node runs (and once on clean shutdown). */
export const HOST_CACHE_SAVE_INTERVAL_MS = 30_000
/** hyperdht's own default UDP port; the `ListenPort` an administrator opens. */
export const DEFAULT_DHT_PORT = 49737
/** A lookup of an identity topic that finds nobody gives up after this long. */
export const LOOKUP_TIMEOUT_MS = 10_000
/** Most device announcements considered for one identity (bounds work on hostile topics). */
export const DEVICES_PER_LOOKUP_MAX = 16
/** Most supernodes kept in the host cache file and considered as relays. */
export const HOST_CACHE_SUPERNODES_MAX = 32
/** Supernodes are looked up and their round trips measured this often (and once at start). */
export const SUPERNODE_REFRESH_MS = 600_000
/** A supernode ping that takes longer than this counts as no answer. */
export const SUPERNODE_PING_TIMEOUT_MS = 2_000
/** A relay that refused or failed is skipped for this long. */
export const RELAY_REFUSED_COOLDOWN_MS = 60_000
/** Most relays one dial tries before it gives up on relaying. */
export const RELAY_ATTEMPTS_MAX = 3
/** How often a new relayed stream checks for a lost first flight (see nudgeRelayedStream). */
export const RELAY_NUDGE_POLL_MS = 5
/** Nudging stops after this long; UDX's own 1 s retransmission timeout takes over. */
export const RELAY_NUDGE_UNTIL_MS = 1_000
/** Most nudges one relayed stream sends. */
export const RELAY_NUDGES_MAX = 4
/** A Noise handshake over a gateway link or tunnel that has not completed by then is dropped. */
export const SECURE_HANDSHAKE_TIMEOUT_MS = 10_000
/** A TCP connect to a gateway (or through a proxy to it) that takes longer is abandoned. */
export const GATEWAY_CONNECT_TIMEOUT_MS = 5_000
/** After losing its gateway link a UDP-less node tries the next gateway after this (then backs off). */
export const GATEWAY_RETRY_MS_MIN = 250
export const GATEWAY_RETRY_MS_MAX = 10_000
/** Longest proxy reply header (HTTP CONNECT) we read before giving up on the proxy. */
export const PROXY_REPLY_BYTES_MAX = 8_192
/**
 * Pause after one random-port ("birthday") punch before the next may start.
 * hyperdht's default is 20 s; a host behind a symmetric NAT dialled by two
 * peers in a row then answers the second "try later", and that peer waits
 * another 10–20 s on the relay before punching at all. hyperdht still runs at
 * most one random punch at a time (256 sockets), which is the real bound.
 */
export const RANDOM_PUNCH_INTERVAL_MS = 2_000
/** How long a relay connection opened ahead of a dial waits to be used (RelaySocketTracker.prewarm). */
export const RELAY_PREWARM_MS = 5_000
/**
 * How often a node compares the DHT nodes that forward handshakes to it
 * (hyperdht replaces one that stops answering, pinging them every 3 s) with
 * those its announcements name, and announces again when they differ.
 */
export const RELAYS_CHECK_MS = 1_000
