// Call signalling and media transport limits: docs/PROTOCOL.md §10.3, §10.6 and §10.8.

export const CALL_PROTOCOL = 'parley/call'
export const CALL_PROTOCOL_VERSION = 1
export const CALL_ID_BYTES = 16
export const EPHEMERAL_KEY_BYTES = 32

/** §10.3 envelope kinds. */
export const ENVELOPE_MEDIA = 1
export const ENVELOPE_REPORT = 2
export const ENVELOPE_HEADER_BYTES = 13
export const ENVELOPE_TAG_BYTES = 16
/** §10.3: the replay window, in envelopes. */
export const REPLAY_WINDOW = 128
/** §10.3: on a reliable path, frames are dropped rather than queued behind this backlog. */
export const RELIABLE_BACKLOG_BYTES_MAX = 4096

/** §10.6: how long a call may ring. */
export const NO_ANSWER_MS = 60_000
/** §10.6: a connected call with nothing from the peer this long ends. */
export const MEDIA_TIMEOUT_MS = 15_000
/** §10.5: receiver reports. */
export const REPORT_INTERVAL_MS = 1000
/** Calls remembered after they end, for `GET /v1/calls` and summaries. */
export const ENDED_CALLS_KEPT = 16
