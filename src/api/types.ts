// The shapes shared by the server, the route tables of higher layers and the client.

export type FieldType = 'string' | 'number' | 'boolean' | 'integer'

export interface FieldSpec {
  type: FieldType
  required?: boolean
  /** Strings only: length in UTF-16 code units. */
  max_length?: number
  /** Numbers and integers only. */
  min?: number
  max?: number
  /** Strings only; anchor it (^…$), it is searched, not matched whole. */
  pattern?: RegExp
  /** Shown to the caller in validation errors, so write it for a person. */
  description: string
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE'
  /** Exact match against the path without its query string, e.g. '/v1/status'. */
  path: string
  /** JSON body schema; absent means the route takes no fields. Unknown fields are refused. */
  body?: Record<string, FieldSpec>
  /** Returns a JSON-serialisable value; the signal fires when the client goes away. */
  handler(body: Record<string, unknown>, signal: AbortSignal): Promise<unknown>
}

export interface ApiEvent {
  type: string
  [k: string]: unknown
}

export interface ApiServerOptions {
  /** Defaults to 127.0.0.1: the API must never face the network. */
  host?: string
  /** 0 picks an ephemeral port. */
  port: number
  token: string
  routes: Route[]
  body_bytes_max?: number
  ws_clients_max?: number
  /** Time allowed to receive a whole request; tests shorten it. */
  request_timeout_ms?: number
}

export interface ApiStats {
  /** HTTP requests and WebSocket upgrades seen. */
  requests: number
  /** Refused before reaching a handler: bad host, origin, token, path, body, or malformed HTTP. */
  rejected: number
  ws_clients: number
  /** Subscribers dropped for falling behind. */
  ws_dropped: number
}

/** Written by the daemon so that clients can find it. */
export interface DaemonInfo {
  pid: number
  host: string
  port: number
  started_at_ms: number
}
