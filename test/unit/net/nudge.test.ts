import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { NoiseSocket } from 'hyperdht'
import { RELAY_NUDGE_POLL_MS, RELAY_NUDGES_MAX } from '../../../src/net/constants.js'
import { nudgeRelayedStream } from '../../../src/net/dial.js'

// The nudge (src/net/dial.ts) re-sends a relayed stream's lost first flight:
// it writes an empty message only when the peer's packets arrive while ours
// are still unacknowledged, at most RELAY_NUDGES_MAX times, and stops once
// everything we sent is acknowledged.

/** A socket that has sent `unacked` packets, none acknowledged yet, and already started nudging. */
function nudgedSocket(unacked: number, opts: { destroyed?: boolean } = {}) {
  const raw = { packetsTransmitted: unacked, packetsReceived: 0, inflight: unacked }
  const writes: Buffer[] = []
  const socket = {
    rawStream: raw,
    destroyed: opts.destroyed ?? false,
    write(b: Buffer) {
      writes.push(b)
      return true
    },
  }
  nudgeRelayedStream(socket as unknown as NoiseSocket)
  return { raw, writes }
}

const settle = () => sleep(RELAY_NUDGE_POLL_MS * 6)

test('no nudge while nothing arrives from the peer', async () => {
  const { writes } = nudgedSocket(3)
  await settle()
  assert.equal(writes.length, 0)
})

test('a packet from the peer while ours are unacknowledged triggers one empty write', async () => {
  const { raw, writes } = nudgedSocket(3)
  raw.packetsReceived = 1
  await settle()
  assert.equal(writes.length, 1)
  assert.equal(writes[0]!.byteLength, 0, 'the nudge is an empty message')
  raw.inflight = 0 // the peer acknowledged: nudging stops
  raw.packetsReceived = 2
  await settle()
  assert.equal(writes.length, 1)
})

test('never more than RELAY_NUDGES_MAX nudges', async () => {
  const { raw, writes } = nudgedSocket(1)
  for (let i = 1; i <= RELAY_NUDGES_MAX + 3; i++) {
    raw.packetsReceived = i
    await sleep(RELAY_NUDGE_POLL_MS * 3)
  }
  assert.ok(writes.length >= 1 && writes.length <= RELAY_NUDGES_MAX, `${writes.length} nudges`)
})

test('a destroyed socket is left alone', async () => {
  const { raw, writes } = nudgedSocket(1, { destroyed: true })
  raw.packetsReceived = 1
  await settle()
  assert.equal(writes.length, 0)
})
