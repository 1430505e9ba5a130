import type { VoiceCodec } from '../../../src/media/index.js'

/** A codec whose output says what it decoded: out[0] = first payload byte, −1 for PLC. */
export class FakeCodec implements VoiceCodec {
  readonly frame_samples: number
  decoded: number[] = []
  constructor(frame_samples = 960) {
    this.frame_samples = frame_samples
  }
  encode(pcm: Int16Array, out: Uint8Array): number {
    out[0] = pcm[0]! & 0xff
    return 1
  }
  decode(packet: Uint8Array | null, length: number, out: Int16Array): boolean {
    out.fill(0)
    out[0] = packet === null || length === 0 ? -1 : packet[0]!
    this.decoded.push(out[0])
    return true
  }
  setBitrate(): void {}
  setExpectedLoss(): void {}
  close(): void {}
}
