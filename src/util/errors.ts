// One error class with stable string codes, as in Holepunch's modules.
// `message` is written for a person: what went wrong and what to do next.
// Codes are part of the public API (CLI --json, local API responses).

export type ErrorCode =
  // identity / keystore
  | 'IDENTITY_MISSING'
  | 'IDENTITY_EXISTS'
  | 'KEYSTORE_CORRUPT'
  | 'WRONG_PASSPHRASE'
  | 'PASSPHRASE_REQUIRED'
  | 'INSECURE_PERMISSIONS'
  // wire
  | 'MALFORMED_MESSAGE'
  | 'MESSAGE_TOO_LARGE'
  | 'UNKNOWN_MESSAGE_TYPE'
  // session
  | 'INVALID_ID'
  | 'PEER_NOT_FOUND'
  | 'INCOMPATIBLE_VERSION'
  | 'IDENTITY_MISMATCH'
  | 'BAD_CERTIFICATE'
  | 'SESSION_CLOSED'
  | 'TIMEOUT'
  | 'ABORTED'
  // supernode / relay
  | 'RELAY_FULL'
  | 'RATE_LIMITED'
  // file transfer (src/transfer)
  | 'FILETRANSFER_DISABLED'
  | 'TRANSFER_DECLINED'
  | 'TRANSFER_CANCELLED'
  | 'TRANSFER_FAILED'
  | 'TRANSFER_NOT_FOUND'
  | 'BAD_FILE_NAME'
  | 'FILE_TOO_LARGE'
  | 'DISK_FULL'
  | 'BUSY'
  // daemon / api / cli
  | 'DAEMON_NOT_RUNNING'
  | 'DAEMON_ALREADY_RUNNING'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'USAGE'
  | 'INTERNAL'
  // calls
  | 'CALL_NOT_FOUND'
  | 'CALL_ALREADY_ACTIVE'
  | 'CALL_FAILED'
  | 'NO_AUDIO_DEVICE'

export class ParleyError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'ParleyError'
  }
}

export function isParleyError(err: unknown, code?: ErrorCode): err is ParleyError {
  return err instanceof ParleyError && (code === undefined || err.code === code)
}

/** Assertion for programmer errors: fails loudly, never used for bad input. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}

/** Rejects with ABORTED when the signal fires; every async operation takes one. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ParleyError('ABORTED', 'the operation was cancelled')
}

/** The counter a decoder's rejection is counted under when a frame is dropped. */
export type DecodeDropReason = 'oversize' | 'unknown_type' | 'malformed'

export function decodeDropReason(err: unknown): DecodeDropReason {
  const code = err instanceof ParleyError ? err.code : 'MALFORMED_MESSAGE'
  if (code === 'MESSAGE_TOO_LARGE') return 'oversize'
  if (code === 'UNKNOWN_MESSAGE_TYPE') return 'unknown_type'
  return 'malformed'
}
