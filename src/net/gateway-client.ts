import { EventEmitter } from 'node:events'
import type { KeyPair } from 'hyperdht'
import type { Duplex } from 'streamx'
import { ParleyError, throwIfAborted } from '../util/errors.js'
import { GATEWAY_RETRY_MS_MAX, GATEWAY_RETRY_MS_MIN } from './constants.js'
import type { HostPort } from './hostcache.js'
import { dialTcp, type ProxySpec } from './proxy-dial.js'
import { secureStream } from './secure.js'
import { formatGatewayAddress, type GatewayAddress, websocketClient } from './websocket-link.js'

type SecureStream = Awaited<ReturnType<typeof secureStream>>

export interface GatewayNetworkOptions {
  keyPair: KeyPair
  /** Supernode gateways, tried in order; the next one takes over when a link is lost. */
  gateways: GatewayAddress[]
  /** Reach them through this proxy (explicit configuration only). */
  proxy: ProxySpec | null
  /** Called once for each new link, which the session layer adopts like an incoming connection. */
  onConnection: (stream: SecureStream) => void
}

/**
 * The network of a node that sends no UDP (`udp: false`): one TCP link to a
 * supernode's gateway (through a proxy if configured), encrypted with our
 * device key. The gateway announces our identity under its own key and
 * routes tunnels; every peer session is an inner Noise stream through it
 * (PROTOCOL.md §5.11), so the gateway sees ciphertext and never a secret key.
 * A lost link is replaced by one to the next gateway within a second.
 */
export class GatewayNetwork extends EventEmitter {
  private readonly opts: GatewayNetworkOptions
  private link: SecureStream | null = null
  private linking: Promise<SecureStream> | null = null
  private next = 0
  private failures = 0
  private retryTimer: NodeJS.Timeout | null = null
  private closing = false
  connected_at_ms = 0
  bytes_sent = 0
  bytes_received = 0

  constructor(opts: GatewayNetworkOptions) {
    super()
    if (opts.gateways.length === 0) {
      throw new ParleyError(
        'USAGE',
        'udp is off but no gateway is configured: set gateways (e.g. --gateways HOST:443), or turn udp back on',
      )
    }
    this.opts = opts
  }

  /** Connects the first link; fails with a clear error when no gateway answers. */
  async start(): Promise<void> {
    await this.ensureLink()
  }

  /** The gateway we are linked to now, as `host:port`. */
  get gateway(): string | null {
    if (this.link === null) return null
    const g =
      this.opts.gateways[(this.next + this.opts.gateways.length - 1) % this.opts.gateways.length]!
    return formatGatewayAddress(g)
  }

  private ensureLink(): Promise<SecureStream> {
    if (this.link !== null && !this.link.destroyed) return Promise.resolve(this.link)
    this.linking ??= this.connectLink().finally(() => {
      this.linking = null
    })
    return this.linking
  }

  private async connectLink(): Promise<SecureStream> {
    const errors: string[] = []
    const n = this.opts.gateways.length
    for (let i = 0; i < n && !this.closing; i++) {
      const target = this.opts.gateways[this.next % n]!
      this.next = (this.next + 1) % n
      try {
        const socket = await dialTcp(target, this.opts.proxy)
        const raw =
          target.websocket_path === undefined ? socket : await websocketClient(socket, target)
        const stream = await secureStream(raw, true, this.opts.keyPair, 'gateway')
        this.adoptLink(stream)
        this.emit('debug', `gateway link to ${formatGatewayAddress(target)} up`)
        return stream
      } catch (err) {
        errors.push(`${formatGatewayAddress(target)}: ${(err as Error).message}`)
      }
    }
    throw new ParleyError(
      'PEER_NOT_FOUND',
      `no gateway answered (${errors.join('; ')}); check gateways and proxy in your configuration`,
    )
  }

  private adoptLink(stream: SecureStream): void {
    const previous = this.link
    this.link = stream
    this.failures = 0
    this.connected_at_ms = Date.now()
    const raw = stream.rawStream as { bytesWritten?: number; bytesRead?: number }
    stream.once('close', () => {
      this.bytes_sent += raw.bytesWritten ?? 0
      this.bytes_received += raw.bytesRead ?? 0
      if (this.link !== stream) return
      this.link = null
      this.emit('debug', 'gateway link lost')
      this.scheduleRelink()
    })
    if (previous !== null && previous !== stream) previous.destroy()
    // The one place a link is handed over: the session layer finds its session by key.
    this.opts.onConnection(stream)
  }

  private scheduleRelink(): void {
    if (this.closing || this.retryTimer !== null) return
    const delay = Math.min(GATEWAY_RETRY_MS_MAX, GATEWAY_RETRY_MS_MIN * 2 ** this.failures)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.ensureLink().catch((err) => {
        this.failures++
        this.emit('warning', err)
        this.scheduleRelink()
      })
    }, delay)
    this.retryTimer.unref()
  }

  /** Every identity is reached through our gateway: it looks up and routes for us. */
  async *findDevices(
    _identityPublicKey: Uint8Array,
    signal?: AbortSignal,
  ): AsyncGenerator<{ publicKey: Buffer; relayAddresses: HostPort[] }> {
    const link = await this.ensureLink()
    throwIfAborted(signal)
    yield { publicKey: link.remotePublicKey, relayAddresses: [] }
  }

  /**
   * The session layer asks only when its session over the link failed; a
   * link is only ever handed over through onConnection, so there is nothing
   * to dial here: the next link comes by itself.
   */
  async connect(_device: { publicKey: Buffer }, signal?: AbortSignal): Promise<SecureStream> {
    throwIfAborted(signal)
    throw new ParleyError('PEER_NOT_FOUND', 'the link to the gateway is down; reconnecting')
  }

  secure(raw: Duplex, isInitiator: boolean): Promise<SecureStream> {
    return secureStream(raw, isInitiator, this.opts.keyPair, 'gateway')
  }

  info() {
    const raw = this.link?.rawStream as { bytesWritten?: number; bytesRead?: number } | undefined
    return {
      gateway: this.gateway,
      via_proxy:
        this.opts.proxy === null
          ? null
          : `${this.opts.proxy.protocol}://${this.opts.proxy.host}:${this.opts.proxy.port}`,
      bytes_sent: this.bytes_sent + (raw?.bytesWritten ?? 0),
      bytes_received: this.bytes_received + (raw?.bytesRead ?? 0),
    }
  }

  /** Lets the link's last bytes (goodbyes) flush for up to a second, then drops it. */
  async close(): Promise<void> {
    this.closing = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    const link = this.link
    if (link === null || link.destroyed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000)
      link.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    link.destroy()
  }
}
