import type DHT from 'hyperdht'
import type { HostPort, NoiseSocket } from 'hyperdht'
import { supernodeTopic } from '../wire/index.js'
import {
  HOST_CACHE_SUPERNODES_MAX,
  LOOKUP_TIMEOUT_MS,
  RELAY_PREWARM_MS,
  RELAY_REFUSED_COOLDOWN_MS,
  SUPERNODE_PING_TIMEOUT_MS,
} from './constants.js'
import type { CachedSupernode } from './hostcache.js'

export interface KnownSupernode {
  publicKey: Buffer
  host: string
  port: number
  /** Last measured DHT ping round trip; null until measured or when it did not answer. */
  rtt_ms: number | null
  /** performance.now() before which this relay is skipped (it refused or failed). */
  skip_until_ms: number
  /**
   * Its last ping went unanswered, or a session through it was lost since
   * (see `suspect`): as a DHT node it is probably gone too.
   */
  silent: boolean
}

/**
 * The supernodes this node knows (host cache + lookups of the supernode
 * topic), ranked by measured round trip. A supernode announces its own DHT
 * address first in its record's relay addresses (docs/PROTOCOL.md §4.4), so a
 * plain DHT ping measures the path a relayed stream would take.
 */
export class SupernodeDirectory {
  private readonly known = new Map<string, KnownSupernode>()
  private readonly ownKey: Buffer

  constructor(ownKey: Buffer, cached: CachedSupernode[]) {
    this.ownKey = ownKey
    for (const c of cached) this.add(Buffer.from(c.public_key, 'hex'), c.host, c.port)
  }

  private add(publicKey: Buffer, host: string, port: number): void {
    const key = publicKey.toString('hex')
    if (publicKey.equals(this.ownKey)) return
    const old = this.known.get(key)
    if (old !== undefined) {
      old.host = host
      old.port = port
      return
    }
    if (this.known.size >= HOST_CACHE_SUPERNODES_MAX) return
    this.known.set(key, { publicKey, host, port, rtt_ms: null, skip_until_ms: 0, silent: false })
  }

  /** Looks up the supernode topic, then pings every known supernode. Never throws. */
  async refresh(dht: DHT): Promise<void> {
    const query = dht.lookup(supernodeTopic())
    const timer = setTimeout(() => query.destroy(), LOOKUP_TIMEOUT_MS)
    try {
      for await (const data of query) {
        for (const peer of data?.peers ?? []) {
          const address = peer.relayAddresses?.[0]
          if (address !== undefined) this.add(peer.publicKey, address.host, address.port)
        }
      }
    } catch {
      // a partial lookup still helps; the cached list remains
    } finally {
      clearTimeout(timer)
    }
    await Promise.all([...this.known.values()].map((s) => this.measure(dht, s)))
  }

  /**
   * After a relay died under us: forget every round trip and ping again, so
   * relays that answer rank first within a round trip and dead ones sink
   * (a dead relay costs hyperdht's 15 s relay timeout when picked).
   */
  remeasure(dht: DHT): Promise<void> {
    const all = [...this.known.values()]
    for (const s of all) s.rtt_ms = null
    return Promise.all(all.map((s) => this.measure(dht, s))).then(() => {})
  }

  private async measure(dht: DHT, s: KnownSupernode): Promise<void> {
    const started_ms = performance.now()
    const timeout = new Promise<null>((resolve) =>
      setTimeout(resolve, SUPERNODE_PING_TIMEOUT_MS, null).unref(),
    )
    const reply = await Promise.race([
      dht.ping({ host: s.host, port: s.port }, { retry: false }).catch(() => null),
      timeout,
    ])
    s.rtt_ms = reply === null ? null : performance.now() - started_ms
    s.silent = reply === null
  }

  /**
   * A session through this relay was lost: until a ping says otherwise, it
   * counts as gone, as a relay (skipped) and as a DHT node (see `aliveFirst`).
   */
  suspect(publicKey: Buffer, now_ms = performance.now()): void {
    this.skip(publicKey, now_ms)
    const s = this.known.get(publicKey.toString('hex'))
    if (s !== undefined) s.silent = true
  }

  /**
   * Orders the DHT nodes a dial goes through (the `relayAddresses` of a
   * device's announcement: the nodes that store it and forward the
   * handshake) so that supernodes known to be silent come last. hyperdht
   * tries these nodes one after another and the first that does not answer
   * costs its request timeout with retries (~4 s): a relay that just died is
   * usually also one of the few nodes storing the announcements of the peers
   * it carried, so the reconnect after a failover would otherwise often wait
   * on it.
   */
  aliveFirst(addresses: HostPort[]): HostPort[] {
    const silent = new Set<string>()
    for (const s of this.known.values()) if (s.silent) silent.add(`${s.host}:${s.port}`)
    if (silent.size === 0) return addresses
    const isSilent = (a: HostPort) => silent.has(`${a.host}:${a.port}`)
    return [...addresses.filter((a) => !isSilent(a)), ...addresses.filter(isSilent)]
  }

