import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { ApiServer, createToken, removeDaemonInfo, writeDaemonInfo } from '../api/index.js'
import { encodeId, type IdentityKeys, safetyFingerprint } from '../identity/index.js'
import { type HostPort, NetworkNode } from '../net/index.js'
import { type Session, SessionManager } from '../session/index.js'
import { systemClock } from '../util/clock.js'
import { systemRandom } from '../util/random.js'
import { PROTOCOL_VERSION } from '../wire/index.js'
import { HOST_CACHE_FILE } from './home.js'
import { buildRoutes } from './routes.js'

const debugEnabled = process.env.PARLEY_DEBUG !== undefined && process.env.PARLEY_DEBUG !== ''
function debug(...args: unknown[]): void {
  if (debugEnabled) console.error('[parley]', ...args)
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
}

/** A running node: network, sessions and the local API, wired together. */
export class Daemon extends EventEmitter {
  readonly opts: DaemonOptions
  readonly net: NetworkNode
  readonly sessions: SessionManager
  readonly api: ApiServer
  readonly started_at_ms = Date.now()
  api_address: { host: string; port: number } | null = null
  private stopping: Promise<void> | null = null

  private constructor(opts: DaemonOptions, net: NetworkNode, token: string) {
    super()
    this.opts = opts
    this.net = net
    this.sessions = new SessionManager({
      network: net,
      certificate: opts.keys.certificate,
      clock: systemClock,
      random: systemRandom,
      agent: AGENT,
    })
    this.api = new ApiServer({
      host: opts.api_host ?? '127.0.0.1',
      port: opts.api_port,
      token,
      routes: buildRoutes(this),
    })
    net.on('warning', (err) => debug('network warning:', err))
    net.on('debug', (msg) => debug(msg))
    this.sessions.on('session', (s: Session) => {
      this.api.broadcast({ type: 'session.opened', ...describeSession(s) })
    })
    this.sessions.on('session-closed', (s: Session) => {
      this.api.broadcast({ type: 'session.closed', ...describeSession(s), reason: s.closeInfo })
    })
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    let daemon: Daemon | null = null
    const net = await NetworkNode.create({
      keyPair: opts.keys.device,
      bootstrap: opts.bootstrap,
      hostCachePath: join(opts.home, HOST_CACHE_FILE),
      port: opts.dht_port,
      onConnection: (socket) => {
        // Incoming sessions: the hello tells us who it is; failures are counted by the manager.
        debug(
          'incoming connection from device',
          socket.remotePublicKey.toString('hex').slice(0, 16),
        )
        daemon?.sessions.adopt(socket, null).catch((err) => debug('incoming session failed:', err))
      },
    })
    const token = await createToken(opts.home)
    daemon = new Daemon(opts, net, token)
    try {
      await net.start()
      await net.announce(opts.keys.identity.publicKey)
      const api = await daemon.api.listen()
      daemon.api_address = api
      await writeDaemonInfo(opts.home, {
        pid: process.pid,
        host: api.host,
        port: api.port,
        started_at_ms: daemon.started_at_ms,
      })
    } catch (err) {
      await daemon.stop()
      throw err
    }
    return daemon
  }

  get id(): string {
    return encodeId(this.opts.keys.identity.publicKey)
  }

  status() {
    return {
      id: this.id,
      name: this.opts.keys.name,
      fingerprint: safetyFingerprint(this.opts.keys.identity.publicKey),
      online: this.net.dht.online && this.net.reachability() !== 'udp-blocked',
      ...this.net.info(),
      roles: [] as string[],
      peers: this.sessions.list().map(describeSession),
      uptime_ms: Date.now() - this.started_at_ms,
      rss_bytes: process.memoryUsage().rss,
      counters: { sessions: this.sessions.counters.toJSON(), api: this.api.stats },
    }
  }

  /** Clean shutdown: goodbyes, unannounce, host cache saved, daemon.json removed. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping
    this.stopping = (async () => {
      this.sessions.close()
      await this.api.close().catch(() => {})
      await this.net.close().catch(() => {})
      await removeDaemonInfo(this.opts.home).catch(() => {})
    })()
    return this.stopping
  }
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
  }
}
