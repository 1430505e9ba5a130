import {
  align,
  MediaReceiver,
  MediaSender,
  OpusScriptCodec,
  SAMPLES_PER_MS,
  speechLikeSignal,
} from '../../src/media/index.js'
import type { Random } from '../../src/util/random.js'
import type { Sim, SimClock } from './sim.js'

// A one-way media path for the call simulations: fixed delay plus uniform
// jitter (which reorders), and loss that is either independent or bursty
// (a two-state Gilbert model: every packet in the bad state is lost).

export type LossModel =
  | { kind: 'none' }
  | { kind: 'random'; rate: number }
  | { kind: 'bursty'; rate: number; burst_mean: number }

export interface MediaPathConditions {
  delay_ms: number
  jitter_ms: number
  loss: LossModel
}

export class MediaChannel {
  sent = 0
  lost = 0
  private bad = false
  private readonly clock: SimClock
  private readonly random: Random
  private readonly cond: MediaPathConditions
  private readonly deliver: (bytes: Uint8Array, at_ms: number) => void

  constructor(
    clock: SimClock,
    random: Random,
    cond: MediaPathConditions,
    deliver: (bytes: Uint8Array, at_ms: number) => void,
  ) {
    this.clock = clock
    this.random = random
    this.cond = cond
    this.deliver = deliver
  }

  send(bytes: Uint8Array): void {
    this.sent++
    if (this.drop()) {
      this.lost++
      return
    }
    const copy = Uint8Array.from(bytes)
    const delay_ms = this.cond.delay_ms + this.uniform() * this.cond.jitter_ms
    this.clock.setTimeout(() => this.deliver(copy, this.clock.now()), delay_ms)
  }

  private drop(): boolean {
    const loss = this.cond.loss
    if (loss.kind === 'none') return false
    if (loss.kind === 'random') return this.uniform() < loss.rate
    // Gilbert: leave the bad state with 1/burst_mean; enter it so that the
    // stationary share of bad packets equals the loss rate.
    const leave = 1 / loss.burst_mean
    const enter = (loss.rate * leave) / (1 - loss.rate)
    this.bad = this.bad ? this.uniform() >= leave : this.uniform() < enter
    return this.bad
  }

  private uniform(): number {
    const b = this.random.bytes(4)
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32
  }
}

// A call's media over a MediaChannel, with the real sender, jitter buffer and Opus.
const FRAME_MS = 20
const FRAME = FRAME_MS * SAMPLES_PER_MS
const SPEECH_MS = 8000
const REPORT_MS = 1000

export interface SimCallResult {
  delay_ms: number
  waveform_correlation: number
  envelope_correlation: number
  frames: number
  concealed: number
  recovered: number
  stretched: number
  compressed: number
  loss_percent_before_fec: number
  loss_percent_after_fec: number
  max_buffer_ms: number
}

export function simulateCall(
  sim: Sim,
  cond: MediaPathConditions,
  opts: { drift_ppm?: number; speech_seed?: number } = {},
): SimCallResult {
  const source = speechLikeSignal(SPEECH_MS, opts.speech_seed ?? sim.seed)
  const recording = new Int16Array(source.length + 500 * SAMPLES_PER_MS)
  const tx = new OpusScriptCodec(FRAME, 32_000)
  const rx = new OpusScriptCodec(FRAME, 32_000)
  const sender = new MediaSender(tx, sim.seed * 7919, sim.seed * 104729)
  const receiver = new MediaReceiver(rx)
  const clock = sim.clock
  const channel = new MediaChannel(clock, sim.fork(), cond, (b, at) => receiver.onPacket(b, at))
  const frames = Math.floor(source.length / FRAME)
  // A sender clock off by drift_ppm: its 20 ms is not quite ours.
  const sendPeriod_ms = FRAME_MS * (1 + (opts.drift_ppm ?? 0) / 1e6)
  const pcm = new Int16Array(FRAME)
  const out = new Int16Array(FRAME)
  let sent = 0
  const sendTick = () => {
    pcm.set(source.subarray(sent * FRAME, (sent + 1) * FRAME))
    channel.send(sender.packet.subarray(0, sender.frame(pcm)))
    if (++sent < frames) clock.setTimeout(sendTick, sendPeriod_ms)
  }
  let played = 0
  let max_buffer_ms = 0
  const playTick = () => {
    receiver.pull(out, clock.now())
    if ((played + 1) * FRAME <= recording.length) recording.set(out, played * FRAME)
    // The buffer's delay while audio flows (after the last packet it only measures the wait).
    if (sent < frames) max_buffer_ms = Math.max(max_buffer_ms, receiver.jitter.delay_ms)
    if (++played * FRAME < recording.length) clock.setTimeout(playTick, FRAME_MS)
  }
  const report = () => {
    sender.onReport(receiver.intervalLoss(), 2 * cond.delay_ms)
    if (sent < frames) clock.setTimeout(report, REPORT_MS)
  }
  clock.setTimeout(sendTick, 0)
  // The receiver's tick has its own phase; both start when the call connects.
  clock.setTimeout(playTick, 1 + (sim.seed % 19))
  clock.setTimeout(report, REPORT_MS)
  while (clock.fireNext()) {}
  const a = align(source, recording, 400 * SAMPLES_PER_MS)
  const s = receiver.stats()
  tx.close()
  rx.close()
  return {
    delay_ms: a.delay_samples / SAMPLES_PER_MS,
    waveform_correlation: a.waveform_correlation,
    envelope_correlation: a.envelope_correlation,
    frames,
    concealed: s.concealed_frames,
    recovered: s.recovered_frames,
    stretched: s.stretched_frames,
    compressed: s.compressed_frames,
    loss_percent_before_fec: s.loss_percent_before_fec,
    loss_percent_after_fec: s.loss_percent_after_fec,
    max_buffer_ms,
  }
}
