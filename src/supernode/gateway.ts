import { appendFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { KeyPair } from 'hyperdht'
import { SECURE_HANDSHAKE_TIMEOUT_MS } from '../net/constants.js'
import type { NetworkNode } from '../net/index.js'
import { secureStream } from '../net/secure.js'
import { WebSocketAcceptor } from '../net/websocket-link.js'
import { acceptTunnel, type Session, type SessionManager, TunnelStream } from '../session/index.js'
import { Counters } from '../util/counters.js'
import { GATEWAY_CLIENTS_MAX, GATEWAY_TUNNEL_OPEN_TIMEOUT_MS } from './constants.js'

/**
 * Test-only: `PARLEY_TEST_GATEWAY_TAP=FILE` appends, as hex lines, every
 * byte the gateway can read from its clients' links after decrypting them —
 * so a test can assert what a gateway sees (and that no secret key is in it).
 */
const TAP_FILE = process.env.PARLEY_TEST_GATEWAY_TAP ?? ''
/**
 * Test-only: `PARLEY_TEST_GATEWAY_DROP_TUNNELS=N` closes the first N tunnels
 * right after taking them, as when the session towards the target is lost
 * under a tunnel (a test double of that race; the opener tries again).
 */
let tunnelDropsForTests = Number(process.env.PARLEY_TEST_GATEWAY_DROP_TUNNELS ?? 0) || 0

export type GatewayDropReason = 'clients_full' | 'handshake_failed' | 'tunnel_refused'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/**
 * The supernode's TCP gateway (PROTOCOL.md §5.11): hosts that cannot send UDP
 * (firewalled, or behind an HTTP/SOCKS proxy) keep one encrypted TCP link
 * here. The gateway announces each client's identity under its own key and
 * splices tunnels between the client and its peers. It never holds a
 * client's secret key: each link is a Noise handshake with the client's own
 * device key, and each tunnel carries an inner Noise stream between the two
 * endpoints, so the gateway forwards ciphertext whose keys it never had.
 */
export class GatewayServer {
  readonly counters = new Counters<GatewayDropReason>()
  private readonly server: Server
  private readonly clients = new Map<string, Session>()
  private readonly sockets = new Set<Socket>()
  /** Parses the HTTP upgrade of WebSocket links; never listens itself (the gateway port does). */
  private readonly http = createHttpServer()
  private readonly websocket = new WebSocketAcceptor()
  private readonly idle = new WeakMap<Socket, NodeJS.Timeout>()
  private websocket_clients = 0
  private tunnels = 0
  private tunnels_total = 0
  private bytes_forwarded = 0
  address: { host: string; port: number } | null = null

  constructor(
    private readonly opts: {
      keyPair: KeyPair
      sessions: SessionManager
      net: NetworkNode
      clients_max?: number
      onDebug?: (msg: string) => void
    },
  ) {
    this.server = createServer((socket) => this.onSocket(socket))
    this.http.on('upgrade', (req, socket: Socket, head: Buffer) =>
      this.websocket.upgrade(req, socket, head, (stream) => this.secure(stream, socket, true)),
    )
    this.http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' })
      res.end(
        'This is a Parley gateway: connect with a Parley client (--gateways ws://HOST:PORT/).\n',
      )
    })
    this.http.on('clientError', (_err, socket) => socket.destroy())
    opts.sessions.setTunnelRouter((from, id, target) => this.route(from, id, target))
  }

  get clients_max(): number {
    return this.opts.clients_max ?? GATEWAY_CLIENTS_MAX
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        const a = this.server.address() as { address: string; port: number }
        this.address = { host: a.address, port: a.port }
        resolve(this.address)
      })
    })
  }

  private onSocket(socket: Socket): void {
    socket.on('error', () => {})
    // Links still in their handshake count too: a flood of half-open links must not pass the cap.
    if (this.sockets.size >= this.clients_max) {
      this.counters.inc('clients_full')
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    this.sockets.add(socket)
    // Until the link is secured: a socket that says nothing, or stalls in HTTP, is let go.
    const idle = setTimeout(() => socket.destroy(), SECURE_HANDSHAKE_TIMEOUT_MS)
    this.idle.set(socket, idle)
    socket.once('close', () => {
      clearTimeout(idle)
      this.sockets.delete(socket)
    })
    // The first bytes tell a WebSocket upgrade (PROTOCOL.md §5.11.6) from a plain link.
    // Read without consuming: the stream stays unpaused, so whichever reader attaches next
    // (the HTTP parser or the Noise stream) receives these bytes first.
    socket.once('readable', () => {
      const first = socket.read() as Buffer | null
      if (first === null) {
        socket.destroy()
        return
      }
      socket.unshift(first)
      if (WebSocketAcceptor.looksLikeHttp(first)) this.http.emit('connection', socket)
      else this.secure(socket, socket, false)
    })
  }

  /** The Noise handshake and hello on a link's byte stream (the socket itself, or WebSocket). */
  private secure(stream: Duplex, socket: Socket, websocket: boolean): void {
    secureStream(stream, false, this.opts.keyPair, 'gateway')
      .then((secured) => {
        if (TAP_FILE !== '')
          secured.on('data', (b: Buffer) => appendFileSync(TAP_FILE, `${b.toString('hex')}\n`))
        return this.opts.sessions.adopt(secured, null)
      })
      .then((session) => {
        clearTimeout(this.idle.get(socket))
        this.addClient(session)
        if (websocket) {
          this.websocket_clients++
          session.once('close', () => this.websocket_clients--)
        }
      })
      .catch(() => {
        this.counters.inc('handshake_failed')
        socket.destroy()
      })
  }

  private addClient(session: Session): void {
    const identity = session.remoteIdentityPublicKey!
    const key = hex(identity)
    const previous = this.clients.get(key)
    this.clients.set(key, session)
    if (previous !== undefined && previous !== session) previous.close()
    this.opts.onDebug?.(`gateway client ${key.slice(0, 16)} linked`)
    void this.opts.net.announceFor(identity)
    session.once('close', () => {
      if (this.clients.get(key) !== session) return
      this.clients.delete(key)
      void this.opts.net.unannounceFor(identity)
    })
  }

  private isClient(session: Session): boolean {
    const id = session.remoteIdentityPublicKey
    return id !== null && this.clients.get(hex(id)) === session
  }

  /**
   * A tunnel opened on `from` for `target`: open the same tunnel id towards
   * the target (our client, or a session that reaches it), accept `from`'s at
   * once and splice (§5.11). Bytes for the far end wait in its protomux until
   * it answers; if it refuses, or does not answer in time, both close. Not
   * waiting for the far end saves that round trip on every connect through a
   * gateway. We route only for our clients (to anyone, or from anyone to
   * them): no open forwarding between strangers.
   */
  private async route(from: Session, id: Buffer, target: Buffer): Promise<void> {
    const local = this.clients.get(hex(target))
    if (local === undefined && !this.isClient(from)) throw new Error('not our client')
    const to = local ?? (await this.opts.sessions.reachSettled(target))
    if (to === from) throw new Error('a tunnel to itself')
    let near: TunnelStream | null = null
    const far = new TunnelStream(to, id, (data) => {
      if (near === null) far.destroy()
      else this.forward(near, data, to)
    })
    const timer = setTimeout(() => far.destroy(), GATEWAY_TUNNEL_OPEN_TIMEOUT_MS)
    far.open().then(
      () => clearTimeout(timer),
      () => {
        clearTimeout(timer)
        this.counters.inc('tunnel_refused')
      },
    )
    const n = acceptTunnel(from, id, (data) => this.forward(far, data, from))
    near = n
    this.tunnels++
    this.tunnels_total++
    n.once('close', () => {
      this.tunnels--
      far.destroy()
    })
    far.once('close', () => n.destroy())
    if (tunnelDropsForTests > 0) {
      tunnelDropsForTests--
      setImmediate(() => far.destroy())
    }
  }

  /** Forwards as it comes; a backed-up link pauses the link the bytes come from. */
  private forward(to: TunnelStream, data: Buffer, fromSession: Session): void {
    this.bytes_forwarded += data.byteLength
    if (to.forward(data)) return
    // A link that stayed paused would stall every tunnel on it: resume when the
    // backed-up tunnel drains or closes, whichever comes first.
    fromSession.stream.pause()
    const resume = () => {
      to.off('channel-drain', resume)
      to.off('close', resume)
      fromSession.stream.resume()
    }
    to.on('channel-drain', resume)
    to.on('close', resume)
  }

  status() {
    return {
      port: this.address?.port ?? null,
      clients: this.clients.size,
      clients_max: this.clients_max,
      websocket_clients: this.websocket_clients,
      tunnels: this.tunnels,
      tunnels_total: this.tunnels_total,
      bytes_forwarded: this.bytes_forwarded,
      refused: this.counters.toJSON(),
    }
  }

  async close(): Promise<void> {
    this.opts.sessions.setTunnelRouter(null)
    for (const s of this.sockets) s.destroy()
    this.websocket.close()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
