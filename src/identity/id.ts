// Parley IDs and safety fingerprints. An ID is the identity public key
// itself, written in z-base32, so whoever holds an ID can authenticate the
// peer without trusting any server.

import { createHash } from 'node:crypto'
import * as z32 from 'z32'
import { assert, ParleyError } from '../util/errors.js'
import {
  FINGERPRINT_CONTEXT,
  FINGERPRINT_GROUP_BYTES,
  FINGERPRINT_GROUP_MODULUS,
  FINGERPRINT_GROUPS,
  FINGERPRINT_ITERATIONS,
  ID_CHARS,
  PUBLIC_KEY_BYTES,
  Z32_ALPHABET,
} from './constants.js'

const ID_PATTERN = new RegExp(`^[${Z32_ALPHABET}]{${ID_CHARS}}$`)
/** Bad input echoed back in an error is cut to this many characters. */
const ECHO_CHARS_MAX = 64

/** The ID of an identity: 52 lowercase z-base32 characters. */
export function encodeId(identityPublicKey: Uint8Array): string {
  assert(identityPublicKey.byteLength === PUBLIC_KEY_BYTES, 'an identity public key is 32 bytes')
  return z32.encode(identityPublicKey)
}

/** The identity public key written in an ID; tolerates surrounding spaces and upper case. */
export function decodeId(text: string): Buffer {
  const key = tryDecodeId(text)
  if (key === null) {
    throw new ParleyError(
      'INVALID_ID',
      `not a Parley ID: ${echo(text)} (an ID is 52 characters of z-base32, as printed by \`parley id\`)`,
    )
  }
  return key
}

export function looksLikeId(text: string): boolean {
  return tryDecodeId(text) !== null
}

function tryDecodeId(text: string): Buffer | null {
  if (typeof text !== 'string') return null
  const normalized = text.trim().toLowerCase()
  if (!ID_PATTERN.test(normalized)) return null
  const key = Buffer.from(z32.decode(normalized))
  // 52 characters carry 260 bits; the 4 spare bits must be zero so that each
  // key has exactly one ID (otherwise 16 spellings would name the same peer).
  if (key.byteLength !== PUBLIC_KEY_BYTES || z32.encode(key) !== normalized) return null
  return key
}

function echo(text: unknown): string {
  const s = String(text)
  return JSON.stringify(s.length > ECHO_CHARS_MAX ? `${s.slice(0, ECHO_CHARS_MAX)}…` : s)
}

/**
 * Six groups of five digits that two people compare out loud to be sure they
 * hold the same ID. Iterated SHA-512 (as Signal's safety numbers) makes a
 * key whose fingerprint collides with a chosen one expensive to grind.
 *
 *   h_0 = SHA-512("parley/fingerprint/v1" || 0x00 || pk)
 *   h_{i+1} = SHA-512(h_i || pk), for i = 0 .. 5199; use h_5200
 *   digits: bytes 0..29 of h_5200 as 6 big-endian 40-bit integers, each mod 100000
 */
export function safetyFingerprint(identityPublicKey: Uint8Array): string {
  assert(identityPublicKey.byteLength === PUBLIC_KEY_BYTES, 'an identity public key is 32 bytes')
  let hash = createHash('sha512')
    .update(FINGERPRINT_CONTEXT, 'ascii')
    .update(Buffer.from([0]))
    .update(identityPublicKey)
    .digest()
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) {
    hash = createHash('sha512').update(hash).update(identityPublicKey).digest()
  }
  const groups: string[] = []
  for (let g = 0; g < FINGERPRINT_GROUPS; g++) {
    const value = hash.readUIntBE(g * FINGERPRINT_GROUP_BYTES, FINGERPRINT_GROUP_BYTES)
    groups.push(String(value % FINGERPRINT_GROUP_MODULUS).padStart(5, '0'))
  }
  return groups.join(' ')
}
