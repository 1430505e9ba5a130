// Passphrase encryption of the keystore's secret payload: a key from
// Argon2id (crypto_pwhash) sealed with XSalsa20-Poly1305 (crypto_secretbox).
// The limits are stored in the file so new keystores can use stronger ones
// later while old files still open.

import sodium from 'sodium-native'
import {
  CIPHER_KEY_BYTES,
  CIPHER_MAC_BYTES,
  CIPHER_NONCE_BYTES,
  KDF_MEMLIMIT_BYTES_DEFAULT,
  KDF_OPSLIMIT_DEFAULT,
  KDF_SALT_BYTES,
} from './constants.js'
import { wipe } from './keys.js'
import type { KeystoreEncryption } from './keystore-format.js'

/**
 * The same passphrase typed on another system may arrive in another Unicode
 * normal form (e.g. macOS input methods); NFC makes both derive one key.
 */
function passphraseBytes(passphrase: string): Buffer {
  const normalized = passphrase.normalize('NFC')
  // Buffer.from(string) may use Node's shared pool, which cannot be wiped safely.
  const bytes = Buffer.alloc(Buffer.byteLength(normalized, 'utf-8'))
  bytes.write(normalized, 'utf-8')
  return bytes
}

async function deriveKey(passphrase: string, e: KeystoreEncryption): Promise<Buffer> {
  const key = Buffer.alloc(CIPHER_KEY_BYTES)
  const password = passphraseBytes(passphrase)
  try {
    // The async variant runs on libuv's pool: a daemon unlocking keys stays responsive.
    await sodium.crypto_pwhash_async(
      key,
      password,
      e.salt,
      e.opslimit,
      e.memlimit,
      sodium.crypto_pwhash_ALG_ARGON2ID13,
    )
    return key
  } finally {
    wipe(password)
  }
}

/** Encrypts `payload` under a key derived from `passphrase` with fresh salt and nonce. */
export async function seal(
  payload: Uint8Array,
  passphrase: string,
): Promise<{ encryption: KeystoreEncryption; secret: Buffer }> {
  const encryption: KeystoreEncryption = {
    opslimit: KDF_OPSLIMIT_DEFAULT,
    memlimit: KDF_MEMLIMIT_BYTES_DEFAULT,
    salt: random(KDF_SALT_BYTES),
    nonce: random(CIPHER_NONCE_BYTES),
  }
  const key = await deriveKey(passphrase, encryption)
  const secret = Buffer.alloc(payload.byteLength + CIPHER_MAC_BYTES)
  sodium.crypto_secretbox_easy(secret, payload, encryption.nonce, key)
  wipe(key)
  return { encryption, secret }
}

/** The payload, or null when the passphrase is wrong (or the ciphertext was altered: the two look alike). */
export async function open(
  secret: Uint8Array,
  passphrase: string,
  encryption: KeystoreEncryption,
): Promise<Buffer | null> {
  const key = await deriveKey(passphrase, encryption)
  const payload = Buffer.alloc(secret.byteLength - CIPHER_MAC_BYTES)
  const ok = sodium.crypto_secretbox_open_easy(payload, secret, encryption.nonce, key)
  wipe(key)
  if (ok) return payload
  wipe(payload)
  return null
}

function random(bytes: number): Buffer {
  const b = Buffer.alloc(bytes)
  sodium.randombytes_buf(b)
  return b
}
