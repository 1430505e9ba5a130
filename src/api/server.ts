import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http'
import type { Duplex } from 'node:stream'
import { assert, ParleyError } from '../util/errors.js'
import { readJsonBody } from './body.js'
import {
  API_HOST_DEFAULT,
  BODY_BYTES_MAX_DEFAULT,
  CONNECTIONS_MAX,
  HEADER_BYTES_MAX,
  HEADERS_COUNT_MAX,
  KEEP_ALIVE_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS_DEFAULT,
  TIMEOUT_CHECK_INTERVAL_MS,
  WS_CLIENTS_MAX_DEFAULT,
} from './constants.js'
import { EventHub, pathOf } from './events.js'
import { Gate } from './gate.js'
import { validateBody } from './schema.js'
import { ApiRejection, errorReply } from './status.js'
import type { ApiEvent, ApiServerOptions, ApiStats, Route } from './types.js'

// The daemon's local HTTP API. Every request passes Host, Origin and token
// checks before routing, bodies are bounded and validated before a handler
// sees them, and nothing a client sends can throw out of this file.

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  // JSON is never meant to be rendered, framed or embedded by another site.
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
}

export class ApiServer {
  readonly stats: ApiStats = { requests: 0, rejected: 0, ws_clients: 0, ws_dropped: 0 }
  private readonly host: string
  private readonly port_wanted: number
  private readonly body_bytes_max: number
  private readonly routes = new Map<string, Map<string, Route>>()
  private readonly gate: Gate
  private readonly hub: EventHub
  private readonly server: Server
  private readonly inflight = new Set<AbortController>()

  constructor(opts: ApiServerOptions) {
    assert(opts.token.length >= 32, 'the API token must be at least 32 characters')
    this.host = opts.host ?? API_HOST_DEFAULT
    this.port_wanted = opts.port
    this.body_bytes_max = opts.body_bytes_max ?? BODY_BYTES_MAX_DEFAULT
    for (const route of opts.routes) this.addRoute(route)
    this.gate = new Gate(opts.token, this.host)
    this.hub = new EventHub(this.gate, this.stats, opts.ws_clients_max ?? WS_CLIENTS_MAX_DEFAULT)
    this.server = buildHttpServer(opts.request_timeout_ms ?? REQUEST_TIMEOUT_MS_DEFAULT)
    this.server.on('request', (req, res) => {
      // Last line of defence: whatever happens, this request ends and the process lives.
      this.onRequest(req, res).catch(() => res.destroy())
    })
    this.server.on('upgrade', (req, socket, head) => this.hub.upgrade(req, socket, head))
    this.server.on('clientError', (err, socket) => this.onClientError(err, socket))
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        const where = `${this.host}:${this.port_wanted}`
        reject(
          new ParleyError('INTERNAL', `the API cannot listen on ${where}: ${err.message}`, {
            cause: err,
          }),
        )
      }
      this.server.once('error', onError)
      this.server.listen(this.port_wanted, this.host, () => {
        this.server.off('error', onError)
        const address = this.server.address()
        assert(address !== null && typeof address === 'object', 'a TCP server has an address')
        this.gate.setPort(address.port)
        resolve({ host: address.address, port: address.port })
      })
    })
  }

  broadcast(event: ApiEvent): void {
    this.hub.broadcast(event)
  }

  /** Stops listening, cancels running handlers and disconnects everyone. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const ac of this.inflight)
      ac.abort(new ParleyError('ABORTED', 'the Parley daemon is stopping'))
    this.server.closeAllConnections()
    await Promise.all([closed, this.hub.close()])
  }

  private addRoute(route: Route): void {
    const methods = this.routes.get(route.path) ?? new Map<string, Route>()
    assert(!methods.has(route.method), `duplicate route ${route.method} ${route.path}`)
    methods.set(route.method, route)
    this.routes.set(route.path, methods)
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++
    try {
      const route = this.admit(req)
      const body = validateBody(await readJsonBody(req, this.body_bytes_max), route.body ?? {})
      const result = await this.runHandler(route, body, res)
      sendJson(res, 200, result === undefined ? {} : result)
    } catch (err) {
      if (err instanceof ApiRejection) this.stats.rejected++
      const reply = errorReply(err)
      sendJson(res, reply.status, reply.body, reply.headers)
    }
  }

  /** Gate first, then routing: unauthenticated callers cannot even probe which paths exist. */
  private admit(req: IncomingMessage): Route {
    this.gate.checkHost(req)
    this.gate.checkOrigin(req)
    this.gate.checkToken(req)
    const path = pathOf(req.url)
    const methods = this.routes.get(path)
    if (methods === undefined)
      throw new ApiRejection(404, 'NOT_FOUND', `no API endpoint at ${path.slice(0, 200)}`)
    const route = methods.get(req.method ?? '')
    if (route === undefined) {
      const allowed = [...methods.keys()].join(', ')
      throw new ApiRejection(405, 'BAD_REQUEST', `${path} accepts ${allowed}, not ${req.method}`, {
        Allow: allowed,
      })
    }
    return route
  }

  private async runHandler(route: Route, body: Record<string, unknown>, res: ServerResponse) {
    const ac = new AbortController()
    const onClose = () => {
      if (!res.writableFinished) ac.abort(new ParleyError('ABORTED', 'the API client went away'))
    }
    res.on('close', onClose)
    this.inflight.add(ac)
    try {
      return await route.handler(body, ac.signal)
    } finally {
      this.inflight.delete(ac)
      res.off('close', onClose)
    }
  }

  /** Malformed HTTP, oversized headers, timeouts: answer if the socket still can, then hang up. */
  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    // A reset is a client hanging up, not a request; anything else was an attempt at one.
    if (err.code !== 'ECONNRESET') {
      this.stats.requests++
      this.stats.rejected++
    }
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const status = clientErrorStatus(err.code)
    const line = `HTTP/1.1 ${status} ${STATUS_CODES[status]}`
    socket.end(`${line}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy())
  }
}

function buildHttpServer(request_timeout_ms: number): Server {
  const server = createServer({
    requestTimeout: request_timeout_ms,
    headersTimeout: request_timeout_ms,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    maxHeaderSize: HEADER_BYTES_MAX,
  })
  server.maxHeadersCount = HEADERS_COUNT_MAX
  server.maxConnections = CONNECTIONS_MAX
  return server
}

function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431
  if (code === 'HPE_REQUEST_TIMEOUT' || code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408
  return 400
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return
  let text: string
  try {
    // undefined comes back for functions and symbols, which JSON cannot carry either.
    text = JSON.stringify(value) ?? 'null'
  } catch (err) {
    // A handler returned something JSON cannot carry (a cycle, a BigInt): a bug, reported as one.
    const reply = errorReply(err)
    status = reply.status
    text = JSON.stringify(reply.body)
  }
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  })
  res.end(text)
}
