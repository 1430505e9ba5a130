import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { assertError, call, raw, startServer, statusOf, type TestServer, TOKEN } from './helpers.js'

describe('ApiServer gate', () => {
  let t: TestServer
  before(async () => {
    t = await startServer()
  })
  after(() => t.server.close())

  test('the right token is accepted and responses carry the safety headers', async () => {
    const reply = await call(t.port)
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.body, { ok: true })
    assert.equal(reply.headers['content-type'], 'application/json')
    assert.equal(reply.headers['cache-control'], 'no-store')
    assert.equal(reply.headers['x-content-type-options'], 'nosniff')
  })

  test('no token is 401', async () => {
    const reply = await call(t.port, { auth: false })
    assertError(reply, 401, 'UNAUTHORIZED', /missing API token/)
    assert.equal(reply.headers['cache-control'], 'no-store')
    assert.equal(reply.headers['x-content-type-options'], 'nosniff')
    assert.equal(reply.headers['content-type'], 'application/json')
  })

  test('a wrong token, a shorter one or another scheme is 401', async () => {
    for (const authorization of [
      `Bearer ${'cd'.repeat(32)}`,
      `Bearer ${TOKEN.slice(0, 10)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      'Bearer',
    ]) {
      const reply = await call(t.port, { auth: false, headers: { Authorization: authorization } })
      assertError(reply, 401, 'UNAUTHORIZED')
    }
  })

  test('the scheme is case-insensitive', async () => {
    const reply = await call(t.port, { auth: false, headers: { Authorization: `bearer ${TOKEN}` } })
    assert.equal(reply.status, 200)
  })

  test('a foreign Host is 403 and is checked before the token', async () => {
    for (const auth of [true, false]) {
      const reply = await call(t.port, { auth, headers: { Host: `evil.example:${t.port}` } })
      assertError(reply, 403, 'FORBIDDEN', /DNS rebinding/)
    }
    const other_port = await call(t.port, { headers: { Host: `127.0.0.1:${t.port + 1}` } })
    assertError(other_port, 403, 'FORBIDDEN')
    const no_port = await call(t.port, { headers: { Host: '127.0.0.1' } })
    assertError(no_port, 403, 'FORBIDDEN')
  })

  test('the loopback names are accepted as Host', async () => {
    for (const host of [
      `127.0.0.1:${t.port}`,
      `localhost:${t.port}`,
      `LOCALHOST:${t.port}`,
      `[::1]:${t.port}`,
    ]) {
      const reply = await call(t.port, { headers: { Host: host } })
      assert.equal(reply.status, 200, host)
    }
  })

  test('a foreign Origin is 403 before the token; our own origin is fine', async () => {
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${t.port}`,
      'null',
      `https://127.0.0.1:${t.port}`,
    ]) {
      for (const auth of [true, false]) {
        const reply = await call(t.port, { auth, headers: { Origin: origin } })
        assertError(reply, 403, 'FORBIDDEN', /cross-site/)
      }
    }
    for (const origin of [`http://127.0.0.1:${t.port}`, `http://localhost:${t.port}`]) {
      const reply = await call(t.port, { headers: { Origin: origin } })
      assert.equal(reply.status, 200, origin)
    }
  })

  test('duplicate Host or Authorization headers are refused', async () => {
    const auth = `Authorization: Bearer ${TOKEN}\r\n`
    const twice_host = `GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nHost: evil.example\r\n${auth}Connection: close\r\n\r\n`
    const host_reply = await raw(t.port, twice_host)
    assert.ok([400, 403].includes(statusOf(host_reply.text)), host_reply.text)
    const twice_auth = `GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n${auth}${auth}Connection: close\r\n\r\n`
    assert.equal(statusOf((await raw(t.port, twice_auth)).text), 400)
  })

  test('unknown path is 404, wrong method is 405 with Allow', async () => {
    assertError(await call(t.port, { path: '/v1/nothing' }), 404, 'NOT_FOUND', /\/v1\/nothing/)
    assertError(await call(t.port, { path: '/' }), 404, 'NOT_FOUND')
    const reply = await call(t.port, { method: 'PUT', path: '/v1/echo' })
    assertError(reply, 405, 'BAD_REQUEST', /POST, DELETE/)
    assert.equal(reply.headers.allow, 'POST, DELETE')
  })

  test('the query string is not part of the path', async () => {
    assert.equal((await call(t.port, { path: '/v1/status?x=1' })).status, 200)
  })
})
