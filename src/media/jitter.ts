import type { VoiceCodec } from './codec.js'
import {
  JITTER_DELAY_MS_MAX,
  JITTER_DELAY_MS_MIN,
  JITTER_PERCENTILE,
  JITTER_RESET_GAP_MS,
  JITTER_SLOTS,
  JITTER_WINDOW_PACKETS,
  MEDIA_FLAG_QUIET,
  OPUS_PAYLOAD_BYTES_MAX,
  SAMPLES_PER_MS,
} from './constants.js'
import { copyBytes } from './packet.js'

/** What one 20 ms pull produced. */
export type PullKind =
  | 'decoded' // the frame's own packet
  | 'recovered' // the frame from a later packet's redundancy (FEC)
  | 'concealed' // lost: Opus PLC, playout moved on
  | 'stretched' // nothing to play yet (underrun or growing the buffer): PLC, playout waits
  | 'underrun' // nothing arrived for this frame and waiting longer would exceed the aim: PLC, moved on
  | 'idle' // no packets at all (before the first, or a long gap such as hold): silence

export interface JitterCounters {
  received: number
  duplicate: number
  late: number
  too_early: number
  reordered: number
  resync: number
  decoded: number
  recovered: number
  concealed: number
  stretched: number
  compressed: number
  /** Frames played as PLC past the newest packet; reclassified as concealed when later ones come. */
  underrun: number
}

/** Pulls that count as "recent" for the FEC guard frame: about 2 s at 20 ms. */
const RECENT_LOSS_PULLS = 100

/**
 * Adaptive jitter buffer (docs/PROTOCOL.md §10.4). Packets go in as they
 * arrive, with the receiver's clock; one frame comes out per tick. The target
 * delay is the 95th percentile of relative arrival delay over the last 128
 * packets, plus one frame while losses are recent so the next packet's
 * redundancy arrives in time. The buffer grows and shrinks only on quiet
 * frames (and on a real underrun), which also absorbs clock drift between the
 * sender and us. Nothing here allocates after construction.
 */
export class JitterBuffer {
  readonly counters: JitterCounters = {
    received: 0,
    duplicate: 0,
    late: 0,
    too_early: 0,
    reordered: 0,
    resync: 0,
    decoded: 0,
    recovered: 0,
    concealed: 0,
    stretched: 0,
    compressed: 0,
    underrun: 0,
  }
  /** Current target, milliseconds of buffering beyond one frame. */
  target_delay_ms = 0
  /** Latest 95th-percentile relative arrival delay (the jitter the target follows). */
  jitter_ms = 0

  private readonly codec: VoiceCodec
  private readonly frame_ms: number
  private readonly slotSeq = new Float64Array(JITTER_SLOTS).fill(-1)
  private readonly slotLen = new Uint16Array(JITTER_SLOTS)
  private readonly slotFlags = new Uint8Array(JITTER_SLOTS)
  private readonly slotRedundant = new Uint8Array(JITTER_SLOTS)
  private readonly slotData = new Uint8Array(JITTER_SLOTS * OPUS_PAYLOAD_BYTES_MAX)
  private readonly slotViews: Uint8Array[] = []
  private readonly discard: Int16Array
  private readonly transit = new Float64Array(JITTER_WINDOW_PACKETS)
  private readonly sorted = new Float64Array(JITTER_WINDOW_PACKETS)
  private transitCount = 0
  private transitAt = 0
  private started = false
  private playSeq = 0
  private newestSeq = -1
  private firstSeq = 0
  private lastArrival_ms = Number.NEGATIVE_INFINITY
  private lastLossPull = Number.NEGATIVE_INFINITY
  private pulls = 0
  private lastPull_ms = 0
  /** Smallest transit (arrival minus send time by sequence) in the window. */
  private transitMin = 0

  constructor(codec: VoiceCodec) {
    this.codec = codec
    this.frame_ms = codec.frame_samples / SAMPLES_PER_MS
    this.discard = new Int16Array(codec.frame_samples)
    for (let i = 0; i < JITTER_SLOTS; i++) {
      const at = i * OPUS_PAYLOAD_BYTES_MAX
      this.slotViews.push(this.slotData.subarray(at, at + OPUS_PAYLOAD_BYTES_MAX))
    }
  }

