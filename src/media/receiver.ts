import type { VoiceCodec } from './codec.js'
import { CODEC_LOOKAHEAD_MS, SAMPLES_PER_MS } from './constants.js'
import { JitterBuffer, type PullKind } from './jitter.js'
import { decodeMediaPacket } from './packet.js'

export interface ReceiverStats {
  packets_received: number
  /** Packets the network lost (before redundancy), percent of those sent. */
  loss_percent_before_fec: number
  /** Frames neither received nor recovered, so concealed by Opus PLC: percent of frames played. */
  loss_percent_after_fec: number
  jitter_ms: number
  jitter_buffer_ms: number
  concealed_frames: number
  recovered_frames: number
  stretched_frames: number
  compressed_frames: number
  late_packets: number
  duplicate_packets: number
  reordered_packets: number
  malformed_packets: number
}

/** The receive half of a call: parses packets into the jitter buffer, plays one frame per tick. */
export class MediaReceiver {
  readonly jitter: JitterBuffer
  malformed = 0
  private readonly frame_ms: number
  private reportExpected = 0
  private reportReceived = 0

  constructor(codec: VoiceCodec) {
    this.jitter = new JitterBuffer(codec)
    this.frame_ms = codec.frame_samples / SAMPLES_PER_MS
  }

  /** One media packet (already decrypted). Bad packets are counted and dropped. */
  onPacket(bytes: Uint8Array, arrival_ms: number): void {
    const p = decodeMediaPacket(bytes)
    if (typeof p === 'string' || p.frame_samples !== this.frame_ms * SAMPLES_PER_MS) {
      this.malformed++
      return
    }
    this.jitter.insert(p.sequence, p.flags, p.primary, p.redundant, arrival_ms)
  }

  pull(out: Int16Array, now_ms: number): PullKind {
    return this.jitter.pull(out, now_ms)
  }

  /** Fraction of packets lost since the previous call (the receiver report's loss, §10.5). */
  intervalLoss(): number {
    const expected = this.jitter.expected_packets
    const received = this.jitter.counters.received
    const e = expected - this.reportExpected
    const r = received - this.reportReceived
    this.reportExpected = expected
    this.reportReceived = received
    return e <= 0 ? 0 : Math.max(0, Math.min(1, 1 - r / e))
  }

  /** Mouth-to-ear estimate: frame + codec lookahead + network one way + jitter buffer. */
  mouthToEar_ms(rtt_ms: number | null): number {
    return this.frame_ms + CODEC_LOOKAHEAD_MS + (rtt_ms ?? 0) / 2 + this.jitter.delay_ms
  }

  stats(): ReceiverStats {
    const c = this.jitter.counters
    const expected = this.jitter.expected_packets
    const played = c.decoded + c.recovered + c.concealed
    return {
      packets_received: c.received,
      loss_percent_before_fec:
        expected === 0 ? 0 : round2(Math.max(0, 100 * (1 - c.received / expected))),
      loss_percent_after_fec: played === 0 ? 0 : round2((100 * c.concealed) / played),
      jitter_ms: round2(this.jitter.jitter_ms),
      jitter_buffer_ms: round2(this.jitter.delay_ms),
      concealed_frames: c.concealed,
      recovered_frames: c.recovered,
      stretched_frames: c.stretched,
      compressed_frames: c.compressed,
      late_packets: c.late,
      duplicate_packets: c.duplicate,
      reordered_packets: c.reordered,
      malformed_packets: this.malformed,
    }
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100
