import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  align,
  OpusScriptCodec,
  parseWav,
  resample,
  SAMPLES_PER_MS,
  speechLikeSignal,
  WavError,
  writeWav,
} from '../../../src/media/index.js'

test('Opus round trip: the decoded speech matches after the codec delay', () => {
  const codec = new OpusScriptCodec(960, 32_000)
  const src = speechLikeSignal(2000, 5)
  const rec = new Int16Array(src.length)
  const packet = new Uint8Array(500)
  const out = new Int16Array(960)
  for (let f = 0; f + 960 <= src.length; f += 960) {
    const n = codec.encode(src.subarray(f, f + 960), packet)
    assert.ok(codec.decode(packet, n, out))
    rec.set(out, f)
  }
  const a = align(src, rec, 20 * SAMPLES_PER_MS)
  // libopus's VoIP lookahead at 48 kHz is 6.5 ms (312 samples); the peak lands within 0.2 ms.
  assert.ok(Math.abs(a.delay_samples - 312) <= 10, `delay ${a.delay_samples}`)
  assert.ok(a.waveform_correlation > 0.9, `correlation ${a.waveform_correlation}`)
  // Concealment gives one frame, not the 60 ms opusscript produces.
  codec.decode(null, 0, out)
  assert.equal(out.length, 960)
  codec.close()
})

test('WAV: write then parse gives the samples back', () => {
  const x = Int16Array.from({ length: 1000 }, (_, i) => ((i * 37) % 30000) - 15000)
  const w = parseWav(writeWav(x, 48_000))
  assert.equal(w.sample_rate_hz, 48_000)
  assert.deepEqual(Array.from(w.samples), Array.from(x))
})

test('WAV: stereo 44.1 kHz becomes mono 48 kHz at the same pitch', () => {
  const n = 44_100
  const b = Buffer.alloc(44 + n * 4)
  b.write('RIFF', 0)
  b.writeUInt32LE(36 + n * 4, 4)
  b.write('WAVEfmt ', 8)
  b.writeUInt32LE(16, 16)
  b.writeUInt16LE(1, 20)
  b.writeUInt16LE(2, 22)
  b.writeUInt32LE(44_100, 24)
  b.writeUInt32LE(44_100 * 4, 28)
  b.writeUInt16LE(4, 32)
  b.writeUInt16LE(16, 34)
  b.write('data', 36)
  b.writeUInt32LE(n * 4, 40)
  for (let i = 0; i < n; i++) {
    const s = Math.round(10_000 * Math.sin((2 * Math.PI * 440 * i) / 44_100))
    b.writeInt16LE(s, 44 + 4 * i)
    b.writeInt16LE(s, 46 + 4 * i)
  }
  const w = parseWav(b)
  const y = resample(w.samples, w.sample_rate_hz)
  assert.equal(y.length, 48_000)
  let crossings = 0
  for (let i = 1; i < y.length; i++) if (y[i - 1]! < 0 && y[i]! >= 0) crossings++
  assert.ok(Math.abs(crossings - 440) <= 1, `crossings ${crossings}`)
  const peak = y.subarray(100, 47_900).reduce((m, v) => Math.max(m, v), 0)
  assert.ok(Math.abs(peak - 10_000) < 300, `peak ${peak}`)
})

test('WAV: what is not a PCM WAV file gets a clear error', () => {
  assert.throws(() => parseWav(Buffer.from('hello world, not a wav')), WavError)
  const b = writeWav(new Int16Array(10))
  b.writeUInt16LE(2, 20) // ADPCM
  assert.throws(() => parseWav(b), /unsupported encoding/)
})
