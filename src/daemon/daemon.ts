import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { ApiServer, createToken, removeDaemonInfo, writeDaemonInfo } from '../api/index.js'
import { CallManager } from '../call/index.js'
import { CHAT_DB_FILE, ChatService, ChatStore } from '../chat/index.js'
import { encodeId, type IdentityKeys, safetyFingerprint } from '../identity/index.js'
import { MAILBOX_DB_FILE, MailboxClient, MailboxServer } from '../mailbox/index.js'
import { GatewayNetwork, type HostPort, NetworkNode, type ProxySpec } from '../net/index.js'
import { type CloseInfo, type Session, SessionManager } from '../session/index.js'
import { GatewayServer, MetricsServer, type RelayCaps, Supernode } from '../supernode/index.js'
import { TransferEngine } from '../transfer/index.js'
import { systemClock } from '../util/clock.js'
import { systemRandom } from '../util/random.js'
import { HELLO_FLAG_GATEWAY, HELLO_FLAG_SUPERNODE, PROTOCOL_VERSION } from '../wire/index.js'
import { watchCalls } from './call-routes.js'
import {
  type DirectoryParts,
  mailboxesFor,
  publishWhenDiscovered,
  startDirectory,
} from './directory-glue.js'
import { HOST_CACHE_FILE } from './home.js'
import { supernodeSessions } from './mailbox-glue.js'
import { buildRoutes } from './routes.js'

const debugEnabled = process.env.PARLEY_DEBUG !== undefined && process.env.PARLEY_DEBUG !== ''
function debug(...args: unknown[]): void {
  // Milliseconds since start: enough to see where a connect spends its time.
  if (debugEnabled) console.error(`[parley ${performance.now().toFixed(1)}]`, ...args)
}

export const AGENT = `parley/0.1.0 (protocol ${PROTOCOL_VERSION})`

export interface DaemonOptions {
  home: string
  keys: IdentityKeys
  bootstrap: HostPort[] | null
  dht_port: number
  api_port: number
  /** Defaults to the loopback address; the API must never face the network. */
  api_host?: string
  /** Serve others as a supernode (persistent DHT node + capped blind relay); off by default. */
  supernode?: {
    caps?: Partial<RelayCaps>
    /** The TCP gateway for UDP-less hosts (PROTOCOL.md §5.11); off when null. */
    gateway?: { host: string; port: number; clients_max?: number } | null
  } | null
  /**
   * false: send no UDP; reach everyone through one of `gateways` (TCP, through
   * `proxy` when set). Default true.
   */
  udp?: boolean
  gateways?: HostPort[]
  proxy?: ProxySpec | null
  /** Prometheus `GET /metrics` (src/supernode/metrics.ts says why not on the API); off when null. */
  metrics?: { host: string; port: number } | null
  /** The resolved settings as shown to people (proxy credentials redacted) and where each came from. */
  config?: { described: unknown; sources: Record<string, string>; locked: string[] }
  /** File transfer settings (`filetransfer`, `auto_accept_from`); defaults: on, nobody. */
  transfer?: { enabled: boolean; auto_accept_from: string[] }
}

/** A running node: network, sessions and the local API, wired together. */
export class Daemon extends EventEmitter {
  readonly opts: DaemonOptions
  /** The hyperdht node; null when `udp` is off (then `gatewayNet` carries everything). */
  readonly net: NetworkNode | null
  readonly gatewayNet: GatewayNetwork | null
  readonly sessions: SessionManager
  readonly api: ApiServer
  readonly calls: CallManager
  readonly transfers: TransferEngine
  readonly started_at_ms = Date.now()
  api_address: { host: string; port: number } | null = null
  metrics_address: { host: string; port: number } | null = null
  supernode: Supernode | null = null
  gateway: GatewayServer | null = null
  gateway_address: { host: string; port: number } | null = null
  chat: ChatService | null = null
  private chatStore: ChatStore | null = null
  mailboxServer: MailboxServer | null = null
  directory: DirectoryParts | null = null
  private metricsServer: MetricsServer | null = null
  private stopping: Promise<void> | null = null

