import { createSocket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import type { HostPort, KeyPair, NoiseSocket, Server } from 'hyperdht'
import DHT from 'hyperdht'
import type { Duplex } from 'streamx'
import { ParleyError, throwIfAborted } from '../util/errors.js'
import { ANNOUNCE_REFRESH_MS, identityTopic, supernodeTopic } from '../wire/index.js'
import {
  DEVICES_PER_LOOKUP_MAX,
  HOST_CACHE_NODES_MAX,
  HOST_CACHE_SAVE_INTERVAL_MS,
  LOOKUP_TIMEOUT_MS,
  RANDOM_PUNCH_INTERVAL_MS,
  RELAY_ATTEMPTS_MAX,
  RELAYS_CHECK_MS,
  SUPERNODE_REFRESH_MS,
} from './constants.js'
import { dialOnce, FORCE_RELAY_FOR_TESTS, nudgeRelayedStream, wantsRelay } from './dial.js'
import { dedupe, loadCachedSupernodes, loadHostCache, saveHostCache } from './hostcache.js'
import {
  classifyReachability,
  hostHasNetwork,
  isLocalAddress,
  type Reachability,
} from './reachability.js'
import { secureStream } from './secure.js'
import { RelaySocketTracker, SupernodeDirectory } from './supernodes.js'
import { countingUdx, type TrafficCounters } from './traffic.js'

export interface NetworkNodeOptions {
  /** The device key pair: the Noise static key peers authenticate. */
  keyPair: KeyPair
  /** Bootstrap nodes; null means hyperdht's public bootstrap. */
  bootstrap: HostPort[] | null
  /** Where the host cache lives; null disables it (tests). */
  hostCachePath: string | null
  /** UDP port to bind (0 = any). */
  port: number
  host?: string
  /** Called for every authenticated incoming connection. */
  onConnection: (socket: NoiseSocket) => void
  /**
   * Serve others: a persistent DHT node (stored in others' routing tables)
   * that declares itself reachable. Only for hosts with a public address or a
   * forwarded UDP port; behind a NAT it would fail the peers who rely on it.
   */
  supernode?: boolean
  /** Test-only (see FORCE_RELAY_FOR_TESTS): never connect directly. */
  forceRelay?: boolean
}

export interface DeviceAddress {
  publicKey: Buffer
  relayAddresses: HostPort[]
}

/**
 * One hyperdht node per daemon: bootstrap (host cache first), listen on the
 * device key, announce under the identity topic, find and dial devices.
 */
export class NetworkNode extends EventEmitter {
  readonly dht: DHT
  private server: Server | null = null
  private readonly opts: NetworkNodeOptions
  private readonly announced = new Map<string, Buffer>()
  private supernodeTimer: NodeJS.Timeout | null = null
  readonly supernodes: SupernodeDirectory
  private readonly relays: RelaySocketTracker
  /** The relay each stream started on, until punching moved it to the direct path. */
  private readonly relayOfStream = new WeakMap<object, Buffer>()
  private readonly forceRelay: boolean
  private announceTimer: NodeJS.Timeout | null = null
  private relaysTimer: NodeJS.Timeout | null = null
  /** Per announced kind, the forwarding nodes its record names (see reannounceIfRelaysChanged). */
  private readonly announcedWith = new Map<string, string>()
  private announcing = 0
  private cacheTimer: NodeJS.Timeout | null = null
  private cachedNodes: HostPort[] = []
  private closing = false
  bootstrap_ms = 0

  private readonly traffic: TrafficCounters
  private readonly created_ms: number

  private constructor(
    opts: NetworkNodeOptions,
    dht: DHT,
    cachedNodes: HostPort[],
    traffic: TrafficCounters,
    created_ms: number,
    supernodes: SupernodeDirectory,
    forceRelay: boolean,
  ) {
    super()
    this.opts = opts
    this.dht = dht
    this.supernodes = supernodes
    this.relays = new RelaySocketTracker(dht, (key) => supernodes.address(key))
    this.forceRelay = forceRelay
    this.cachedNodes = cachedNodes
    this.traffic = traffic
    this.created_ms = created_ms
  }

  static async create(opts: NetworkNodeOptions): Promise<NetworkNode> {
    const cached = opts.hostCachePath === null ? [] : await loadHostCache(opts.hostCachePath)
    const cachedSupernodes =
      opts.hostCachePath === null ? [] : await loadCachedSupernodes(opts.hostCachePath)
    const forceRelay = (opts.forceRelay ?? FORCE_RELAY_FOR_TESTS) && opts.supernode !== true
    const configured = opts.bootstrap ?? DHT.BOOTSTRAP.map(parseBootstrapString)
    // A network whose bootstrap is all loopback lives on this machine only, where
    // every node reaches every other. hyperdht cannot see that: its firewall test
    // needs answers from several hosts, so each node stays "firewalled" and two
    // such nodes in different processes try to hole-punch over loopback, which
    // hangs after the handshake (the server never sees the stream). So on a
    // loopback network we bind loopback and declare the node reachable.
    const loopbackOnly = configured.length > 0 && configured.every((n) => isLoopback(n.host))
    const host = opts.host ?? (loopbackOnly ? '127.0.0.1' : undefined)
    // Cached nodes go first: they answered last time and may outlive the bootstrap list.
    const created_ms = performance.now()
    const { udx, counters } = countingUdx()
    const dht = new DHT({
      udx,
      keyPair: opts.keyPair,
      bootstrap: dedupe([...cached, ...configured]),
      nodes: cached,
      // hyperdht reads port 0 as "49737"; find a free one ourselves (it falls back if taken).
      port: opts.port === 0 ? await freeUdpPort(host) : opts.port,
      host,
      // A forced-relay test node must stay "firewalled", or its peers would simply dial it.
      ...((loopbackOnly && !forceRelay) || opts.supernode ? { firewalled: false } : {}),
      ...(opts.supernode ? { ephemeral: false } : {}),
      // The session's PING every 20 s (docs/PROTOCOL.md §5.7) is the one keep-alive;
      // it keeps NAT bindings open. hyperdht's default adds a second one every 5 s,
      // which alone cost ~0.8 packets/s per idle session (bench: connect, idle).
      connectionKeepAlive: false,
      randomPunchInterval: RANDOM_PUNCH_INTERVAL_MS,
    })
    // On loopback hyperdht may later decide a node is not firewalled after all,
    // and then peers dial it directly; a forced-relay test node stays firewalled.
    if (forceRelay) Object.defineProperty(dht, 'firewalled', { get: () => true, set: () => {} })
    const directory = new SupernodeDirectory(opts.keyPair.publicKey, cachedSupernodes)
    return new NetworkNode(opts, dht, cached, counters, created_ms, directory, forceRelay)
  }

  /** Settles when the first supernode lookup after start has finished (benchmarks wait for it). */
  firstDiscovery: Promise<void> = Promise.resolve()

  async start(signal?: AbortSignal): Promise<void> {
    await this.dht.fullyBootstrapped()
    throwIfAborted(signal)
    this.bootstrap_ms = performance.now() - this.created_ms
    await this.saveCache()
    this.cacheTimer = setInterval(() => void this.saveCache(), HOST_CACHE_SAVE_INTERVAL_MS)
    this.cacheTimer.unref()
    const forced = this.forceRelay ? { holepunch: () => false, shareLocalAddress: false } : {}
    this.server = this.dht.createServer(
      { ...forced, relayThrough: () => this.serverRelay() },
      (socket) => {
        this.trackPath(socket)
        this.opts.onConnection(socket)
      },
    )
    await this.server.listen(this.opts.keyPair)
    // Discovery runs in the background: a node must not wait for supernodes to come online.
    this.firstDiscovery = this.refreshSupernodes().catch(() => {})
    this.supernodeTimer = setInterval(() => void this.refreshSupernodes(), SUPERNODE_REFRESH_MS)
    this.supernodeTimer.unref()
  }

  async refreshSupernodes(): Promise<void> {
    if (this.closing) return
    await this.supernodes.refresh(this.dht)
    this.emit('debug', `supernodes known: ${this.supernodes.ranked().length}`)
  }

  /** Announce this device under its identity's topic, refreshed before hyperdht expires it. */
  announce(identityPublicKey: Uint8Array): Promise<void> {
    return this.announceUnder('identity', identityTopic(identityPublicKey))
  }

  /** Announce this node as a supernode (PROTOCOL.md §4.4): its own DHT address first. */
  announceSupernode(): Promise<void> {
    return this.announceUnder('supernode', supernodeTopic())
  }

  /**
   * A gateway announces the identity of each UDP-less client it serves under
   * its own device key, while the client's link lasts (PROTOCOL.md §5.11).
   */
  announceFor(identityPublicKey: Uint8Array): Promise<void> {
    return this.announceUnder(
      `client:${Buffer.from(identityPublicKey).toString('hex')}`,
      identityTopic(identityPublicKey),
    )
  }

  async unannounceFor(identityPublicKey: Uint8Array): Promise<void> {
    const kind = `client:${Buffer.from(identityPublicKey).toString('hex')}`
    const topic = this.announced.get(kind)
    if (topic === undefined) return
    this.announced.delete(kind)
    this.announcedWith.delete(kind)
    if (this.closing) return
    await this.dht.unannounce(topic, this.opts.keyPair).catch(() => {})
  }

  /** Our own Noise handshake over a gateway tunnel (see src/net/secure.ts). */
  secure(raw: Duplex, isInitiator: boolean) {
    return secureStream(raw, isInitiator, this.opts.keyPair, 'gateway')
  }

  private async announceUnder(kind: string, topic: Buffer): Promise<void> {
    this.announced.set(kind, topic)
    await this.announceAll(kind)
    this.announceTimer ??= setInterval(() => void this.announceAll(), ANNOUNCE_REFRESH_MS)
    this.announceTimer.unref()
    this.relaysTimer ??= setInterval(() => this.reannounceIfRelaysChanged(), RELAYS_CHECK_MS)
    this.relaysTimer.unref()
  }

  /**
   * Our records carry the DHT nodes that forward handshakes to us
   * (`server.relayAddresses`) as they were when we announced. hyperdht
   * replaces a node that stops answering within seconds, but a record naming
   * a dead node costs every dialler ~4 s when it is tried first (see
   * SupernodeDirectory.aliveFirst), so the records follow at once.
   */
  private reannounceIfRelaysChanged(): void {
    const relays = this.server?.relayAddresses ?? []
    if (this.announcing > 0 || relays.length === 0) return
    const now = relaysKey(relays)
    if ([...this.announced.keys()].every((kind) => this.announcedWith.get(kind) === now)) return
    this.emit('debug', 'DHT nodes forwarding to us changed: announcing again')
    void this.announceAll()
  }

  private async announceAll(only?: string): Promise<void> {
    if (this.server === null || this.closing) return
    const server = this.server
    this.announcing++
    await Promise.all(
      [...this.announced].map(async ([kind, topic]) => {
        if (only !== undefined && kind !== only) return
        this.announcedWith.set(kind, relaysKey(server.relayAddresses))
        const relays =
          kind === 'supernode'
            ? dedupe([
                { host: this.dht.host ?? '127.0.0.1', port: this.dht.port },
                ...server.relayAddresses,
              ])
            : server.relayAddresses
        try {
          await this.dht.announce(topic, this.opts.keyPair, relays).finished()
        } catch (err) {
          this.emit('warning', err)
        }
      }),
    ).finally(() => this.announcing--)
  }

  /** The callee side of the relay rule (src/net/dial.ts, wantsRelay). */
  private serverRelay(): Buffer | null {
    if (this.forceRelay || !wantsRelay(this.reachability())) return null
    return this.supernodes.ranked()[0]?.publicKey ?? null
  }

  /**
   * Gives the socket a live `path` the session layer reads (relayed until
   * punching wins); a stream that starts relayed gets its first flight nudged.
   */
  private trackPath(socket: NoiseSocket): void {
    const relayed = () => this.relays.isRelayed(socket)
    Object.defineProperty(socket, 'path', { get: () => (relayed() ? 'relayed' : 'direct') })
    const relay = this.relays.relayOf(socket)
    if (relay !== null) {
      this.relayOfStream.set(socket, relay)
      nudgeRelayedStream(socket)
    }
    socket.rawStream?.on?.('remote-changed', () => {
      this.relayOfStream.delete(socket)
      this.emit('debug', `path of ${socket.remotePublicKey.toString('hex').slice(0, 16)} changed`)
    })
  }

  /**
   * A session on this stream died without a goodbye: if it went through a
   * relay, that relay is probably gone, so the reconnect tries the next one.
   */
  suspectPath(stream: object): void {
    const relay = this.relayOfStream.get(stream)
    if (relay === undefined) return
    this.emit('debug', `relay ${relay.toString('hex').slice(0, 16)} lost a session: skipping it`)
    this.supernodes.suspect(relay)
    void this.supernodes.remeasure(this.dht)
  }

  /** Yields each device announced under the identity's topic, as soon as it is seen. */
  async *findDevices(
    identityPublicKey: Uint8Array,
    signal?: AbortSignal,
  ): AsyncGenerator<DeviceAddress> {
    const query = this.dht.lookup(identityTopic(identityPublicKey))
    this.emit('debug', `lookup ${Buffer.from(identityPublicKey).toString('hex').slice(0, 16)}`)
    const stop = () => query.destroy()
    const timer = setTimeout(stop, LOOKUP_TIMEOUT_MS)
    signal?.addEventListener('abort', stop, { once: true })
    const seen = new Set<string>()
    try {
      for await (const data of query) {
        for (const peer of (data?.peers ?? []) as DeviceAddress[]) {
          const key = peer.publicKey.toString('hex')
          if (seen.has(key) || peer.publicKey.equals(this.opts.keyPair.publicKey)) continue
          seen.add(key)
          this.emit(
            'debug',
            `lookup found device ${key.slice(0, 16)} via ${peer.relayAddresses?.length ?? 0} relay nodes`,
          )
          if (seen.size > DEVICES_PER_LOOKUP_MAX) return
          yield { publicKey: peer.publicKey, relayAddresses: peer.relayAddresses ?? [] }
        }
      }
    } catch (err) {
      if (!signal?.aborted) this.emit('warning', err)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', stop)
      query.destroy()
    }
    throwIfAborted(signal)
  }

  /**
   * Dials a device key; resolves once the Noise handshake completed. With a
   * relay (see wantsRelay) hyperdht races it against punching; a relay that
   * refuses (at its cap) or fails is skipped and the next one tried.
   */
  async connect(device: DeviceAddress, signal?: AbortSignal): Promise<NoiseSocket> {
    const relayFirst = this.forceRelay || wantsRelay(this.reachability())
    // Discovery runs in the background; a dial that wants a relay before it finished waits for it.
    if (relayFirst && this.supernodes.ranked().length === 0) await this.refreshSupernodes()
    const relays = this.supernodes.ranked().slice(0, RELAY_ATTEMPTS_MAX)
    // Whichever side picks the relay, it is most often our best one too: open it now.
    const best = relays[0]
    if (
      best !== undefined &&
      this.opts.supernode !== true &&
      !best.publicKey.equals(device.publicKey)
    ) {
      this.relays.prewarm(best.publicKey, { host: best.host, port: best.port })
    }
    const plan: (Buffer | null)[] = relayFirst
      ? relays.map((r) => r.publicKey)
      : [null, ...relays.map((r) => r.publicKey)]
    // A forced-relay test node must never pass by connecting directly.
    if (plan.length === 0 && !this.forceRelay) plan.push(null)
    // The nodes storing the device's announcement may include a relay that just died.
    const target = { ...device, relayAddresses: this.supernodes.aliveFirst(device.relayAddresses) }
    let lastError: unknown = null
    for (const relay of plan) {
      try {
        const socket = await dialOnce({
          dht: this.dht,
          keyPair: this.opts.keyPair,
          target,
          relay,
          forceRelay: this.forceRelay,
          signal,
          onDebug: (msg) => this.emit('debug', msg),
        })
        this.trackPath(socket)
        return socket
      } catch (err) {
        lastError = err
        throwIfAborted(signal)
        const code = ((err as Error).cause as { code?: string } | undefined)?.code ?? ''
        // Only a failure of the path is worth another path: an offline peer stays offline.
        // A relay that refuses shows as RELAY_ABORTED, or as HOLEPUNCH_ABORTED when
        // hyperdht was still punching when the relay closed.
        if (!/^(HOLEPUNCH|RELAY|CHANNEL)_/.test(code)) break
        if (relay !== null) this.supernodes.skip(relay)
      }
    }
    throw (
      lastError ??
      new ParleyError('PEER_NOT_FOUND', 'no relay is known (PARLEY_TEST_FORCE_RELAY is set)')
    )
  }

  /**
   * Dials a supernode at its DHT address, never through a relay: a supernode
   * is reachable by definition (PROTOCOL.md §4.4), and relaying to it would
   * spend a relay slot for nothing (the directory and mailboxes use this).
   */
  async connectSupernode(
    sn: { publicKey: Buffer; host: string; port: number },
    signal?: AbortSignal,
  ): Promise<NoiseSocket> {
    const socket = await dialOnce({
      dht: this.dht,
      keyPair: this.opts.keyPair,
      target: { publicKey: sn.publicKey, relayAddresses: [{ host: sn.host, port: sn.port }] },
      relay: null,
      forceRelay: this.forceRelay,
      signal,
      onDebug: (msg) => this.emit('debug', msg),
    })
    this.trackPath(socket)
    return socket
  }

  reachability(): Reachability {
    const dht = this.dht
    return classifyReachability(
      {
        bootstrapped: dht.bootstrapped,
        firewalled: dht.firewalled,
        randomized: dht.randomized,
        host: dht.host,
        routingTableSize: dht.toArray().length,
      },
      hostHasNetwork,
    )
  }

  info() {
    const addr = this.dht.address()
    return {
      reachability: this.reachability(),
      public_address: this.dht.host === null ? null : `${this.dht.host}:${this.dht.port}`,
      dht_port: addr.port,
      dht_nodes: this.dht.toArray().length,
      host_cache_nodes: this.cachedNodes.length,
      behind_nat: this.dht.host === null ? null : !isLocalAddress(this.dht.host),
      bootstrap_ms: Math.round(this.bootstrap_ms),
      // UDP payload bytes: streams (counted by udx) plus DHT datagrams (counted by us).
      bytes_sent: Number(this.dht.udx.bytesTransmitted) + this.traffic.datagram_bytes_sent,
      bytes_received: Number(this.dht.udx.bytesReceived),
      packets_sent: Number(this.dht.udx.packetsTransmitted) + this.traffic.datagram_packets_sent,
      packets_received: Number(this.dht.udx.packetsReceived),
    }
  }

  async saveCache(): Promise<void> {
    if (this.opts.hostCachePath === null) return
    const nodes = this.dht.toArray({ limit: HOST_CACHE_NODES_MAX })
    if (nodes.length === 0) return
    this.cachedNodes = nodes
    try {
      await saveHostCache(this.opts.hostCachePath, nodes, this.supernodes.toCache())
    } catch (err) {
      this.emit('warning', err)
    }
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    if (this.announceTimer) clearInterval(this.announceTimer)
    if (this.relaysTimer) clearInterval(this.relaysTimer)
    if (this.cacheTimer) clearInterval(this.cacheTimer)
    if (this.supernodeTimer) clearInterval(this.supernodeTimer)
    await this.saveCache()
    // Withdraw the announcements so peers stop dialling a node that is gone.
    for (const topic of this.announced.values()) {
      await this.dht.unannounce(topic, this.opts.keyPair).catch(() => {})
    }
    await this.server?.close().catch(() => {})
    this.relays.close()
    await this.dht.destroy()
  }
}

/** The same nodes in any order give the same key. */
function relaysKey(relays: HostPort[]): string {
  return relays
    .map((r) => `${r.host}:${r.port}`)
    .sort()
    .join(',')
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

export function freeUdpPort(host = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', reject)
    socket.bind(0, host, () => {
      const { port } = socket.address()
      socket.close(() => resolve(port))
    })
  })
}

function parseBootstrapString(s: string): HostPort {
  // hyperdht's list is "[suggested-ip@]host:port"
  const at = s.indexOf('@')
  const rest = at >= 0 ? s.slice(at + 1) : s
  const colon = rest.lastIndexOf(':')
  return { host: rest.slice(0, colon), port: Number(rest.slice(colon + 1)) }
}
