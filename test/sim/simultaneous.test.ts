// Two peers that dial each other at the same instant must end with one
// session, the same one on both sides (docs/ARCHITECTURE.md: "one session
// per device pair"), and each connect() must hand back that session.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Session } from '../../src/session/index.js'
import { forEachSeed, type SimNode, twoNodes } from './harness.js'
import type { LinkStream } from './link.js'
import type { Sim } from './sim.js'

const LATENCIES_MS = [0, 1, 10, 50, 200]
/** Long enough for both dials, both hellos and the duplicate's goodbye at the largest latency. */
const SETTLE_MS = 10_000
/** Bound on events after every manager closed: a timer that re-arms forever fails the run. */
const IDLE_EVENTS_MAX = 10_000

test('simultaneous connect ends with one shared session', async () => {
  await forEachSeed(import.meta.url, 'one shared session', async (sim) => {
    for (const latency_ms of LATENCIES_MS) await dialEachOther(sim, latency_ms, 0, false)
  })
})

test('simultaneous connect: both connect() promises lead to the kept session', async () => {
  await forEachSeed(import.meta.url, 'lead to the kept session', async (sim) => {
    for (const latency_ms of LATENCIES_MS) {
      // Also dials a little apart (either one first): the contest is the same while they overlap.
      for (const offset_ratio of [0, 0.5, 1, 2]) {
        const offset_ms = offset_ratio * latency_ms * (sim.random.float() < 0.5 ? -1 : 1)
        await dialEachOther(sim, latency_ms, offset_ms, true)
      }
    }
  })
})

// A gateway opens a tunnel on the session it reaches the target with (§5.11).
// When the target dials the gateway at that moment, a tunnel on the session
// that loses the contest closes with it: the gateway must get the kept one.
test('a gateway reaching a peer that dials it at the same instant gets the kept session', async () => {
  await forEachSeed(import.meta.url, 'gateway reach', async (sim) => {
    for (const latency_ms of LATENCIES_MS) {
      for (const offset_ratio of [0, 0.5, 1, 2]) {
        const offset_ms = offset_ratio * latency_ms * (sim.random.float() < 0.5 ? -1 : 1)
        await dialEachOther(sim, latency_ms, offset_ms, true, 'reachSettled')
      }
    }
  })
})

/** A dials at once, B `offset_ms` later (or earlier, if negative); A as a gateway would, if asked. */
async function dialEachOther(
  sim: Sim,
  latency_ms: number,
  offset_ms: number,
  checkConnectResult: boolean,
  aDials: 'connect' | 'reachSettled' = 'connect',
): Promise<void> {
  // Jitter up to the latency itself, so either hello may overtake the other.
  const jitter_ms = Math.floor(sim.random.float() * (latency_ms + 1))
  const { hub, a, b } = twoNodes(sim, {
    latency_ms,
    jitter_ms,
    loss_probability: 0,
    duplicate_probability: 0,
  })
  const where = `latency ${latency_ms} ms, jitter ${jitter_ms} ms, B ${offset_ms} ms after A`
  const [first, second] = offset_ms >= 0 ? [a, b] : [b, a]
  const dialOf = (n: SimNode) =>
    n === a ? a.manager[aDials](b.identityPublicKey) : b.manager.connect(a.identityPublicKey)
  const fromFirst = dialOf(first)
  await sim.run_for(Math.abs(offset_ms))
  const fromSecond = dialOf(second)
  const [fromA, fromB] = first === a ? [fromFirst, fromSecond] : [fromSecond, fromFirst]
  // Whether B's dial had reached A when A's promise resolved. If not, A could
  // not know of it, and its session may still lose afterwards (see below).
  let bDialSeenByA = false
  fromA.then(
    () => {
      bDialSeenByA = hub.links.some((l) => !l.isInitiator && l.publicKey.equals(a.devicePublicKey))
    },
    () => {},
  )
  const sessionA = await sim.resolve(fromA, SETTLE_MS, `A's connect (${where})`)
  const sessionB = await sim.resolve(fromB, SETTLE_MS, `B's connect (${where})`)
  await sim.run_for(SETTLE_MS)

  const keptA = onlySessionTo(a, b, where)
  const keptB = onlySessionTo(b, a, where)
  assert.equal(
    linkOf(keptA).link_id,
    linkOf(keptB).link_id,
    `both sides keep the same link (${where})`,
  )
  // The tie-break decides only when both dials opened; a side that sees the
  // other's dial arrive first waits for it (or drops its own dial) instead.
  if (hub.dialTrace.filter((d) => d.what === 'dial_open').length > 1) {
    assert.ok(
      Buffer.compare(a.devicePublicKey, b.devicePublicKey) < 0 === keptA.isInitiator,
      `the kept session is the one dialled by the smaller device key (${where})`,
    )
  }
  if (checkConnectResult) {
    // A dial that completes less than one one-way latency before the peer's own
    // may still lose the contest afterwards; the manager then points the loser at
    // the winner (docs/PROTOCOL.md §5.5), and callers follow `current()`.
    for (const [name, node, got, kept] of [
      ['A', a, sessionA, keptA],
      ['B', b, sessionB, keptB],
    ] as const) {
      // A gateway's tunnel lives on the very session it got, so it must get the
      // kept one, not follow `current()` later: always, once the peer's dial had
      // reached it. One that arrives later is the case above, which the opener
      // of the tunnel rides out by opening another (§5.11).
      const strict: boolean = name === 'A' && aDials === 'reachSettled' && bDialSeenByA
      const followed: Session = strict ? got : node.manager.current(got)
      assert.equal(
        linkOf(followed).link_id,
        linkOf(kept).link_id,
        `${name}'s connect() resolved to link ${linkOf(got).link_id}, closed as ${got.closeInfo?.reason} (${where})`,
      )
    }
  }
  a.manager.close()
  b.manager.close()
  // Closing every manager must leave nothing running: no keep-alive, no redial, no open link.
  await sim.run_until_idle(IDLE_EVENTS_MAX)
  for (const session of [keptA, keptB]) assert.ok(session.closed)
}

function onlySessionTo(from: SimNode, to: SimNode, where: string): Session {
  const open = from.manager
    .list()
    .filter((s) => !s.closed && s.remoteIdentityPublicKey?.equals(to.identityPublicKey))
  assert.equal(
    open.length,
    1,
    `${from.name} holds exactly one open session to ${to.name} (${where})`,
  )
  return open[0]!
}

function linkOf(session: Session): LinkStream {
  return session.stream as unknown as LinkStream
}

test('a replaced duplicate does not trigger a reconnect of a maintained peer', async () => {
  await forEachSeed(import.meta.url, 'replaced duplicate', async (sim) => {
    const { a, b } = twoNodes(sim, {
      latency_ms: 20,
      jitter_ms: 5,
      loss_probability: 0,
      duplicate_probability: 0,
    })
    const reconnected = { a: 0, b: 0 }
    a.manager.on('reconnected', () => reconnected.a++)
    b.manager.on('reconnected', () => reconnected.b++)
    a.manager.maintain(b.identityPublicKey)
    b.manager.maintain(a.identityPublicKey)
    await sim.run_for(SETTLE_MS)
    onlySessionTo(a, b, 'both maintain')
    onlySessionTo(b, a, 'both maintain')
    assert.deepEqual(reconnected, { a: 1, b: 1 }, 'one dial each, one "reconnected" each')
  })
})
