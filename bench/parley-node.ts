import type { IdentityKeys } from '../src/identity/index.js'
import { NetworkNode } from '../src/net/index.js'
import { SessionManager } from '../src/session/index.js'
import { systemClock } from '../src/util/clock.js'
import { systemRandom } from '../src/util/random.js'

/** A Parley node without the daemon around it: network + sessions, for benchmarks. */
export async function startParleyNode(
  bootstrap: { host: string; port: number }[],
  keys: IdentityKeys,
) {
  let manager: SessionManager | null = null
  const net = await NetworkNode.create({
    keyPair: keys.device,
    bootstrap,
    hostCachePath: null,
    port: 0,
    onConnection: (socket) => void manager?.adopt(socket, null).catch(() => {}),
  })
  manager = new SessionManager({
    network: net,
    certificate: keys.certificate,
    clock: systemClock,
    random: systemRandom,
    agent: 'bench',
  })
  await net.start()
  return { net, manager }
}
