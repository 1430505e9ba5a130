import { createSocket } from 'node:dgram'
import { EventEmitter } from 'node:events'
import type { HostPort, KeyPair, NoiseSocket, Server } from 'hyperdht'
import DHT from 'hyperdht'
import { ParleyError, throwIfAborted } from '../util/errors.js'
import { ANNOUNCE_REFRESH_MS, identityTopic } from '../wire/index.js'
import {
  DEVICES_PER_LOOKUP_MAX,
  HOST_CACHE_NODES_MAX,
  HOST_CACHE_SAVE_INTERVAL_MS,
  LOOKUP_TIMEOUT_MS,
} from './constants.js'
import { dedupe, loadHostCache, saveHostCache } from './hostcache.js'
import {
  classifyReachability,
  hostHasNetwork,
  isLocalAddress,
  type Reachability,
} from './reachability.js'
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
  private announceTopic: Buffer | null = null
  private announceTimer: NodeJS.Timeout | null = null
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
  ) {
    super()
    this.opts = opts
    this.dht = dht
    this.cachedNodes = cachedNodes
    this.traffic = traffic
    this.created_ms = created_ms
  }

  static async create(opts: NetworkNodeOptions): Promise<NetworkNode> {
    const cached = opts.hostCachePath === null ? [] : await loadHostCache(opts.hostCachePath)
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
      ...(loopbackOnly ? { firewalled: false } : {}),
      // The session's PING every 20 s (docs/PROTOCOL.md §5.7) is the one keep-alive;
      // it keeps NAT bindings open. hyperdht's default adds a second one every 5 s,
      // which alone cost ~0.8 packets/s per idle session (bench: connect, idle).
      connectionKeepAlive: false,
    })
    return new NetworkNode(opts, dht, cached, counters, created_ms)
  }

  async start(signal?: AbortSignal): Promise<void> {
    await this.dht.fullyBootstrapped()
    throwIfAborted(signal)
    this.bootstrap_ms = performance.now() - this.created_ms
    await this.saveCache()
    this.cacheTimer = setInterval(() => void this.saveCache(), HOST_CACHE_SAVE_INTERVAL_MS)
    this.cacheTimer.unref()
    this.server = this.dht.createServer({}, (socket) => this.opts.onConnection(socket))
    await this.server.listen(this.opts.keyPair)
  }

  /** Announce this device under its identity's topic, refreshed before hyperdht expires it. */
  async announce(identityPublicKey: Uint8Array): Promise<void> {
    this.announceTopic = identityTopic(identityPublicKey)
    await this.announceOnce()
    this.announceTimer = setInterval(() => void this.announceOnce(), ANNOUNCE_REFRESH_MS)
    this.announceTimer.unref()
  }

  private async announceOnce(): Promise<void> {
    if (this.announceTopic === null || this.server === null || this.closing) return
    try {
      await this.dht
        .announce(this.announceTopic, this.opts.keyPair, this.server.relayAddresses)
        .finished()
    } catch (err) {
      this.emit('warning', err)
    }
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

  /** Dials a device key; resolves once the Noise handshake completed. */
  connect(device: DeviceAddress, signal?: AbortSignal): Promise<NoiseSocket> {
    throwIfAborted(signal)
    const socket = this.dht.connect(device.publicKey, {
      keyPair: this.opts.keyPair,
      relayAddresses: device.relayAddresses,
    })
    return new Promise((resolve, reject) => {
      const onAbort = () => socket.destroy()
      const cleanup = () => {
        socket.off('open', onOpen)
        socket.off('error', onError)
        socket.off('close', onClose)
        signal?.removeEventListener('abort', onAbort)
      }
      const onOpen = () => {
        cleanup()
        resolve(socket)
      }
      const onError = (err: Error & { code?: string }) => {
        this.emit(
          'debug',
          `dial ${device.publicKey.toString('hex').slice(0, 16)} failed: ${err.code ?? err.message}`,
        )
        cleanup()
        socket.destroy()
        reject(
          new ParleyError(
            'PEER_NOT_FOUND',
            `could not reach the peer's device: ${err.code ?? err.message}`,
            {
              cause: err,
            },
          ),
        )
      }
      const onClose = () => onError(new Error(signal?.aborted ? 'cancelled' : 'connection closed'))
      socket.on('open', onOpen)
      socket.on('error', onError)
      socket.on('close', onClose)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
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
      hostHasNetwork(),
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
      await saveHostCache(this.opts.hostCachePath, nodes)
    } catch (err) {
      this.emit('warning', err)
    }
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    if (this.announceTimer) clearInterval(this.announceTimer)
    if (this.cacheTimer) clearInterval(this.cacheTimer)
    await this.saveCache()
    if (this.announceTopic !== null) {
      // Withdraw the announcement so peers stop dialling a device that is gone.
      await this.dht.unannounce(this.announceTopic, this.opts.keyPair).catch(() => {})
    }
    await this.server?.close().catch(() => {})
    await this.dht.destroy()
  }
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