  private constructor(
    opts: DaemonOptions,
    net: NetworkNode | null,
    gatewayNet: GatewayNetwork | null,
    token: string,
  ) {
    super()
    this.opts = opts
    this.net = net
    this.gatewayNet = gatewayNet
    this.sessions = new SessionManager({
      network: (net ?? gatewayNet)!,
      certificate: opts.keys.certificate,
      clock: systemClock,
      random: systemRandom,
      agent: AGENT,
      flags:
        (opts.supernode != null ? HELLO_FLAG_SUPERNODE : 0) |
        (opts.supernode?.gateway != null ? HELLO_FLAG_GATEWAY : 0),
    })
    this.calls = new CallManager({
      sessions: this.sessions,
      clock: systemClock,
      random: systemRandom,
    })
    watchCalls(this)
    this.api = new ApiServer({
      host: opts.api_host ?? '127.0.0.1',
      port: opts.api_port,
      token,
      routes: buildRoutes(this),
    })
    this.transfers = createTransferEngine(opts, this.sessions)
    this.transfers.on('event', (e) => this.api.broadcast(e))
    this.sessions.on('debug', (msg: string) => debug(msg))
    for (const n of [net, gatewayNet]) {
      n?.on('warning', (err) => debug('network warning:', err))
      n?.on('debug', (msg) => debug(msg))
    }
    this.sessions.on('session', (s: Session) => {
      this.transfers.attach({
        identity: s.remoteIdentityPublicKey!,
        mux: s.mux,
        path: () => s.path,
      })
      this.api.broadcast({ type: 'session.opened', ...describeSession(s) })
    })
    this.sessions.on('session-closed', (s: Session, info: CloseInfo) => {
      // A path that died may be a dead relay: the reconnect must not pick it again.
      if (info.lost) this.net?.suspectPath(s.stream)
      this.api.broadcast({ type: 'session.closed', ...describeSession(s), reason: s.closeInfo })
    })
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    if (opts.udp === false) return Daemon.startWithoutUdp(opts)
    let daemon: Daemon | null = null
    const net = await NetworkNode.create({
      keyPair: opts.keys.device,
      bootstrap: opts.bootstrap,
      hostCachePath: join(opts.home, HOST_CACHE_FILE),
      port: opts.dht_port,
      supernode: opts.supernode != null,
      onConnection: (socket) => {
        // Incoming sessions: the hello tells us who it is; failures are counted by the manager.
        debug(
          'incoming connection from device',
          socket.remotePublicKey.toString('hex').slice(0, 16),
        )
        const adopt = () =>
          daemon?.sessions
            .adopt(socket, null)
            .catch((err) => debug('incoming session failed:', err))
        // A supernode also gets hyperdht's relay clients on this key: route by protocol.
        if (daemon?.supernode) daemon.supernode.route(socket, adopt)
        else void adopt()
      },
    })
    const token = await createToken(opts.home)
    daemon = new Daemon(opts, net, null, token)
    daemon.startChat()
    if (opts.supernode != null) {
      daemon.supernode = new Supernode({
        dht: net.dht,
        clock: systemClock,
        caps: opts.supernode.caps,
        onWarning: (err) => debug('relay:', err.message),
      })
    }
    try {
      await net.start()
      for (const w of await daemon.transfers.start()) debug(w)
      await net.announce(opts.keys.identity.publicKey)
      if (daemon.supernode !== null) await net.announceSupernode()
      publishWhenDiscovered(daemon.directory, net)
      const gw = opts.supernode?.gateway
      if (gw != null) {
        daemon.gateway = new GatewayServer({
          keyPair: opts.keys.device,
          sessions: daemon.sessions,
          net,
          clients_max: gw.clients_max,
          onDebug: debug,
        })
        daemon.gateway_address = await daemon.gateway.listen(gw.host, gw.port)
      }
      await daemon.listenLocal()
    } catch (err) {
      await daemon.stop()
      throw err
    }
    return daemon
  }

