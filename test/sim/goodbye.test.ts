// How sessions end: a goodbye must reach the peer even when the path loses
// packets, and a session that never gets as far as a hello must not hold a
// slot (SESSIONS_MAX) for as long as its transport stays up.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CONNECT_TIMEOUT_MS } from '../../src/session/index.js'
import { GoodbyeCode } from '../../src/wire/index.js'
import { addNode, forEachSeed, twoNodes } from './harness.js'
import type { LinkStream } from './link.js'
import { SimHub } from './peer-network.js'

const LOSSY = { latency_ms: 30, jitter_ms: 20, loss_probability: 0.1, duplicate_probability: 0.05 }
const CYCLES = 3
/** Long enough for a peer that missed the goodbye to notice by its own keep-alive. */
const AFTERMATH_MS = 120_000
/** A hello exchange takes a round trip or a few retransmits; a hello deadline of ~10 s fits in this. */
const HELLO_MS_MAX = 3 * CONNECT_TIMEOUT_MS

test('a goodbye reaches the peer over a lossy link', async () => {
  await forEachSeed(import.meta.url, 'goodbye reaches the peer', async (sim) => {
    const { hub, a, b } = twoNodes(sim)
    hub.network.configure('a', 'b', LOSSY)
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const session = await sim.resolve(a.manager.connect(b.identityPublicKey), 60_000, 'connect')
      const link_id = (session.stream as unknown as LinkStream).link_id
      assert.ok(
        await sim.run_until_true(() => b.manager.get(a.identityPublicKey) !== undefined, 60_000),
      )
      const remote = b.manager.get(a.identityPublicKey)!
      session.close(GoodbyeCode.Normal, `cycle ${cycle}`)
      await sim.run_for(AFTERMATH_MS)
      assert.deepEqual(
        remote.closeInfo,
        { by: 'remote', code: GoodbyeCode.Normal, reason: `cycle ${cycle}`, lost: false },
        `cycle ${cycle}: B heard no goodbye on link ${link_id}`,
      )
    }
  })
})

test('a peer that never says hello is dropped', async () => {
  await forEachSeed(import.meta.url, 'never says hello', async (sim) => {
    const hub = new SimHub(sim)
    const a = addNode(sim, hub, 'a')
    // A raw link with no session behind it: its transport stays up (keep-alives are acked).
    hub.addHost('silent', Buffer.from(sim.random.bytes(32)), () => {})
    const dial = hub
      .peerNetwork('silent')
      .connect({ publicKey: a.devicePublicKey, relayAddresses: [] })
    const raw = (await sim.resolve(dial, 10_000, 'raw dial')) as unknown as LinkStream
    raw.on('data', () => {})
    const dropped = await sim.run_until_true(() => raw.destroyed, HELLO_MS_MAX)
    assert.ok(dropped, `A still holds the hello-less stream after ${HELLO_MS_MAX} ms`)
    assert.equal(a.manager.counters.get('hello_failed'), 1)
  })
})
