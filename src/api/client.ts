import { request as httpRequest, type IncomingMessage } from 'node:http'
import { WebSocket } from 'ws'
import { type ErrorCode, ParleyError } from '../util/errors.js'
import {
  CLIENT_HANDSHAKE_TIMEOUT_MS,
  CLIENT_RESPONSE_BYTES_MAX,
  CLIENT_TIMEOUT_MS_DEFAULT,
  DAEMON_FILE,
  EVENTS_PATH,
} from './constants.js'
import { notRunning, readDaemonInfo, readToken } from './files.js'
import { hostForUrl } from './gate.js'
import type { ApiEvent } from './types.js'

// The CLI's (and embedders') way into a running daemon. Errors come back as
// ParleyError with the daemon's own code and message, so callers handle a
// remote failure exactly like a local one.

export interface ApiClientOptions {
  home: string
  host: string
  port: number
  token: string
}

export interface RequestOptions {
  signal?: AbortSignal
  timeout_ms?: number
}

export interface EventsOptions {
  signal?: AbortSignal
  /** Called once when the stream ends for any reason after it opened. */
  onClose?: (code: number, reason: string) => void
}

export class ApiClient {
  readonly home: string
  readonly host: string
  readonly port: number
  private readonly token: string

  constructor(opts: ApiClientOptions) {
    this.home = opts.home
    // A daemon bound to a wildcard address is still reached over loopback.
    this.host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host
    this.port = opts.port
    this.token = opts.token
  }

  static async fromHome(home: string): Promise<ApiClient> {
    const info = await readDaemonInfo(home)
    if (info === null) throw notRunning(home)
    const token = await readToken(home)
    return new ApiClient({ home, host: info.host, port: info.port, token })
  }

  request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8')
    return new Promise<T>((resolve, reject) => {
      const req = httpRequest({
        host: this.host,
        port: this.port,
        method,
        path,
        // One connection per request: nothing lingers to keep a CLI process alive.
        agent: false,
        headers: this.requestHeaders(payload),
      })
      const cancel = bindCancellation(opts, (err) => req.destroy(err))
      req.on('error', (err) => {
        cancel()
        reject(this.transportError(err))
      })
      req.on('response', (res) => {
        readResponse(res).then(
          (value) => {
            cancel()
            resolve(value as T)
          },
          (err: Error) => {
            cancel()
            reject(this.transportError(err))
          },
        )
      })
      req.end(payload)
    })
  }

  events(onEvent: (e: ApiEvent) => void, opts: EventsOptions = {}): Promise<{ close(): void }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${hostForUrl(this.host)}:${this.port}${EVENTS_PATH}`, {
        headers: { Authorization: `Bearer ${this.token}` },
        perMessageDeflate: false,
        handshakeTimeout: CLIENT_HANDSHAKE_TIMEOUT_MS,
        maxPayload: CLIENT_RESPONSE_BYTES_MAX,
      })
      const close = () => ws.close(1000)
      ws.on('unexpected-response', (req, res) => {
        const refused = `the daemon refused the event stream (HTTP ${res.statusCode})`
        readResponse(res)
          .then(
            () => new ParleyError('INTERNAL', refused),
            (err: ParleyError) => err,
          )
          .then((err) => {
            req.destroy()
            reject(err)
          })
      })
      ws.on('error', (err) => reject(this.transportError(err)))
      ws.on('open', () => {
        opts.signal?.addEventListener('abort', close, { once: true })
        ws.on('close', (code, reason) => opts.onClose?.(code, reason.toString()))
        resolve({ close })
      })
      ws.on('message', (data, isBinary) => {
        const event = isBinary ? null : parseEvent(data.toString())
        if (event !== null) onEvent(event)
      })
    })
  }

  private requestHeaders(payload: Buffer | undefined): Record<string, string | number> {
    const headers: Record<string, string | number> = {
      Authorization: `Bearer ${this.token}`,
      Accept: 'application/json',
    }
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json'
      headers['Content-Length'] = payload.length
    }
    return headers
  }

  private transportError(err: Error): ParleyError {
    if (err instanceof ParleyError) return err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ECONNREFUSED') {
      return notRunning(
        this.home,
        `${DAEMON_FILE} names ${this.host}:${this.port} but nothing answers there, so it is probably stale from a daemon that crashed`,
      )
    }
    return new ParleyError('INTERNAL', `lost the connection to the daemon: ${err.message}`, {
      cause: err,
    })
  }
}

/** Wires the timeout and the caller's signal to `fail`; returns the cleanup. */
function bindCancellation(opts: RequestOptions, fail: (err: ParleyError) => void): () => void {
  const timeout_ms = opts.timeout_ms ?? CLIENT_TIMEOUT_MS_DEFAULT
  const timer = setTimeout(() => {
    fail(new ParleyError('TIMEOUT', `the daemon did not answer within ${timeout_ms} ms`))
  }, timeout_ms)
  const onAbort = () => fail(new ParleyError('ABORTED', 'the request to the daemon was cancelled'))
  if (opts.signal?.aborted) queueMicrotask(onAbort)
  else opts.signal?.addEventListener('abort', onAbort, { once: true })
  return () => {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onAbort)
  }
}

/** Parses a JSON response; an error status becomes the daemon's ParleyError. */
async function readResponse(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let total_bytes = 0
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total_bytes += chunk.length
    if (total_bytes > CLIENT_RESPONSE_BYTES_MAX) {
      res.destroy()
      throw new ParleyError(
        'INTERNAL',
        `the daemon's answer is over ${CLIENT_RESPONSE_BYTES_MAX} bytes`,
      )
    }
    chunks.push(chunk)
  }
  const status = res.statusCode ?? 0
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ParleyError(
      'INTERNAL',
      `the daemon answered HTTP ${status} with something other than JSON`,
    )
  }
  if (status >= 200 && status < 300) return value
  throw remoteError(value, status)
}

function remoteError(value: unknown, status: number): ParleyError {
  const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error
  if (typeof error?.code === 'string' && typeof error.message === 'string') {
    // The daemon may be newer than this client, so its code is passed on even if unknown here.
    return new ParleyError(error.code as ErrorCode, error.message)
  }
  return new ParleyError(
    'INTERNAL',
    `the daemon answered HTTP ${status} without an error description`,
  )
}

function parseEvent(text: string): ApiEvent | null {
  try {
    const value: unknown = JSON.parse(text)
    if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as ApiEvent).type === 'string'
    ) {
      return value as ApiEvent
    }
  } catch {
    // A malformed event is dropped: the stream stays useful for the well-formed ones.
  }
  return null
}
