// Failure detection and recovery: a partition must be noticed by the
// keep-alive within SESSION_IDLE_TIMEOUT_MS + PING_INTERVAL_MS (docs/PROTOCOL.md
// §5.6), and a maintained peer must be redialled with the documented backoff
// (§5.7: doubling from 1 s to 60 s, each delay jittered by ±20%).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Session } from '../../src/session/index.js'
import {
  GoodbyeCode,
  PING_INTERVAL_MS,
  RECONNECT_BACKOFF_MS_MAX,
  RECONNECT_BACKOFF_MS_MIN,
  RECONNECT_JITTER_RATIO,
  SESSION_IDLE_TIMEOUT_MS,
} from '../../src/wire/index.js'
import { forEachSeed, type SimNode, twoNodes } from './harness.js'
import type { LinkStream } from './link.js'
import { LINK_KEEPALIVE_MS } from './packet.js'
import type { SimHub } from './peer-network.js'
import type { Sim } from './sim.js'

const CONDITIONS = {
  latency_ms: 20,
  jitter_ms: 10,
  loss_probability: 0.01,
  duplicate_probability: 0.01,
}
const DETECT_MS_MAX = SESSION_IDLE_TIMEOUT_MS + PING_INTERVAL_MS
/** A reconnect after a heal waits at most one jittered maximum delay, plus a lookup and a handshake. */
const RECONNECT_MS_MAX = RECONNECT_BACKOFF_MS_MAX * (1 + RECONNECT_JITTER_RATIO) + 10_000

// With link keep-alives off only the session's pings cross the link, so the
// session's own idle timeout must be what notices; with them on (as hyperdht
// runs them) the link may time out first, which the session must also notice.
for (const keepalive_ms of [null, LINK_KEEPALIVE_MS]) {
  const variant =
    keepalive_ms === null ? 'no link keep-alive' : `link keep-alive ${keepalive_ms} ms`
  test(`a 70 s partition is detected by both sides, then they reconnect (${variant})`, async () => {
    await forEachSeed(import.meta.url, `70 s partition.*${variant}`, async (sim) => {
      const { hub, a, b } = twoNodes(sim, CONDITIONS, { keepalive_ms })
      a.manager.maintain(b.identityPublicKey)
      const first = await connected(sim, a, b)
      // Cut at a random phase of the keep-alive cycle: detection time depends on it.
      await sim.run_for(sim.random.float() * 3 * PING_INTERVAL_MS)
      const closedA = closeTime(sim, a, first.a)
      const closedB = closeTime(sim, b, first.b)
      const cut_ms = sim.now()
      hub.network.partition('a', 'b')
      await sim.run_until(cut_ms + 70_000)
      hub.network.heal('a', 'b')
      const healed_ms = sim.now()
      await sim.run_until_true(
        () => closedA.at_ms !== null && closedB.at_ms !== null,
        DETECT_MS_MAX,
      )

      for (const [name, closed, session] of [
        ['A', closedA, first.a],
        ['B', closedB, first.b],
      ] as const) {
        assert.ok(closed.at_ms !== null, `${name} closed the session`)
        const after_ms = closed.at_ms - cut_ms
        assert.ok(after_ms <= DETECT_MS_MAX, `${name} noticed the partition after ${after_ms} ms`)
        // Never early: the keep-alive waits out a full idle timeout, a link its whole RTO backoff.
        const how = closedHow(session)
        if (how === 'keep-alive') {
          const silent_ms = closed.at_ms - session.lastReceived_ms
          assert.ok(silent_ms >= SESSION_IDLE_TIMEOUT_MS, `${name} gave up after ${silent_ms} ms`)
          // …and not a ping interval late: the check is timed to the limit (simulated clock).
          assert.ok(silent_ms <= SESSION_IDLE_TIMEOUT_MS + 1, `${name} waited ${silent_ms} ms`)
        } else if (how === 'other') {
          const link = session.stream as unknown as LinkStream
          assert.equal(
            link.closeReason,
            'timeout',
            `${name} closed by ${JSON.stringify(session.closeInfo)}`,
          )
        }
      }
      if (keepalive_ms === null) {
        // One side's keep-alive fires first. The other's fires too, or the heal lets the
        // first side's reset through, or the reconnect replaces its stale session.
        const how = [closedHow(first.a), closedHow(first.b)]
        assert.ok(how.includes('keep-alive'), `closed by ${how.join(' and ')}`)
        assert.ok(!how.includes('other'), `closed by ${how.join(' and ')}`)
      }

      const second = await connected(sim, a, b, RECONNECT_MS_MAX)
      assert.notEqual(second.link_id, first.link_id, 'a new link after the heal')
      checkBackoff(hub, 'a', closedA.at_ms!, healed_ms)
    })
  })
}

