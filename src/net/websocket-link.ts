import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import WebSocket, { createWebSocketStream, WebSocketServer } from 'ws'
import { ParleyError } from '../util/errors.js'
import { GATEWAY_CONNECT_TIMEOUT_MS } from './constants.js'
import { type HostPort, parseHostPortList } from './hostcache.js'

// The gateway's WebSocket binding (PROTOCOL.md §5.11.6): the same byte
// stream as the plain TCP link, carried in binary WebSocket messages, for
// networks that let only HTTP out. It adds no security of its own (the Noise
// handshake inside does that); it only gets the bytes through.

/** The subprotocol a client asks for and a gateway requires. */
export const WEBSOCKET_PROTOCOL = 'parley-gateway.1'
/** Largest WebSocket message either side accepts; secret-stream frames are far smaller. */
export const WEBSOCKET_MESSAGE_BYTES_MAX = 1 << 20

/** A gateway to link to: plain TCP, or WebSocket when `websocket_path` is set. */
export interface GatewayAddress extends HostPort {
  websocket_path?: string
}

/** `HOST:PORT` (TCP) or `ws://HOST:PORT[/PATH]` (WebSocket), comma-separated. */
export function parseGatewayList(text: string): GatewayAddress[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((entry) => {
      if (!/^ws:\/\//i.test(entry)) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
          throw new Error(`"${entry}": only HOST:PORT (TCP) or ws://HOST:PORT/PATH are gateways`)
        }
        return parseHostPortList(entry)[0]!
      }
      let url: URL
      try {
        url = new URL(entry)
      } catch {
        throw new Error(`"${entry}" is not a ws:// URL`)
      }
      if (url.port === '') throw new Error(`"${entry}" needs a port (ws://HOST:PORT/PATH)`)
      if (url.username !== '' || url.search !== '' || url.hash !== '') {
        throw new Error(`"${entry}": a gateway URL has no user, query or fragment`)
      }
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
      return { host, port: Number(url.port), websocket_path: url.pathname }
    })
}

export function formatGatewayAddress(g: GatewayAddress): string {
  const hostPort = g.host.includes(':') ? `[${g.host}]:${g.port}` : `${g.host}:${g.port}`
  return g.websocket_path === undefined ? hostPort : `ws://${hostPort}${g.websocket_path}`
}

/** Runs the WebSocket handshake over an open TCP socket (maybe through a proxy). */
export function websocketClient(socket: Socket, target: GatewayAddress): Promise<Duplex> {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host
  const url = `ws://${host}:${target.port}${target.websocket_path ?? '/'}`
  const ws = new WebSocket(url, WEBSOCKET_PROTOCOL, {
    createConnection: () => socket,
    maxPayload: WEBSOCKET_MESSAGE_BYTES_MAX,
    handshakeTimeout: GATEWAY_CONNECT_TIMEOUT_MS,
    perMessageDeflate: false,
  })
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      ws.terminate()
      reject(
        new ParleyError('PEER_NOT_FOUND', `the WebSocket handshake with ${url} failed: ${why}`),
      )
    }
    ws.once('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`))
    ws.once('error', (err) => fail(err.message))
    ws.once('open', () => {
      ws.removeAllListeners('error')
      ws.on('error', () => {})
      resolve(createWebSocketStream(ws))
    })
  })
}

/**
 * The server half: a gateway port that also speaks WebSocket. `accepts`
 * tells a WebSocket upgrade from a plain link by its first bytes; `upgrade`
 * answers it and hands over the byte stream, or answers a plain HTTP request
 * with 426 and closes.
 */
export class WebSocketAcceptor {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: WEBSOCKET_MESSAGE_BYTES_MAX,
    perMessageDeflate: false,
    handleProtocols: (protocols) =>
      protocols.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false,
  })

  /** An HTTP request line starts with a method; a plain link starts with a Noise frame. */
  static looksLikeHttp(first: Buffer): boolean {
    return first.subarray(0, 4).toString('latin1') === 'GET '
  }

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer, onStream: (s: Duplex) => void): void {
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
    if (!protocols.split(',').some((p) => p.trim() === WEBSOCKET_PROTOCOL)) {
      socket.end(
        'HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
          `Sec-WebSocket-Protocol: ${WEBSOCKET_PROTOCOL}\r\n\r\n` +
          'This is a Parley gateway: connect with a Parley client (--gateways ws://HOST:PORT/).\n',
      )
      return
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {})
      onStream(createWebSocketStream(ws))
    })
  }

  close(): void {
    this.wss.close()
  }
}
