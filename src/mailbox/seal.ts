// Sealing an envelope to its recipient (§9.6): libsodium's crypto_box_seal to
// the X25519 key derived from the recipient's Ed25519 identity key. The
// mailbox sees only the ciphertext; the envelope inside is signed by the
// sender, so a mailbox can neither read, alter nor forge one.

import sodium from 'sodium-native'
import type { KeyPair } from '../identity/index.js'
import { SEAL_OVERHEAD_BYTES } from './constants.js'

export function sealTo(recipientIdentityPublicKey: Uint8Array, envelope: Uint8Array): Buffer {
  const pk = Buffer.alloc(32)
  sodium.crypto_sign_ed25519_pk_to_curve25519(pk, recipientIdentityPublicKey)
  const out = Buffer.alloc(envelope.byteLength + SEAL_OVERHEAD_BYTES)
  sodium.crypto_box_seal(out, envelope, pk)
  return out
}

/** The envelope bytes, or null if the blob was not sealed to this identity or was altered. */
export function openSealed(identity: KeyPair, sealed: Uint8Array): Buffer | null {
  if (!(sealed instanceof Uint8Array) || sealed.byteLength <= SEAL_OVERHEAD_BYTES) return null
  const pk = Buffer.alloc(32)
  const sk = Buffer.alloc(32)
  try {
    sodium.crypto_sign_ed25519_pk_to_curve25519(pk, identity.publicKey)
    sodium.crypto_sign_ed25519_sk_to_curve25519(sk, identity.secretKey)
    const out = Buffer.alloc(sealed.byteLength - SEAL_OVERHEAD_BYTES)
    return sodium.crypto_box_seal_open(out, sealed, pk, sk) ? out : null
  } catch {
    return null
  } finally {
    sodium.sodium_memzero(sk)
  }
}
