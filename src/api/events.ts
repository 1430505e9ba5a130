import { type IncomingMessage, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import {
  EVENTS_PATH,
  WS_BUFFERED_BYTES_MAX,
  WS_CLOSE_GRACE_MS,
  WS_INCOMING_BYTES_MAX,
  WS_PROTOCOL,
  WS_TOKEN_PROTOCOL_PREFIX,
} from './constants.js'
import type { Gate } from './gate.js'
import { ApiRejection, errorReply } from './status.js'
import type { ApiEvent, ApiStats } from './types.js'

// The WebSocket event stream at /v1/events: one-way, daemon to subscribers.
// Upgrades pass the same gate as HTTP requests, and a subscriber that cannot
// keep up is dropped so that one stuck client cannot grow the daemon's memory.

export class EventHub {
  private readonly gate: Gate
  private readonly stats: ApiStats
  private readonly clients_max: number
  private readonly clients = new Set<WebSocket>()
  private readonly wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: WS_INCOMING_BYTES_MAX,
    handleProtocols: selectProtocol,
  })

  constructor(gate: Gate, stats: ApiStats, clients_max: number) {
    this.gate = gate
    this.stats = stats
    this.clients_max = clients_max
  }

  /** The http server's 'upgrade' handler: admit or answer with a JSON error and hang up. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The socket is ours now; a reset from the client must not become an uncaught error.
    socket.on('error', () => socket.destroy())
    this.stats.requests++
    try {
      this.admit(req)
    } catch (err) {
      this.stats.rejected++
      refuseUpgrade(socket, err)
      return
    }
    // ws answers malformed handshakes (bad key, version) with 400 itself.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.adopt(ws))
  }

  broadcast(event: ApiEvent): void {
    if (this.clients.size === 0) return
    const data = JSON.stringify(event)
    for (const ws of this.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue
      if (ws.bufferedAmount > WS_BUFFERED_BYTES_MAX) {
        this.stats.ws_dropped++
        ws.terminate()
        continue
      }
      ws.send(data)
    }
  }

  /** Says goodbye to every subscriber, forcing those that do not answer within the grace period. */
  async close(): Promise<void> {
    const closing = [...this.clients].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve())
          const timer = setTimeout(() => ws.terminate(), WS_CLOSE_GRACE_MS)
          timer.unref()
          ws.close(1001, 'the Parley daemon is stopping')
        }),
    )
    await Promise.all(closing)
    this.wss.close()
  }

  private admit(req: IncomingMessage): void {
    if (pathOf(req.url) !== EVENTS_PATH) {
      throw new ApiRejection(
        404,
        'NOT_FOUND',
        `no WebSocket endpoint here: subscribe at ${EVENTS_PATH}`,
      )
    }
    this.gate.checkHost(req)
    this.gate.checkOrigin(req)
    this.gate.checkToken(req, offeredTokens(req))
    if (this.clients.size >= this.clients_max) {
      // No error code says "busy" yet; FORBIDDEN with 503 tells the caller it is policy, not a bug.
      throw new ApiRejection(
        503,
        'FORBIDDEN',
        `too many event subscribers (${this.clients_max}): close another one and try again`,
      )
    }
  }

  private adopt(ws: WebSocket): void {
    this.clients.add(ws)
    this.stats.ws_clients = this.clients.size
    // Errors (bad frames, resets) are always followed by 'close', which does the cleanup.
    ws.on('error', () => {})
    ws.on('close', () => {
      this.clients.delete(ws)
      this.stats.ws_clients = this.clients.size
    })
  }
}

/**
 * A browser fails the handshake unless the server echoes one of the protocols it
 * offered, so prefer the plain `parley-token` and echo the token protocol only
 * when it was offered alone.
 */
function selectProtocol(protocols: Set<string>): string | false {
  if (protocols.has(WS_PROTOCOL)) return WS_PROTOCOL
  for (const p of protocols) if (p.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) return p
  return false
}

function offeredTokens(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol']
  if (header === undefined) return []
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(WS_TOKEN_PROTOCOL_PREFIX))
    .map((p) => p.slice(WS_TOKEN_PROTOCOL_PREFIX.length))
}

function refuseUpgrade(socket: Duplex, err: unknown): void {
  const reply = errorReply(err)
  const body = JSON.stringify(reply.body)
  const head = [
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    ...Object.entries(reply.headers).map(([k, v]) => `${k}: ${v}`),
  ]
  if (!socket.writable) {
    socket.destroy()
    return
  }
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy())
}

export function pathOf(url: string | undefined): string {
  if (url === undefined) return ''
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
