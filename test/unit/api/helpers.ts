import assert from 'node:assert/strict'
import { type IncomingHttpHeaders, request } from 'node:http'
import { connect } from 'node:net'
import { ApiServer, type ApiServerOptions, type Route } from '../../../src/api/index.js'
import { type ErrorCode, ParleyError } from '../../../src/util/errors.js'

// Shared fixtures for the API tests: a server with a few representative
// routes on an ephemeral loopback port, and clients that can send anything.

export const TOKEN = 'ab'.repeat(32)

export interface TestServer {
  server: ApiServer
  port: number
  aborts: string[]
}

export function testRoutes(aborts: string[]): Route[] {
  return [
    { method: 'GET', path: '/v1/status', handler: async () => ({ ok: true }) },
    {
      method: 'POST',
      path: '/v1/echo',
      body: {
        text: { type: 'string', required: true, max_length: 10, description: 'some text' },
        count: { type: 'integer', min: 1, max: 5, description: 'how many' },
        loud: { type: 'boolean', description: 'shout?' },
        ratio: { type: 'number', description: 'a ratio' },
        slug: { type: 'string', pattern: /^[a-z]+$/, description: 'lowercase letters' },
      },
      handler: async (body) => ({ echo: body }),
    },
    { method: 'DELETE', path: '/v1/echo', handler: async () => ({ deleted: true }) },
    { method: 'POST', path: '/v1/noop', handler: async () => undefined },
    {
      method: 'POST',
      path: '/v1/fail',
      body: { code: { type: 'string', required: true, description: 'an error code' } },
      handler: async (body) => {
        throw new ParleyError(body.code as ErrorCode, `failed with ${body.code} on purpose`)
      },
    },
    {
      method: 'GET',
      path: '/v1/crash',
      handler: async () => {
        throw new TypeError('boom')
      },
    },
    {
      method: 'GET',
      path: '/v1/slow',
      handler: (_body, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborts.push(String((signal.reason as Error).message))
            reject(signal.reason)
          })
        }),
    },
  ]
}

export async function startServer(opts: Partial<ApiServerOptions> = {}): Promise<TestServer> {
  const aborts: string[] = []
  const server = new ApiServer({ port: 0, token: TOKEN, routes: testRoutes(aborts), ...opts })
  const { port } = await server.listen()
  return { server, port, aborts }
}

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: any
}

export interface CallOptions {
  method?: string
  path?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Send the right token unless told otherwise. */
  auth?: boolean
}

/** A real HTTP request; headers given here (Host included) replace the defaults. */
export function call(port: number, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = {}
  if (opts.auth !== false) headers.Authorization = `Bearer ${TOKEN}`
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
  Object.assign(headers, opts.headers)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/v1/status',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
        })
      },
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

/**
 * Writes raw bytes and collects whatever comes back until the server closes.
 * `end` half-closes after writing (so an incomplete request fails fast);
 * the timeout destroys a connection the server keeps open.
 */
export function raw(
  port: number,
  data: string | Buffer,
  opts: { end?: boolean; timeout_ms?: number } = {},
): Promise<{ text: string; timed_out: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let timed_out = false
    const timer = setTimeout(() => {
      timed_out = true
      socket.destroy()
    }, opts.timeout_ms ?? 5_000)
    socket.on('connect', () => {
      socket.write(data)
      if (opts.end) socket.end()
    })
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ text: Buffer.concat(chunks).toString('latin1'), timed_out })
    })
  })
}

export function statusOf(response_text: string): number {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(response_text)
  return match === null ? 0 : Number(match[1])
}

/** Checks the status and the one error shape every refusal has. */
export function assertError(reply: Reply, status: number, code: string, message?: RegExp) {
  assert.equal(reply.status, status, JSON.stringify(reply.body))
  assert.equal(reply.body.error.code, code)
  assert.equal(typeof reply.body.error.message, 'string')
  if (message !== undefined) assert.match(reply.body.error.message, message)
  assert.deepEqual(Object.keys(reply.body), ['error'])
}
