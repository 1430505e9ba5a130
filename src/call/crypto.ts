import sodium from 'sodium-native'
import {
  CALL_ID_BYTES,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_TAG_BYTES,
  EPHEMERAL_KEY_BYTES,
  REPLAY_WINDOW,
} from './constants.js'

// Per-call keys, the media envelope and its replay window: docs/PROTOCOL.md §10.3.

const KDF_LABEL = Buffer.from('parley call v1')
/** Scratch nonces: sealing and opening are synchronous, so one each is enough. */
const sealNonce = Buffer.alloc(12)
const openNonce = Buffer.alloc(12)

export interface EphemeralKeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export function ephemeralKeyPair(): EphemeralKeyPair {
  const publicKey = Buffer.alloc(EPHEMERAL_KEY_BYTES)
  const secretKey = sodium.sodium_malloc(32) as Buffer
  sodium.randombytes_buf(secretKey)
  sodium.crypto_scalarmult_base(publicKey, secretKey)
  return { publicKey, secretKey }
}

export interface CallKeys {
  send: Buffer
  receive: Buffer
}

/**
 * Derives both directions' keys and erases our ephemeral secret. Throws on a
 * low-order peer key (an all-zero shared secret).
 */
export function deriveCallKeys(
  own: EphemeralKeyPair,
  peerPublic: Buffer,
  call_id: Buffer,
  isCaller: boolean,
): CallKeys {
  const shared = sodium.sodium_malloc(32) as Buffer
  try {
    sodium.crypto_scalarmult(shared, own.secretKey, peerPublic)
  } finally {
    sodium.sodium_memzero(own.secretKey)
  }
  if (shared.every((x) => x === 0)) throw new Error('the peer sent a low-order call key')
  const caller = isCaller ? own.publicKey : peerPublic
  const callee = isCaller ? peerPublic : own.publicKey
  const k = sodium.sodium_malloc(64) as Buffer
  sodium.crypto_generichash(k, Buffer.concat([KDF_LABEL, call_id, caller, callee]), shared)
  sodium.sodium_memzero(shared)
  const toCallee = k.subarray(0, 32)
  const toCaller = k.subarray(32, 64)
  return isCaller ? { send: toCallee, receive: toCaller } : { send: toCaller, receive: toCallee }
}

export function eraseKeys(keys: CallKeys): void {
  sodium.sodium_memzero(keys.send)
  sodium.sodium_memzero(keys.receive)
}

/** Seals one envelope: kind, call_tag, counter, then ChaCha20-Poly1305 of `plain`. */
export function sealEnvelope(
  out: Buffer,
  kind: number,
  call_id: Buffer,
  counter: bigint,
  key: Buffer,
  plain: Uint8Array,
): Buffer {
  const n = ENVELOPE_HEADER_BYTES + plain.length + ENVELOPE_TAG_BYTES
  const env = out.length >= n ? out.subarray(0, n) : Buffer.alloc(n)
  env[0] = kind
  call_id.copy(env, 1, 0, 4)
  env.writeBigUInt64BE(counter, 5)
  const nonce = sealNonce
  env.copy(nonce, 4, 5, 13)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
    env.subarray(ENVELOPE_HEADER_BYTES),
    plain,
    env.subarray(0, ENVELOPE_HEADER_BYTES),
    null,
    nonce,
    key,
  )
  return env
}

export interface OpenedEnvelope {
  kind: number
  counter: bigint
  plain: Buffer
}

/** Opens an envelope for `call_id`; null if it is not one, or fails authentication. */
export function openEnvelope(b: Uint8Array, call_id: Buffer, key: Buffer): OpenedEnvelope | null {
  if (b.length < ENVELOPE_HEADER_BYTES + ENVELOPE_TAG_BYTES + 1) return null
  const env = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (env.compare(call_id, 0, 4, 1, 5) !== 0) return null
  const nonce = openNonce
  env.copy(nonce, 4, 5, 13)
  const plain = Buffer.alloc(env.length - ENVELOPE_HEADER_BYTES - ENVELOPE_TAG_BYTES)
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
      plain,
      null,
      env.subarray(ENVELOPE_HEADER_BYTES),
      env.subarray(0, ENVELOPE_HEADER_BYTES),
      nonce,
      key,
    )
  } catch {
    return null
  }
  return { kind: env[0]!, counter: env.readBigUInt64BE(5), plain }
}

/** The replay window: accepts each counter once, and none older than the window. */
export class ReplayWindow {
  private highest = -1n
  private readonly seen = new Uint8Array(REPLAY_WINDOW)

  /** True if `counter` is new (and marks it); false for a replay or one too old. */
  accept(counter: bigint): boolean {
    const w = BigInt(REPLAY_WINDOW)
    if (counter > this.highest) {
      const shift = counter - this.highest
      if (shift >= w) this.seen.fill(0)
      else for (let c = this.highest + 1n; c < counter; c++) this.seen[Number(c % w)] = 0
      this.highest = counter
      this.seen[Number(counter % w)] = 1
      return true
    }
    if (this.highest - counter >= w) return false
    const i = Number(counter % w)
    if (this.seen[i] === 1) return false
    this.seen[i] = 1
    return true
  }
}

export const CALL_ID_LENGTH = CALL_ID_BYTES