  /** Packets the sender has sent up to the newest seen (sequence span since the first). */
  get expected_packets(): number {
    return this.started ? this.newestSeq - this.firstSeq + 1 : 0
  }

  /** Frames from the playout point to the newest seen, inclusive. */
  get level_frames(): number {
    return this.started ? Math.max(0, this.newestSeq - this.playSeq + 1) : 0
  }

  /**
   * How long after its fastest possible arrival we aim to play a frame: the
   * jitter percentile, plus one frame while losses are recent so that the next
   * packet (carrying this frame as redundancy) is there in time.
   */
  get aim_ms(): number {
    const guard = this.pulls - this.lastLossPull < RECENT_LOSS_PULLS ? this.frame_ms : 0
    return this.target_delay_ms + guard
  }

  /** Delay the buffer adds now: how long after the fastest arrival the current frame plays. */
  get delay_ms(): number {
    return this.started
      ? Math.max(0, this.lastPull_ms - this.playSeq * this.frame_ms - this.transitMin)
      : 0
  }

  /**
   * One arriving media packet. `redundant[i]` is frame `sequence − 1 − i`.
   * Sequence numbers are 16 bits and are unwrapped here. The sender's clock is
   * taken from the sequence (one frame each), so timestamps are not needed.
   */
  insert(
    sequence: number,
    flags: number,
    primary: Uint8Array,
    redundant: readonly Uint8Array[],
    arrival_ms: number,
  ): void {
    if (arrival_ms - this.lastArrival_ms > JITTER_RESET_GAP_MS) this.transitCount = 0
    this.lastArrival_ms = arrival_ms
    const seq = this.unwrapSeq(sequence)
    if (!this.started) {
      this.started = true
      this.firstSeq = seq
      this.playSeq = seq
      this.newestSeq = seq
    }
    if (seq > this.newestSeq) {
      // Frames we already played as underrun before this one came were missing mid-stream.
      const missed = Math.min(seq + 1, this.playSeq) - this.newestSeq - 1
      if (missed > 0) {
        this.counters.underrun -= missed
        this.counters.concealed += missed
      }
    }
    // Late packets count most for the jitter the target must cover.
    if (seq < this.playSeq + JITTER_SLOTS) this.noteTransit(arrival_ms, seq)
    if (seq < this.playSeq) {
      // The network delivered it (it counts as received), but too late to play.
      this.counters.late++
      this.counters.received++
      if (seq > this.newestSeq) this.newestSeq = seq
      return
    }
    if (seq >= this.playSeq + JITTER_SLOTS) {
      if (seq - this.newestSeq < JITTER_SLOTS) {
        this.counters.too_early++
        return
      }
      // A jump past everything we hold (the sender restarted or was on hold): start again there.
      this.counters.resync++
      this.slotSeq.fill(-1)
      this.firstSeq += seq - this.newestSeq - 1
      this.playSeq = seq
      this.newestSeq = seq
      this.transitCount = 0
      this.noteTransit(arrival_ms, seq)
    }
    const i = seq % JITTER_SLOTS
    if (this.slotSeq[i] === seq && this.slotRedundant[i] === 0) {
      this.counters.duplicate++
      return
    }
    this.counters.received++
    this.store(seq, flags, primary, false)
    if (seq < this.newestSeq) this.counters.reordered++
    else this.newestSeq = seq
    for (let k = 0; k < redundant.length; k++) {
      const s = seq - 1 - k
      if (s >= this.playSeq && this.slotSeq[s % JITTER_SLOTS] !== s) {
        this.store(s, flags, redundant[k]!, true)
      }
    }
  }

