import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { ApiServer } from '../../../src/api/index.js'
import { isParleyError } from '../../../src/util/errors.js'
import { assertError, call, raw, startServer, statusOf, type TestServer, TOKEN } from './helpers.js'

describe('ApiServer handlers', () => {
  let t: TestServer
  before(async () => {
    t = await startServer()
  })
  after(() => t.server.close())

  test('a thrown ParleyError maps to its status with the code and message', async () => {
    const cases: [string, number][] = [
      ['BAD_REQUEST', 400],
      ['INVALID_ID', 400],
      ['USAGE', 400],
      ['UNAUTHORIZED', 401],
      ['FORBIDDEN', 403],
      ['NOT_FOUND', 404],
      ['PEER_NOT_FOUND', 404],
      ['IDENTITY_EXISTS', 409],
      ['DAEMON_ALREADY_RUNNING', 409],
      ['SESSION_CLOSED', 502],
      ['INCOMPATIBLE_VERSION', 502],
      ['TIMEOUT', 504],
      ['INTERNAL', 500],
      ['KEYSTORE_CORRUPT', 500],
    ]
    for (const [code, status] of cases) {
      const reply = await call(t.port, {
        method: 'POST',
        path: '/v1/fail',
        body: JSON.stringify({ code }),
      })
      assertError(reply, status, code, new RegExp(`failed with ${code} on purpose`))
    }
  })

  test('any other exception is a 500 INTERNAL with its message', async () => {
    assertError(await call(t.port, { path: '/v1/crash' }), 500, 'INTERNAL', /boom/)
  })

  test('the handler signal fires when the client disconnects', async () => {
    const request = `GET /v1/slow HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`
    const reply = await raw(t.port, request, { timeout_ms: 200 })
    assert.equal(reply.timed_out, true)
    for (let i = 0; i < 100 && t.aborts.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10))
    assert.deepEqual(t.aborts, ['the API client went away'])
  })

  test('stats count requests and rejections', async () => {
    const before_stats = { ...t.server.stats }
    await call(t.port)
    await call(t.port, { auth: false })
    assert.equal(t.server.stats.requests, before_stats.requests + 2)
    assert.equal(t.server.stats.rejected, before_stats.rejected + 1)
  })
})

describe('ApiServer lifecycle and transport', () => {
  test('close() aborts running handlers and resolves', async () => {
    const t = await startServer()
    const pending = call(t.port, { path: '/v1/slow' }).catch((err: Error) => err)
    for (let i = 0; i < 100 && t.server.stats.requests === 0; i++)
      await new Promise((r) => setTimeout(r, 5))
    await t.server.close()
    assert.deepEqual(t.aborts, ['the Parley daemon is stopping'])
    const outcome = await pending
    assert.ok(outcome instanceof Error || outcome.status === 503)
  })

  test('listening on a taken port is a ParleyError', async () => {
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as { port: number }).port
    try {
      const server = new ApiServer({ port, token: TOKEN, routes: [] })
      await assert.rejects(
        server.listen(),
        (err) => isParleyError(err, 'INTERNAL') && /127\.0\.0\.1/.test(err.message),
      )
    } finally {
      blocker.close()
    }
  })

  test('huge headers get 431 and malformed HTTP gets 400, without harm', async () => {
    const t = await startServer()
    try {
      const big = `GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`
      assert.equal(statusOf((await raw(t.port, big)).text), 431)
      assert.equal(statusOf((await raw(t.port, 'HELLO THERE\r\n\r\n')).text), 400)
      assert.equal((await call(t.port)).status, 200)
    } finally {
      await t.server.close()
    }
  })

  test('a request trickling in too slowly is cut off', async () => {
    const t = await startServer({ request_timeout_ms: 500 })
    try {
      const started_ms = performance.now()
      const reply = await raw(t.port, `GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n`, {
        timeout_ms: 5_000,
      })
      const elapsed_ms = performance.now() - started_ms
      assert.equal(reply.timed_out, false)
      assert.ok(elapsed_ms < 3_000, `closed after ${elapsed_ms} ms`)
      const idle = await raw(t.port, '', { timeout_ms: 5_000 })
      assert.equal(idle.timed_out, false)
    } finally {
      await t.server.close()
    }
  })
})
