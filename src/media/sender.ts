import type { VoiceCodec } from './codec.js'
import {
  MEDIA_FLAG_QUIET,
  MEDIA_FLAG_TALK_START,
  MEDIA_PACKET_BYTES_MAX,
  OPUS_PAYLOAD_BYTES_MAX,
  QUIET_RMS,
  REDUNDANCY_DEPTH_MAX,
} from './constants.js'
import { encodeMediaPacket } from './packet.js'
import { RateController, type RateDecision } from './ratecontrol.js'

/**
 * Turns 20 ms PCM frames into media packets (§10.2): Opus, a quiet flag from a
 * simple energy detector, and the last one or two frames as redundancy. All
 * buffers are allocated once; `frame` runs on the audio tick.
 */
export class MediaSender {
  readonly rate = new RateController()
  readonly packet = new Uint8Array(MEDIA_PACKET_BYTES_MAX)
  sequence: number
  timestamp: number
  frames_sent = 0
  bytes_sent = 0
  muted = false

  private readonly codec: VoiceCodec
  private readonly silence: Int16Array
  /** Ring of the last encoded frames: history[0] is the newest. */
  private readonly history: Uint8Array[] = []
  private readonly historyLen: number[] = []
  private readonly current = new Uint8Array(OPUS_PAYLOAD_BYTES_MAX)
  private wasQuiet = true

  constructor(codec: VoiceCodec, first_sequence: number, first_timestamp: number) {
    this.codec = codec
    this.sequence = first_sequence & 0xffff
    this.timestamp = first_timestamp >>> 0
    this.silence = new Int16Array(codec.frame_samples)
    for (let i = 0; i < REDUNDANCY_DEPTH_MAX; i++) {
      this.history.push(new Uint8Array(OPUS_PAYLOAD_BYTES_MAX))
      this.historyLen.push(0)
    }
    this.apply(this.rate.decision)
  }

  /** Encodes one frame; the packet is `this.packet` up to the returned length. */
  frame(pcm: Int16Array): number {
    const input = this.muted ? this.silence : pcm
    const quiet = rms(input, this.codec.frame_samples) < QUIET_RMS
    let flags = quiet ? MEDIA_FLAG_QUIET : 0
    if (!quiet && this.wasQuiet) flags |= MEDIA_FLAG_TALK_START
    this.wasQuiet = quiet
    const n = this.codec.encode(input, this.current)
    let depth = this.rate.decision.redundancy_depth
    while (depth > 0 && this.historyLen[depth - 1] === 0) depth--
    const length = encodeMediaPacket(
      this.packet,
      flags,
      this.sequence,
      this.timestamp,
      this.codec.frame_samples,
      this.current,
      n,
      this.history,
      this.historyLen,
      depth,
    )
    // Shift the history by one without allocating: rotate the buffers.
    const oldest = this.history[REDUNDANCY_DEPTH_MAX - 1]!
    for (let i = REDUNDANCY_DEPTH_MAX - 1; i > 0; i--) {
      this.history[i] = this.history[i - 1]!
      this.historyLen[i] = this.historyLen[i - 1]!
    }
    this.history[0] = oldest
    for (let i = 0; i < n; i++) oldest[i] = this.current[i]!
    this.historyLen[0] = n
    this.sequence = (this.sequence + 1) & 0xffff
    this.timestamp = (this.timestamp + this.codec.frame_samples) >>> 0
    this.frames_sent++
    this.bytes_sent += length
    return length
  }

  /** A receiver report arrived: adapt bitrate, redundancy and Opus's expected loss. */
  onReport(loss: number, rtt_ms: number | null): RateDecision {
    const d = this.rate.update(loss, rtt_ms)
    this.apply(d)
    return d
  }

  private apply(d: RateDecision): void {
    this.codec.setBitrate(d.bitrate_bps)
    this.codec.setExpectedLoss(d.expected_loss_percent)
  }
}

function rms(pcm: Int16Array, n: number): number {
  let sum = 0
  for (let i = 0; i < n; i++) sum += pcm[i]! * pcm[i]!
  return Math.sqrt(sum / n)
}
