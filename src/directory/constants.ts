// Constants of the directory (docs/PROTOCOL.md §11). Values marked with a §
// are protocol: a peer built from the document alone must agree on them.

/** §11.2: protomux protocol name of the directory channel (no id, no handshake payload). */
export const DIRECTORY_PROTOCOL = 'parley/directory'

/** §11.1: the only profile record version. */
export const PROFILE_VERSION = 1
/** §11.1: signing context; the signature covers context || 0x00 || every preceding byte. */
export const PROFILE_SIGNING_CONTEXT = 'parley/profile/v1'
/** §11.1: display name, UTF-8 bytes (1 … 64). */
export const PROFILE_NAME_BYTES_MAX = 64
/** §11.1: device certificates in one record (1 … 4). */
export const PROFILE_DEVICES_MAX = 4
/** §11.1: one encoded device certificate (§3.3) at most. */
export const PROFILE_CERTIFICATE_BYTES_MAX = 255
/** §11.1: mailbox supernodes listed in one record (0 … 4). */
export const PROFILE_MAILBOXES_MAX = 4
/** §11.1: a mailbox's host (an IPv4/IPv6 literal or a DNS name), UTF-8 bytes. */
export const PROFILE_HOST_BYTES_MAX = 253
/** §11.1: largest encoded record. */
export const PROFILE_BYTES_MAX = 2048
/** §11.1: largest `published_at_ms` (2^53 − 1). */
export const PROFILE_TIME_MS_MAX = Number.MAX_SAFE_INTEGER

/** §11.2: directory frame types. */
export const DIR_TYPE_PUBLISH = 0x01
export const DIR_TYPE_PUBLISHED = 0x02
export const DIR_TYPE_FIND_NAME = 0x03
export const DIR_TYPE_FIND_ID = 0x04
export const DIR_TYPE_RECORD = 0x05
export const DIR_TYPE_DONE = 0x06
/** §11.2: PUBLISHED status values. */
export const PUBLISH_STORED = 0
export const PUBLISH_STALE = 1
export const PUBLISH_FULL = 2
export const PUBLISH_REJECTED = 3
/** §11.2: largest directory frame (a PUBLISH or RECORD of the largest record). */
export const DIRECTORY_FRAME_BYTES_MAX = 1 + PROFILE_BYTES_MAX

/** §11.3: a record is kept (and believed) this long after its `published_at_ms`: 96 h. */
export const DIRECTORY_RETENTION_MS = 96 * 3_600_000
/** §11.3: a record dated further in the future than this is refused (clock skew). */
export const DIRECTORY_FUTURE_SKEW_MS = 600_000
/** §11.3: a publisher refreshes its record at least this often while online: 6 h. */
export const DIRECTORY_REFRESH_MS = 6 * 3_600_000
/** §11.2: records a supernode returns per query at most (the rest counted in DONE). */
export const DIRECTORY_RESULTS_MAX = 64

// Implementation bounds (not protocol).
/** Records one supernode keeps at most; a PUBLISH of a new identity beyond it is answered FULL. */
export const DIRECTORY_RECORDS_MAX = 100_000
/** Supernodes a client publishes to and searches, best round trip first. */
export const DIRECTORY_SUPERNODES_MAX = 8
/** How long one directory exchange may take before that supernode is skipped. */
export const DIRECTORY_OP_TIMEOUT_MS = 10_000
/** First publish after start, once supernodes have been looked up. */
export const DIRECTORY_FIRST_PUBLISH_MS = 500
/** How often the daemon checks whether its record is due (age, mailbox list). */
export const DIRECTORY_CHECK_MS = 600_000
/** A failed publish (no supernode reached) is retried after this long. */
export const DIRECTORY_RETRY_MS = 60_000
/** Profiles looked up by ID (for mailbox lists) are cached this long. */
export const DIRECTORY_CACHE_MS = 600_000
