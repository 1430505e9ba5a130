// The signed profile record (PROTOCOL.md §11.1): who an identity says it is
// (display name), which device keys it certified, which supernodes hold its
// mailbox, and when it said so. Signed by the identity key, so a supernode
// can store and serve it but cannot alter or invent one.

import c from 'compact-encoding'
import {
  type DeviceCertificate,
  decodeDeviceCertificate,
  encodeDeviceCertificate,
  sign,
  verify,
  verifyDeviceCertificate,
} from '../identity/index.js'
import { decodeDropReason, ParleyError } from '../util/errors.js'
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
  PROFILE_BYTES_MAX,
  PROFILE_CERTIFICATE_BYTES_MAX,
  PROFILE_DEVICES_MAX,
  PROFILE_HOST_BYTES_MAX,
  PROFILE_MAILBOXES_MAX,
  PROFILE_NAME_BYTES_MAX,
  PROFILE_SIGNING_CONTEXT,
  PROFILE_TIME_MS_MAX,
  PROFILE_VERSION,
} from './constants.js'

export interface MailboxAddress {
  /** The supernode's device key (what one dials). */
  publicKey: Buffer
  host: string
  port: number
}

export interface ProfileFields {
  identity: Buffer
  publishedAtMs: number
  name: string
  devices: DeviceCertificate[]
  mailboxes: MailboxAddress[]
}

export type Profile = ProfileFields & { signature: Buffer }

const SIGNING_PREFIX = Buffer.concat([
  Buffer.from(PROFILE_SIGNING_CONTEXT, 'ascii'),
  Buffer.from([0]),
])

/**
 * §11.1: the form names are compared in: Unicode NFKC, lower case (the
 * locale-independent default mapping), surrounding white space removed and
 * every inner run of white space one U+0020. "  Alice  Smith" and "alice smith" match.
 */
export function normaliseName(name: string): string {
  return name.normalize('NFKC').toLowerCase().trim().replace(/\s+/gu, ' ')
}

function bytes(value: unknown, n: number, field: string): Buffer {
  if (!(value instanceof Uint8Array) || value.byteLength !== n)
    throw malformed(`${field}: must be ${n} bytes`)
  return Buffer.from(value)
}

function u64(ms: number): Buffer {
  checkUint(ms, 'published_at_ms', PROFILE_TIME_MS_MAX)
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(BigInt(ms))
  return b
}

function encodeUnsigned(f: ProfileFields): Buffer {
  const identity = bytes(f.identity, 32, 'identity')
  if (typeof f.name !== 'string' || normaliseName(f.name) === '')
    throw malformed('name: must not be empty')
  if (!Array.isArray(f.devices) || f.devices.length < 1 || f.devices.length > PROFILE_DEVICES_MAX)
    throw malformed(`devices: 1 to ${PROFILE_DEVICES_MAX} certificates`)
  if (!Array.isArray(f.mailboxes) || f.mailboxes.length > PROFILE_MAILBOXES_MAX)
    throw malformed(`mailboxes: at most ${PROFILE_MAILBOXES_MAX}`)
  const parts: Buffer[] = [
    Buffer.from([PROFILE_VERSION]),
    identity,
    u64(f.publishedAtMs),
    c.encode(c.string, checkString(f.name, 'name', PROFILE_NAME_BYTES_MAX)),
    Buffer.from([f.devices.length]),
  ]
  for (const cert of f.devices) {
    if (!Buffer.from(cert.identityPublicKey ?? []).equals(identity))
      throw malformed('devices: a certificate of another identity')
    const encoded = encodeDeviceCertificate(cert)
    if (encoded.byteLength > PROFILE_CERTIFICATE_BYTES_MAX)
      throw tooLarge(`certificate of ${encoded.byteLength} bytes`)
    parts.push(c.encode(c.buffer, encoded))
  }
  parts.push(Buffer.from([f.mailboxes.length]))
  for (const m of f.mailboxes) {
    const port = Buffer.alloc(2)
    port.writeUInt16LE(checkUint(m.port, 'port', 0xffff))
    parts.push(
      bytes(m.publicKey, 32, 'mailbox key'),
      c.encode(c.string, checkString(m.host, 'host', PROFILE_HOST_BYTES_MAX)),
      port,
    )
  }
  const out = Buffer.concat(parts)
  if (out.byteLength + 64 > PROFILE_BYTES_MAX)
    throw tooLarge(`profile of ${out.byteLength + 64} bytes, the limit is ${PROFILE_BYTES_MAX}`)
  return out
}

