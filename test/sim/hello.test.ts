// Hello failures must be final, prompt and explain themselves: an
// incompatible peer names both version ranges, and a device announced under
// someone else's identity (the DHT cannot stop that) is caught by the
// certificate in its hello.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKeyPair } from '../../src/identity/index.js'
import { isParleyError } from '../../src/util/errors.js'
import {
  HELLO_FLAG_SUPERNODE,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_MIN,
} from '../../src/wire/index.js'
import { addNode, forEachSeed, twoNodes } from './harness.js'
import { SimHub } from './peer-network.js'
import type { Sim } from './sim.js'

const CONDITIONS = {
  latency_ms: 30,
  jitter_ms: 20,
  loss_probability: 0.05,
  duplicate_probability: 0.05,
}
/** A refusal comes after one hello exchange, long before any connect deadline; loss may cost a few RTOs. */
const ANSWER_MS_MAX = 8_000

/** Keep-alive interval plus the RTO backoff of a link whose peer is gone (packet.ts). */
const LINK_DEATH_MS_MAX = 5_000 + 61_000 + 10_000

const FUTURE = { min: PROTOCOL_VERSION + 1, max: PROTOCOL_VERSION + 2 }
const ours = `${PROTOCOL_VERSION_MIN}-${PROTOCOL_VERSION}`
const theirs = `${FUTURE.min}-${FUTURE.max}`

test('connecting to a peer with no common version fails with INCOMPATIBLE_VERSION', async () => {
  await forEachSeed(import.meta.url, 'INCOMPATIBLE_VERSION', async (sim) => {
    const { a, b } = twoNodes(sim, CONDITIONS, { b: { versions: FUTURE } })
    // Both directions: the dialler may be either the old or the new peer.
    const fromOld = await failure(sim, a.manager.connect(b.identityPublicKey))
    assert.ok(isParleyError(fromOld, 'INCOMPATIBLE_VERSION'), `old dialler got ${String(fromOld)}`)
    assert.match(fromOld.message, new RegExp(`peer speaks protocol ${theirs}, we speak ${ours}`))
    const fromNew = await failure(sim, b.manager.connect(a.identityPublicKey))
    assert.ok(isParleyError(fromNew, 'INCOMPATIBLE_VERSION'), `new dialler got ${String(fromNew)}`)
    assert.match(fromNew.message, new RegExp(`peer speaks protocol ${ours}, we speak ${theirs}`))
    // The accepting sides refuse a moment later, or, if the dialler's hello was lost and its
    // link destroyed before a retransmit, once their link times out.
    const refused = () =>
      a.manager.counters.get('hello_failed') === 2 && b.manager.counters.get('hello_failed') === 2
    assert.ok(
      await sim.run_until_true(refused, LINK_DEATH_MS_MAX),
      'both sides refused both sessions',
    )
    assert.equal(a.manager.list().length, 0)
    assert.equal(b.manager.list().length, 0)
  })
})

test('a device announced under another identity fails with IDENTITY_MISMATCH', async () => {
  await forEachSeed(import.meta.url, 'IDENTITY_MISMATCH', async (sim) => {
    const hub = new SimHub(sim, CONDITIONS)
    const a = addNode(sim, hub, 'a')
    // Mallory announces her device under Bob's identity; Bob himself is offline.
    const bob = generateKeyPair(Buffer.from(sim.random.bytes(32)))
    const mallory = addNode(sim, hub, 'mallory', { announceAs: bob.publicKey })
    const err = await failure(sim, a.manager.connect(bob.publicKey))
    assert.ok(isParleyError(err, 'IDENTITY_MISMATCH'), `got ${String(err)}`)
    assert.equal(a.manager.list().length, 0, 'no session was kept')
    await sim.run_for(ANSWER_MS_MAX)
    assert.equal(
      mallory.manager.list().filter((s) => !s.closed).length,
      0,
      'Mallory was told goodbye',
    )
  })
})

test('a lying announcement does not stop the real device from being reached', async () => {
  await forEachSeed(import.meta.url, 'lying announcement', async (sim) => {
    const hub = new SimHub(sim, CONDITIONS)
    const a = addNode(sim, hub, 'a')
    const bob = generateKeyPair(Buffer.from(sim.random.bytes(32)))
    // Mallory's lie is found first; Bob's real device is the second answer.
    addNode(sim, hub, 'mallory', { announceAs: bob.publicKey })
    const b = addNode(sim, hub, 'b', { identity: bob })
    const session = await sim.resolve(
      a.manager.connect(bob.publicKey),
      2 * ANSWER_MS_MAX,
      'connect',
    )
    assert.ok(session.remoteIdentityPublicKey?.equals(bob.publicKey))
    assert.ok(session.remoteDevicePublicKey.equals(b.devicePublicKey))
  })
})

async function failure(sim: Sim, promise: Promise<unknown>): Promise<Error> {
  const r = await sim.settle(promise, ANSWER_MS_MAX)
  assert.ok(r !== null, `no answer within ${ANSWER_MS_MAX} ms`)
  assert.ok(!r.ok, 'the connect succeeded')
  assert.ok(r.error instanceof Error)
  return r.error
}

test('Hello flags reach the other side (a supernode says so)', async () => {
  await forEachSeed(import.meta.url, 'Hello flags', async (sim) => {
    const { a, b } = twoNodes(sim, CONDITIONS, { b: { flags: HELLO_FLAG_SUPERNODE } })
    const session = await sim.resolve(
      a.manager.connect(b.identityPublicKey),
      ANSWER_MS_MAX,
      'connect',
    )
    assert.equal(session.remoteFlags, HELLO_FLAG_SUPERNODE)
    // B learns of the session when A's hello reaches it, a moment later.
    assert.ok(
      await sim.run_until_true(
        () => b.manager.get(a.identityPublicKey) !== undefined,
        ANSWER_MS_MAX,
      ),
    )
    assert.equal(b.manager.get(a.identityPublicKey)?.remoteFlags, 0)
    a.manager.close()
    b.manager.close()
  })
})
