// The keystore file (identity.json) as data: JSON in and out, and the
// secret payload inside it. No I/O here; every parse error is a plain Error
// whose message is the detail shown in "keystore … is damaged (<detail>)".
//
// {
//   "format": "parley-keystore", "version": 1, "name": "…",
//   "identity_public_key": hex(32), "device_public_key": hex(32),
//   "encryption": null | { "kdf": "argon2id13", "opslimit": n, "memlimit": n,
//                          "salt": hex(16), "cipher": "xsalsa20poly1305", "nonce": hex(24) },
//   "secret": hex(payload, or crypto_secretbox_easy(payload) when encrypted)
// }
// payload = fixed32 identity_seed | fixed32 device_seed | device certificate

import c from 'compact-encoding'
import { type DeviceCertificate, deviceCertificateEncoding } from './certificate.js'
import {
  CIPHER_MAC_BYTES,
  CIPHER_NONCE_BYTES,
  DEVICE_NAME_BYTES_MAX,
  KDF_MEMLIMIT_BYTES_MAX,
  KDF_MEMLIMIT_BYTES_MIN,
  KDF_OPSLIMIT_MAX,
  KDF_OPSLIMIT_MIN,
  KDF_SALT_BYTES,
  KEYSTORE_CIPHER,
  KEYSTORE_FORMAT,
  KEYSTORE_KDF,
  KEYSTORE_VERSION,
  PUBLIC_KEY_BYTES,
  SEED_BYTES,
  SIGNATURE_BYTES,
} from './constants.js'
import { identityNameProblem } from './identity.js'
import { wipe } from './keys.js'

export interface KeystoreEncryption {
  opslimit: number
  memlimit: number
  salt: Buffer
  nonce: Buffer
}

export interface KeystoreDocument {
  name: string
  identityPublicKey: Buffer
  devicePublicKey: Buffer
  encryption: KeystoreEncryption | null
  secret: Buffer
}

export interface SecretPayload {
  identitySeed: Buffer
  deviceSeed: Buffer
  certificate: DeviceCertificate
}

/** Raised for a keystore written by a newer Parley, so the caller can say "upgrade" instead of "damaged". */
export class NewerKeystoreError extends Error {
  constructor(readonly version: number) {
    super(`format version ${version}`)
  }
}

// Certificate size: version, two keys, uint (1..9 B), name length + name, signature.
const CERT_BYTES_MIN = 1 + 2 * PUBLIC_KEY_BYTES + 1 + 1 + SIGNATURE_BYTES
const CERT_BYTES_MAX = 1 + 2 * PUBLIC_KEY_BYTES + 9 + 1 + DEVICE_NAME_BYTES_MAX + SIGNATURE_BYTES
const PAYLOAD_BYTES_MIN = 2 * SEED_BYTES + CERT_BYTES_MIN
const PAYLOAD_BYTES_MAX = 2 * SEED_BYTES + CERT_BYTES_MAX

export function serializeKeystore(doc: KeystoreDocument): string {
  const e = doc.encryption
  const json = {
    format: KEYSTORE_FORMAT,
    version: KEYSTORE_VERSION,
    name: doc.name,
    identity_public_key: doc.identityPublicKey.toString('hex'),
    device_public_key: doc.devicePublicKey.toString('hex'),
    encryption:
      e === null
        ? null
        : {
            kdf: KEYSTORE_KDF,
            opslimit: e.opslimit,
            memlimit: e.memlimit,
            salt: e.salt.toString('hex'),
            cipher: KEYSTORE_CIPHER,
            nonce: e.nonce.toString('hex'),
          },
    secret: doc.secret.toString('hex'),
  }
  return `${JSON.stringify(json, null, 2)}\n`
}

