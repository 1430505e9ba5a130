import assert from 'node:assert/strict'
import { test } from 'node:test'
import { estimateMos, mosFromR, RateController, rFactor } from '../../../src/media/index.js'

test('E-model: G.107 defaults give R 93.2 and MOS 4.41', () => {
  assert.equal(rFactor(0, 0), 93.2)
  assert.equal(Math.round(mosFromR(93.2) * 100) / 100, 4.41)
})

test('E-model: delay past 177.3 ms and loss lower the score', () => {
  assert.ok(estimateMos(50, 0) > 4.3)
  assert.ok(estimateMos(300, 0) < estimateMos(150, 0))
  // 5% random loss with Bpl 20: Ie,eff = 95 × 5 / 25 = 19.
  assert.equal(Math.round(rFactor(0, 5) * 10) / 10, 74.2)
  assert.ok(estimateMos(0, 5) > 3.5 && estimateMos(0, 5) < 4)
  assert.equal(mosFromR(-5), 1)
})

test('rate control: loss lowers the bitrate and adds redundancy; clearing steps back up', () => {
  const rc = new RateController()
  assert.equal(rc.decision.bitrate_bps, 32_000)
  assert.equal(rc.decision.redundancy_depth, 1)
  let d = rc.update(0.2, 50)
  assert.equal(d.bitrate_bps, 16_000)
  assert.equal(d.redundancy_depth, 2)
  assert.equal(d.expected_loss_percent, 20)
  for (let i = 0; i < 20; i++) d = rc.update(0, 50)
  assert.equal(d.bitrate_bps, 32_000)
  assert.equal(d.redundancy_depth, 1)
  // Congestion: RTT far above the call's minimum.
  d = rc.update(0, 400)
  assert.equal(d.bitrate_bps, 12_000)
})
