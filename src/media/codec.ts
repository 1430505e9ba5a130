import OpusScript from 'opusscript'
import { FRAME_SAMPLES_MAX, SAMPLE_RATE_HZ } from './constants.js'

/**
 * The one interface every Opus binding sits behind (docs/ARCHITECTURE.md: media).
 * `encode` and `decode` write into the caller's buffers and allocate nothing, so
 * they can run on the 20 ms tick.
 */
export interface VoiceCodec {
  readonly frame_samples: number
  /** Encodes one frame of `frame_samples` samples; returns the Opus packet length written to `out`. */
  encode(pcm: Int16Array, out: Uint8Array): number
  /**
   * Decodes the first `length` bytes of `packet` into `out` (`frame_samples` long);
   * `null` asks for packet-loss concealment. Returns false for a corrupt packet (out is silence).
   */
  decode(packet: Uint8Array | null, length: number, out: Int16Array): boolean
  setBitrate(bps: number): void
  /** Opus in-band FEC and the loss rate the encoder should expect (it trades bits for robustness). */
  setExpectedLoss(percent: number): void
  close(): void
}

// libopus CTL request numbers (opus_defines.h).
const OPUS_SET_BITRATE = 4002
const OPUS_SET_INBAND_FEC = 4012
const OPUS_SET_PACKET_LOSS_PERC = 4014
const OPUS_SET_COMPLEXITY = 4010

/** The fields of an OpusScript object this module uses directly to avoid its per-call copies. */
interface OpusScriptInternals {
  handler: {
    _encode(pcmPtr: number, len: number, outPtr: number, frameSize: number): number
    _decode(opusPtr: number, len: number, pcmPtr: number): number
  }
  inPCM: Uint16Array
  inOpus: Uint8Array
  inOpusPointer: number
  outOpus: Uint8Array
  outOpusPointer: number
  outPCM: Uint16Array
}

/**
 * Opus through `opusscript` (libopus 1.4 compiled to WASM): no native build on
 * install. Chosen over `@discordjs/opus` by measurement (docs/ARCHITECTURE.md).
 * It calls the WASM handler on views of the WASM heap instead of the wrapper's
 * encode/decode, which copy into a fresh Buffer every frame.
 */
export class OpusScriptCodec implements VoiceCodec {
  readonly frame_samples: number
  private readonly enc: OpusScript & OpusScriptInternals
  private readonly dec: OpusScript & OpusScriptInternals
  /** opusscript's PCM buffers hold one byte of little-endian PCM per 16-bit element. */
  private readonly inPcm: Uint16Array
  private readonly outPcm: Uint16Array

  constructor(frame_samples: number, bitrate_bps: number) {
    if (frame_samples <= 0 || frame_samples > FRAME_SAMPLES_MAX || frame_samples % 120 !== 0) {
      throw new RangeError(`frame of ${frame_samples} samples is not an Opus frame size`)
    }
    this.frame_samples = frame_samples
    const app = OpusScript.Application.VOIP
    this.enc = new OpusScript(SAMPLE_RATE_HZ, 1, app) as OpusScript & OpusScriptInternals
    this.dec = new OpusScript(SAMPLE_RATE_HZ, 1, app) as OpusScript & OpusScriptInternals
    this.inPcm = this.enc.inPCM
    this.outPcm = this.dec.outPCM
    this.enc.encoderCTL(OPUS_SET_COMPLEXITY, 5)
    this.enc.encoderCTL(OPUS_SET_INBAND_FEC, 1)
    this.setBitrate(bitrate_bps)
  }

  encode(pcm: Int16Array, out: Uint8Array): number {
    const inPcm = this.inPcm
    for (let i = 0; i < this.frame_samples; i++) {
      const s = pcm[i]!
      inPcm[2 * i] = s & 0xff
      inPcm[2 * i + 1] = (s >> 8) & 0xff
    }
    const n = this.enc.handler._encode(
      this.inPcm.byteOffset,
      this.frame_samples * 2,
      this.enc.outOpusPointer,
      this.frame_samples,
    )
    if (n < 0) throw new Error(`opus encode failed (${n})`)
    if (n > out.length) throw new RangeError('opus packet larger than the output buffer')
    const opus = this.enc.outOpus
    for (let i = 0; i < n; i++) out[i] = opus[i]!
    return n
  }

  decode(packet: Uint8Array | null, length: number, out: Int16Array): boolean {
    const len = packet === null ? 0 : length
    for (let i = 0; i < len; i++) this.dec.inOpus[i] = packet![i]!
    // An empty packet makes libopus conceal; opusscript always asks for 60 ms of it.
    const n = this.dec.handler._decode(this.dec.inOpusPointer, len, this.outPcm.byteOffset)
    if (n < 0) {
      out.fill(0, 0, this.frame_samples)
      return false
    }
    const take = Math.min(n, this.frame_samples)
    const outPcm = this.outPcm
    for (let i = 0; i < take; i++) {
      out[i] = (((outPcm[2 * i]! & 0xff) | ((outPcm[2 * i + 1]! & 0xff) << 8)) << 16) >> 16
    }
    if (take < this.frame_samples) out.fill(0, take, this.frame_samples)
    return true
  }

  setBitrate(bps: number): void {
    this.enc.encoderCTL(OPUS_SET_BITRATE, Math.round(bps))
  }

  setExpectedLoss(percent: number): void {
    this.enc.encoderCTL(OPUS_SET_PACKET_LOSS_PERC, Math.max(0, Math.min(100, Math.round(percent))))
  }

  close(): void {
    this.enc.delete()
    this.dec.delete()
  }
}
