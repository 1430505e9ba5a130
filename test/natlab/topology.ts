import { ipIn, run, sysctlIn } from './netns.js'

// Addresses (all from the documentation ranges, RFC 5737):
//   203.0.113.0/24   the public segment: a bridge `pubbr` in the "pub" namespace
//                    (203.0.113.1, the default gateway of everything on it)
//   203.0.113.3      HTTP CONNECT proxy
//   203.0.113.4+i    bootstrap testnet process i (3 DHT nodes each), port 49737 first
//   203.0.113.10+i   supernode i              203.0.113.100+k  router k's WAN
//   198.51.100.16k/28  router k's LAN behind NAT (router .16k+1, host .16k+2)
//   192.0.2.16k/28     router k's LAN for an open host: routed, not translated;
//                      the pub namespace routes it via router k's WAN

export const PUBLIC_PREFIX_LEN = 24
export const PUBLIC_GATEWAY = '203.0.113.1'
export const TESTNET_HOSTS = 3
export const TESTNET_NODES_PER_HOST = 3
export const bootstrapAddress = (i: number) => `203.0.113.${4 + i}`
export const BOOTSTRAP_PORT = 49737
export const PROXY_ADDRESS = '203.0.113.3'
export const PROXY_PORT = 8888
export const ROUTERS_MAX = 15
export const SUPERNODES_MAX = 20

export const supernodeAddress = (i: number) => `203.0.113.${10 + i}`
export const routerWanAddress = (k: number) => `203.0.113.${100 + k}`

/** LAN addresses behind router k: open hosts get routable ones, others private ones. */
export function lanAddresses(k: number, routed: boolean) {
  if (k < 0 || k >= ROUTERS_MAX) throw new Error(`router index ${k} out of range`)
  const base = routed ? '192.0.2' : '198.51.100'
  return {
    subnet: `${base}.${16 * k}/28`,
    router: `${base}.${16 * k + 1}`,
    host: `${base}.${16 * k + 2}`,
  }
}

export async function addNamespace(ns: string): Promise<void> {
  await run('ip', ['netns', 'add', ns])
  await ipIn(ns, 'link', 'set', 'lo', 'up')
}

/** The public segment: a bridge with the gateway address, forwarding between hosts. */
export async function buildPublicSegment(pub: string): Promise<void> {
  await addNamespace(pub)
  await ipIn(pub, 'link', 'add', 'name', 'pubbr', 'type', 'bridge')
  await ipIn(pub, 'addr', 'add', `${PUBLIC_GATEWAY}/${PUBLIC_PREFIX_LEN}`, 'dev', 'pubbr')
  await ipIn(pub, 'link', 'set', 'pubbr', 'up')
  await sysctlIn(pub, 'net.ipv4.ip_forward', '1')
  // Routed open hosts are reached by bouncing off this gateway; redirects would
  // only add noise to packet captures.
  await sysctlIn(pub, 'net.ipv4.conf.all.send_redirects', '0')
  await sysctlIn(pub, 'net.ipv4.conf.pubbr.send_redirects', '0')
}

/** Plugs namespace `ns` into the bridge as `wan` with a public address. */
export async function attachToPublic(
  pub: string,
  ns: string,
  port_name: string,
  address: string,
): Promise<void> {
  await run('ip', [
    'link',
    'add',
    port_name,
    'netns',
    pub,
    'type',
    'veth',
    'peer',
    'name',
    'wan',
    'netns',
    ns,
  ])
  await ipIn(pub, 'link', 'set', port_name, 'master', 'pubbr', 'up')
  await ipIn(ns, 'addr', 'add', `${address}/${PUBLIC_PREFIX_LEN}`, 'dev', 'wan')
  await ipIn(ns, 'link', 'set', 'wan', 'up')
  await ipIn(ns, 'route', 'add', 'default', 'via', PUBLIC_GATEWAY)
}

/** Links router `router_ns` (`lan`) to host `host_ns` (`eth`) and routes the host through it. */
export async function attachHost(
  router_ns: string,
  host_ns: string,
  lan: ReturnType<typeof lanAddresses>,
): Promise<void> {
  const prefix = lan.subnet.split('/')[1]
  await run('ip', [
    'link',
    'add',
    'lan',
    'netns',
    router_ns,
    'type',
    'veth',
    'peer',
    'name',
    'eth',
    'netns',
    host_ns,
  ])
  await ipIn(router_ns, 'addr', 'add', `${lan.router}/${prefix}`, 'dev', 'lan')
  await ipIn(router_ns, 'link', 'set', 'lan', 'up')
  await sysctlIn(router_ns, 'net.ipv4.ip_forward', '1')
  await ipIn(host_ns, 'addr', 'add', `${lan.host}/${prefix}`, 'dev', 'eth')
  await ipIn(host_ns, 'link', 'set', 'eth', 'up')
  await ipIn(host_ns, 'route', 'add', 'default', 'via', lan.router)
}

/** The supernodes' TCP gateway port (production's recommended 443; free inside a namespace). */
export const GATEWAY_PORT = 443
