import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { forEachSeed } from './harness.js'
import { type MediaPathConditions, type SimCallResult, simulateCall } from './media-channel.js'
import type { Sim } from './sim.js'

// Acceptance (issue 5): a call's media over the seeded simulated channel at
// 0%, 5% random and 15% bursty loss with 30 ms jitter. The real sender,
// jitter buffer and Opus codec run on the sim clock; the recording is aligned
// with the source by cross-correlation. Bounds are justified in
// docs/PROTOCOL.md §10.8.

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
