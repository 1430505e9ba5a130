// The chat envelope (PROTOCOL.md §9.2): one signed, self-contained item from
// one identity to another. The same bytes travel on the chat channel and,
// sealed to the recipient, through offline mailboxes, so a mailbox that
// alters or invents one is caught by the signature.

import c from 'compact-encoding'
import { sign, verify } from '../identity/index.js'
import { ParleyError } from '../util/errors.js'
import {
  checkString,
  checkUint,
  decodeStrict,
  malformed,
  readFixed,
  readString,
  readU8,
  readUint,
  type State,
  tooLarge,
} from '../wire/codec.js'
import {
  ENVELOPE_BYTES_MAX,
  ENVELOPE_SIGNING_CONTEXT,
  ENVELOPE_VERSION,
  GROUP_STATE_BYTES_MAX,
  KIND_ACCEPT,
  KIND_DELETE,
  KIND_EDIT,
  KIND_GROUP_LEAVE,
  KIND_GROUP_STATE,
  KIND_GROUP_TEXT,
  KIND_REQUEST,
  KIND_TEXT,
  MESSAGE_ID_BYTES,
  NAME_BYTES_MAX,
  NOTE_BYTES_MAX,
  TEXT_BYTES_MAX,
  TIME_MS_MAX,
} from './constants.js'

export type EnvelopeBody =
  | { kind: 'text'; text: string }
  | { kind: 'edit'; target: Buffer; text: string }
  | { kind: 'delete'; target: Buffer }
  | { kind: 'request'; name: string; note: string }
  | { kind: 'accept'; name: string }
  /** §11.8: a signed group state (§11.7), opaque here; the group logic verifies it. */
  | { kind: 'group-state'; state: Buffer }
  | { kind: 'group-text'; group: Buffer; stateSeq: number; text: string }
  | { kind: 'group-leave'; group: Buffer }

export type EnvelopeFields = {
  sender: Buffer
  recipient: Buffer
  id: Buffer
  seq: number
  sentAtMs: number
} & EnvelopeBody

export type Envelope = EnvelopeFields & { signature: Buffer }

const SIGNING_PREFIX = Buffer.concat([
  Buffer.from(ENVELOPE_SIGNING_CONTEXT, 'ascii'),
  Buffer.from([0]),
])
const KIND_CODES: Record<EnvelopeBody['kind'], number> = {
  text: KIND_TEXT,
  edit: KIND_EDIT,
  delete: KIND_DELETE,
  request: KIND_REQUEST,
  accept: KIND_ACCEPT,
  'group-state': KIND_GROUP_STATE,
  'group-text': KIND_GROUP_TEXT,
  'group-leave': KIND_GROUP_LEAVE,
}

function checkBytes(value: unknown, length: number, field: string): Buffer {
  if (!(value instanceof Uint8Array) || value.byteLength !== length) {
    throw malformed(`${field}: must be ${length} bytes`)
  }
  return Buffer.from(value)
}

/** The signed part; throws ParleyError (MESSAGE_TOO_LARGE for a text over TEXT_BYTES_MAX). */
function encodeUnsigned(f: EnvelopeFields): Buffer {
  const parts: Buffer[] = [
    Buffer.from([ENVELOPE_VERSION]),
    checkBytes(f.sender, 32, 'sender'),
    checkBytes(f.recipient, 32, 'recipient'),
    checkBytes(f.id, MESSAGE_ID_BYTES, 'message id'),
    c.encode(c.uint, checkUint(f.seq, 'seq')),
    time(f.sentAtMs),
    Buffer.from([KIND_CODES[f.kind] ?? kindUnknown(f)]),
  ]
  switch (f.kind) {
    case 'text':
      parts.push(str(f.text, 'text', TEXT_BYTES_MAX))
      break
    case 'edit':
      parts.push(
        checkBytes(f.target, MESSAGE_ID_BYTES, 'target'),
        str(f.text, 'text', TEXT_BYTES_MAX),
      )
      break
    case 'delete':
      parts.push(checkBytes(f.target, MESSAGE_ID_BYTES, 'target'))
      break
    case 'request':
      parts.push(str(f.name, 'name', NAME_BYTES_MAX), str(f.note, 'note', NOTE_BYTES_MAX))
      break
    case 'accept':
      parts.push(str(f.name, 'name', NAME_BYTES_MAX))
      break
    case 'group-state': {
      const st = f.state
      if (!(st instanceof Uint8Array) || st.byteLength === 0)
        throw malformed('state: must be bytes')
      if (st.byteLength > GROUP_STATE_BYTES_MAX) throw tooLarge('group state too large')
      parts.push(c.encode(c.buffer, Buffer.from(st)))
      break
    }
    case 'group-text':
      parts.push(
        checkBytes(f.group, 32, 'group'),
        c.encode(c.uint, checkUint(f.stateSeq, 'state_seq')),
        str(f.text, 'text', TEXT_BYTES_MAX),
      )
      break
    case 'group-leave':
      parts.push(checkBytes(f.group, 32, 'group'))
      break
  }
  return Buffer.concat(parts)
}

