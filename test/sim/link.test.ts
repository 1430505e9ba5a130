// The simulated link is only worth its tests if it really is what UDX gives
// the session layer: every message once, in order, whole, over a network that
// loses, duplicates and reorders; and a dead path closes both ends.

import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import type { FramedStream } from '../../src/session/types.js'
import { isParleyError } from '../../src/util/errors.js'
import { forEachSeed } from './harness.js'
import type { LinkStream } from './link.js'
import type { LinkConditions } from './network.js'
import { LINK_KEEPALIVE_MS, RTO_MS_MAX, RTO_TIMEOUTS_MAX } from './packet.js'
import { LINK_CONNECT_TIMEOUT_MS, SimHub } from './peer-network.js'
import type { Sim } from './sim.js'

const HOSTILE: LinkConditions = {
  latency_ms: 20,
  jitter_ms: 50,
  loss_probability: 0.2,
  duplicate_probability: 0.2,
}
const MESSAGES = 300
const MESSAGE_BYTES_MAX = 3_000
/** Backed-off RTOs 1 + 2 + 4 + 8 + 16 s, then the sixth timeout (30 s) kills the link. */
const DEATH_MS_MAX = LINK_KEEPALIVE_MS + 31_000 + RTO_MS_MAX + 1_000

interface Pair {
  hub: SimHub
  x: LinkStream
  y: LinkStream
}

async function linkPair(sim: Sim, conditions: LinkConditions): Promise<Pair> {
  // Dial over a clean network: a SYN lost four times is a (tested) failed dial, not this test.
  const hub = new SimHub(sim, { ...conditions, loss_probability: 0 })
  const keyX = Buffer.from(sim.random.bytes(32))
  const keyY = Buffer.from(sim.random.bytes(32))
  let accepted: FramedStream | null = null
  hub.addHost('x', keyX, () => assert.fail('x accepts nothing'))
  hub.addHost('y', keyY, (stream) => {
    accepted = stream
  })
  const dial = hub.peerNetwork('x').connect({ publicKey: keyY, relayAddresses: [] })
  const x = (await sim.resolve(dial, 60_000, 'dial')) as unknown as LinkStream
  assert.ok(accepted !== null)
  hub.network.configure('x', 'y', conditions)
  return { hub, x, y: accepted as unknown as LinkStream }
}

function messages(sim: Sim): Buffer[] {
  return Array.from({ length: MESSAGES }, () => {
    const size = 1 + Math.floor(sim.random.float() * MESSAGE_BYTES_MAX)
    return Buffer.from(sim.random.bytes(size))
  })
}

/** Writes with backpressure, as protomux would; resumes on 'drain', which sim events emit. */
async function writeAll(stream: LinkStream, list: Buffer[]): Promise<void> {
  for (const m of list) if (!stream.write(m)) await once(stream, 'drain')
  stream.end(undefined)
}

function collect(stream: LinkStream): Buffer[] {
  const got: Buffer[] = []
  stream.on('data', (m: unknown) => got.push(m as Buffer))
  return got
}

test('a link delivers every message once, in order and whole, over a hostile network', async () => {
  await forEachSeed(import.meta.url, 'every message once', async (sim) => {
    const { x, y } = await linkPair(sim, HOSTILE)
    const toY = messages(sim)
    const toX = messages(sim)
    const atY = collect(y)
    const atX = collect(x)
    const closed = Promise.all([once(x, 'close'), once(y, 'close')])
    void writeAll(x, toY)
    void writeAll(y, toX)
    await sim.resolve(closed, 600_000, 'both ends closed after end()')
    assert.equal(atY.length, MESSAGES)
    assert.equal(atX.length, MESSAGES)
    for (let i = 0; i < MESSAGES; i++) {
      assert.ok(atY[i]!.equals(toY[i]!), `message ${i} to y`)
      assert.ok(atX[i]!.equals(toX[i]!), `message ${i} to x`)
    }
    assert.equal(x.closeReason, 'ended')
    assert.equal(y.closeReason, 'ended')
    assert.ok(x.counters.get('retransmits') > 0 && y.counters.get('duplicates_received') > 0)
  })
})

test('a partition closes both ends of a link, idle or not', async () => {
  await forEachSeed(import.meta.url, 'partition closes both ends', async (sim) => {
    const { hub, x, y } = await linkPair(sim, { ...HOSTILE, loss_probability: 0.01 })
    await sim.run_for(sim.random.float() * 20_000)
    const cut_ms = sim.now()
    const closed = Promise.all([once(x, 'close'), once(y, 'close')])
    hub.network.partition('x', 'y')
    await sim.resolve(closed, DEATH_MS_MAX, 'both ends closed')
    assert.ok(sim.now() - cut_ms >= 31_000, `closed after only ${sim.now() - cut_ms} ms`)
    assert.equal(x.closeReason, 'timeout')
    assert.equal(y.closeReason, 'timeout')
    assert.ok(x.counters.get('rto_timeouts') >= RTO_TIMEOUTS_MAX)
  })
})

test('destroying one end closes the other', async () => {
  await forEachSeed(import.meta.url, 'destroying one end', async (sim) => {
    const { x, y } = await linkPair(sim, { ...HOSTILE, loss_probability: 0 })
    const closed = Promise.all([once(x, 'close'), once(y, 'close')])
    y.destroy()
    await sim.resolve(closed, 1_000, 'both ends closed')
    assert.equal(y.closeReason, 'local')
    assert.equal(x.closeReason, 'reset')
  })
})

test('dialling a host that is down fails with PEER_NOT_FOUND after the connect timeout', async () => {
  await forEachSeed(import.meta.url, 'host that is down', async (sim) => {
    const hub = new SimHub(sim, HOSTILE)
    const keyY = Buffer.from(sim.random.bytes(32))
    hub.addHost('x', Buffer.from(sim.random.bytes(32)), () => {})
    hub.addHost('y', keyY, () => assert.fail('y is down'))
    hub.network.setHostUp('y', false)
    const start_ms = sim.now()
    const r = await sim.settle(
      hub.peerNetwork('x').connect({ publicKey: keyY, relayAddresses: [] }),
      2 * LINK_CONNECT_TIMEOUT_MS,
    )
    assert.ok(
      r !== null && !r.ok && isParleyError(r.error, 'PEER_NOT_FOUND'),
      `got ${JSON.stringify(r)}`,
    )
    assert.equal(sim.now() - start_ms, LINK_CONNECT_TIMEOUT_MS)
    await sim.run_until_idle(1_000)
    assert.equal(sim.clock.pending, 0, 'the failed dial left no timer behind')
  })
})
