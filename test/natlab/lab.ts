import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI_PATH } from '../../src/daemon/spawn.js'
import { runCli } from '../helpers/cli.js'
import { deleteNamespaceSync, execIn, ipIn, NS_PREFIX, removeStaleNamespaces } from './netns.js'
import { cliIn, jsonDocument, type LabProcess, startIn, tinyproxyConfig } from './procs.js'
import { applyRouterRules, type HostKind, setRouterLoss } from './routers.js'
import {
  addNamespace,
  attachHost,
  attachToPublic,
  BOOTSTRAP_PORT,
  bootstrapAddress,
  buildPublicSegment,
  GATEWAY_PORT,
  lanAddresses,
  PROXY_ADDRESS,
  PROXY_PORT,
  PUBLIC_PREFIX_LEN,
  routerWanAddress,
  SUPERNODES_MAX,
  supernodeAddress,
  TESTNET_HOSTS,
  TESTNET_NODES_PER_HOST,
} from './topology.js'

// A NAT lab: a public segment with a bootstrap DHT, optional supernodes and an
// HTTP CONNECT proxy, and home hosts behind routers of each kind, all running
// the real `parley` CLI. See README.md for the topology.

export interface LabHost {
  name: string
  kind: HostKind
  ns: string
  router_ns: string
  address: string
  home: string
  id: string
  daemon: LabProcess | null
}

export interface Supernode {
  ns: string
  address: string
  home: string
  id: string
  daemon: LabProcess
}

const labs = new Set<NatLab>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Synchronous: 'exit' handlers cannot wait. Signals otherwise skip 'exit'.
  process.on('exit', () => {
    for (const lab of labs) lab.destroySync()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const lab of labs) lab.destroySync()
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15))
    })
  }
}

/** The delay line, kept as Python source next to the compiled lab (build/test/natlab → test/natlab). */
const DELAY_SCRIPT = fileURLToPath(new URL('../../../test/natlab/delay.py', import.meta.url))

export class NatLab {
  readonly prefix = `${NS_PREFIX}${process.pid}-`
  readonly pub = `${this.prefix}pub`
  readonly dir: string
  readonly hosts: LabHost[] = []
  readonly supernodes: Supernode[] = []
  bootstrap = ''
  boot_ns = ''
  private readonly namespaces: string[] = []
  private readonly procs: LabProcess[] = []
  private ports = 0
  private routers = 0
  private destroyed = false

  private constructor(dir: string) {
    this.dir = dir
  }

  /** The public segment, a 3-node bootstrap testnet and (optionally) the proxy. */
  static async create(opts: { proxy?: boolean; log?: (line: string) => void } = {}) {
    installExitHook()
    const stale = removeStaleNamespaces()
    if (stale.length > 0) opts.log?.(`removed ${stale.length} stale lab namespaces`)
    const lab = new NatLab(mkdtempSync(join(tmpdir(), 'parley-natlab-')))
    labs.add(lab)
    try {
      lab.namespaces.push(lab.pub)
      await buildPublicSegment(lab.pub)
      await lab.startBootstrap()
      if (opts.proxy !== false) await lab.startProxy()
    } catch (err) {
      lab.destroySync()
      throw err
    }
    return lab
  }

  private async publicNamespace(role: string, address: string): Promise<string> {
    const ns = `${this.prefix}${role}`
    this.namespaces.push(ns)
    await addNamespace(ns)
    await attachToPublic(this.pub, ns, `p${this.ports++}`, address)
    return ns
  }

  private readonly delayLines = new Map<string, LabProcess>()

  private track = (p: LabProcess) => {
    this.procs.push(p)
  }