function kindUnknown(f: { kind: unknown }): never {
  throw new ParleyError('UNKNOWN_MESSAGE_TYPE', `no envelope kind ${String(f.kind)}`)
}

function str(value: string, field: string, max: number): Buffer {
  return c.encode(c.string, checkString(value, field, max))
}

function time(ms: number): Buffer {
  checkUint(ms, 'sent_at_ms', TIME_MS_MAX)
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(ms))
  return b
}

/** Signs with the sender's identity secret key (64-byte libsodium layout). */
export function signEnvelope(f: EnvelopeFields, identitySecretKey: Uint8Array): Buffer {
  const unsigned = encodeUnsigned(f)
  const signature = sign(Buffer.concat([SIGNING_PREFIX, unsigned]), identitySecretKey)
  return Buffer.concat([unsigned, signature])
}

/** Encodes an envelope whose signature is already known (vectors, re-encoding). */
export function encodeEnvelope(e: Envelope): Buffer {
  return Buffer.concat([encodeUnsigned(e), checkBytes(e.signature, 64, 'signature')])
}

/**
 * Decodes and verifies. Throws ParleyError only: MESSAGE_TOO_LARGE,
 * UNKNOWN_MESSAGE_TYPE (kind or version), MALFORMED_MESSAGE (including a bad
 * signature: an envelope that does not verify is not an envelope).
 */
export function decodeEnvelope(buf: Uint8Array): Envelope {
  const e = decodeStrict(buf, 'envelope', readEnvelope, ENVELOPE_BYTES_MAX)
  const signedLength = buf.byteLength - 64
  const signed = Buffer.concat([SIGNING_PREFIX, Buffer.from(buf.subarray(0, signedLength))])
  if (!verify(signed, e.signature, e.sender)) throw malformed('envelope: bad signature')
  return e
}

function readTime(state: State): number {
  const v = readFixed(state, 8, 'sent_at_ms').readBigUInt64LE()
  if (v > BigInt(TIME_MS_MAX)) throw malformed(`sent_at_ms: ${v} is above 2^53 - 1`)
  return Number(v)
}

function readEnvelope(state: State): Envelope {
  const version = readU8(state, 'envelope version')
  if (version !== ENVELOPE_VERSION) {
    throw new ParleyError('UNKNOWN_MESSAGE_TYPE', `envelope version ${version} is not defined`)
  }
  const head = {
    sender: readFixed(state, 32, 'sender'),
    recipient: readFixed(state, 32, 'recipient'),
    id: readFixed(state, MESSAGE_ID_BYTES, 'message id'),
    seq: readUint(state, 'seq'),
    sentAtMs: readTime(state),
  }
  const kind = readU8(state, 'kind')
  let body: EnvelopeBody
  switch (kind) {
    case KIND_TEXT:
      body = { kind: 'text', text: readString(state, 'text', TEXT_BYTES_MAX) }
      break
    case KIND_EDIT:
      body = {
        kind: 'edit',
        target: readFixed(state, MESSAGE_ID_BYTES, 'target'),
        text: readString(state, 'text', TEXT_BYTES_MAX),
      }
      break
    case KIND_DELETE:
      body = { kind: 'delete', target: readFixed(state, MESSAGE_ID_BYTES, 'target') }
      break
    case KIND_REQUEST:
      body = {
        kind: 'request',
        name: readString(state, 'name', NAME_BYTES_MAX),
        note: readString(state, 'note', NOTE_BYTES_MAX),
      }
      break
    case KIND_ACCEPT:
      body = { kind: 'accept', name: readString(state, 'name', NAME_BYTES_MAX) }
      break
    case KIND_GROUP_STATE: {
      const length = readUint(state, 'state length', GROUP_STATE_BYTES_MAX)
      if (length === 0) throw malformed('state: empty')
      body = { kind: 'group-state', state: readFixed(state, length, 'state') }
      break
    }
    case KIND_GROUP_TEXT:
      body = {
        kind: 'group-text',
        group: readFixed(state, 32, 'group'),
        stateSeq: readUint(state, 'state_seq'),
        text: readString(state, 'text', TEXT_BYTES_MAX),
      }
      break
    case KIND_GROUP_LEAVE:
      body = { kind: 'group-leave', group: readFixed(state, 32, 'group') }
      break
    default:
      throw new ParleyError('UNKNOWN_MESSAGE_TYPE', `envelope kind ${kind} is not defined`)
  }
  return { ...head, ...body, signature: readFixed(state, 64, 'signature') }
}
