// Offline mailboxes on supernodes (docs/PROTOCOL.md §9.6). § values are protocol.

/** §9.6: protomux protocol name of the mailbox channel (no id, no handshake payload). */
export const MAILBOX_PROTOCOL = 'parley/mailbox'

/** §9.6: mailbox frame types. */
export const MAILBOX_TYPE_PUT = 0x01
export const MAILBOX_TYPE_STORED = 0x02
export const MAILBOX_TYPE_FETCH = 0x03
export const MAILBOX_TYPE_BLOB = 0x04
export const MAILBOX_TYPE_END = 0x05
export const MAILBOX_TYPE_DELETE = 0x06

/** §9.6: STORED status values. */
export const STORED_OK = 0
export const STORED_FULL = 1

/** §9.6: a blob id is 16 random bytes chosen by the depositor. */
export const BLOB_ID_BYTES = 16
/** §9.6: crypto_box_seal adds 48 bytes (ephemeral key 32 + MAC 16). */
export const SEAL_OVERHEAD_BYTES = 48
/** §9.6: largest sealed blob: the largest envelope (§9.2) sealed. */
export const BLOB_BYTES_MAX = 8400 + SEAL_OVERHEAD_BYTES
/** §9.6: largest mailbox frame (a PUT of the largest blob). */
export const MAILBOX_FRAME_BYTES_MAX = 1 + 32 + BLOB_ID_BYTES + BLOB_BYTES_MAX

/** §9.6: a supernode keeps a blob at least this long (7 days) unless fetched and deleted. */
export const MAILBOX_RETENTION_MS = 7 * 86_400_000
/** §9.6: blobs kept per recipient at most; a PUT beyond it is answered STORED_FULL. */
export const MAILBOX_BLOBS_PER_RECIPIENT_MAX = 1000
/** Implementation: blobs kept in one supernode's mailbox store at most. */
export const MAILBOX_BLOBS_TOTAL_MAX = 200_000
/** Implementation: blobs sent per FETCH at most (the rest on the next FETCH). */
export const MAILBOX_FETCH_MAX = 500
/** Implementation: the sender deposits each undelivered envelope in this many mailboxes. */
export const MAILBOX_COPIES = 2
/** Implementation: supernodes a recipient fetches from at login. */
export const MAILBOX_FETCH_FROM_MAX = 4
/** Implementation: how long a mailbox operation may take before that supernode is skipped. */
export const MAILBOX_OP_TIMEOUT_MS = 10_000