  /**
   * The bootstrap DHT: TESTNET_HOSTS processes on distinct public addresses.
   * hyperdht classifies a NAT from pings to at least 3 routing-table nodes,
   * so a tiny testnet leaves every host "unknown" and punching aborts.
   */
  private async startBootstrap(): Promise<void> {
    const ns = await this.publicNamespace('boot', bootstrapAddress(0))
    this.boot_ns = ns
    for (let i = 1; i < TESTNET_HOSTS; i++) {
      await ipIn(ns, 'addr', 'add', `${bootstrapAddress(i)}/${PUBLIC_PREFIX_LEN}`, 'dev', 'wan')
    }
    for (let i = 0; i < TESTNET_HOSTS; i++) {
      const args = [CLI_PATH, 'testnet', '--json', '--nodes', String(TESTNET_NODES_PER_HOST)]
      args.push('--host', bootstrapAddress(i), '--port', String(BOOTSTRAP_PORT))
      if (i > 0) args.push('--bootstrap', this.bootstrap)
      const { value } = await startIn({
        name: `testnet${i}`,
        ns,
        cmd: process.execPath,
        args,
        ready: (out) => jsonDocument<{ bootstrap: string }>(out),
        onSpawn: this.track,
      })
      if (i === 0) this.bootstrap = value.bootstrap
    }
  }

