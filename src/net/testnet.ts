import DHT from 'hyperdht'
import type { HostPort } from './hostcache.js'
import { freeUdpPort } from './node.js'

// A private bootstrap DHT for a LAN, a lab or CI: the first node listens on
// the given host:port and is the bootstrap address others use.

export interface Testnet {
  bootstrap: HostPort[]
  nodes: DHT[]
  destroy(): Promise<void>
}

export async function startTestnet(opts: {
  host?: string
  port?: number
  nodes?: number
  /** Join an existing network instead of starting a new one. */
  bootstrap?: HostPort[]
}): Promise<Testnet> {
  const host = opts.host ?? '127.0.0.1'
  const size = Math.max(1, opts.nodes ?? 3)
  const nodes: DHT[] = []
  const bootstrap = opts.bootstrap ? [...opts.bootstrap] : []
  try {
    for (let i = 0; i < size; i++) {
      const node = new DHT({
        ephemeral: false,
        firewalled: false,
        bootstrap,
        host,
        // hyperdht reads port 0 as its default 49737: pick free ports explicitly.
        port: i === 0 && opts.port ? opts.port : await freeUdpPort(host),
      })
      nodes.push(node)
      await node.fullyBootstrapped()
      if (bootstrap.length === 0) bootstrap.push({ host, port: node.address().port })
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.destroy()))
    throw err
  }
  const first = nodes[0]!
  return {
    bootstrap: opts.bootstrap ? [{ host, port: first.address().port }] : bootstrap,
    nodes,
    async destroy() {
      await Promise.all(nodes.map((n) => n.destroy()))
    },
  }
}