  /** `udp: false`: no DHT node; one TCP link to a gateway carries every session. */
  private static async startWithoutUdp(opts: DaemonOptions): Promise<Daemon> {
    let daemon: Daemon | null = null
    const gatewayNet = new GatewayNetwork({
      keyPair: opts.keys.device,
      gateways: opts.gateways ?? [],
      proxy: opts.proxy ?? null,
      onConnection: (stream) => {
        daemon?.sessions.adopt(stream, null).catch((err) => debug('gateway link failed:', err))
      },
    })
    daemon = new Daemon(opts, null, gatewayNet, await createToken(opts.home))
    daemon.startChat()
    try {
      await gatewayNet.start()
      publishWhenDiscovered(daemon.directory, null)
      for (const w of await daemon.transfers.start()) debug(w)
      await daemon.listenLocal()
    } catch (err) {
      await daemon.stop()
      throw err
    }
    return daemon
  }

  /** The metrics endpoint, the local API and daemon.json: the last steps of every start. */
  private async listenLocal(): Promise<void> {
    const metrics = this.opts.metrics
    if (metrics != null) {
      this.metricsServer = new MetricsServer(() => this.metrics())
      this.metrics_address = await this.metricsServer.listen(metrics.host, metrics.port)
    }
    const api = await this.api.listen()
    this.api_address = api
    await writeDaemonInfo(this.opts.home, {
      pid: process.pid,
      host: api.host,
      port: api.port,
      started_at_ms: this.started_at_ms,
    })
  }

  private startChat(): void {
    this.chatStore = new ChatStore(join(this.opts.home, CHAT_DB_FILE))
    // A supernode also keeps offline mailboxes for others (src/mailbox).
    if (this.opts.supernode != null)
      this.mailboxServer = new MailboxServer({
        sessions: this.sessions,
        path: join(this.opts.home, MAILBOX_DB_FILE),
        clock: systemClock,
      })
    this.directory = startDirectory({
      home: this.opts.home,
      keys: this.opts.keys,
      net: this.net,
      sessions: this.sessions,
      supernode: this.opts.supernode != null,
      emit: (e) => this.api.broadcast(e),
      debug,
    })
    this.chat = new ChatService({
      sessions: this.sessions,
      store: this.chatStore,
      keys: this.opts.keys,
      clock: systemClock,
      random: systemRandom,
      emit: (e) => this.api.broadcast(e),
      debug,
      mailbox: new MailboxClient({
        supernodeSessions: async (max, recipient) =>
          supernodeSessions(
            this.net,
            this.sessions,
            max,
            await mailboxesFor(this.directory, recipient),
          ),
        clock: systemClock,
        random: systemRandom,
      }),
    })
  }

  get id(): string {
    return encodeId(this.opts.keys.identity.publicKey)
  }

  status() {
    return {
      id: this.id,
      name: this.opts.keys.name,
      fingerprint: safetyFingerprint(this.opts.keys.identity.publicKey),
      ...this.networkStatus(),
      roles: [
        ...(this.supernode === null ? [] : ['supernode', 'relay']),
        ...(this.gateway === null ? [] : ['gateway']),
      ],
      ...(this.supernode === null ? {} : { relay: this.supernode.status() }),
      ...(this.gateway === null ? {} : { gateway: this.gateway.status() }),
      ...(this.mailboxServer === null ? {} : { mailbox: this.mailboxServer.stats() }),
      ...(this.directory?.server == null ? {} : { directory: this.directory.server.stats() }),
      metrics:
        this.metrics_address === null
          ? null
          : `http://${this.metrics_address.host}:${this.metrics_address.port}/metrics`,
      config: this.opts.config?.described ?? null,
      config_sources: this.opts.config?.sources ?? null,
      config_locked: this.opts.config?.locked ?? [],
      peers: this.sessions.list().map(describeSession),
      uptime_ms: Date.now() - this.started_at_ms,
      rss_bytes: process.memoryUsage().rss,
      counters: {
        sessions: this.sessions.counters.toJSON(),
        api: this.api.stats,
        chat: this.chat?.counters.toJSON() ?? {},
        directory: this.directory?.client.counters.toJSON() ?? {},
        transfers: this.transfers.counters.toJSON(),
      },
    }
  }

