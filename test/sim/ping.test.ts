// Control pings over a lossy, duplicating, reordering link: the ARQ below
// must make every loss invisible to the session, and the session must never
// mistake a late or repeated frame for a malformed one.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Session } from '../../src/session/index.js'
import { PING_INTERVAL_MS } from '../../src/wire/index.js'
import { forEachSeed, twoNodes } from './harness.js'
import type { LinkStream } from './link.js'
import { RTO_MS_MAX, RTO_MS_MIN } from './packet.js'

const PINGS = 1_000
const LATENCY_MS = 25
const JITTER_MS = 30
/**
 * The default ping timeout (5 s) is shorter than three back-to-back
 * retransmit timeouts (1 + 2 + 4 s), which 5% loss produces about once in
 * 8,000 frames; this test is about the session surviving loss, so it waits
 * as long as the link itself would before giving up.
 */
const PING_TIMEOUT_MS = 60_000

test('1,000 control pings over 5% loss, 10% duplication and 30 ms jitter', async () => {
  await forEachSeed(import.meta.url, '1,000 control pings', async (sim) => {
    const { a, b } = twoNodes(sim, {
      latency_ms: LATENCY_MS,
      jitter_ms: JITTER_MS,
      loss_probability: 0.05,
      duplicate_probability: 0.1,
    })
    const session = await sim.resolve(a.manager.connect(b.identityPublicKey), 60_000, 'connect')
    let dropped = 0
    a.manager.on('session-closed', () => dropped++)
    b.manager.on('session-closed', () => dropped++)

    const rtts_ms: number[] = []
    for (let i = 0; i < PINGS; i++) {
      const rtt_ms = await sim.resolve(session.ping(PING_TIMEOUT_MS), PING_TIMEOUT_MS, `ping ${i}`)
      rtts_ms.push(rtt_ms)
    }

    const floor_ms = 2 * LATENCY_MS
    // A ping and its pong may each wait out a few backed-off retransmit timeouts.
    const ceiling_ms =
      2 * (LATENCY_MS + JITTER_MS) + 2 * (RTO_MS_MIN + 2 * RTO_MS_MIN + 4 * RTO_MS_MIN)
    for (const rtt_ms of rtts_ms) {
      assert.ok(
        rtt_ms >= floor_ms && rtt_ms <= ceiling_ms,
        `rtt ${rtt_ms} ms outside [${floor_ms}, ${ceiling_ms}]`,
      )
    }
    assert.ok(ceiling_ms < RTO_MS_MAX)
    const sorted = [...rtts_ms].sort((x, y) => x - y)
    const median_ms = sorted[Math.floor(sorted.length / 2)]!
    assert.ok(
      median_ms < 2 * (LATENCY_MS + JITTER_MS),
      `median rtt ${median_ms} ms: most pings should need no retransmit`,
    )

    assert.equal(dropped, 0, 'no session was dropped')
    assert.equal(session.closed, false)
    const remote = b.manager.get(a.identityPublicKey)
    assert.ok(remote !== undefined, 'B still holds the session')
    assert.equal(linkOf(remote).link_id, linkOf(session).link_id, 'both sides hold the same link')
    for (const s of [session, remote]) {
      assert.equal(s.counters.get('malformed'), 0)
      assert.equal(s.counters.get('oversize'), 0)
      assert.equal(s.counters.get('unknown_type'), 0)
    }
    // The network really did lose, duplicate and reorder: the link hid all of it.
    const link = linkOf(session)
    assert.ok(link.counters.get('retransmits') > 0, 'some frame was retransmitted')
    assert.ok(linkOf(remote).counters.get('duplicates_received') > 0, 'some frame arrived twice')
  })
})

function linkOf(session: Session): LinkStream {
  return session.stream as unknown as LinkStream
}

test('keep-alive pongs are not counted as unexpected', async () => {
  await forEachSeed(import.meta.url, 'keep-alive pongs', async (sim) => {
    const { a, b } = twoNodes(sim)
    const session = await sim.resolve(a.manager.connect(b.identityPublicKey), 30_000, 'connect')
    await sim.run_for(3 * PING_INTERVAL_MS + 1_000)
    const remote = b.manager.get(a.identityPublicKey)!
    assert.equal(session.closed, false)
    assert.equal(session.counters.get('unexpected_pong'), 0, 'A counted keep-alive pongs')
    assert.equal(remote.counters.get('unexpected_pong'), 0, 'B counted keep-alive pongs')
  })
})
