// File transfer (docs/PROTOCOL.md §8). The first block is protocol: a peer
// built from the document must agree on each value. The second block is this
// implementation's tuning and local limits.

/**
 * §8.1: protomux protocol name of the transfer channel (channel id: none).
 * Version 2 hashes with SHA-256; version 1 (`parley/transfer`, BLAKE2b-256)
 * is not spoken any more, so peers of the two never share a channel.
 */
export const TRANSFER_PROTOCOL = 'parley/transfer/2'

/** §8.2: frame type bytes. */
export const TRANSFER_TYPE_OFFER = 0x01
export const TRANSFER_TYPE_ACCEPT = 0x02
export const TRANSFER_TYPE_DECLINE = 0x03
export const TRANSFER_TYPE_CANCEL = 0x04
export const TRANSFER_TYPE_REQUEST = 0x05
export const TRANSFER_TYPE_DATA = 0x06
export const TRANSFER_TYPE_DONE = 0x07

/** §8.2: transfer ids are random, chosen by the sender. */
export const TRANSFER_ID_BYTES = 16
/** §8.3: SHA-256 digests (chunk hashes and the file hash). */
export const HASH_BYTES = 32
/** §8.2: longest file name in an OFFER, in UTF-8 bytes. */
export const NAME_BYTES_MAX = 255
/** §8.2: longest reason in DECLINE / CANCEL, in UTF-8 bytes. */
export const REASON_BYTES_MAX = 256
/**
 * §8.5: a name with `/` is a relative path (a file of a folder): at most this
 * many UTF-8 bytes in all and this many components, each a valid name.
 * 61 + 3 + 768 bytes keeps the OFFER within CONTROL_FRAME_BYTES_MAX.
 */
export const PATH_BYTES_MAX = 768
export const PATH_COMPONENTS_MAX = 32
/** §8.2: chunk size bounds (a power of two); the last chunk may be shorter. */
export const CHUNK_BYTES_MIN = 16 * 1024
export const CHUNK_BYTES_MAX = 4 * 1024 * 1024
/** §8.2: a file has at most this many chunks (bounds the receiver's chunk table). */
export const CHUNKS_MAX = 1 << 18
/** §8.2: largest file the protocol can describe: CHUNKS_MAX × CHUNK_BYTES_MAX = 1 TiB. */
export const FILE_BYTES_MAX = CHUNKS_MAX * CHUNK_BYTES_MAX
/** §8.2: at most this many chunks in one REQUEST. */
export const REQUEST_CHUNKS_MAX = 256
/** §8.2: every frame but DATA is at most this long; DATA at most its header + CHUNK_BYTES_MAX. */
export const CONTROL_FRAME_BYTES_MAX = 1024
export const DATA_HEADER_BYTES = 1 + TRANSFER_ID_BYTES + 4 + HASH_BYTES
/** §8.3: domain separation of the file hash. */
export const FILE_HASH_CONTEXT = 'parley/file/v2'

/** §8.4: DECLINE and CANCEL codes. Receivers keep unknown codes as numbers. */
export enum RefusalCode {
  /** The person said no, or cancelled. */
  ByUser = 1,
  /** The receiver's `filetransfer` setting is off (administrator's DisableFileTransfer). */
  Disabled = 2,
  /** The file is larger than the receiver accepts. */
  TooLarge = 3,
  /** Not enough free space at the destination. */
  NoSpace = 4,
  /** The file name is not acceptable (path, device name, control characters). */
  BadName = 5,
  /** Too many offers waiting or transfers running. */
  Busy = 6,
  /** The sender no longer knows the transfer, or no longer has the file. */
  Unknown = 7,
  /** The file changed under the sender, or chunks failed their hash too often. */
  Corrupt = 8,
  /** A local error (disk, permissions) ended the transfer. */
  Failed = 9,
}

// ---- implementation limits (not protocol) ----

/** Chunk size for files up to CHUNKS_MAX × this; larger files double it up to CHUNK_BYTES_MAX. */
export const CHUNK_BYTES_DEFAULT = 256 * 1024
/**
 * Bytes of chunks the receiver keeps requested but not yet written (bounds its
 * memory). 8 MiB keeps 670 Mbit/s going at 100 ms RTT; 16 MiB was no faster on
 * loopback (`bench transfer`, 2 × 5 rounds each) and a receiving daemon peaked
 * at 143–149 MB of its 150 MB RSS budget (1 GiB test; 8 MiB: 113–145 MB in
 * CI; with the young generation capped as well, src/daemon/memory.ts:
 * 105–126 MB here).
 */
