import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  type Call,
  type CallAudio,
  CallManager,
  NO_ANSWER_MS,
  RecordingSink,
  SamplesSource,
  SilenceSource,
} from '../../src/call/index.js'
import { SAMPLE_RATE_HZ, speechLikeSignal } from '../../src/media/index.js'
import { addNode, forEachSeed, type SimNode, twoNodes } from './harness.js'
import type { Sim } from './sim.js'

// Call control (PROTOCOL §10.6) over the simulated network with real
// sessions. The simulated stream has no datagrams, so media takes the
// reliable-path fallback of §10.3 here.

const SEEDS = 3

function calls(sim: Sim, node: SimNode): CallManager {
  return new CallManager({ sessions: node.manager, clock: sim.clock, random: sim.fork() })
}

function audio(
  samples: Int16Array | null,
  hangupAtEnd = false,
): CallAudio & { sink: RecordingSink } {
  return {
    source: samples === null ? new SilenceSource() : new SamplesSource(samples),
    sink: new RecordingSink(60 * SAMPLE_RATE_HZ),
    hangupAtEnd,
  }
}

function incoming(m: CallManager): Promise<Call> {
  return new Promise((resolve) => m.once('incoming', resolve))
}

async function ended(sim: Sim, call: Call, timeout_ms: number): Promise<void> {
  assert.ok(
    await sim.run_until_true(() => call.state === 'ended', timeout_ms),
    `call still ${call.state}`,
  )
}

describe('call control over the simulator', () => {
  test('invite, ringing, accept, media both ways, hold, mute, hang up', async () => {
    await forEachSeed(
      import.meta.url,
      'invite, ringing, accept, media both ways, hold, mute, hang up',
      async (sim) => {
        const { a, b } = twoNodes(sim)
        const ca = calls(sim, a)
        const cb = calls(sim, b)
        const ringing = incoming(cb)
        const speech = speechLikeSignal(3000, sim.seed)
        const aAudio = audio(speech, true)
        const call = await sim.resolve(ca.dial(b.identityPublicKey, aAudio), 5000, 'dial')
        const other = await sim.resolve(ringing, 5000, 'incoming')
        assert.ok(await sim.run_until_true(() => call.state === 'ringing', 5000))
        const bAudio = audio(null)
        cb.answer(bAudio)
        assert.ok(await sim.run_until_true(() => call.state === 'connected', 5000))
        await sim.run_for(1000)
        call.mute(true)
        other.hold(true)
        await sim.run_for(200)
        assert.ok(call.remoteHold && call.muted && other.remoteMuted)
        // On hold nobody sends media (reports go on, so the call does not time out).
        const heardBefore = other.stats().packets_received
        await sim.run_for(1000)
        assert.equal(other.stats().packets_received, heardBefore, 'media flowed on hold')
        assert.equal(call.state, 'connected')
        other.hold(false)
        call.mute(false)
        await ended(sim, call, 10_000)
        await ended(sim, other, 1000)
        assert.equal(call.end_reason, 'hangup', 'the caller hangs up when its file ends')
        assert.equal(other.end_reason, 'remote_hangup')
        const s = other.stats()
        assert.ok(s.packets_received > 50, JSON.stringify(s))
        assert.ok(s.rtt_ms !== null && call.stats().rtt_ms !== null)
        assert.ok(
          bAudio.sink.samples().some((x) => Math.abs(x) > 1000),
          'bob heard speech',
        )
        assert.equal(ca.active, null)
        assert.equal(cb.active, null)
        assert.equal(cb.ended.length, 1)
      },
      SEEDS,
    )
  })

  test('a second incoming call gets busy', async () => {
    await forEachSeed(
      import.meta.url,
      'a second incoming call gets busy',
      async (sim) => {
        const { hub, a, b } = twoNodes(sim)
        const c = addNode(sim, hub, 'c')
        const cb = calls(sim, b)
        const first = await sim.resolve(
          calls(sim, a).dial(b.identityPublicKey, audio(null)),
          5000,
          'dial a',
        )
        assert.ok(await sim.run_until_true(() => first.state === 'ringing', 5000))
        const second = await sim.resolve(
          calls(sim, c).dial(b.identityPublicKey, audio(null)),
          5000,
          'dial c',
        )
        await ended(sim, second, 5000)
        assert.equal(second.end_reason, 'busy')
        assert.equal(first.state, 'ringing')
        assert.equal(cb.counters.get('busy'), 1)
      },
      SEEDS,
    )
  })

  test('decline, cancel and no answer after 60 s', async () => {
    await forEachSeed(
      import.meta.url,
      'decline, cancel and no answer after 60 s',
      async (sim) => {
        const { a, b } = twoNodes(sim)
        const ca = calls(sim, a)
        const cb = calls(sim, b)
        const dial = () => sim.resolve(ca.dial(b.identityPublicKey, audio(null)), 5000, 'dial')

        let ring = incoming(cb)
        const declined = await dial()
        ;(await sim.resolve(ring, 5000, 'ring')).reject()
        await ended(sim, declined, 5000)
        assert.equal(declined.end_reason, 'declined')

        ring = incoming(cb)
        const cancelled = await dial()
        const callee = await sim.resolve(ring, 5000, 'ring')
        cancelled.hangup()
        await ended(sim, callee, 5000)
        assert.equal(callee.end_reason, 'cancelled')

        ring = incoming(cb)
        const unanswered = await dial()
        const ignored = await sim.resolve(ring, 5000, 'ring')
        await ended(sim, unanswered, NO_ANSWER_MS + 5000)
        assert.equal(unanswered.end_reason, 'no_answer')
        await ended(sim, ignored, 5000)
        assert.ok(unanswered.ended_ms! - unanswered.created_ms >= NO_ANSWER_MS)
      },
      SEEDS,
    )
  })

  test('the call ends when its session goes', async () => {
    await forEachSeed(
      import.meta.url,
      'the call ends when its session goes',
      async (sim) => {
        const { a, b } = twoNodes(sim)
        const ca = calls(sim, a)
        const cb = calls(sim, b)
        const ring = incoming(cb)
        const call = await sim.resolve(ca.dial(b.identityPublicKey, audio(null)), 5000, 'dial')
        await sim.resolve(ring, 5000, 'ring')
        cb.answer(audio(null))
        assert.ok(await sim.run_until_true(() => call.state === 'connected', 5000))
        a.manager.close()
        await ended(sim, call, 5000)
        assert.equal(call.end_reason, 'session_lost')
      },
      1,
    )
  })
})
