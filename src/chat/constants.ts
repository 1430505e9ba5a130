// Constants of the chat protocol (docs/PROTOCOL.md §9). Values marked with a
// § are part of the specification: a peer built from the document alone must
// agree on them. The rest are this implementation's own bounds.

/** §9.1: protomux protocol name of the chat channel (no channel id, no handshake payload). */
export const CHAT_PROTOCOL = 'parley/chat'

/** §9.2: the only envelope version. */
export const ENVELOPE_VERSION = 1
/** §9.2: signing context; the signature covers context || 0x00 || every preceding envelope byte. */
export const ENVELOPE_SIGNING_CONTEXT = 'parley/chat-envelope/v1'
/** §9.2: a message id is 16 random bytes chosen by the sender. */
export const MESSAGE_ID_BYTES = 16

/** §9.2: envelope kinds. */
export const KIND_TEXT = 1
export const KIND_EDIT = 2
export const KIND_DELETE = 3
export const KIND_REQUEST = 4
export const KIND_ACCEPT = 5

/** §9.2: longest message text, in UTF-8 bytes (the size limit people see). */
export const TEXT_BYTES_MAX = 8192
/** §9.2: longest contact request note, in UTF-8 bytes. */
export const NOTE_BYTES_MAX = 512
/** §9.2: longest display name carried in a request or accept, in UTF-8 bytes. */
export const NAME_BYTES_MAX = 64
/** §9.2: largest `sent_at_ms` (2^53 − 1, so every language holds it exactly). */
export const TIME_MS_MAX = Number.MAX_SAFE_INTEGER
/** §9.2: largest envelope (a TEXT at TEXT_BYTES_MAX plus every fixed field). */
export const ENVELOPE_BYTES_MAX = 8400

/** §9.3: chat frame types. */
export const CHAT_TYPE_ENVELOPE = 0x01
export const CHAT_TYPE_ACK = 0x02
export const CHAT_TYPE_READ = 0x03
export const CHAT_TYPE_TYPING = 0x04
export const CHAT_TYPE_PRESENCE = 0x05
/** §9.3: a chat frame longer than this is dropped unparsed. */
export const CHAT_FRAME_BYTES_MAX = 8448

/** §9.5: presence values on the wire. Invisible is never sent: it is sent as offline. */
export const PRESENCE_OFFLINE = 0
export const PRESENCE_ONLINE = 1
export const PRESENCE_AWAY = 2
export const PRESENCE_BUSY = 3

/** §9.4: a receiver keeps at most this many contact requests from one sender per window. */
export const REQUESTS_PER_SENDER_MAX = 3
/** §9.4: the request rate window. */
export const REQUEST_WINDOW_MS = 86_400_000

// Implementation bounds (not protocol).
/** Pending incoming contact requests kept at once; more are dropped and counted. */
export const PENDING_REQUESTS_MAX = 500
/** Unacknowledged envelopes sent per session before waiting for acks (flow control). */
export const SEND_WINDOW = 256
/** How long "typing" shows without a refresh. */
export const TYPING_SHOW_MS = 6_000
/** History rows returned per request at most. */
export const HISTORY_LIMIT_MAX = 10_000
/** Unsent (unacknowledged) messages to one contact at most; a send beyond it is refused. */
export const OUTBOX_PER_CONTACT_MAX = 10_000
/** First mailbox check after start (login), once supernodes have been looked up. */
export const MAILBOX_FIRST_CHECK_MS = 1_000
/** Mailboxes are checked again this often while running (mail is for when we were away). */
export const MAILBOX_POLL_MS = 600_000
/** A deposit no mailbox took is tried again after this, doubling up to the max, while still owed. */
export const MAILBOX_DEPOSIT_RETRY_MS = 2_000
export const MAILBOX_DEPOSIT_RETRY_MS_MAX = 300_000

// ---- groups (PROTOCOL.md §11.7–§11.9) ----
/** §11.8: envelope kinds that carry group traffic on the 1:1 streams. */
export const KIND_GROUP_STATE = 6
export const KIND_GROUP_TEXT = 7
export const KIND_GROUP_LEAVE = 8
/** §11.7: the only group state version. */
export const GROUP_STATE_VERSION = 1
/** §11.7: signing context of a group state (signed by the group's admin). */
export const GROUP_STATE_SIGNING_CONTEXT = 'parley/group-state/v1'
/** §11.7: group_id = BLAKE2b-256(context || 0x00 || admin || nonce). */
export const GROUP_ID_CONTEXT = 'parley/group/v1'
/** §11.7: random bytes the admin picks to make the group id. */
export const GROUP_NONCE_BYTES = 16
/** §11.7: members of one group at most (the admin included). */
export const GROUP_MEMBERS_MAX = 100
/** §11.7: group name, UTF-8 bytes (1 … 64). */
export const GROUP_NAME_BYTES_MAX = 64
/** §11.7: largest encoded group state (100 members). */
export const GROUP_STATE_BYTES_MAX = 3500

// Implementation bounds (not protocol).
/** Group messages kept waiting for the membership state that admits them, per group. */
export const GROUP_PENDING_PER_GROUP_MAX = 1000
/** Groups one node keeps. */
export const GROUPS_MAX = 1000
