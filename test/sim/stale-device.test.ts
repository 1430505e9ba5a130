// An identity's announcements may include a device that no longer answers
// (a gateway that died, a laptop that went to sleep without unannouncing).
// Devices are dialled staggered and the first session wins, so a dead
// announcement costs DEVICE_DIAL_STAGGER_MS, not a whole connect timeout.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '../../src/identity/index.js'
import { DEVICE_DIAL_STAGGER_MS } from '../../src/session/constants.js'
import { addNode, forEachSeed } from './harness.js'
import { LINK_CONNECT_TIMEOUT_MS, LOOKUP_MS, SimHub } from './peer-network.js'

const CONDITIONS = { latency_ms: 30, jitter_ms: 10, loss_probability: 0, duplicate_probability: 0 }
/** Lookup, the stagger, and a dial plus hello over 30–40 ms links, with room to spare. */
const CONNECT_MS_MAX = LOOKUP_MS + DEVICE_DIAL_STAGGER_MS + 1_000

test('a dead device announced first does not hold up the connect', async () => {
  assert.ok(CONNECT_MS_MAX < LINK_CONNECT_TIMEOUT_MS, 'the bound must tell the two apart')
  await forEachSeed(import.meta.url, 'dead device first', async (sim) => {
    const hub = new SimHub(sim, CONDITIONS)
    const a = addNode(sim, hub, 'a')
    const identity = generateKeyPair(Buffer.from(sim.random.bytes(32)))
    // Announced first, so the lookup yields it first; no host answers for it.
    hub.announce(identity.publicKey, generateKeyPair(Buffer.from(sim.random.bytes(32))).publicKey)
    const b = addNode(sim, hub, 'b', { identity })
    const started_ms = sim.clock.now()
    const session = await sim.resolve(
      a.manager.connect(b.identityPublicKey),
      LINK_CONNECT_TIMEOUT_MS * 2,
      "a's connect",
    )
    const took_ms = sim.clock.now() - started_ms
    assert.ok(session.remoteDevicePublicKey.equals(b.devicePublicKey))
    assert.ok(took_ms <= CONNECT_MS_MAX, `connect took ${took_ms} ms (max ${CONNECT_MS_MAX})`)
    await a.manager.close()
    await b.manager.close()
  })
})

test('two live devices of one identity: one session is kept, the other dial is let go', async () => {
  await forEachSeed(import.meta.url, 'two live devices', async (sim) => {
    // No jitter: with a fixed latency both devices answer in the same time, the closest race.
    const hub = new SimHub(sim, { ...CONDITIONS, jitter_ms: 0 })
    const a = addNode(sim, hub, 'a')
    const identity = generateKeyPair(Buffer.from(sim.random.bytes(32)))
    const b1 = addNode(sim, hub, 'b1', { identity })
    const b2 = addNode(sim, hub, 'b2', { identity })
    const session = await sim.resolve(a.manager.connect(identity.publicKey), 10_000, "a's connect")
    await sim.run_for(5_000)
    const open = a.manager.list().filter((s) => !s.closed)
    assert.deepEqual(open, [session], 'exactly the returned session stays open')
    assert.ok(
      [b1.devicePublicKey, b2.devicePublicKey].some((k) => k.equals(session.remoteDevicePublicKey)),
    )
    for (const n of [a, b1, b2]) await n.manager.close()
  })
})
