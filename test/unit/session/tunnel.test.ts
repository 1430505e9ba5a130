// Gateway tunnels (src/session/tunnel.ts) over real protomux on an in-memory
// stream pair. A tunnel given up before the far side answered it (a gateway
// whose session towards the target went away, an opener that gave up) must
// not leave the far side holding a channel that makes it destroy the whole
// session when the next tunnel opens: protomux ignores a close for a channel
// it has not paired yet, then pairs it when the far side accepts.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import Protomux from 'protomux'
import type { Session } from '../../../src/session/index.js'
import {
  acceptTunnel,
  startTunnel,
  type TunnelStream,
  watchTunnels,
} from '../../../src/session/tunnel.js'
import { seededRandom } from '../../../src/util/random.js'
import { streamPair } from '../transfer/helpers.js'

const fakeSession = (mux: Protomux, stream: unknown) =>
  ({ mux, stream, closed: false }) as unknown as Session

test('a tunnel closed before the far side answered does not take the session down with it', async () => {
  const [a, b] = streamPair()
  const opener = fakeSession(new Protomux(a), a)
  const far = fakeSession(new Protomux(b), b)
  const target = Buffer.alloc(32, 7)
  const random = seededRandom(1)
  // The far side decides only after a while (as a device still in its hello does).
  const accepted: TunnelStream[] = []
  let release: () => void = () => {}
  const decided = new Promise<void>((resolve) => {
    release = resolve
  })
  const refused: string[] = []
  watchTunnels(
    far,
    async (id) => {
      await decided
      // Read as the inner handshake would, so an end is taken at once.
      accepted.push(acceptTunnel(far, id).resume())
    },
    (reason) => refused.push(reason),
  )

  // Opened and given up at once, before the far side answered.
  const first = startTunnel(opener, target, random)
  first.tunnel.destroy()
  await new Promise((r) => setTimeout(r, 20))
  release()
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(accepted.length, 1)

  // The next tunnel reuses protomux's channel id; the far side must take it.
  const second = startTunnel(opener, target, random)
  let timer: NodeJS.Timeout | undefined
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the second tunnel was never answered')), 2000)
  })
  await Promise.race([second.accepted, gaveUp]).finally(() => clearTimeout(timer))
  assert.equal(b.destroyed, false, 'the far side kept the session')
  assert.equal(a.destroyed, false)
  assert.equal(accepted.length, 2)
  // The tunnel given up was closed on the far side too, once it answered.
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(accepted[0]!.destroyed, true, "the far side's copy of the first tunnel closed")
  assert.equal(accepted[1]!.destroyed, false)
  assert.deepEqual(refused, [])
  second.tunnel.destroy()
  a.destroy()
  b.destroy()
})