/** Signs with the identity secret key (64-byte libsodium layout). */
export function signProfile(f: ProfileFields, identitySecretKey: Uint8Array): Buffer {
  const unsigned = encodeUnsigned(f)
  return Buffer.concat([
    unsigned,
    sign(Buffer.concat([SIGNING_PREFIX, unsigned]), identitySecretKey),
  ])
}

/** Encodes a record whose signature is already known (vectors, re-encoding). */
export function encodeProfile(p: Profile): Buffer {
  return Buffer.concat([encodeUnsigned(p), bytes(p.signature, 64, 'signature')])
}

/**
 * Decodes and verifies: the record's signature by `identity` and every
 * device certificate's signature by the same identity. Throws ParleyError
 * only (MESSAGE_TOO_LARGE, UNKNOWN_MESSAGE_TYPE, MALFORMED_MESSAGE — a
 * record that does not verify is not a record).
 */
export function decodeProfile(buf: Uint8Array): Profile {
  const p = decodeStrict(buf, 'profile', readProfile, PROFILE_BYTES_MAX)
  const signed = Buffer.concat([SIGNING_PREFIX, Buffer.from(buf.subarray(0, buf.byteLength - 64))])
  if (!verify(signed, p.signature, p.identity)) throw malformed('profile: bad signature')
  for (const cert of p.devices)
    if (!verifyDeviceCertificate(cert)) throw malformed('profile: a device certificate is forged')
  return p
}

/** decodeProfile for input from the network: null (and `drop` told why) instead of throwing. */
export function tryDecodeProfile(
  raw: Uint8Array,
  drop: (reason: 'forged' | 'oversize' | 'unknown_type') => void,
): Profile | null {
  try {
    return decodeProfile(raw)
  } catch (err) {
    const reason = decodeDropReason(err)
    drop(reason === 'malformed' ? 'forged' : reason)
    return null
  }
}

function readProfile(state: State): Profile {
  const version = readU8(state, 'profile version')
  if (version !== PROFILE_VERSION)
    throw new ParleyError('UNKNOWN_MESSAGE_TYPE', `profile version ${version} is not defined`)
  const identity = readFixed(state, 32, 'identity')
  const t = readFixed(state, 8, 'published_at_ms').readBigUInt64LE()
  if (t > BigInt(PROFILE_TIME_MS_MAX)) throw malformed('published_at_ms: above 2^53 - 1')
  const name = readString(state, 'name', PROFILE_NAME_BYTES_MAX)
  if (normaliseName(name) === '') throw malformed('name: empty')
  const deviceCount = readU8(state, 'device count')
  if (deviceCount < 1 || deviceCount > PROFILE_DEVICES_MAX)
    throw malformed(`device count ${deviceCount}: 1 to ${PROFILE_DEVICES_MAX}`)
  const devices: DeviceCertificate[] = []
  for (let i = 0; i < deviceCount; i++) {
    const length = readUint(state, 'certificate length', PROFILE_CERTIFICATE_BYTES_MAX)
    const cert = decodeDeviceCertificate(readFixed(state, length, 'certificate'))
    if (!cert.identityPublicKey.equals(identity))
      throw malformed('devices: a certificate of another identity')
    devices.push(cert)
  }
  const mailboxCount = readU8(state, 'mailbox count')
  if (mailboxCount > PROFILE_MAILBOXES_MAX)
    throw malformed(`mailbox count ${mailboxCount}: at most ${PROFILE_MAILBOXES_MAX}`)
  const mailboxes: MailboxAddress[] = []
  for (let i = 0; i < mailboxCount; i++) {
    const publicKey = readFixed(state, 32, 'mailbox key')
    const host = readString(state, 'host', PROFILE_HOST_BYTES_MAX)
    const port = readFixed(state, 2, 'port').readUInt16LE()
    mailboxes.push({ publicKey, host, port })
  }
  return {
    identity,
    publishedAtMs: Number(t),
    name,
    devices,
    mailboxes,
    signature: readFixed(state, 64, 'signature'),
  }
}
