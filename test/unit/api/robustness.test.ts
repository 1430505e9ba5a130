import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ApiServer } from '../../../src/api/index.js'
import { call, raw, statusOf, TOKEN, testRoutes } from './helpers.js'

// Ten thousand hostile or broken requests must leave the server answering.
// The generator is seeded; a failure prints the seed to replay it with
// PARLEY_TEST_SEED=<seed>.

const REQUESTS = 10_000
const CONCURRENCY = 50
const REQUEST_TIMEOUT_MS = 4_000

function mulberry32(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rand = () => number
const int = (rand: Rand, n: number) => Math.floor(rand() * n)
const pick = <T>(rand: Rand, items: readonly T[]): T => items[int(rand, items.length)]!

function bytes(rand: Rand, n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = int(rand, 256)
  return out
}

function printable(rand: Rand, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += String.fromCharCode(32 + int(rand, 95))
  return s
}

interface Case {
  data: Buffer
  /** Half-close after writing, so incomplete requests fail at once instead of timing out. */
  end: boolean
  /** Known answer, when the case is one we can predict. */
  status?: number
}

function request(head: string[], body: Buffer = Buffer.alloc(0)): Buffer {
  const lines = [...head, `Content-Length: ${body.length}`, 'Connection: close', '', '']
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), body])
}

function authed(port: number, method: string, path: string): string[] {
  return [
    `${method} ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Authorization: Bearer ${TOKEN}`,
    'Content-Type: application/json',
  ]
}

function randomHttp(rand: Rand, port: number): Case {
  const method = pick(rand, [
    'GET',
    'POST',
    'DELETE',
    'PUT',
    'PATCH',
    'OPTIONS',
    'HEAD',
    'TRACE',
    printable(rand, 6),
  ])
  const path = pick(rand, [
    '/v1/status',
    '/v1/echo',
    '/v1/noop',
    '/v1/fail',
    '/',
    '*',
    `/${printable(rand, 40)}`,
    `http://evil/${int(rand, 9)}`,
    `/${'a'.repeat(int(rand, 9000))}`,
  ])
  const head = [
    `${method} ${path} ${pick(rand, ['HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', printable(rand, 8)])}`,
  ]
  head.push(
    `Host: ${pick(rand, [`127.0.0.1:${port}`, `localhost:${port}`, 'evil.example', printable(rand, 12)])}`,
  )
  if (rand() < 0.6)
    head.push(`Authorization: ${pick(rand, [`Bearer ${TOKEN}`, 'Bearer x', printable(rand, 30)])}`)
  if (rand() < 0.3)
    head.push(`Origin: ${pick(rand, ['http://evil.example', `http://127.0.0.1:${port}`, 'null'])}`)
  if (rand() < 0.1) head.push('Upgrade: websocket', 'Sec-WebSocket-Version: 13')
  for (let i = int(rand, 6); i > 0; i--)
    head.push(`X-${printable(rand, 1 + int(rand, 10))}: ${printable(rand, int(rand, 200))}`)
  const body =
    rand() < 0.5
      ? bytes(rand, int(rand, 2000))
      : Buffer.from(JSON.stringify({ text: printable(rand, 8) }))
  return { data: request(head, body), end: false }
}

function generate(rand: Rand, port: number): Case {
  const kind = int(rand, 6)
  if (kind === 0) return { data: bytes(rand, 1 + int(rand, 2048)), end: true }
  if (kind === 1) return randomHttp(rand, port)
  if (kind === 2) {
    const body = Buffer.from(`{"text": ${printable(rand, int(rand, 50))}`, 'latin1')
    return { data: request(authed(port, 'POST', '/v1/echo'), body), end: false, status: 400 }
  }
  if (kind === 3) {
    const body = Buffer.alloc(65 * 1024 + int(rand, 128 * 1024), 0x20)
    return { data: request(authed(port, 'POST', '/v1/echo'), body), end: false, status: 413 }
  }
  if (kind === 4) {
    const body = Buffer.from(
      JSON.stringify({ text: int(rand, 2) === 0 ? 5 : 'ok', [printable(rand, 5)]: rand() }),
    )
    return { data: request(authed(port, 'POST', '/v1/echo'), body), end: false, status: 400 }
  }
  const whole = request(authed(port, 'POST', '/v1/echo'), Buffer.from('{"text":"hello"}'))
  return { data: whole.subarray(0, int(rand, whole.length)), end: true }
}

test(`${REQUESTS} garbage requests leave the server answering`, { timeout: 60_000 }, async (t) => {
  const seed = Number(process.env.PARLEY_TEST_SEED ?? Date.now() % 1_000_000)
  const rand = mulberry32(seed)
  // Without /v1/slow: a random request reaching it would hang by design.
  const routes = testRoutes([]).filter((r) => r.path !== '/v1/slow')
  const server = new ApiServer({
    port: 0,
    token: TOKEN,
    routes,
    request_timeout_ms: REQUEST_TIMEOUT_MS,
  })
  const { port } = await server.listen()
  const started_ms = performance.now()
  const failures: string[] = []
  let next = 0
  const worker = async () => {
    while (next < REQUESTS) {
      const index = next++
      const c = generate(rand, port)
      const reply = await raw(port, c.data, { end: c.end, timeout_ms: REQUEST_TIMEOUT_MS + 2_000 })
      if (reply.timed_out) failures.push(`#${index}: no answer and no close`)
      else if (c.status !== undefined && statusOf(reply.text) !== c.status) {
        failures.push(`#${index}: expected ${c.status}, got ${reply.text.slice(0, 80)}`)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    const elapsed_ms = Math.round(performance.now() - started_ms)
    assert.deepEqual(failures.slice(0, 10), [], `seed ${seed}`)
    const ok = await call(port, { method: 'POST', path: '/v1/echo', body: '{"text":"still here"}' })
    assert.equal(ok.status, 200, `seed ${seed}`)
    assert.deepEqual(ok.body, { echo: { text: 'still here' } })
    assert.ok(server.stats.requests + server.stats.rejected >= REQUESTS * 0.5, `seed ${seed}`)
    t.diagnostic(
      `${REQUESTS} garbage requests in ${elapsed_ms} ms (seed ${seed}), stats ${JSON.stringify(server.stats)}`,
    )
  } finally {
    await server.close()
  }
})
