import {
  MEDIA_HEADER_BYTES,
  MEDIA_PACKET_BYTES_MAX,
  MEDIA_VERSION,
  OPUS_PAYLOAD_BYTES_MAX,
  REDUNDANCY_DEPTH_MAX,
} from './constants.js'

// The media packet of docs/PROTOCOL.md §10.2: a 10-byte header, then up to
// two earlier frames as redundancy (RFC 2198 style), then the primary frame.

export interface MediaFrameRef {
  /** Sequence number (16 bits, wraps). */
  sequence: number
  /** 48 kHz sample clock of the frame's first sample (32 bits, wraps). */
  timestamp: number
  payload: Uint8Array
}

export interface MediaPacket {
  flags: number
  sequence: number
  timestamp: number
  /** Frame length in samples at 48 kHz (a multiple of 120, 2.5 ms). */
  frame_samples: number
  primary: Uint8Array
  /** Earlier frames, nearest first: redundant[i] is frame sequence − 1 − i. */
  redundant: Uint8Array[]
}

export type MediaDecodeError = 'malformed' | 'version' | 'oversize'

/**
 * Writes a packet into `out` and returns its length. `redundant` holds the
 * earlier frames nearest first; only the first `depth` are sent.
 */
export function encodeMediaPacket(
  out: Uint8Array,
  flags: number,
  sequence: number,
  timestamp: number,
  frame_samples: number,
  primary: Uint8Array,
  primary_length: number,
  redundant: readonly Uint8Array[],
  redundant_lengths: readonly number[],
  depth: number,
): number {
  if (depth > REDUNDANCY_DEPTH_MAX) throw new RangeError('redundancy depth over the limit')
  let total = MEDIA_HEADER_BYTES + 2 * depth + primary_length
  for (let i = 0; i < depth; i++) total += redundant_lengths[i]!
  if (total > MEDIA_PACKET_BYTES_MAX || total > out.length) {
    throw new RangeError('media packet over the limit')
  }
  // Byte by byte: this runs on the audio tick, where even a DataView is an allocation.
  out[0] = MEDIA_VERSION
  out[1] = flags & 0xff
  out[2] = (sequence >>> 8) & 0xff
  out[3] = sequence & 0xff
  out[4] = (timestamp >>> 24) & 0xff
  out[5] = (timestamp >>> 16) & 0xff
  out[6] = (timestamp >>> 8) & 0xff
  out[7] = timestamp & 0xff
  out[8] = frame_samples / 120
  out[9] = depth
  let at = MEDIA_HEADER_BYTES
  for (let i = 0; i < depth; i++) {
    const n = redundant_lengths[i]!
    out[at++] = n >>> 8
    out[at++] = n & 0xff
  }
  for (let i = 0; i < depth; i++) at = copyBytes(out, at, redundant[i]!, redundant_lengths[i]!)
  return copyBytes(out, at, primary, primary_length)
}

/** Parses a packet; the payloads are views into `b`. Bad input returns an error name, never throws. */
export function decodeMediaPacket(b: Uint8Array): MediaPacket | MediaDecodeError {
  if (b.length > MEDIA_PACKET_BYTES_MAX) return 'oversize'
  if (b.length < MEDIA_HEADER_BYTES + 1) return 'malformed'
  if (b[0] !== MEDIA_VERSION) return 'version'
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const units = b[8]!
  const depth = b[9]!
  // 2.5, 5, 10, 20, 40 or 60 ms.
  if (![1, 2, 4, 8, 16, 24].includes(units) || depth > REDUNDANCY_DEPTH_MAX) return 'malformed'
  let at = MEDIA_HEADER_BYTES
  if (b.length < at + 2 * depth + 1) return 'malformed'
  const lengths: number[] = []
  for (let i = 0; i < depth; i++) {
    const n = view.getUint16(at)
    if (n === 0 || n > OPUS_PAYLOAD_BYTES_MAX) return 'malformed'
    lengths.push(n)
    at += 2
  }
  const redundant: Uint8Array[] = []
  for (const n of lengths) {
    if (at + n >= b.length) return 'malformed'
    redundant.push(b.subarray(at, at + n))
    at += n
  }
  const primary = b.subarray(at)
  if (primary.length > OPUS_PAYLOAD_BYTES_MAX) return 'malformed'
  return {
    flags: b[1]!,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    frame_samples: units * 120,
    primary,
    redundant,
  }
}

/** Copies `n` bytes of `src` to `dst` at `at`; returns the end. No views are created. */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) dst[at + i] = src[i]!
  return at + n
}