  private networkStatus() {
    if (this.net !== null) {
      return {
        online: this.net.dht.online && this.net.reachability() !== 'udp-blocked',
        ...this.net.info(),
        supernodes_known: this.net.supernodes.ranked().length,
      }
    }
    const g = this.gatewayNet!.info()
    return {
      online: g.gateway !== null,
      // We send no UDP by choice; peers reach us through the gateway.
      reachability: 'udp-blocked' as const,
      public_address: null,
      dht_port: null,
      dht_nodes: 0,
      host_cache_nodes: 0,
      behind_nat: null,
      bootstrap_ms: 0,
      bytes_sent: g.bytes_sent,
      bytes_received: g.bytes_received,
      via_gateway: g.gateway,
      via_proxy: g.via_proxy,
      supernodes_known: 0,
    }
  }

  metrics() {
    const relaying = this.net?.dht.stats?.relaying ?? {}
    const counter = (name: string, help: string, value: number) => ({
      name,
      help,
      type: 'counter' as const,
      value,
    })
    return [
      {
        name: 'parley_sessions',
        help: 'Open peer sessions.',
        type: 'gauge' as const,
        value: this.sessions.list().length,
      },
      counter(
        'parley_dht_relaying_attempts_total',
        'Relayed connects tried as a callee (hyperdht).',
        relaying.attempts ?? 0,
      ),
      counter(
        'parley_dht_relaying_successes_total',
        'Relayed connects paired as a callee (hyperdht).',
        relaying.successes ?? 0,
      ),
      counter(
        'parley_dht_relaying_aborts_total',
        'Relayed connects aborted as a callee (hyperdht).',
        relaying.aborts ?? 0,
      ),
      ...(this.supernode?.metrics() ?? []),
    ]
  }

  /** Clean shutdown: goodbyes, unannounce, host cache saved, daemon.json removed. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping
    this.stopping = (async () => {
      this.calls.close()
      this.chat?.close()
      this.directory?.service.close()
      await this.transfers.close().catch(() => {})
      await this.sessions.close()
      await this.api.close().catch(() => {})
      await this.metricsServer?.close().catch(() => {})
      await this.gateway?.close().catch(() => {})
      await this.supernode?.close().catch(() => {})
      await this.net?.close().catch(() => {})
      await this.gatewayNet?.close().catch(() => {})
      this.chatStore?.close()
      this.mailboxServer?.close()
      this.directory?.server?.close()
      await removeDaemonInfo(this.opts.home).catch(() => {})
    })()
    return this.stopping
  }
}

function createTransferEngine(opts: DaemonOptions, sessions: SessionManager): TransferEngine {
  // Test double on the path (test-only): the sender flips a byte in its first N chunks.
  let corrupt = Number(process.env.PARLEY_TEST_CORRUPT_CHUNKS ?? 0)
  return new TransferEngine({
    home: opts.home,
    clock: systemClock,
    random: systemRandom,
    enabled: opts.transfer?.enabled ?? true,
    auto_accept_from: opts.transfer?.auto_accept_from ?? [],
    download_dir: join(opts.home, 'downloads'),
    connect: (identity) => sessions.connect(identity),
    maintain: (identity, owner) => sessions.maintain(identity, owner),
    release: (identity, owner) => sessions.release(identity, owner),
    tamper:
      corrupt > 0
        ? (_index, data) => {
            if (corrupt <= 0) return
            corrupt--
            data[0] = data[0]! ^ 0xff
          }
        : undefined,
  })
}

export function describeSession(s: Session) {
  const identity = s.remoteIdentityPublicKey
  return {
    id: identity === null ? null : encodeId(identity),
    device: s.remoteDevicePublicKey.toString('hex'),
    path: s.path,
    initiator: s.isInitiator,
    agent: s.remoteAgent,
    protocol_version: s.version,
    supernode: (s.remoteFlags & HELLO_FLAG_SUPERNODE) !== 0,
  }
}
