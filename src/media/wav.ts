import { SAMPLE_RATE_HZ } from './constants.js'

// PCM WAV files for --play and --record: 8/16/24/32-bit integer or 32-bit
// float, any channel count and rate in; mono 16-bit 48 kHz out.

/** Longest file we load for --play: 30 minutes of 48 kHz 16-bit stereo, ~346 MB. */
export const WAV_BYTES_MAX = 30 * 60 * SAMPLE_RATE_HZ * 2 * 2

export class WavError extends Error {}

export interface Wav {
  sample_rate_hz: number
  /** Mono samples (channels averaged). */
  samples: Int16Array
}

/** Parses a RIFF/WAVE file; throws WavError saying what is wrong for a person to read. */
export function parseWav(b: Uint8Array): Wav {
  if (b.length > WAV_BYTES_MAX) throw new WavError(`over ${WAV_BYTES_MAX} bytes`)
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const tag = (at: number) => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!)
  if (b.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavError('not a WAV file (no RIFF/WAVE header)')
  }
  let at = 12
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null
  while (at + 8 <= b.length) {
    const id = tag(at)
    const size = v.getUint32(at + 4, true)
    const body = at + 8
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > b.length) throw new WavError('truncated fmt chunk')
      let format = v.getUint16(body, true)
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format === 0xfffe && size >= 40) format = v.getUint16(body + 24, true)
      fmt = {
        format,
        channels: v.getUint16(body + 2, true),
        rate: v.getUint32(body + 4, true),
        bits: v.getUint16(body + 14, true),
      }
    } else if (id === 'data') {
      if (fmt === null) throw new WavError('data chunk before the fmt chunk')
      const end = Math.min(b.length, body + size)
      return { sample_rate_hz: fmt.rate, samples: toMono(v, body, end, fmt) }
    }
    at = body + size + (size % 2)
  }
  throw new WavError('no data chunk')
}

function toMono(
  v: DataView,
  start: number,
  end: number,
  fmt: { format: number; channels: number; rate: number; bits: number },
): Int16Array {
  const { format, channels, bits } = fmt
  const pcm = format === 1 && [8, 16, 24, 32].includes(bits)
  const float = format === 3 && bits === 32
  if (!pcm && !float) {
    throw new WavError(`unsupported encoding (format ${format}, ${bits} bits): use PCM or float`)
  }
  if (channels < 1 || channels > 8) throw new WavError(`${channels} channels is not supported`)
  if (fmt.rate < 8000 || fmt.rate > 192_000) throw new WavError(`sample rate ${fmt.rate} Hz`)
  const bytes = bits / 8
  const frames = Math.floor((end - start) / (bytes * channels))
  const out = new Int16Array(frames)
  for (let f = 0; f < frames; f++) {
    let sum = 0
    for (let c = 0; c < channels; c++) {
      const at = start + (f * channels + c) * bytes
      sum += readSample(v, at, bits, float)
    }
    out[f] = Math.max(-32768, Math.min(32767, Math.round((sum / channels) * 32768)))
  }
  return out
}

/** One sample scaled to [−1, 1). */
function readSample(v: DataView, at: number, bits: number, float: boolean): number {
  if (float) return v.getFloat32(at, true)
  switch (bits) {
    case 8:
      return (v.getUint8(at) - 128) / 128
    case 16:
      return v.getInt16(at, true) / 32768
    case 24:
      return (v.getUint8(at) | (v.getUint8(at + 1) << 8) | (v.getInt8(at + 2) << 16)) / 8388608
    default:
      return v.getInt32(at, true) / 2147483648
  }
}

/** A 16-bit mono PCM WAV file. */
export function writeWav(samples: Int16Array, sample_rate_hz = SAMPLE_RATE_HZ): Buffer {
  const data = samples.length * 2
  const b = Buffer.alloc(44 + data)
  b.write('RIFF', 0, 'ascii')
  b.writeUInt32LE(36 + data, 4)
  b.write('WAVE', 8, 'ascii')
  b.write('fmt ', 12, 'ascii')
  b.writeUInt32LE(16, 16)
  b.writeUInt16LE(1, 20)
  b.writeUInt16LE(1, 22)
  b.writeUInt32LE(sample_rate_hz, 24)
  b.writeUInt32LE(sample_rate_hz * 2, 28)
  b.writeUInt16LE(2, 32)
  b.writeUInt16LE(16, 34)
  b.write('data', 36, 'ascii')
  b.writeUInt32LE(data, 40)
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(samples[i]!, 44 + 2 * i)
  return b
}

/**
 * Resamples to `to_hz` by windowed-sinc interpolation (16 taps each side, a
 * Hann window, cut-off at the lower Nyquist so downsampling does not alias).
 * Done once on load, not on the audio tick.
 */
export function resample(
  x: Int16Array,
  from_hz: number,
  to_hz: number = SAMPLE_RATE_HZ,
): Int16Array {
  if (from_hz === to_hz) return x
  const ratio = to_hz / from_hz
  const n = Math.floor(x.length * ratio)
  const out = new Int16Array(n)
  const cutoff = Math.min(1, ratio)
  const taps = 16
  for (let i = 0; i < n; i++) {
    const t = i / ratio
    const center = Math.floor(t)
    let acc = 0
    let norm = 0
    for (let k = center - taps + 1; k <= center + taps; k++) {
      if (k < 0 || k >= x.length) continue
      const d = t - k
      const w = 0.5 + 0.5 * Math.cos((Math.PI * d) / (taps + 1))
      const s = d === 0 ? cutoff : Math.sin(Math.PI * cutoff * d) / (Math.PI * d)
      acc += x[k]! * s * w
      norm += s * w
    }
    out[i] = Math.max(-32768, Math.min(32767, Math.round(norm === 0 ? 0 : acc / norm)))
  }
  return out
}

/** Loads a WAV file's bytes as mono 48 kHz. */
export function wavTo48k(bytes: Uint8Array): Int16Array {
  const w = parseWav(bytes)
  return resample(w.samples, w.sample_rate_hz, SAMPLE_RATE_HZ)
}