export const IN_FLIGHT_BYTES_MAX = 8 * 1024 * 1024
/** The receiver asks for more once this fraction of its window is free (fewer, larger REQUESTs). */
export const REQUEST_BATCHES_PER_WINDOW = 8
/** The sender queues at most this many requested chunks per transfer; more are dropped and counted. */
export const SEND_QUEUE_CHUNKS_MAX = 2 * REQUEST_CHUNKS_MAX
/**
 * The sender reads queued chunks that follow each other in one call of up to
 * this many bytes (at least one chunk), and starts the next such read while
 * less than that is read ahead of the stream. One 1 MiB read instead of four
 * 256 KiB ones (the raw stream in `bench transfer` reads 1 MiB at a time too)
 * cut the sender's CPU per 256 MiB from ~3.16 s to ~2.86 s (loopback bench,
 * medians of 5 runs).
 */
export const READ_RUN_BYTES = 1024 * 1024
/**
 * The sender writes this many chunks past the stream's drain signal before it
 * waits. Few: a chunk written while the stream is idle goes into the frame
 * secret-stream allocated for it and is encrypted in place; one queued behind
 * others is copied into a fresh buffer first. UDX signals drain while a
 * window is still in flight (once its written, unacknowledged bytes fall
 * below 256 KiB plus the congestion window), so the link does not idle at
 * any RTT. Loopback `bench transfer`, 5 rounds each, per-round
 * parley/raw medians: 8 → 0.69–0.76×; 2 → 0.74–0.81×; 1 → 0.73–0.79×.
 */
export const WRITE_AHEAD_CHUNKS = 2
/** A chunk that fails its hash is fetched again at most this many times, then the transfer fails. */
export const CHUNK_RETRIES_MAX = 3
/** The receiver makes its progress durable (fdatasync, then the chunk record) this often. */
export const CHECKPOINT_BYTES = 32 * 1024 * 1024
export const CHECKPOINT_MS = 1000
/** No data for this long while chunks are requested: ask again (a lost request across a reconnect). */
export const STALL_MS = 30_000
/**
 * Relayed links are paced by the receiver to stay under a supernode's
 * per-session cap (default 262144 B/s, src/supernode/constants.ts), which cuts
 * a session that exceeds it rather than slowing it down.
 */
export const RELAYED_BYTES_PER_S = 196_608
/** Offers waiting for an answer, per daemon. */
export const OFFERS_PENDING_MAX = 64
/** Transfers running at once (either direction), per daemon. */
export const TRANSFERS_ACTIVE_MAX = 32
/** Finished transfers remembered for `parley transfers`. */
export const TRANSFERS_KEPT_MAX = 200
/** A folder sent at once has at most this many files (each its own transfer, §8.5). */
export const FOLDER_FILES_MAX = 10_000
/** Files of one folder offered at once; the next is offered as one ends. */
export const FOLDER_WINDOW = 4
/**
 * A file of a folder the receiver declined as Busy (too many offers waiting
 * there) is offered again after this, doubling up to the max while no file
 * of the folder is delivered, for as long as the folder is being sent; it is
 * not counted as failed.
 */
export const FOLDER_BUSY_RETRY_MS = 5_000
export const FOLDER_BUSY_RETRY_MS_MAX = 5 * 60 * 1000
/** A folder accepted as a whole keeps accepting its next files for this long after the last one. */
export const FOLDER_ACCEPT_MS = 60 * 60 * 1000
/** Finished folder sends remembered for `parley transfers`. */
export const FOLDERS_KEPT_MAX = 50
/** Skipped entries (symlinks, devices, refused names) listed per folder; the rest are counted. */
export const FOLDER_SKIPPED_SHOWN_MAX = 100
/** The receiver refuses files larger than this (the protocol's own limit is FILE_BYTES_MAX). */
export const INCOMING_FILE_BYTES_MAX = FILE_BYTES_MAX
/** Free space to leave at the destination beyond the file itself. */
export const DISK_RESERVE_BYTES = 64 * 1024 * 1024
/** Worker threads of a ChunkPool (chunk-pool.ts; not the default): at most this many, and one fewer than the cores. */
export const CHUNK_WORKERS_MAX = 2
/** Shared memory the workers read chunks from (all transfers together); a chunk waits for room. */
export const CHUNK_SLOT_BYTES_MAX = 4 * 1024 * 1024
/** Chunks one worker job reads and hashes, so jobs of several transfers interleave. */
export const HASH_JOB_CHUNKS_MAX = 64
/** Progress events per transfer at most this often. */
export const PROGRESS_EVENT_MS = 250
