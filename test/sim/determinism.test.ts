// The simulator's one promise: a run is a pure function of its seed. If this
// fails, a failing seed elsewhere cannot be replayed, so every other sim test
// loses its worth. Typical culprits: a real timer, Date.now or Math.random in
// code under test, or a missing flush between events.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { forEachSeed, twoNodes } from './harness.js'
import type { LinkStream } from './link.js'
import { Sim } from './sim.js'

const CONDITIONS = {
  latency_ms: 15,
  jitter_ms: 40,
  loss_probability: 0.1,
  duplicate_probability: 0.1,
}

/** Everything observable about one run: event count, time, every RTT, counters and dial trace. */
async function fingerprint(seed: number): Promise<string> {
  const sim = new Sim(seed)
  const { hub, a, b } = twoNodes(sim, CONDITIONS)
  a.manager.maintain(b.identityPublicKey)
  const session = await sim.resolve(a.manager.connect(b.identityPublicKey), 60_000, 'connect')
  const rtts_ms: number[] = []
  for (let i = 0; i < 50; i++) rtts_ms.push(await sim.resolve(session.ping(60_000), 60_000, 'ping'))
  hub.network.partition('a', 'b')
  await sim.run_for(90_000)
  hub.network.heal('a', 'b')
  await sim.run_for(60_000)
  return JSON.stringify({
    events: sim.events_run,
    now_ms: sim.now(),
    rtts_ms,
    network: hub.network.counters.toJSON(),
    links: hub.links.map((l: LinkStream) => [l.link_id, l.closeReason, l.counters.toJSON()]),
    dials: hub.dialTrace,
    sessions: [a, b].map((n) => n.manager.list().map((s) => s.closeInfo)),
  })
}

test('a run is a pure function of its seed', async () => {
  await forEachSeed(
    import.meta.url,
    'pure function of its seed',
    async (sim) => {
      const first = await fingerprint(sim.seed)
      const again = await fingerprint(sim.seed)
      assert.equal(again, first, 'the same seed replayed differently')
      const other = await fingerprint(sim.seed + 1_000_000)
      assert.notEqual(other, first, 'a different seed gave the very same run')
    },
    5,
  )
})
