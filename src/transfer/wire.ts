// Transfer channel frames (docs/PROTOCOL.md §8.2): `u8 type`, a 16-byte
// transfer id, then a body whose layout the type fixes. A frame is the whole
// payload of one protomux message. Decoding is strict (src/wire/codec.ts):
// every rejection is a ParleyError, which the engine counts and drops.

import c from 'compact-encoding'
import { ParleyError } from '../util/errors.js'
import {
  checkString,
  checkUint,
  decodeStrict,
  malformed,
  readString,
  readU8,
  readUint,
  readUint32,
  type State,
  tooLarge,
} from '../wire/codec.js'
import {
  CHUNK_BYTES_MAX,
  CHUNK_BYTES_MIN,
  CHUNKS_MAX,
  CONTROL_FRAME_BYTES_MAX,
  DATA_HEADER_BYTES,
  FILE_BYTES_MAX,
  HASH_BYTES,
  PATH_BYTES_MAX,
  REASON_BYTES_MAX,
  REQUEST_CHUNKS_MAX,
  TRANSFER_ID_BYTES,
  TRANSFER_TYPE_ACCEPT,
  TRANSFER_TYPE_CANCEL,
  TRANSFER_TYPE_DATA,
  TRANSFER_TYPE_DECLINE,
  TRANSFER_TYPE_DONE,
  TRANSFER_TYPE_OFFER,
  TRANSFER_TYPE_REQUEST,
} from './constants.js'

export interface Offer {
  type: 'offer'
  id: Buffer
  size: number
  chunk_bytes: number
  file_hash: Buffer
  name: string
}

export type TransferMessage =
  | Offer
  | { type: 'accept'; id: Buffer }
  | { type: 'decline'; id: Buffer; code: number; reason: string }
  | { type: 'cancel'; id: Buffer; code: number; reason: string }
  | { type: 'request'; id: Buffer; index: number; count: number }
  | { type: 'data'; id: Buffer; index: number; hash: Buffer; data: Buffer }
  | { type: 'done'; id: Buffer }

const TYPE_BYTE = {
  offer: TRANSFER_TYPE_OFFER,
  accept: TRANSFER_TYPE_ACCEPT,
  decline: TRANSFER_TYPE_DECLINE,
  cancel: TRANSFER_TYPE_CANCEL,
  request: TRANSFER_TYPE_REQUEST,
  data: TRANSFER_TYPE_DATA,
  done: TRANSFER_TYPE_DONE,
} as const

/** Number of chunks of a file: ceil(size / chunk_bytes). */
export function chunkCount(size: number, chunk_bytes: number): number {
  return Math.ceil(size / chunk_bytes)
}

/** Length of chunk `index`: chunk_bytes except for the last one. */
export function chunkLength(size: number, chunk_bytes: number, index: number): number {
  return Math.min(chunk_bytes, size - index * chunk_bytes)
}

export function checkOfferShape(size: number, chunk_bytes: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > FILE_BYTES_MAX) {
    throw malformed(`offer size: ${size} is outside 0-${FILE_BYTES_MAX}`)
  }
  const pow2 = chunk_bytes > 0 && (chunk_bytes & (chunk_bytes - 1)) === 0
  if (!pow2 || chunk_bytes < CHUNK_BYTES_MIN || chunk_bytes > CHUNK_BYTES_MAX) {
    throw malformed(
      `offer chunk_bytes: ${chunk_bytes} is not a power of two from ${CHUNK_BYTES_MIN} to ${CHUNK_BYTES_MAX}`,
    )
  }
  if (chunkCount(size, chunk_bytes) > CHUNKS_MAX) {
    throw malformed(`offer: ${chunkCount(size, chunk_bytes)} chunks, the limit is ${CHUNKS_MAX}`)
  }
}

function checkBytes(b: unknown, field: string, length: number): void {
  if (!Buffer.isBuffer(b) || b.byteLength !== length) {
    throw malformed(`${field}: must be ${length} bytes`)
  }
}

function checkDataMessage(m: Extract<TransferMessage, { type: 'data' }>): void {
  checkBytes(m.id, 'data id', TRANSFER_ID_BYTES)
  checkUint(m.index, 'data index', CHUNKS_MAX - 1)
  checkBytes(m.hash, 'data hash', HASH_BYTES)
  if (!Buffer.isBuffer(m.data) || m.data.byteLength < 1) throw malformed('data: empty chunk')
  if (m.data.byteLength > CHUNK_BYTES_MAX) throw tooLarge('data: chunk over CHUNK_BYTES_MAX')
}

/** Encodes a frame; throws ParleyError for a message a receiver would reject. */
export function encodeTransfer(m: TransferMessage): Buffer {
  checkBytes(m.id, `${m.type} id`, TRANSFER_ID_BYTES)
  const head = Buffer.alloc(1 + TRANSFER_ID_BYTES)
  head[0] = TYPE_BYTE[m.type]
  m.id.copy(head, 1)
  switch (m.type) {
    case 'offer': {
      checkOfferShape(m.size, m.chunk_bytes)
      checkBytes(m.file_hash, 'offer file_hash', HASH_BYTES)
      checkString(m.name, 'offer name', PATH_BYTES_MAX)
      const fixed = Buffer.alloc(12)
      fixed.writeBigUInt64LE(BigInt(m.size), 0)
      fixed.writeUInt32LE(m.chunk_bytes, 8)
      return Buffer.concat([head, fixed, m.file_hash, c.encode(c.string, m.name)])
    }
    case 'accept':
    case 'done':
      return head
    case 'decline':
    case 'cancel':
      checkUint(m.code, `${m.type} code`)
      checkString(m.reason, `${m.type} reason`, REASON_BYTES_MAX)
      return Buffer.concat([head, c.encode(c.uint, m.code), c.encode(c.string, m.reason)])
    case 'request': {
      checkUint(m.index, 'request index', CHUNKS_MAX - 1)
      if (m.count < 1) throw malformed('request count: must be at least 1')
      checkUint(m.count, 'request count', REQUEST_CHUNKS_MAX)
      const index = Buffer.alloc(4)
      index.writeUInt32LE(m.index, 0)
      return Buffer.concat([head, index, c.encode(c.uint, m.count)])
    }
    case 'data': {
      checkDataMessage(m)
      const index = Buffer.alloc(4)
      index.writeUInt32LE(m.index, 0)
      return Buffer.concat([head, index, m.hash, m.data])
    }
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `no transfer message of type ${String((m as { type?: unknown })?.type)}`,
      )
  }
}

