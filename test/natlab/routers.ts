import { execIn } from './netns.js'

// What each home router does, as one iptables-restore document per router.
// WAN is `wan` (on the public segment), LAN is `lan` (towards the one host).

export type HostKind = 'open' | 'cone' | 'symmetric' | 'udp-blocked' | 'proxy-only'

export const HOST_KINDS: readonly HostKind[] = [
  'open',
  'cone',
  'symmetric',
  'udp-blocked',
  'proxy-only',
]

/** Chain every forwarded packet passes first; `setLoss` rewrites only this chain. */
export const LOSS_CHAIN = 'LAB_LOSS'

export interface RouterContext {
  /** The HTTP CONNECT proxy, the only place a proxy-only host may reach. */
  proxy_host: string
  proxy_port: number
}

/** The filter and nat tables for a router of this kind. */
export function routerRules(kind: HostKind, ctx: RouterContext): string {
  const filter = ['*filter', `:${LOSS_CHAIN} - [0:0]`, `-A FORWARD -j ${LOSS_CHAIN}`]
  const nat = ['*nat']
  if (kind !== 'open') {
    // Port-preserving MASQUERADE behaves like a cone NAT; --random-fully picks a
    // fresh port per destination, which is what "symmetric" means to hyperdht.
    nat.push(`-A POSTROUTING -o wan -j MASQUERADE${kind === 'symmetric' ? ' --random-fully' : ''}`)
    // Unsolicited packets to the router itself must die: otherwise an early
    // punch packet creates a conntrack entry that steals the NAT mapping and
    // punching fails with HOLEPUNCH_ABORTED.
    filter.push('-A INPUT -i wan -m conntrack --ctstate NEW -j DROP')
    filter.push('-A FORWARD -i wan -m conntrack --ctstate NEW -j DROP')
  }
  if (kind === 'udp-blocked') filter.push('-A FORWARD -i lan -p udp -j DROP')
  if (kind === 'proxy-only') {
    filter.push('-A FORWARD -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT')
    filter.push(
      `-A FORWARD -i lan -p tcp -d ${ctx.proxy_host} --dport ${ctx.proxy_port} -j ACCEPT`,
      '-A FORWARD -j DROP',
    )
  }
  return `${filter.join('\n')}\nCOMMIT\n${nat.join('\n')}\nCOMMIT\n`
}

export async function applyRouterRules(ns: string, kind: HostKind, ctx: RouterContext) {
  await execIn(ns, 'iptables-restore', [], routerRules(kind, ctx))
}

/**
 * Random loss on everything the router forwards, each direction independently
 * (no netem in this kernel). probability 0 removes it.
 */
export async function setRouterLoss(ns: string, probability: number): Promise<void> {
  if (!(probability >= 0 && probability < 1)) throw new Error(`loss ${probability} not in [0, 1)`)
  await execIn(ns, 'iptables', ['-F', LOSS_CHAIN])
  if (probability === 0) return
  await execIn(ns, 'iptables', [
    '-A',
    LOSS_CHAIN,
    '-m',
    'statistic',
    '--mode',
    'random',
    '--probability',
    String(probability),
    '-j',
    'DROP',
  ])
}

/** What hyperdht can do between two kinds without a relay (issue 3's measurements). */
export function canGoDirect(a: HostKind, b: HostKind): boolean {
  const udp = (k: HostKind) => k === 'open' || k === 'cone' || k === 'symmetric'
  return udp(a) && udp(b) && !(a === 'symmetric' && b === 'symmetric')
}
