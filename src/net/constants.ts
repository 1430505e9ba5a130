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
