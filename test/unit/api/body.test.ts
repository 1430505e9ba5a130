import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { assertError, call, raw, startServer, statusOf, type TestServer, TOKEN } from './helpers.js'

describe('ApiServer bodies', () => {
  let t: TestServer
  before(async () => {
    t = await startServer()
  })
  after(() => t.server.close())

  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    call(t.port, { method: 'POST', path: '/v1/echo', body, headers })

  test('a valid body reaches the handler', async () => {
    const body = { text: 'hi', count: 2, loud: false, ratio: 0.5, slug: 'abc' }
    const reply = await post(JSON.stringify(body), {
      'Content-Type': 'application/json; charset=utf-8',
    })
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.body, { echo: body })
  })

  test('malformed JSON is 400 with the parser message', async () => {
    for (const text of ['{"text": "hi"', '{text: 1}', 'nul']) {
      assertError(await post(text), 400, 'BAD_REQUEST', /^request body is not valid JSON: .+/)
    }
  })

  test('invalid UTF-8 is 400', async () => {
    assertError(await post(Buffer.from([0x7b, 0xff, 0x7d])), 400, 'BAD_REQUEST', /UTF-8/)
  })

  test('schema violations are 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /field "text" is required: a string \(some text\)/],
      [{ text: 5 }, /field "text" must be a string .*got the number 5/],
      [{ text: 'x', count: 1.5 }, /field "count" must be an integer/],
      [{ text: 'x', count: '2' }, /field "count" must be an integer.*got a string/],
      [{ text: 'x', count: 9 }, /field "count" must be at most 5/],
      [{ text: 'x', count: 0 }, /field "count" must be at least 1/],
      [{ text: 'x', loud: 'yes' }, /field "loud" must be a boolean/],
      [{ text: 'x', ratio: null }, /field "ratio" must be a number.*got null/],
      [{ text: 'x'.repeat(11) }, /field "text" must be at most 10 characters/],
      [{ text: 'x', slug: 'ABC' }, /field "slug" is not in the expected format: lowercase letters/],
      [
        { text: 'x', extra: 1 },
        /unknown field "extra": accepted fields: text, count, loud, ratio, slug/,
      ],
      [{ text: 'x', toString: 1 }, /unknown field "toString"/],
      [[1, 2], /must be a JSON object, not an array/],
      ['text', /must be a JSON object, not a string/],
    ]
    for (const [body, message] of cases) {
      assertError(await post(JSON.stringify(body)), 400, 'BAD_REQUEST', message)
    }
    assertError(await post('{"text":"x","ratio":1e400}'), 400, 'BAD_REQUEST', /out of range/)
    assertError(await post('{"text":"x","__proto__":{"a":1}}'), 400, 'BAD_REQUEST', /__proto__/)
  })

  test('an empty body reads as {} and a route without a schema takes no fields', async () => {
    const empty = await call(t.port, { method: 'POST', path: '/v1/noop' })
    assert.equal(empty.status, 200)
    assert.deepEqual(empty.body, {})
    const extra = await call(t.port, { method: 'POST', path: '/v1/noop', body: '{"x":1}' })
    assertError(extra, 400, 'BAD_REQUEST', /takes no fields/)
  })

  test('only application/json bodies are accepted', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonp']) {
      assertError(
        await post('{"text":"x"}', { 'Content-Type': type }),
        415,
        'BAD_REQUEST',
        /application\/json/,
      )
    }
  })

  test('a body over the limit is 413, sent in full or announced by Content-Length', async () => {
    const huge = JSON.stringify({ text: 'x'.repeat(100 * 1024) })
    assertError(await post(huge), 413, 'BAD_REQUEST', /65536 bytes/)
    const announced = `POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{`
    const reply = await raw(t.port, announced)
    assert.equal(statusOf(reply.text), 413)
    assert.equal(reply.timed_out, false)
    // The connection is still usable for honest clients afterwards.
    assert.equal((await call(t.port)).status, 200)
  })

  test('body_bytes_max is configurable', async () => {
    const small = await startServer({ body_bytes_max: 16 })
    try {
      const reply = await call(small.port, {
        method: 'POST',
        path: '/v1/echo',
        body: '{"text":"0123456789"}',
      })
      assertError(reply, 413, 'BAD_REQUEST', /16 bytes/)
    } finally {
      await small.server.close()
    }
  })
})
