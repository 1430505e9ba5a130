import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  align,
  MediaReceiver,
  MediaSender,
  OpusScriptCodec,
  SAMPLES_PER_MS,
  speechLikeSignal,
} from '../../src/media/index.js'
import { forEachSeed } from './harness.js'
import { MediaChannel, type MediaPathConditions } from './media-channel.js'
import type { Sim } from './sim.js'

// Acceptance (issue 5): a call's media over the seeded simulated channel at
// 0%, 5% random and 15% bursty loss with 30 ms jitter. The real sender,
// jitter buffer and Opus codec run on the sim clock; the recording is aligned
// with the source by cross-correlation. Bounds are justified in
// docs/PROTOCOL.md §10.8.

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

const SEEDS = 3
const JITTER = { delay_ms: 20, jitter_ms: 30 }

function check(sim: Sim, r: SimCallResult, bounds: Bounds): void {
  const where = `seed=${sim.seed} ${JSON.stringify(r)}`
  assert.ok(r.delay_ms > JITTER.delay_ms && r.delay_ms <= bounds.delay_ms_max, `delay: ${where}`)
  assert.ok(r.concealed <= bounds.concealed_max, `concealed: ${where}`)
  assert.ok(r.loss_percent_after_fec <= bounds.loss_percent_max, `loss: ${where}`)
  assert.ok(r.envelope_correlation >= bounds.envelope_min, `similarity: ${where}`)
  assert.ok(r.max_buffer_ms <= bounds.buffer_ms_max, `buffer: ${where}`)
}

interface Bounds {
  delay_ms_max: number
  concealed_max: number
  loss_percent_max: number
  envelope_min: number
  buffer_ms_max: number
}

/** One test: a call per seed under `cond`, checked against `bounds`. */
function callTest(name: string, cond: MediaPathConditions, bounds: Bounds): void {
  test(name, async () => {
    await forEachSeed(
      import.meta.url,
      name,
      async (sim) => {
        const r = simulateCall(sim, cond)
        if (cond.loss.kind !== 'none') {
          assert.ok(r.recovered > 0, `redundancy recovered nothing: ${JSON.stringify(r)}`)
        }
        check(sim, r, bounds)
      },
      SEEDS,
    )
  })
}

describe('a call over the simulated channel (20 ms + 0–30 ms jitter)', () => {
  callTest(
    '0% loss: nothing concealed, delay within the jitter budget',
    { ...JITTER, loss: { kind: 'none' } },
    {
      delay_ms_max: 100,
      concealed_max: 0,
      loss_percent_max: 0,
      envelope_min: 0.9,
      buffer_ms_max: 100,
    },
  )
  callTest(
    '5% random loss: under 1% of frames concealed',
    { ...JITTER, loss: { kind: 'random', rate: 0.05 } },
    {
      delay_ms_max: 100,
      concealed_max: 3,
      loss_percent_max: 1,
      envelope_min: 0.9,
      buffer_ms_max: 120,
    },
  )
  callTest(
    '15% bursty loss: redundancy covers bursts of two, the rest is concealed',
    { ...JITTER, loss: { kind: 'bursty', rate: 0.15, burst_mean: 2.5 } },
    {
      delay_ms_max: 140,
      concealed_max: 40,
      loss_percent_max: 10,
      envelope_min: 0.5,
      buffer_ms_max: 200,
    },
  )

  test('sender clock 2000 ppm fast or slow: the buffer neither drains nor grows', async () => {
    await forEachSeed(
      import.meta.url,
      'sender clock 2000 ppm fast or slow: the buffer neither drains nor grows',
      async (sim) => {
        for (const drift_ppm of [-2000, 2000]) {
          const r = simulateCall(sim, { ...JITTER, loss: { kind: 'none' } }, { drift_ppm })
          const where = `seed=${sim.seed} drift ${drift_ppm}: ${JSON.stringify(r)}`
          assert.equal(r.concealed, 0, where)
          assert.ok(r.max_buffer_ms <= 100, where)
        }
      },
      1,
    )
  })
})