test('a maintained peer is redialled with doubling, capped, jittered backoff', async () => {
  await forEachSeed(import.meta.url, 'doubling, capped, jittered backoff', async (sim) => {
    const { hub, a, b } = twoNodes(sim, CONDITIONS)
    a.manager.maintain(b.identityPublicKey)
    for (const outage_ms of [300_000, 20_000]) {
      const before = await connected(sim, a, b)
      const closedA = closeTime(sim, a, before.a)
      hub.network.partition('a', 'b')
      await sim.run_until_true(() => closedA.at_ms !== null, DETECT_MS_MAX)
      assert.ok(closedA.at_ms !== null, 'A noticed the partition')
      // Long enough to reach the 60 s cap; the short second outage shows the attempt count was reset.
      await sim.run_for(outage_ms)
      hub.network.heal('a', 'b')
      const healed_ms = sim.now()
      await connected(sim, a, b, RECONNECT_MS_MAX)
      const delays = checkBackoff(hub, 'a', closedA.at_ms, healed_ms)
      const expected = outage_ms > 200_000 ? 8 : 2
      assert.ok(
        delays >= expected,
        `only ${delays} backoff delays seen in a ${outage_ms} ms outage`,
      )
    }
  })
})

/**
 * Checks every redial of `host` after `closed_ms`: the n-th waits
 * min(MAX, MIN·2^n) ±20% after the previous attempt failed (the first after
 * the close). Returns the number of delays checked.
 */
function checkBackoff(hub: SimHub, host: string, closed_ms: number, healed_ms: number): number {
  const events = hub.dialTrace.filter((e) => e.host === host && e.at_ms >= closed_ms)
  let since_ms = closed_ms
  let attempt = 0
  for (const e of events) {
    if (e.what === 'lookup') {
      const base_ms = Math.min(RECONNECT_BACKOFF_MS_MAX, RECONNECT_BACKOFF_MS_MIN * 2 ** attempt)
      const delay_ms = e.at_ms - since_ms
      assert.ok(
        delay_ms >= base_ms * (1 - RECONNECT_JITTER_RATIO) - 1 &&
          delay_ms <= base_ms * (1 + RECONNECT_JITTER_RATIO) + 1,
        `redial ${attempt + 1} waited ${delay_ms} ms, expected ${base_ms} ms ±20%`,
      )
      attempt++
    } else if (e.what === 'dial_failed') {
      assert.ok(e.at_ms <= healed_ms + 10_000, 'only dials across the partition fail')
      since_ms = e.at_ms
    } else {
      assert.ok(e.at_ms >= healed_ms, 'a dial opened across the partition')
      return attempt
    }
  }
  // The other side may have reconnected first (PROTOCOL.md §5.9: both sides
  // reconnect a lost session for a while; the caller saw the new session):
  // then every redial of this host seen so far kept to the schedule.
  return attempt
}

function closedHow(session: Session): 'keep-alive' | 'reset' | 'replaced' | 'other' {
  const info = session.closeInfo
  if (info?.by === 'local' && /sent nothing/.test(info.reason)) return 'keep-alive'
  if (info?.by === 'local' && info.code === GoodbyeCode.DuplicateSession) return 'replaced'
  if ((session.stream as unknown as LinkStream).closeReason === 'reset') return 'reset'
  return 'other'
}

interface Pair {
  a: Session
  b: Session
  link_id: number
}

/** Runs until A and B hold an open session to each other over the same link. */
async function connected(sim: Sim, a: SimNode, b: SimNode, timeout_ms = 30_000): Promise<Pair> {
  const pair = (): Pair | null => {
    const sa = a.manager.get(b.identityPublicKey)
    const sb = b.manager.get(a.identityPublicKey)
    if (sa === undefined || sb === undefined) return null
    const link_id = (sa.stream as unknown as LinkStream).link_id
    return link_id === (sb.stream as unknown as LinkStream).link_id
      ? { a: sa, b: sb, link_id }
      : null
  }
  assert.ok(await sim.run_until_true(() => pair() !== null, timeout_ms), 'A and B connected')
  return pair()!
}

/** Records when `session` closes, as seen by its node's manager. */
function closeTime(sim: Sim, node: SimNode, session: Session): { at_ms: number | null } {
  const closed: { at_ms: number | null } = { at_ms: null }
  node.manager.on('session-closed', (s: Session) => {
    if (s === session && closed.at_ms === null) closed.at_ms = sim.now()
  })
  return closed
}
