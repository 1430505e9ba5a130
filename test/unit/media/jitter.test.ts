import assert from 'node:assert/strict'
import { test } from 'node:test'
import { JitterBuffer, MEDIA_FLAG_QUIET } from '../../../src/media/index.js'
import { FakeCodec } from './fakecodec.js'

const F = 20
const out = new Int16Array(960)
const p = (n: number) => Uint8Array.of(n)

/** Feeds packets at t = seq × 20 ms (+ extra delay), pulls at 20 ms + 5 ms phase. */
function setup() {
  const codec = new FakeCodec()
  const jb = new JitterBuffer(codec)
  return { codec, jb }
}

test('in-order packets play in order with no concealment', () => {
  const { jb } = setup()
  const played: number[] = []
  for (let s = 0; s < 10; s++) {
    jb.insert(s, 0, p(s), [], s * F)
    jb.pull(out, s * F + 5)
    played.push(out[0]!)
  }
  assert.deepEqual(played, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.equal(jb.counters.concealed, 0)
})

test('reordered, duplicate and late packets are counted; a lost one is concealed', () => {
  const { jb } = setup()
  const kinds: string[] = []
  jb.insert(0, 0, p(10), [], 0)
  kinds.push(jb.pull(out, 5))
  jb.insert(2, 0, p(12), [], 40) // 1 is missing for now
  jb.insert(2, 0, p(12), [], 41) // duplicate
  kinds.push(jb.pull(out, 45)) // 1 is due: 2 is here, so 1 is lost
  assert.equal(out[0], -1)
  jb.insert(1, 0, p(11), [], 50) // too late now
  kinds.push(jb.pull(out, 65))
  assert.equal(out[0], 12)
  jb.insert(4, 0, p(14), [], 80)
  jb.insert(3, 0, p(13), [], 81) // reordered but in time
  kinds.push(jb.pull(out, 85))
  assert.equal(out[0], 13)
  assert.deepEqual(kinds, ['decoded', 'concealed', 'decoded', 'decoded'])
  assert.equal(jb.counters.duplicate, 1)
  assert.equal(jb.counters.late, 1)
  assert.equal(jb.counters.reordered, 1)
  assert.equal(jb.counters.concealed, 1)
})

test("a lost frame is recovered from the next packet's redundancy", () => {
  const { jb } = setup()
  jb.insert(100, 0, p(0), [], 0)
  jb.pull(out, 5)
  // 101 is lost; 102 carries 101 and 100.
  jb.insert(102, 0, p(2), [p(1), p(0)], 40)
  assert.equal(jb.pull(out, 45), 'recovered')
  assert.equal(out[0], 1)
  assert.equal(jb.pull(out, 65), 'decoded')
  assert.equal(out[0], 2)
  assert.equal(jb.counters.recovered, 1)
  assert.equal(jb.counters.concealed, 0)
})

test('an underrun waits for the frame, then plays it (and its redundancy saves a loss)', () => {
  const { jb } = setup()
  jb.insert(0, 0, p(0), [], 0)
  jb.pull(out, 5)
  assert.equal(jb.pull(out, 25), 'stretched') // 1 not here, nothing after it: wait
  jb.insert(2, 0, p(2), [p(1)], 40)
  assert.equal(jb.pull(out, 45), 'recovered')
  assert.equal(out[0], 1)
})

test('sequence numbers wrap at 16 bits', () => {
  const { jb } = setup()
  const played: number[] = []
  for (let i = 0; i < 6; i++) {
    jb.insert((0xfffd + i) & 0xffff, 0, p(i), [], i * F)
    jb.pull(out, i * F + 5)
    played.push(out[0]!)
  }
  assert.deepEqual(played, [0, 1, 2, 3, 4, 5])
  assert.equal(jb.expected_packets, 6)
})

test('the target follows jitter, and the buffer changes only on quiet frames', () => {
  const { jb } = setup()
  let seq = 0
  // Arrivals and 20 ms pulls (5 ms phase) in time order.
  const run = (n: number, jitter: (s: number) => number, flags: number) => {
    const events: { t: number; s: number }[] = []
    for (let i = 0; i < n; i++, seq++) events.push({ t: seq * F + jitter(seq), s: seq })
    const end = seq * F
    for (let t = end - n * F + 5; t < end; t += F) events.push({ t, s: -1 })
    events.sort((a, b) => a.t - b.t || b.s - a.s)
    for (const e of events) {
      if (e.s >= 0) jb.insert(e.s, flags, p(e.s & 0xff), [], e.t)
      else jb.pull(out, e.t)
    }
  }
  run(50, () => 0, MEDIA_FLAG_QUIET)
  const calm = jb.delay_ms
  // 50 ms of jitter on every other packet, quiet frames: the target and the buffer grow.
  run(150, (s) => (s % 2 === 0 ? 0 : 50), MEDIA_FLAG_QUIET)
  assert.ok(jb.target_delay_ms >= 45, `target ${jb.target_delay_ms}`)
  const grown = jb.delay_ms
  assert.ok(grown >= calm + 40, `delay ${grown} vs ${calm}`)
  // Jitter stops while the talker talks: nothing may be dropped from speech.
  const compressed = jb.counters.compressed
  run(200, () => 0, 0)
  assert.equal(jb.counters.compressed, compressed, 'adapted in a loud frame')
  // Quiet frames: now it shrinks back.
  run(100, () => 0, MEDIA_FLAG_QUIET)
  assert.ok(jb.counters.compressed > compressed)
  assert.ok(jb.delay_ms < grown - 40, `delay ${jb.delay_ms} vs ${grown}`)
  // Only the first late packets, before the target caught up, were lost.
  assert.ok(jb.counters.concealed <= 10, `concealed ${jb.counters.concealed}`)
})

test('a long silence in arrivals (hold) plays silence, not concealment', () => {
  const { jb } = setup()
  jb.insert(0, 0, p(0), [], 0)
  jb.pull(out, 5)
  for (let t = 605; t < 2000; t += F) assert.equal(jb.pull(out, t), 'idle')
  assert.equal(jb.counters.concealed, 0)
})