  /** Produces the next `frame_samples` of audio into `out`. */
  pull(out: Int16Array, now_ms: number): PullKind {
    this.pulls++
    if (!this.started || now_ms - this.lastArrival_ms > JITTER_RESET_GAP_MS) {
      // Nothing is arriving (not started, on hold, or gone): silence, not concealment.
      out.fill(0)
      return 'idle'
    }
    this.lastPull_ms = now_ms
    // Where playout stands against where it should: frame `playSeq` plays now, and
    // should play `aim_ms` after the fastest transit seen.
    const ahead_ms = now_ms - this.playSeq * this.frame_ms - this.transitMin - this.aim_ms
    let i = this.playSeq % JITTER_SLOTS
    let present = this.slotSeq[i] === this.playSeq
    let quiet = present && (this.slotFlags[i]! & MEDIA_FLAG_QUIET) !== 0
    if (
      present &&
      quiet &&
      ahead_ms >= this.frame_ms &&
      this.slotSeq[(i + 1) % JITTER_SLOTS] === this.playSeq + 1
    ) {
      // Too much buffered: drop this quiet frame (decoded, to keep the decoder's state right).
      this.take(i, this.discard)
      this.counters.compressed++
      i = this.playSeq % JITTER_SLOTS
      present = this.slotSeq[i] === this.playSeq
      quiet = present && (this.slotFlags[i]! & MEDIA_FLAG_QUIET) !== 0
    }
    if (present && quiet && ahead_ms < 0) {
      // The target grew: wait one frame here, where it cannot be heard.
      out.fill(0)
      this.counters.stretched++
      return 'stretched'
    }
    if (present) return this.take(i, out)
    // Later packets are here, so this one is lost (or very late): conceal it and move on.
    if (this.newestSeq > this.playSeq) {
      this.codec.decode(null, 0, out)
      this.playSeq++
      this.counters.concealed++
      this.lastLossPull = this.pulls
      return 'concealed'
    }
    this.codec.decode(null, 0, out)
    if (ahead_ms >= this.frame_ms) {
      // Waiting longer would play later than we aim: move on (a long burst, a delay spike).
      this.lastLossPull = this.pulls
      this.playSeq++
      this.counters.underrun++
      return 'underrun'
    }
    // Underrun: nothing after this frame has arrived. Wait for it rather than skip it; the
    // next packet may still bring it (or its redundancy).
    this.counters.stretched++
    return 'stretched'
  }

  private take(i: number, out: Int16Array): PullKind {
    const redundant = this.slotRedundant[i] === 1
    this.codec.decode(this.slotViews[i]!, this.slotLen[i]!, out)
    this.slotSeq[i] = -1
    this.playSeq++
    if (redundant) {
      this.counters.recovered++
      this.lastLossPull = this.pulls
      return 'recovered'
    }
    this.counters.decoded++
    return 'decoded'
  }

  private store(seq: number, flags: number, payload: Uint8Array, redundant: boolean): void {
    const i = seq % JITTER_SLOTS
    const n = Math.min(payload.length, OPUS_PAYLOAD_BYTES_MAX)
    this.slotSeq[i] = seq
    this.slotLen[i] = n
    this.slotFlags[i] = flags
    this.slotRedundant[i] = redundant ? 1 : 0
    copyBytes(this.slotViews[i]!, 0, payload, n)
  }

  private unwrapSeq(sequence: number): number {
    if (!this.started) return sequence + 0x10000
    const delta = ((sequence - (this.newestSeq & 0xffff) + 0x8000) & 0xffff) - 0x8000
    return this.newestSeq + delta
  }

  /**
   * Relative arrival delay: transit time (arrival minus send timestamp) above the
   * smallest transit in the window. Using the minimum as the baseline lets the
   * window follow clock drift.
   */
  private noteTransit(arrival_ms: number, seq: number): void {
    const sent_ms = seq * this.frame_ms
    this.transit[this.transitAt] = arrival_ms - sent_ms
    this.transitAt = (this.transitAt + 1) % JITTER_WINDOW_PACKETS
    if (this.transitCount < JITTER_WINDOW_PACKETS) this.transitCount++
    const n = this.transitCount
    let min = Number.POSITIVE_INFINITY
    for (let k = 0; k < n; k++) min = Math.min(min, this.transit[k]!)
    this.transitMin = min
    this.sorted.fill(Number.POSITIVE_INFINITY)
    for (let k = 0; k < n; k++) this.sorted[k] = this.transit[k]! - min
    this.sorted.sort()
    const p = this.sorted[Math.min(n - 1, Math.floor(JITTER_PERCENTILE * n))]!
    this.jitter_ms = p
    this.target_delay_ms = Math.max(JITTER_DELAY_MS_MIN, Math.min(JITTER_DELAY_MS_MAX, p))
  }
}
