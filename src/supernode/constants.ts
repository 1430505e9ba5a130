// Implementation limits of the supernode role (docs/ARCHITECTURE.md, "supernode").
// Defaults an operator can change with `parley daemon --supernode --relay-…` flags.

/** Relay sessions (one per relayed peer pair, pending or active) a supernode carries at once. */
export const RELAY_SESSIONS_MAX = 64
/**
 * Bytes/s one relayed session may average, both directions together. An Opus
 * call is ~8 KiB/s each way; 256 KiB/s leaves room for video-less calls with
 * chat and modest files, not bulk transfers (those should wait for the direct path).
 */
export const RELAY_SESSION_BYTES_PER_S_MAX = 256 * 1024
/** Bytes/s the whole relay may average: 8 MiB/s (~67 Mbit/s) of a home or small VPS uplink. */
export const RELAY_TOTAL_BYTES_PER_S_MAX = 8 * 1024 * 1024
/**
 * A session may run this many seconds ahead of its rate before it is cut
 * (the bucket depth): room for UDX slow start and retransmission bursts.
 */
export const RELAY_BURST_S = 2
/** How often the relay reads its streams' byte counters. */
export const RELAY_SAMPLE_INTERVAL_MS = 500
/** A pairing request whose other half has not arrived after this long is dropped (hyperdht gives up after 15 s). */
export const RELAY_PAIRING_TIMEOUT_MS = 20_000
/** UDP-less clients one gateway serves at once (each holds a TCP link and a DHT announcement). */
export const GATEWAY_CLIENTS_MAX = 256
/** A tunnel whose far end has not accepted by then is given up. */
export const GATEWAY_TUNNEL_OPEN_TIMEOUT_MS = 10_000
