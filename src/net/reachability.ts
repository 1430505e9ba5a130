import { networkInterfaces } from 'node:os'

// What `parley status` reports about this host's network position.
// - open: DHT nodes reach us unsolicited (public address, or a forwarded port)
// - consistent-nat: unsolicited packets do not reach us, but our external port
//   is the same towards every peer (a port-preserving NAT, or a stateful
//   firewall on a public address: `behind_nat` in status tells which);
//   hole punching works with most peers
// - randomising-nat: the NAT picks a new port per destination (symmetric);
//   punching works only against consistent peers, otherwise a relay is needed
// - udp-blocked: we have a network but no DHT node ever answered over UDP
// - offline: no network interface besides loopback
// - unknown: still probing
export type Reachability =
  | 'open'
  | 'consistent-nat'
  | 'randomising-nat'
  | 'udp-blocked'
  | 'offline'
  | 'unknown'

export interface DhtView {
  bootstrapped: boolean
  firewalled: boolean
  randomized: boolean
  host: string | null
  routingTableSize: number
}

/** `hasNetwork` is asked only when no DHT node answered (it reads the interfaces: not for every dial). */
export function classifyReachability(dht: DhtView, hasNetwork: () => boolean): Reachability {
  if (!dht.bootstrapped) return 'unknown'
  if (dht.routingTableSize === 0) {
    // Without a TCP probe we cannot tell a UDP firewall from a dead bootstrap
    // list; the supernode gateway (TCP) will refine this. Say the likelier one.
    return hasNetwork() ? 'udp-blocked' : 'offline'
  }
  if (!dht.firewalled) return 'open'
  if (dht.randomized) return 'randomising-nat'
  return 'consistent-nat'
}

/** True when some interface other than loopback has an address. */
export function hostHasNetwork(): boolean {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (!addr.internal) return true
  }
  return false
}

/** True when `host` is one of this machine's own addresses (then there is no NAT in between). */
export function isLocalAddress(host: string): boolean {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (addr.address === host) return true
  }
  return false
}
