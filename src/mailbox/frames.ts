// Mailbox channel frames (PROTOCOL.md §9.6): `u8 type` then a fixed body.

import c from 'compact-encoding'
import { ParleyError } from '../util/errors.js'
import {
  checkUint,
  decodeStrict,
  malformed,
  readFixed,
  readRest,
  readU8,
  readUint,
  type State,
  tooLarge,
} from '../wire/codec.js'
import {
  BLOB_BYTES_MAX,
  BLOB_ID_BYTES,
  MAILBOX_FRAME_BYTES_MAX,
  MAILBOX_TYPE_BLOB,
  MAILBOX_TYPE_DELETE,
  MAILBOX_TYPE_END,
  MAILBOX_TYPE_FETCH,
  MAILBOX_TYPE_PUT,
  MAILBOX_TYPE_STORED,
  STORED_FULL,
} from './constants.js'

export type MailboxFrame =
  | { type: 'put'; recipient: Buffer; blobId: Buffer; blob: Buffer }
  | { type: 'stored'; blobId: Buffer; status: number }
  | { type: 'fetch' }
  | { type: 'blob'; blobId: Buffer; blob: Buffer }
  | { type: 'end'; remaining: number }
  | { type: 'delete'; blobId: Buffer }

function bytes(v: unknown, n: number, field: string): Buffer {
  if (!(v instanceof Uint8Array) || v.byteLength !== n)
    throw malformed(`${field}: must be ${n} bytes`)
  return Buffer.from(v)
}

function blob(v: unknown): Buffer {
  if (!(v instanceof Uint8Array) || v.byteLength === 0)
    throw malformed('blob: must be non-empty bytes')
  if (v.byteLength > BLOB_BYTES_MAX)
    throw tooLarge(`blob of ${v.byteLength} bytes, the limit is ${BLOB_BYTES_MAX}`)
  return Buffer.from(v)
}

export function encodeMailboxFrame(f: MailboxFrame): Buffer {
  const t = (n: number) => Buffer.from([n])
  switch (f?.type) {
    case 'put':
      return Buffer.concat([
        t(MAILBOX_TYPE_PUT),
        bytes(f.recipient, 32, 'recipient'),
        bytes(f.blobId, BLOB_ID_BYTES, 'blob id'),
        blob(f.blob),
      ])
    case 'stored':
      return Buffer.concat([
        t(MAILBOX_TYPE_STORED),
        bytes(f.blobId, BLOB_ID_BYTES, 'blob id'),
        t(checkUint(f.status, 'status', STORED_FULL)),
      ])
    case 'fetch':
      return t(MAILBOX_TYPE_FETCH)
    case 'blob':
      return Buffer.concat([
        t(MAILBOX_TYPE_BLOB),
        bytes(f.blobId, BLOB_ID_BYTES, 'blob id'),
        blob(f.blob),
      ])
    case 'end':
      return Buffer.concat([
        t(MAILBOX_TYPE_END),
        c.encode(c.uint, checkUint(f.remaining, 'remaining')),
      ])
    case 'delete':
      return Buffer.concat([t(MAILBOX_TYPE_DELETE), bytes(f.blobId, BLOB_ID_BYTES, 'blob id')])
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `no mailbox frame of type ${String((f as { type?: unknown })?.type)}`,
      )
  }
}

/** Throws ParleyError only (MESSAGE_TOO_LARGE, UNKNOWN_MESSAGE_TYPE, MALFORMED_MESSAGE). */
export function decodeMailboxFrame(buf: Uint8Array): MailboxFrame {
  return decodeStrict(buf, 'mailbox frame', readFrame, MAILBOX_FRAME_BYTES_MAX)
}

function readFrame(state: State): MailboxFrame {
  if (state.end === state.start) throw malformed('mailbox frame: empty')
  const type = readU8(state, 'mailbox frame type')
  switch (type) {
    case MAILBOX_TYPE_PUT:
      return {
        type: 'put',
        recipient: readFixed(state, 32, 'recipient'),
        blobId: readFixed(state, BLOB_ID_BYTES, 'blob id'),
        blob: readRest(state, 'blob'),
      }
    case MAILBOX_TYPE_STORED: {
      const blobId = readFixed(state, BLOB_ID_BYTES, 'blob id')
      const status = readU8(state, 'status')
      if (status > STORED_FULL) throw malformed(`status: ${status} is not defined`)
      return { type: 'stored', blobId, status }
    }
    case MAILBOX_TYPE_FETCH:
      return { type: 'fetch' }
    case MAILBOX_TYPE_BLOB:
      return {
        type: 'blob',
        blobId: readFixed(state, BLOB_ID_BYTES, 'blob id'),
        blob: readRest(state, 'blob'),
      }
    case MAILBOX_TYPE_END:
      return { type: 'end', remaining: readUint(state, 'remaining') }
    case MAILBOX_TYPE_DELETE:
      return { type: 'delete', blobId: readFixed(state, BLOB_ID_BYTES, 'blob id') }
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `mailbox frame type 0x${type.toString(16).padStart(2, '0')} is not defined`,
      )
  }
}
