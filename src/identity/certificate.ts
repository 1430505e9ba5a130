// Device certificates: the long-term identity key vouches for a device key
// (the key the device uses for Noise on the DHT). Peers check the
// certificate in the session hello, so a device key is trusted only as far
// as the identity that signed it. Several devices = several certificates.
//
// Layout (compact-encoding), see README.md:
//   u8 version (= 1) | fixed32 identity_pk | fixed32 device_pk
//   | uint created_at_ms | string device_name (<= 64 B) | fixed64 signature
// signature = Ed25519(identity_sk, "parley/device-certificate/v1" || 0x00 || all preceding bytes)

import c from 'compact-encoding'
import { ParleyError } from '../util/errors.js'
import {
  CERTIFICATE_SIGNING_CONTEXT,
  CERTIFICATE_VERSION,
  DEVICE_NAME_BYTES_MAX,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
} from './constants.js'
import { type KeyPair, sign, verify } from './keys.js'

export interface DeviceCertificate {
  identityPublicKey: Buffer
  devicePublicKey: Buffer
  /** Wall-clock ms when the identity signed it; an integer >= 0. */
  createdAtMs: number
  /** UTF-8, at most 64 bytes. */
  deviceName: string
  /** Ed25519 by the identity key over the signing context and the fields above. */
  signature: Buffer
}

type CertificateBody = Omit<DeviceCertificate, 'signature'>

const SIGNING_PREFIX = Buffer.concat([
  Buffer.from(CERTIFICATE_SIGNING_CONTEXT, 'ascii'),
  Buffer.from([0]),
])
// Non-canonical or invalid UTF-8 is rejected instead of being replaced with U+FFFD,
// so decode(bytes) re-encodes to exactly the bytes that were signed.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Throws a plain Error naming the broken rule (compact-encoding style). */
function checkBody(cert: CertificateBody): void {
  if (!isBytes(cert.identityPublicKey, PUBLIC_KEY_BYTES))
    throw new Error('identity public key must be 32 bytes')
  if (!isBytes(cert.devicePublicKey, PUBLIC_KEY_BYTES))
    throw new Error('device public key must be 32 bytes')
  if (!Number.isSafeInteger(cert.createdAtMs) || cert.createdAtMs < 0) {
    throw new Error('created_at_ms must be an integer >= 0')
  }
  checkDeviceName(cert.deviceName)
}

function checkDeviceName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new Error('device name must be a string')
  const bytes = Buffer.from(name, 'utf-8')
  if (bytes.byteLength > DEVICE_NAME_BYTES_MAX) {
    throw new Error(
      `device name is ${bytes.byteLength} bytes; at most ${DEVICE_NAME_BYTES_MAX} are allowed`,
    )
  }
  if (bytes.toString('utf-8') !== name) throw new Error('device name is not valid Unicode')
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength === length
}

/** A uint whose encoding is longer than needed would let two byte strings mean one certificate. */
function decodeCanonicalUint(state: any): number {
  const start = state.start
  const n = c.uint.decode(state)
  const size = c.state()
  c.uint.preencode(size, n)
  if (state.start - start !== size.end) throw new Error('non-canonical integer')
  if (!Number.isSafeInteger(n)) throw new Error('integer too large')
  return n
}

const bodyEncoding = {
  preencode(state: any, cert: CertificateBody): void {
    checkBody(cert)
    c.uint8.preencode(state, CERTIFICATE_VERSION)
    c.fixed32.preencode(state, cert.identityPublicKey)
    c.fixed32.preencode(state, cert.devicePublicKey)
    c.uint.preencode(state, cert.createdAtMs)
    c.string.preencode(state, cert.deviceName)
  },
  encode(state: any, cert: CertificateBody): void {
    c.uint8.encode(state, CERTIFICATE_VERSION)
    c.fixed32.encode(state, cert.identityPublicKey)
    c.fixed32.encode(state, cert.devicePublicKey)
    c.uint.encode(state, cert.createdAtMs)
    c.string.encode(state, cert.deviceName)
  },
  decode(state: any): CertificateBody {
    const version = c.uint8.decode(state)
    if (version !== CERTIFICATE_VERSION)
      throw new Error(`unknown device certificate version ${version}`)
    // Copies, so a certificate never pins (or changes with) a larger network buffer.
    const identityPublicKey = Buffer.from(c.fixed32.decode(state))
    const devicePublicKey = Buffer.from(c.fixed32.decode(state))
    const createdAtMs = decodeCanonicalUint(state)
    const nameBytes = decodeCanonicalUint(state)
    if (nameBytes > DEVICE_NAME_BYTES_MAX)
      throw new Error(`device name is longer than ${DEVICE_NAME_BYTES_MAX} bytes`)
    if (state.end - state.start < nameBytes) throw new Error('Out of bounds')
    const deviceName = utf8Strict.decode(
      state.buffer.subarray(state.start, state.start + nameBytes),
    )
    state.start += nameBytes
    return { identityPublicKey, devicePublicKey, createdAtMs, deviceName }
  },
}

/** compact-encoding codec, so the wire layer can embed a certificate in its messages. Throws on malformed input. */
export const deviceCertificateEncoding = {
  preencode(state: any, cert: DeviceCertificate): void {
    bodyEncoding.preencode(state, cert)
    c.fixed64.preencode(state, cert.signature)
  },
  encode(state: any, cert: DeviceCertificate): void {
    bodyEncoding.encode(state, cert)
    c.fixed64.encode(state, cert.signature)
  },
  decode(state: any): DeviceCertificate {
    const body = bodyEncoding.decode(state)
    return { ...body, signature: Buffer.from(c.fixed64.decode(state)) }
  },
}

function signingInput(cert: CertificateBody): Buffer {
  return Buffer.concat([SIGNING_PREFIX, c.encode(bodyEncoding, cert)])
}

export function signDeviceCertificate(
  identity: KeyPair,
  devicePublicKey: Uint8Array,
  deviceName: string,
  createdAtMs: number,
): DeviceCertificate {
  const body: CertificateBody = {
    identityPublicKey: Buffer.from(identity.publicKey),
    devicePublicKey: Buffer.from(devicePublicKey),
    createdAtMs,
    deviceName,
  }
  try {
    checkBody(body)
  } catch (err) {
    throw new ParleyError('USAGE', `cannot certify this device: ${(err as Error).message}`)
  }
  return { ...body, signature: sign(signingInput(body), identity.secretKey) }
}

/** True only for a well-formed certificate signed by its identity key. Never throws. */
export function verifyDeviceCertificate(cert: DeviceCertificate): boolean {
  try {
    if (!isBytes(cert.signature, SIGNATURE_BYTES)) return false
    checkBody(cert)
    return verify(signingInput(cert), cert.signature, cert.identityPublicKey)
  } catch {
    return false
  }
}

export function encodeDeviceCertificate(cert: DeviceCertificate): Buffer {
  try {
    return c.encode(deviceCertificateEncoding, cert)
  } catch (err) {
    throw new ParleyError(
      'MALFORMED_MESSAGE',
      `cannot encode device certificate: ${(err as Error).message}`,
    )
  }
}

/** Decodes exactly one certificate; does not check the signature (see verifyDeviceCertificate). */
export function decodeDeviceCertificate(buf: Uint8Array): DeviceCertificate {
  try {
    const state = c.state(0, buf.byteLength, buf)
    const cert = deviceCertificateEncoding.decode(state)
    if (state.start !== state.end) throw new Error(`${state.end - state.start} trailing bytes`)
    return cert
  } catch (err) {
    throw new ParleyError(
      'MALFORMED_MESSAGE',
      `malformed device certificate: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}
