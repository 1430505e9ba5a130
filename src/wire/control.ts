// Control channel frames (PROTOCOL.md §5.4–§5.6): `u8 type` then a body whose
// layout the type fixes. A frame is the whole payload of one protomux message,
// so "trailing bytes" means bytes after the body inside that message.

import c from 'compact-encoding'
import { assert, ParleyError } from '../util/errors.js'
import {
  type Codec,
  checkString,
  checkUint,
  decodeStrict,
  encodeWith,
  malformed,
  readString,
  readU8,
  readUint,
  readUint32,
  type State,
} from './codec.js'
import {
  CONTROL_FRAME_BYTES_MAX,
  CONTROL_TYPE_GOODBYE,
  CONTROL_TYPE_PING,
  CONTROL_TYPE_PONG,
  GOODBYE_REASON_BYTES_MAX,
} from './constants.js'

/** §5.5: why a session ends. Receivers keep codes they do not know as plain numbers. */
export enum GoodbyeCode {
  Normal = 0,
  IncompatibleVersion = 1,
  BadCertificate = 2,
  IdentityMismatch = 3,
  DuplicateSession = 4,
  ShuttingDown = 5,
}

export type ControlMessage =
  | { type: 'ping'; nonce: number }
  | { type: 'pong'; nonce: number }
  | { type: 'goodbye'; code: number; reason: string }

const NONCE_MAX = 0xffff_ffff

// The decode half is strict (see codec.ts), so it is not compact-encoding's lenient one.
const controlCodec: Codec<ControlMessage> = {
  decode: decodeBody,
  preencode(state: State, m: ControlMessage): void {
    state.end += 1
    switch (m.type) {
      case 'ping':
      case 'pong':
        state.end += 4
        return
      case 'goodbye':
        c.uint.preencode(state, m.code)
        c.string.preencode(state, m.reason)
        return
    }
  },
  encode(state: State, m: ControlMessage): void {
    const buf = state.buffer!
    switch (m.type) {
      case 'ping':
      case 'pong':
        buf[state.start++] = m.type === 'ping' ? CONTROL_TYPE_PING : CONTROL_TYPE_PONG
        c.uint32.encode(state, m.nonce)
        return
      case 'goodbye':
        buf[state.start++] = CONTROL_TYPE_GOODBYE
        c.uint.encode(state, m.code)
        c.string.encode(state, m.reason)
        return
    }
  },
}

/** Encodes a control frame; throws ParleyError for a message a receiver would reject. */
export function encodeControl(m: ControlMessage): Buffer {
  checkControl(m)
  const frame = encodeWith(controlCodec, m)
  // Cannot happen with today's messages (the largest is 265 bytes); guards future ones.
  assert(frame.byteLength <= CONTROL_FRAME_BYTES_MAX, 'control frame over its limit')
  return frame
}

function checkControl(m: ControlMessage): void {
  switch (m?.type) {
    case 'ping':
    case 'pong':
      checkUint(m.nonce, `${m.type} nonce`, NONCE_MAX)
      return
    case 'goodbye':
      checkUint(m.code, 'goodbye code')
      checkString(m.reason, 'goodbye reason', GOODBYE_REASON_BYTES_MAX)
      return
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `no control message of type ${String((m as { type?: unknown })?.type)}`,
      )
  }
}

/**
 * Decodes one control frame; the size is checked before a single byte is
 * parsed (§5.6). Throws only ParleyError: MESSAGE_TOO_LARGE (frame over
 * CONTROL_FRAME_BYTES_MAX, or reason over GOODBYE_REASON_BYTES_MAX),
 * UNKNOWN_MESSAGE_TYPE, or MALFORMED_MESSAGE (empty, truncated, trailing
 * bytes, uint not in shortest form or over 2^32 - 1, invalid UTF-8 — which
 * is rejected, never replaced).
 */
export function decodeControl(buf: Uint8Array): ControlMessage {
  return decodeStrict(buf, 'control frame', decodeBody, CONTROL_FRAME_BYTES_MAX)
}

function decodeBody(state: State): ControlMessage {
  if (state.end === state.start) throw malformed('control frame: empty')
  const type = readU8(state, 'control frame type')
  switch (type) {
    case CONTROL_TYPE_PING:
      return { type: 'ping', nonce: readUint32(state, 'ping nonce') }
    case CONTROL_TYPE_PONG:
      return { type: 'pong', nonce: readUint32(state, 'pong nonce') }
    case CONTROL_TYPE_GOODBYE: {
      const code = readUint(state, 'goodbye code')
      const reason = readString(state, 'goodbye reason', GOODBYE_REASON_BYTES_MAX)
      return { type: 'goodbye', code, reason }
    }
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `control frame type 0x${type.toString(16).padStart(2, '0')} is not defined`,
      )
  }
}
