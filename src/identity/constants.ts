// Constants of the identity layer. Values marked "spec" are part of the
// documented formats (src/identity/README.md); changing one breaks every
// existing ID, certificate or keystore. The others are local limits.

/** spec: Ed25519 sizes (libsodium crypto_sign_*). */
export const PUBLIC_KEY_BYTES = 32
export const SECRET_KEY_BYTES = 64
export const SEED_BYTES = 32
export const SIGNATURE_BYTES = 64

/** spec: an ID is the identity public key in z-base32: ceil(256 / 5) characters. */
export const ID_CHARS = 52
export const Z32_ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769'

/** spec: the only device certificate version this code writes or reads. */
export const CERTIFICATE_VERSION = 1
/** spec: domain separation so a certificate signature can never be replayed as another message. */
export const CERTIFICATE_SIGNING_CONTEXT = 'parley/device-certificate/v1'
/** spec: longest device name in a certificate, in UTF-8 bytes. */
export const DEVICE_NAME_BYTES_MAX = 64

/** spec: safety fingerprint construction (like Signal's safety numbers). */
export const FINGERPRINT_CONTEXT = 'parley/fingerprint/v1'
export const FINGERPRINT_ITERATIONS = 5200
export const FINGERPRINT_GROUPS = 6
export const FINGERPRINT_GROUP_BYTES = 5
export const FINGERPRINT_GROUP_MODULUS = 100_000

/** Longest identity name kept in the keystore, in UTF-8 bytes (same bound as the CLI's --name). */
export const IDENTITY_NAME_BYTES_MAX = 64

/** spec: keystore file format. */
export const KEYSTORE_FORMAT = 'parley-keystore'
export const KEYSTORE_VERSION = 1
export const KEYSTORE_KDF = 'argon2id13'
export const KEYSTORE_CIPHER = 'xsalsa20poly1305'
export const KDF_SALT_BYTES = 16
export const CIPHER_NONCE_BYTES = 24
export const CIPHER_KEY_BYTES = 32
export const CIPHER_MAC_BYTES = 16

/** Written into new keystores: libsodium's INTERACTIVE limits (~0.1–0.3 s to unlock). */
export const KDF_OPSLIMIT_DEFAULT = 2
export const KDF_MEMLIMIT_BYTES_DEFAULT = 64 * 1024 * 1024
/**
 * A keystore asking for more than this is treated as damaged: otherwise a
 * tampered file could make every unlock hang or exhaust memory.
 */
export const KDF_OPSLIMIT_MAX = 20
export const KDF_MEMLIMIT_BYTES_MAX = 1024 * 1024 * 1024
/** libsodium's own minimums (crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN). */
export const KDF_OPSLIMIT_MIN = 1
export const KDF_MEMLIMIT_BYTES_MIN = 8192

/** A real keystore is under 1 KiB; anything far larger is not one, so it is never read whole. */
export const KEYSTORE_FILE_BYTES_MAX = 64 * 1024

export const HOME_DIR_MODE = 0o700
export const KEYSTORE_FILE_MODE = 0o600