  /** Relays to try, best first: answered pings by round trip, then unmeasured ones. */
  ranked(now_ms = performance.now()): KnownSupernode[] {
    return [...this.known.values()]
      .filter((s) => s.skip_until_ms <= now_ms)
      .sort((a, b) => (a.rtt_ms ?? Infinity) - (b.rtt_ms ?? Infinity))
  }

  /** A relay that refused (at its cap) or failed is skipped for a while. */
  skip(publicKey: Buffer, now_ms = performance.now()): void {
    const s = this.known.get(publicKey.toString('hex'))
    if (s !== undefined) s.skip_until_ms = now_ms + RELAY_REFUSED_COOLDOWN_MS
  }

  /** The DHT address of a known supernode, or null. */
  address(publicKey: Uint8Array): HostPort | null {
    const s = this.known.get(Buffer.from(publicKey).toString('hex'))
    return s === undefined ? null : { host: s.host, port: s.port }
  }

  list(): KnownSupernode[] {
    return [...this.known.values()]
  }

  toCache(): CachedSupernode[] {
    return this.ranked(0).map((s) => ({
      public_key: s.publicKey.toString('hex'),
      host: s.host,
      port: s.port,
    }))
  }
}

/**
 * hyperdht opens the connection to a relay itself (`dht.connect(relayKey)`
 * with no options) and keeps it private. We see those sockets by wrapping
 * `dht.connect`; a peer stream whose UDX remote is the remote of one of them
 * goes through that relay. When punching wins, hyperdht changes the stream's
 * remote (`remote-changed`) and the same test then says direct.
 *
 * The wrapper also tells hyperdht where a known supernode is: without
 * `relayAddresses` it looks the relay's key up in the DHT first (a query,
 * 30–100 ms in the NAT lab, on both sides of every relayed connect); with the
 * supernode's own DHT address it asks the supernode directly in parallel.
 */
export class RelaySocketTracker {
  private readonly sockets = new Set<NoiseSocket>()
  /** At most one unused connection per relay, opened ahead of a dial (see `prewarm`). */
  private readonly warm = new Map<string, NoiseSocket>()
  private readonly rawConnect: (
    publicKey: Uint8Array,
    opts?: Record<string, unknown>,
  ) => NoiseSocket

  constructor(dht: DHT, addressOf: (publicKey: Uint8Array) => HostPort | null) {
    const connect = dht.connect.bind(dht)
    this.rawConnect = connect
    dht.connect = (publicKey: Uint8Array, opts?: Record<string, unknown>) => {
      // Parley's own dials always pass a key pair; hyperdht's relay client never does.
      const relay = opts?.keyPair === undefined
      const ready = relay ? this.takeWarm(publicKey) : null
      if (ready !== null) return ready
      const address = relay ? addressOf(publicKey) : null
      if (address !== null && opts?.relayAddresses === undefined) {
        opts = { ...opts, relayAddresses: [address] }
      }
      const socket = connect(publicKey, opts)
      if (relay) this.track(socket)
      return socket
    }
  }

  /**
   * Opens hyperdht's connection to `relay` before it is asked for. A relayed
   * connect starts its relay connection only after the peer's handshake
   * reply named the relay, and pairing waits for both sides; a connection
   * already open (or opening) saves that handshake, ~one round trip to the
   * supernode, on the side that starts last. Unused, it closes after
   * RELAY_PREWARM_MS: one short connection to a supernode per dial.
   */
  prewarm(relay: Buffer, address: HostPort | null): void {
    const key = relay.toString('hex')
    if (this.warm.has(key)) return
    const socket = this.rawConnect(relay, address === null ? {} : { relayAddresses: [address] })
    socket.on('error', () => {})
    this.warm.set(key, socket)
    const forget = () => {
      if (this.warm.get(key) === socket) this.warm.delete(key)
    }
    socket.once('close', forget)
    const timer = setTimeout(() => {
      if (this.warm.get(key) !== socket) return
      forget()
      socket.destroy()
    }, RELAY_PREWARM_MS)
    timer.unref()
  }

  private takeWarm(publicKey: Uint8Array): NoiseSocket | null {
    const key = Buffer.from(publicKey).toString('hex')
    const socket = this.warm.get(key)
    if (socket === undefined) return null
    this.warm.delete(key)
    if (socket.destroyed) return null
    this.track(socket)
    return socket
  }

  private track(socket: NoiseSocket): void {
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  close(): void {
    for (const socket of this.warm.values()) socket.destroy()
    this.warm.clear()
  }

  isRelayed(socket: NoiseSocket): boolean {
    return this.relayOf(socket) !== null
  }

  /** The public key of the relay this stream goes through now, or null. */
  relayOf(socket: NoiseSocket): Buffer | null {
    const raw = socket.rawStream
    if (!raw?.remoteHost) return null
    for (const relay of this.sockets) {
      const r = relay.rawStream
      if (r && r.remotePort === raw.remotePort && r.remoteHost === raw.remoteHost) {
        return relay.remotePublicKey
      }
    }
    return null
  }
}
