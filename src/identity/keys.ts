// Ed25519 keys and signatures through libsodium (sodium-native). The same
// key pairs work for hyperdht, which also uses libsodium's Ed25519 layout.

import sodium from 'sodium-native'
import { assert } from '../util/errors.js'
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SEED_BYTES, SIGNATURE_BYTES } from './constants.js'

/** An Ed25519 key pair: publicKey 32 bytes, secretKey 64 bytes (libsodium layout: seed || publicKey). */
export interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

/** A fresh random key pair, or the one derived from a 32-byte seed. */
export function generateKeyPair(seed?: Uint8Array): KeyPair {
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES)
  const secretKey = Buffer.alloc(SECRET_KEY_BYTES)
  if (seed === undefined) {
    sodium.crypto_sign_keypair(publicKey, secretKey)
  } else {
    assert(seed.byteLength === SEED_BYTES, `an Ed25519 seed is ${SEED_BYTES} bytes`)
    sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  }
  return { publicKey, secretKey }
}

/**
 * The 32-byte seed of a secret key. libsodium stores the seed as the first
 * half of the secret key; the keystore saves only seeds so every public key
 * can be re-derived and checked on unlock.
 */
export function seedOf(secretKey: Uint8Array): Buffer {
  assert(
    secretKey.byteLength === SECRET_KEY_BYTES,
    `an Ed25519 secret key is ${SECRET_KEY_BYTES} bytes`,
  )
  return Buffer.from(secretKey.subarray(0, SEED_BYTES))
}

/** A detached Ed25519 signature (64 bytes). */
export function sign(message: Uint8Array, secretKey: Uint8Array): Buffer {
  assert(
    secretKey.byteLength === SECRET_KEY_BYTES,
    `an Ed25519 secret key is ${SECRET_KEY_BYTES} bytes`,
  )
  const signature = Buffer.alloc(SIGNATURE_BYTES)
  sodium.crypto_sign_detached(signature, message, secretKey)
  return signature
}

/**
 * True only for a valid signature. Inputs come from the network, so wrong
 * sizes give false instead of throwing (libsodium would also accept a
 * signature longer than 64 bytes; we do not).
 */
export function verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (
    !ArrayBuffer.isView(message) ||
    !ArrayBuffer.isView(signature) ||
    !ArrayBuffer.isView(publicKey)
  ) {
    return false
  }
  if (signature.byteLength !== SIGNATURE_BYTES || publicKey.byteLength !== PUBLIC_KEY_BYTES)
    return false
  return sodium.crypto_sign_verify_detached(signature, message, publicKey) === true
}

/** Overwrites secret material that is no longer needed. */
export function wipe(...buffers: (Uint8Array | null | undefined)[]): void {
  for (const b of buffers) if (b) sodium.sodium_memzero(b)
}
