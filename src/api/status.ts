import { type ErrorCode, ParleyError } from '../util/errors.js'

// How errors cross the HTTP boundary. The code is the stable, public part;
// the HTTP status only lets generic tools (curl, browsers, proxies) react sensibly.

/** A request refused by the API layer itself, with the exact status to send. */
export class ApiRejection extends ParleyError {
  readonly status: number
  readonly headers: Record<string, string>
  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(code, message)
    this.status = status
    this.headers = headers
  }
}

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  BAD_REQUEST: 400,
  INVALID_ID: 400,
  USAGE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PEER_NOT_FOUND: 404,
  TIMEOUT: 504,
  // Handlers are aborted when the daemon stops; the client may retry later.
  ABORTED: 503,
  // A peer answered wrongly or went away: the daemon acted as its gateway.
  INCOMPATIBLE_VERSION: 502,
  IDENTITY_MISMATCH: 502,
  BAD_CERTIFICATE: 502,
  SESSION_CLOSED: 502,
  MALFORMED_MESSAGE: 502,
  MESSAGE_TOO_LARGE: 502,
  UNKNOWN_MESSAGE_TYPE: 502,
}

/** Patterns cover codes added later by other layers without touching this table. */
export function statusForCode(code: string): number {
  const status = STATUS_BY_CODE[code]
  if (status !== undefined) return status
  if (code.endsWith('_EXISTS') || code.startsWith('ALREADY_') || code.includes('_ALREADY_')) {
    return 409
  }
  if (code.endsWith('_NOT_FOUND')) return 404
  return 500
}

export interface ErrorReply {
  status: number
  headers: Record<string, string>
  body: { error: { code: string; message: string } }
}

export function errorReply(err: unknown): ErrorReply {
  if (err instanceof ApiRejection) {
    return { status: err.status, headers: err.headers, body: errorBody(err.code, err.message) }
  }
  if (err instanceof ParleyError) {
    return { status: statusForCode(err.code), headers: {}, body: errorBody(err.code, err.message) }
  }
  // Only the token holder (the user who owns the daemon) can read this, so the detail helps more than it leaks.
  const detail = err instanceof Error ? err.message : String(err)
  const message = `internal error in the daemon: ${detail}`
  return { status: 500, headers: {}, body: errorBody('INTERNAL', message) }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } }
}