  private async startProxy(): Promise<void> {
    const ns = await this.publicNamespace('proxy', PROXY_ADDRESS)
    const conf = join(this.dir, 'tinyproxy.conf')
    const pid_file = join(this.dir, 'tinyproxy.pid')
    writeFileSync(conf, tinyproxyConfig({ host: PROXY_ADDRESS, port: PROXY_PORT, pid_file }))
    // -d: stay in the foreground, so the PID we hold is the proxy itself.
    await startIn({
      name: 'tinyproxy',
      ns,
      cmd: 'tinyproxy',
      args: ['-d', '-c', conf],
      ready: () => true,
      timeout_ms: 10_000,
      onSpawn: this.track,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n(install it with: apt-get install tinyproxy)`)
    })
  }

  /**
   * Starts `parley daemon --supernode` on a public address. Resolves null with
   * the reason when this build has no supernode role yet.
   */
  async addSupernode(): Promise<Supernode | { unsupported: string }> {
    const i = this.supernodes.length
    if (i >= SUPERNODES_MAX) throw new Error('too many supernodes')
    const home = join(this.dir, `supernode${i}`)
    const id = await this.init(home, `supernode${i}`)
    const ns = await this.publicNamespace(`sn${i}`, supernodeAddress(i))
    const args = ['daemon', '--supernode', '--home', home, '--bootstrap', this.bootstrap]
    // The TCP gateway for the udp-blocked and proxy-only hosts, on the port firewalls pass.
    args.push('--gateway-port', String(GATEWAY_PORT))
    try {
      const { proc } = await this.startDaemonProcess(`supernode${i}`, ns, args)
      const sn = { ns, address: supernodeAddress(i), home, id, daemon: proc }
      this.supernodes.push(sn)
      return sn
    } catch (err) {
      const message = (err as Error).message
      if (/supernode/.test(message) && /unknown|USAGE|option/i.test(message)) {
        return { unsupported: '`parley daemon --supernode` is not available in this build' }
      }
      throw err
    }
  }

  /** A home host of the given kind behind its own router; its daemon is not started yet. */
  async addHost(name: string, kind: HostKind): Promise<LabHost> {
    const k = this.routers++
    const router_ns = await this.publicNamespace(`r${k}`, routerWanAddress(k))
    const ns = `${this.prefix}h${k}`
    this.namespaces.push(ns)
    await addNamespace(ns)
    const lan = lanAddresses(k, kind === 'open')
    await attachHost(router_ns, ns, lan)
    await applyRouterRules(router_ns, kind, { proxy_host: PROXY_ADDRESS, proxy_port: PROXY_PORT })
    if (kind === 'open')
      await ipIn(this.pub, 'route', 'add', lan.subnet, 'via', routerWanAddress(k))
    const home = join(this.dir, name)
    const id = await this.init(home, name)
    const host: LabHost = { name, kind, ns, router_ns, address: lan.host, home, id, daemon: null }
    this.hosts.push(host)
    return host
  }

  /** Any process inside a lab namespace, stopped with the lab. */
  async start<T>(name: string, ns: string, args: string[], ready: (out: string) => T | null) {
    const opts = { name, ns, cmd: process.execPath, args, ready, onSpawn: this.track }
    return (await startIn(opts)).value
  }

  async startDaemon(host: LabHost, extra_args: string[] = []): Promise<void> {
    if (host.daemon !== null) throw new Error(`${host.name} already runs a daemon`)
    const args = ['daemon', '--home', host.home, '--bootstrap', this.bootstrap, ...extra_args]
    args.push(...this.reachArgs(host.kind))
    host.daemon = (await this.startDaemonProcess(host.name, host.ns, args)).proc
  }

  /** How a host without UDP reaches the network: the first supernode's gateway (via the proxy). */
  private reachArgs(kind: HostKind): string[] {
    if (kind !== 'udp-blocked' && kind !== 'proxy-only') return []
    const sn = this.supernodes[0]
    if (sn === undefined) throw new Error(`a ${kind} host needs a supernode (addSupernode) first`)
    const args = ['--no-udp', '--gateways', `${sn.address}:${GATEWAY_PORT}`]
    if (kind === 'proxy-only') args.push('--proxy', `http://${PROXY_ADDRESS}:${PROXY_PORT}`)
    return args
  }

  async stopDaemon(host: LabHost): Promise<void> {
    await host.daemon?.stop()
    host.daemon = null
  }

  private startDaemonProcess(name: string, ns: string, args: string[]) {
    return startIn({
      name,
      ns,
      cmd: process.execPath,
      args: [CLI_PATH, ...args, '--port', '0', '--json'],
      ready: (out) => jsonDocument<{ ready: boolean }>(out),
      timeout_ms: 45_000,
      onSpawn: this.track,
    })
  }

  private async init(home: string, name: string): Promise<string> {
    const args = ['init', '--home', home, '--name', name, '--no-passphrase', '--json']
    const init = await runCli(args)
    if (init.code !== 0) throw new Error(`parley init ${name} failed: ${init.stderr}`)
    return (JSON.parse(init.stdout) as { id: string }).id
  }

  /** `parley <args> --home <host's home> --json` run inside the host's namespace. */
  cli(host: LabHost, args: string[], timeout_ms = 30_000) {
    return cliIn(host.ns, [...args, '--home', host.home, '--json'], timeout_ms)
  }

  /** Loss on one host's router, or on every router with `'all'`. */
  async setLoss(target: LabHost | 'all', probability: number): Promise<void> {
    const routers = target === 'all' ? this.hosts.map((h) => h.router_ns) : [target.router_ns]
    await Promise.all(routers.map((ns) => setRouterLoss(ns, probability)))
  }

  /**
   * Delay on one host's router, or on every router: each packet the router
   * sends out (either way) is held `one_way_ms`. Two home hosts then see
   * 4 × one_way_ms more round-trip time, a home host and a public server 2 ×.
   * No netem here: an NFQUEUE delay line (delay.py) in the router namespace.
   */
  async setDelay(target: LabHost | 'all', one_way_ms: number): Promise<void> {
    const routers = target === 'all' ? this.hosts.map((h) => h.router_ns) : [target.router_ns]
    await Promise.all(
      routers.map(async (ns) => {
        const old = this.delayLines.get(ns)
        if (old !== undefined) {
          await old.stop()
          this.delayLines.delete(ns)
          await execIn(ns, 'iptables', ['-t', 'mangle', '-F', 'POSTROUTING'])
        }
        if (one_way_ms <= 0) return
        const { proc } = await startIn({
          name: `delay-${ns}`,
          ns,
          cmd: 'python3',
          args: [DELAY_SCRIPT, '0', String(one_way_ms)],
          ready: (out) => (out.includes('ready') ? true : null),
          timeout_ms: 10_000,
          onSpawn: this.track,
        })
        this.delayLines.set(ns, proc)
        const rule = ['-t', 'mangle', '-A', 'POSTROUTING', '-j', 'NFQUEUE', '--queue-num', '0']
        await execIn(ns, 'iptables', [...rule, '--queue-bypass'])
      }),
    )
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()))
    this.destroySync()
  }

  /** Kills every process this lab started (by PID) and deletes its namespaces. */
  destroySync(): void {
    if (this.destroyed) return
    this.destroyed = true
    labs.delete(this)
    for (const p of this.procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
    }
    for (const ns of this.namespaces.reverse()) deleteNamespaceSync(ns)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