/**
 * Decodes one frame; the size is checked before anything is parsed. Throws
 * only ParleyError (MESSAGE_TOO_LARGE, UNKNOWN_MESSAGE_TYPE, MALFORMED_MESSAGE).
 * DATA's chunk is a view into `buf`, not a copy.
 */
export function decodeTransfer(buf: Uint8Array): TransferMessage {
  const limit =
    buf instanceof Uint8Array && buf[0] === TRANSFER_TYPE_DATA
      ? DATA_HEADER_BYTES + CHUNK_BYTES_MAX
      : CONTROL_FRAME_BYTES_MAX
  return decodeStrict(buf, 'transfer frame', decodeBody, limit)
}

function take(state: State, length: number, field: string): Buffer {
  if (state.end - state.start < length) throw malformed(`${field}: truncated (${length} bytes)`)
  const b = state.buffer!
  const out = Buffer.from(b.buffer, b.byteOffset + state.start, length)
  state.start += length
  return out
}

function decodeBody(state: State): TransferMessage {
  if (state.end === state.start) throw malformed('transfer frame: empty')
  const type = readU8(state, 'transfer frame type')
  if (type < TRANSFER_TYPE_OFFER || type > TRANSFER_TYPE_DONE) {
    throw new ParleyError(
      'UNKNOWN_MESSAGE_TYPE',
      `transfer frame type 0x${type.toString(16).padStart(2, '0')} is not defined`,
    )
  }
  const id = Buffer.from(take(state, TRANSFER_ID_BYTES, 'transfer id'))
  switch (type) {
    case TRANSFER_TYPE_OFFER: {
      const low = readUint32(state, 'offer size')
      const high = readUint32(state, 'offer size')
      const size = high * 0x1_0000_0000 + low
      const chunk_bytes = readUint32(state, 'offer chunk_bytes')
      checkOfferShape(size, chunk_bytes)
      const file_hash = Buffer.from(take(state, HASH_BYTES, 'offer file_hash'))
      const name = readString(state, 'offer name', PATH_BYTES_MAX)
      return { type: 'offer', id, size, chunk_bytes, file_hash, name }
    }
    case TRANSFER_TYPE_ACCEPT:
      return { type: 'accept', id }
    case TRANSFER_TYPE_DONE:
      return { type: 'done', id }
    case TRANSFER_TYPE_DECLINE:
    case TRANSFER_TYPE_CANCEL: {
      const what = type === TRANSFER_TYPE_DECLINE ? 'decline' : 'cancel'
      const code = readUint(state, `${what} code`)
      const reason = readString(state, `${what} reason`, REASON_BYTES_MAX)
      return { type: what, id, code, reason }
    }
    case TRANSFER_TYPE_REQUEST: {
      const index = readUint32(state, 'request index')
      if (index >= CHUNKS_MAX) throw malformed(`request index: ${index} is not below ${CHUNKS_MAX}`)
      const count = readUint(state, 'request count', REQUEST_CHUNKS_MAX)
      if (count < 1) throw malformed('request count: must be at least 1')
      return { type: 'request', id, index, count }
    }
    default: {
      const index = readUint32(state, 'data index')
      if (index >= CHUNKS_MAX) throw malformed(`data index: ${index} is not below ${CHUNKS_MAX}`)
      const hash = Buffer.from(take(state, HASH_BYTES, 'data hash'))
      const length = state.end - state.start
      if (length < 1) throw malformed('data: empty chunk')
      return { type: 'data', id, index, hash, data: take(state, length, 'data chunk') }
    }
  }
}

/**
 * The protomux encoding of the transfer channel's one message type. Sending
 * takes a TransferMessage and writes DATA's header and chunk straight into
 * protomux's frame (one copy of the chunk, no intermediate buffer); receiving
 * hands over the raw bytes, because a protomux decoder that throws would end
 * the session, while §8.2 wants bad frames counted and dropped by the engine.
 */
export const transferFrameEncoding: {
  preencode(state: State, m: TransferMessage): void
  encode(state: State, m: TransferMessage): void
  decode(state: State): Uint8Array
} = {
  preencode(state, m) {
    state.end +=
      m.type === 'data' ? DATA_HEADER_BYTES + m.data.byteLength : encodeTransfer(m).byteLength
  },
  encode(state, m) {
    const buf = state.buffer!
    if (m.type !== 'data') {
      const frame = encodeTransfer(m)
      buf.set(frame, state.start)
      state.start += frame.byteLength
      return
    }
    checkDataMessage(m)
    let at = state.start
    buf[at++] = TRANSFER_TYPE_DATA
    buf.set(m.id, at)
    at += TRANSFER_ID_BYTES
    new DataView(buf.buffer, buf.byteOffset).setUint32(at, m.index, true)
    at += 4
    buf.set(m.hash, at)
    at += HASH_BYTES
    buf.set(m.data, at)
    state.start = at + m.data.byteLength
  },
  decode(state) {
    return c.raw.decode(state) as Uint8Array
  },
}
