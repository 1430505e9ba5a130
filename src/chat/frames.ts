// Chat channel frames (PROTOCOL.md §9.3): `u8 type` then a body. One frame
// is the whole payload of one protomux message on `parley/chat`.

import c from 'compact-encoding'
import { ParleyError } from '../util/errors.js'
import {
  checkUint,
  decodeStrict,
  malformed,
  readU8,
  readUint,
  type State,
  tooLarge,
} from '../wire/codec.js'
import {
  CHAT_FRAME_BYTES_MAX,
  CHAT_TYPE_ACK,
  CHAT_TYPE_ENVELOPE,
  CHAT_TYPE_PRESENCE,
  CHAT_TYPE_READ,
  CHAT_TYPE_TYPING,
  ENVELOPE_BYTES_MAX,
  PRESENCE_BUSY,
} from './constants.js'

export type ChatFrame =
  /** The envelope is carried as opaque bytes here; decodeEnvelope checks it. */
  | { type: 'envelope'; envelope: Buffer }
  | { type: 'ack'; seq: number }
  | { type: 'read'; seq: number }
  | { type: 'typing'; typing: boolean }
  | { type: 'presence'; status: number }

export function encodeChatFrame(f: ChatFrame): Buffer {
  switch (f?.type) {
    case 'envelope':
      if (!(f.envelope instanceof Uint8Array)) throw malformed('envelope: must be bytes')
      if (f.envelope.byteLength > ENVELOPE_BYTES_MAX)
        throw tooLarge(
          `envelope of ${f.envelope.byteLength} bytes, the limit is ${ENVELOPE_BYTES_MAX}`,
        )
      return Buffer.concat([Buffer.from([CHAT_TYPE_ENVELOPE]), f.envelope])
    case 'ack':
    case 'read':
      return Buffer.concat([
        Buffer.from([f.type === 'ack' ? CHAT_TYPE_ACK : CHAT_TYPE_READ]),
        c.encode(c.uint, checkUint(f.seq, `${f.type} seq`)),
      ])
    case 'typing':
      return Buffer.from([CHAT_TYPE_TYPING, f.typing ? 1 : 0])
    case 'presence':
      return Buffer.from([CHAT_TYPE_PRESENCE, checkUint(f.status, 'presence', PRESENCE_BUSY)])
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `no chat frame of type ${String((f as { type?: unknown })?.type)}`,
      )
  }
}

/** Throws ParleyError only (MESSAGE_TOO_LARGE, UNKNOWN_MESSAGE_TYPE, MALFORMED_MESSAGE). */
export function decodeChatFrame(buf: Uint8Array): ChatFrame {
  return decodeStrict(buf, 'chat frame', readFrame, CHAT_FRAME_BYTES_MAX)
}

function readFrame(state: State): ChatFrame {
  if (state.end === state.start) throw malformed('chat frame: empty')
  const type = readU8(state, 'chat frame type')
  switch (type) {
    case CHAT_TYPE_ENVELOPE: {
      const envelope = Buffer.from(state.buffer!.subarray(state.start, state.end))
      if (envelope.byteLength === 0) throw malformed('envelope: empty')
      state.start = state.end
      return { type: 'envelope', envelope }
    }
    case CHAT_TYPE_ACK:
      return { type: 'ack', seq: readUint(state, 'ack seq') }
    case CHAT_TYPE_READ:
      return { type: 'read', seq: readUint(state, 'read seq') }
    case CHAT_TYPE_TYPING: {
      const v = readU8(state, 'typing')
      if (v > 1) throw malformed(`typing: ${v} is not 0 or 1`)
      return { type: 'typing', typing: v === 1 }
    }
    case CHAT_TYPE_PRESENCE: {
      const status = readU8(state, 'presence')
      if (status > PRESENCE_BUSY) throw malformed(`presence: ${status} is not defined`)
      return { type: 'presence', status }
    }
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `chat frame type 0x${type.toString(16).padStart(2, '0')} is not defined`,
      )
  }
}