/** Checks every field, so a damaged file is reported by every reader, not only by unlock. */
export function parseKeystore(text: string): KeystoreDocument {
  if (text.trim() === '') throw new Error('the file is empty')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error('not valid JSON; it may be truncated')
  }
  const o = asObject(json, 'the file')
  if (o.format !== KEYSTORE_FORMAT) throw new Error(`"format" is not "${KEYSTORE_FORMAT}"`)
  if (
    typeof o.version === 'number' &&
    Number.isInteger(o.version) &&
    o.version > KEYSTORE_VERSION
  ) {
    throw new NewerKeystoreError(o.version)
  }
  if (o.version !== KEYSTORE_VERSION)
    throw new Error(`unknown "version" ${JSON.stringify(o.version)}`)
  const nameProblem = identityNameProblem(o.name)
  if (nameProblem !== null) throw new Error(`"name" ${nameProblem}`)
  const encryption = o.encryption === null ? null : parseEncryption(o.encryption)
  const secret = hexField(o, 'secret', null)
  const overhead = encryption === null ? 0 : CIPHER_MAC_BYTES
  if (
    secret.byteLength < PAYLOAD_BYTES_MIN + overhead ||
    secret.byteLength > PAYLOAD_BYTES_MAX + overhead
  ) {
    throw new Error(`"secret" has the wrong length (${secret.byteLength} bytes)`)
  }
  return {
    name: o.name as string,
    identityPublicKey: hexField(o, 'identity_public_key', PUBLIC_KEY_BYTES),
    devicePublicKey: hexField(o, 'device_public_key', PUBLIC_KEY_BYTES),
    encryption,
    secret,
  }
}

function parseEncryption(value: unknown): KeystoreEncryption {
  const e = asObject(value, '"encryption"')
  if (e.kdf !== KEYSTORE_KDF) throw new Error(`unknown "encryption.kdf" ${JSON.stringify(e.kdf)}`)
  if (e.cipher !== KEYSTORE_CIPHER)
    throw new Error(`unknown "encryption.cipher" ${JSON.stringify(e.cipher)}`)
  // Limits bound the work a tampered file can make unlock do (see constants.ts).
  const opslimit = intField(e, 'opslimit', KDF_OPSLIMIT_MIN, KDF_OPSLIMIT_MAX)
  const memlimit = intField(e, 'memlimit', KDF_MEMLIMIT_BYTES_MIN, KDF_MEMLIMIT_BYTES_MAX)
  return {
    opslimit,
    memlimit,
    salt: hexField(e, 'salt', KDF_SALT_BYTES),
    nonce: hexField(e, 'nonce', CIPHER_NONCE_BYTES),
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

function intField(o: Record<string, unknown>, key: string, min: number, max: number): number {
  const n = o[key]
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`"${key}" must be an integer from ${min} to ${max}`)
  }
  return n
}

// Buffer.from(s, 'hex') silently stops at the first bad character, so check first.
function hexField(o: Record<string, unknown>, key: string, bytes: number | null): Buffer {
  const s = o[key]
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new Error(`"${key}" is not hex`)
  }
  if (bytes !== null && s.length !== bytes * 2) throw new Error(`"${key}" is not ${bytes} bytes`)
  return Buffer.from(s, 'hex')
}

export function encodeSecretPayload(payload: SecretPayload): Buffer {
  const state = c.state()
  c.fixed32.preencode(state, payload.identitySeed)
  c.fixed32.preencode(state, payload.deviceSeed)
  deviceCertificateEncoding.preencode(state, payload.certificate)
  // Buffer.alloc, not allocUnsafe: secrets must not land in Node's shared pool.
  state.buffer = Buffer.alloc(state.end)
  c.fixed32.encode(state, payload.identitySeed)
  c.fixed32.encode(state, payload.deviceSeed)
  deviceCertificateEncoding.encode(state, payload.certificate)
  return state.buffer
}

export function decodeSecretPayload(buf: Buffer): SecretPayload {
  const state = c.state(0, buf.byteLength, buf)
  const identitySeed = Buffer.from(c.fixed32.decode(state))
  const deviceSeed = Buffer.from(c.fixed32.decode(state))
  try {
    const certificate = deviceCertificateEncoding.decode(state)
    if (state.start !== state.end) throw new Error('trailing bytes after the secret keys')
    return { identitySeed, deviceSeed, certificate }
  } catch (err) {
    wipe(identitySeed, deviceSeed)
    throw err
  }
}
