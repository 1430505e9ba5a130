// Directory channel frames (PROTOCOL.md §11.2): `u8 type` then a body. One
// frame is the whole payload of one protomux message on `parley/directory`.

import c from 'compact-encoding'
import { ParleyError } from '../util/errors.js'
import {
  checkString,
  checkUint,
  decodeStrict,
  malformed,
  readFixed,
  readRest,
  readString,
  readU8,
  readUint,
  type State,
  tooLarge,
} from '../wire/codec.js'
import {
  DIR_TYPE_DONE,
  DIR_TYPE_FIND_ID,
  DIR_TYPE_FIND_NAME,
  DIR_TYPE_PUBLISH,
  DIR_TYPE_PUBLISHED,
  DIR_TYPE_RECORD,
  DIRECTORY_FRAME_BYTES_MAX,
  PROFILE_BYTES_MAX,
  PROFILE_NAME_BYTES_MAX,
  PUBLISH_REJECTED,
} from './constants.js'

export type DirectoryFrame =
  /** The record is carried as opaque bytes; decodeProfile checks it. */
  | { type: 'publish'; record: Buffer }
  | { type: 'published'; status: number }
  | { type: 'find-name'; name: string }
  | { type: 'find-id'; identity: Buffer }
  | { type: 'record'; record: Buffer }
  | { type: 'done'; more: number }

function record(v: unknown): Buffer {
  if (!(v instanceof Uint8Array) || v.byteLength === 0) throw malformed('record: must be bytes')
  if (v.byteLength > PROFILE_BYTES_MAX)
    throw tooLarge(`record of ${v.byteLength} bytes, the limit is ${PROFILE_BYTES_MAX}`)
  return Buffer.from(v)
}

export function encodeDirectoryFrame(f: DirectoryFrame): Buffer {
  const t = (n: number) => Buffer.from([n])
  switch (f?.type) {
    case 'publish':
      return Buffer.concat([t(DIR_TYPE_PUBLISH), record(f.record)])
    case 'published':
      return Buffer.concat([
        t(DIR_TYPE_PUBLISHED),
        t(checkUint(f.status, 'status', PUBLISH_REJECTED)),
      ])
    case 'find-name':
      return Buffer.concat([
        t(DIR_TYPE_FIND_NAME),
        c.encode(c.string, checkString(f.name, 'name', PROFILE_NAME_BYTES_MAX)),
      ])
    case 'find-id':
      if (!(f.identity instanceof Uint8Array) || f.identity.byteLength !== 32)
        throw malformed('identity: must be 32 bytes')
      return Buffer.concat([t(DIR_TYPE_FIND_ID), Buffer.from(f.identity)])
    case 'record':
      return Buffer.concat([t(DIR_TYPE_RECORD), record(f.record)])
    case 'done':
      return Buffer.concat([t(DIR_TYPE_DONE), c.encode(c.uint, checkUint(f.more, 'more'))])
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `no directory frame of type ${String((f as { type?: unknown })?.type)}`,
      )
  }
}

/** Throws ParleyError only (MESSAGE_TOO_LARGE, UNKNOWN_MESSAGE_TYPE, MALFORMED_MESSAGE). */
export function decodeDirectoryFrame(buf: Uint8Array): DirectoryFrame {
  return decodeStrict(buf, 'directory frame', readFrame, DIRECTORY_FRAME_BYTES_MAX)
}

function readFrame(state: State): DirectoryFrame {
  if (state.end === state.start) throw malformed('directory frame: empty')
  const type = readU8(state, 'directory frame type')
  switch (type) {
    case DIR_TYPE_PUBLISH:
      return { type: 'publish', record: readRest(state, 'record') }
    case DIR_TYPE_PUBLISHED: {
      const status = readU8(state, 'status')
      if (status > PUBLISH_REJECTED) throw malformed(`status: ${status} is not defined`)
      return { type: 'published', status }
    }
    case DIR_TYPE_FIND_NAME:
      return { type: 'find-name', name: readString(state, 'name', PROFILE_NAME_BYTES_MAX) }
    case DIR_TYPE_FIND_ID:
      return { type: 'find-id', identity: readFixed(state, 32, 'identity') }
    case DIR_TYPE_RECORD:
      return { type: 'record', record: readRest(state, 'record') }
    case DIR_TYPE_DONE:
      return { type: 'done', more: readUint(state, 'more') }
    default:
      throw new ParleyError(
        'UNKNOWN_MESSAGE_TYPE',
        `directory frame type 0x${type.toString(16).padStart(2, '0')} is not defined`,
      )
  }
}
