// Strict readers and checked writers over compact-encoding. compact-encoding
// itself is lenient on decode (it accepts non-minimal varints, replaces bad
// UTF-8 with U+FFFD and throws plain `Error('Out of bounds')`); Parley wants
// exactly one byte string per message (PROTOCOL.md §2.4–§2.5) so golden
// vectors and signatures stay meaningful, and every rejection to be a
// ParleyError that names the broken rule.

import c from 'compact-encoding'
import { assert, ParleyError } from '../util/errors.js'
import { UINT_FIELD_MAX } from './constants.js'

/** compact-encoding's cursor: bytes [start, end) of buffer are left to read or write. */
export interface State {
  start: number
  end: number
  buffer: Uint8Array | null
}

/** A compact-encoding codec, the shape protomux expects for messages and handshakes. */
export interface Codec<T> {
  preencode(state: State, value: T): void
  encode(state: State, value: T): void
  decode(state: State): T
}

export function malformed(message: string, cause?: unknown): ParleyError {
  return new ParleyError('MALFORMED_MESSAGE', message, cause === undefined ? undefined : { cause })
}

export function tooLarge(message: string): ParleyError {
  return new ParleyError('MESSAGE_TOO_LARGE', message)
}

// fatal: invalid UTF-8 is rejected, not replaced; ignoreBOM: a leading U+FEFF
// is content, not a marker to strip (stripping would change the string).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
// With the `u` flag a correctly paired surrogate is one code point, so this
// matches only lone surrogates, which have no UTF-8 encoding.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

function remaining(state: State): number {
  return state.end - state.start
}

function bytes(state: State): Uint8Array {
  assert(state.buffer !== null, 'decoding without a buffer')
  return state.buffer
}

export function readU8(state: State, field: string): number {
  if (remaining(state) < 1) throw malformed(`${field}: truncated (1 byte needed)`)
  return bytes(state)[state.start++]!
}

export function readUint32(state: State, field: string): number {
  if (remaining(state) < 4) throw malformed(`${field}: truncated (4 bytes needed)`)
  return c.uint32.decode(state) as number
}

/** Exactly `n` raw bytes, copied (so a decoded value never pins a larger network buffer). */
export function readFixed(state: State, n: number, field: string): Buffer {
  if (remaining(state) < n) throw malformed(`${field}: truncated (${n} bytes needed)`)
  const out = Buffer.from(bytes(state).subarray(state.start, state.start + n))
  state.start += n
  return out
}

/** The bytes to the end of the frame (a `raw` field), copied; at least one. */
export function readRest(state: State, field: string): Buffer {
  const out = Buffer.from(bytes(state).subarray(state.start, state.end))
  state.start = state.end
  if (out.byteLength === 0) throw malformed(`${field}: empty`)
  return out
}

/** A compact-encoding `uint` in its shortest form, at most `max`. */
export function readUint(state: State, field: string, max = UINT_FIELD_MAX): number {
  const prefix = readU8(state, field)
  let value: number
  let smallest: number
  if (prefix <= 0xfc) return checkMax(prefix, field, max)
  if (prefix === 0xfd) {
    if (remaining(state) < 2) throw malformed(`${field}: truncated uint16`)
    value = c.uint16.decode(state) as number
    smallest = 0xfd
  } else if (prefix === 0xfe) {
    value = readUint32(state, field)
    smallest = 0x1_0000
  } else {
    // 0xff + uint64 only holds values above 2^32 - 1, which no Parley uint field allows.
    throw malformed(`${field}: 64-bit uint form is not allowed (max ${max})`)
  }
  if (value < smallest) throw malformed(`${field}: uint ${value} is not in its shortest form`)
  return checkMax(value, field, max)
}

function checkMax(value: number, field: string, max: number): number {
  if (value > max) throw malformed(`${field}: ${value} is above the maximum ${max}`)
  return value
}

/** A compact-encoding `string` (uint byte length + UTF-8) of at most `bytesMax` bytes, valid UTF-8. */
export function readString(state: State, field: string, bytesMax: number): string {
  const length = readUint(state, `${field} length`)
  if (length > bytesMax) throw tooLarge(`${field}: ${length} bytes, the limit is ${bytesMax}`)
  if (remaining(state) < length) throw malformed(`${field}: truncated (${length} bytes announced)`)
  const raw = bytes(state).subarray(state.start, state.start + length)
  state.start += length
  try {
    return utf8Decoder.decode(raw)
  } catch (err) {
    throw malformed(`${field}: not valid UTF-8`, err)
  }
}

/** Rejects what a receiver would reject, so we never send a frame the peer must drop. */
export function checkString(value: unknown, field: string, bytesMax: number): string {
  if (typeof value !== 'string') throw malformed(`${field}: must be a string`)
  if (LONE_SURROGATE.test(value)) throw malformed(`${field}: contains a lone UTF-16 surrogate`)
  const length = Buffer.byteLength(value, 'utf8')
  if (length > bytesMax) throw tooLarge(`${field}: ${length} bytes, the limit is ${bytesMax}`)
  return value
}

export function checkUint(value: unknown, field: string, max = UINT_FIELD_MAX): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw malformed(`${field}: must be an integer from 0 to ${max}, got ${String(value)}`)
  }
  return value
}

export function expectEnd(state: State, what: string): void {
  const extra = remaining(state)
  if (extra !== 0) throw malformed(`${what}: ${extra} trailing byte(s)`)
}

/**
 * Runs a strict decoder. Whatever else goes wrong in it (a nested codec from
 * another module throwing a plain Error) still reaches the caller as a
 * ParleyError, so the receive path only ever has one kind of failure to count.
 */
/**
 * Runs `read` over all of `buf` (nothing may be left over); any failure is a
 * ParleyError. `max_bytes` bounds the whole message (MESSAGE_TOO_LARGE).
 */
export function decodeStrict<T>(
  buf: Uint8Array,
  what: string,
  read: (state: State) => T,
  max_bytes = Number.POSITIVE_INFINITY,
): T {
  if (!(buf instanceof Uint8Array)) throw malformed(`${what}: expected bytes`)
  if (buf.byteLength > max_bytes) {
    throw tooLarge(`${what} of ${buf.byteLength} bytes, the limit is ${max_bytes}`)
  }
  const state: State = { start: 0, end: buf.byteLength, buffer: buf }
  try {
    const value = read(state)
    expectEnd(state, what)
    return value
  } catch (err) {
    if (err instanceof ParleyError) throw err
    throw malformed(`${what}: ${errorText(err)}`, err)
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Encodes with a codec into a fresh Buffer of exactly the right size. */
export function encodeWith<T>(codec: Codec<T>, value: T): Buffer {
  const state: State = { start: 0, end: 0, buffer: null }
  codec.preencode(state, value)
  const buf = Buffer.alloc(state.end)
  state.buffer = buf
  codec.encode(state, value)
  assert(state.start === buf.byteLength, 'encoder wrote a different size than it measured')
  return buf
}
