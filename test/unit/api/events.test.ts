import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import type { ApiEvent } from '../../../src/api/index.js'
import { startServer, type TestServer, TOKEN } from './helpers.js'

interface Opened {
  ws: WebSocket
  events: ApiEvent[]
}

type Outcome = { opened: Opened } | { refused: number; body: any }

/** Opens a subscription and reports either the open socket or the HTTP refusal. */
function subscribe(
  port: number,
  opts: { protocols?: string[]; headers?: Record<string, string>; path?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      `ws://127.0.0.1:${port}${opts.path ?? '/v1/events'}`,
      opts.protocols ?? [],
      {
        headers: opts.headers ?? {},
      },
    )
    const events: ApiEvent[] = []
    ws.on('message', (data) => events.push(JSON.parse(data.toString())))
    ws.on('open', () => resolve({ opened: { ws, events } }))
    ws.on('unexpected-response', (req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        req.destroy()
        resolve({
          refused: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        })
      })
    })
    ws.on('error', reject)
  })
}

function opened(outcome: Outcome): Opened {
  assert.ok('opened' in outcome, `refused: ${JSON.stringify(outcome)}`)
  return outcome.opened
}

function refused(outcome: Outcome, status: number, code: string) {
  if ('opened' in outcome) {
    outcome.opened.ws.terminate()
    assert.fail('the subscription should have been refused')
  }
  assert.equal(outcome.refused, status)
  assert.equal(outcome.body.error.code, code)
}

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (condition()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.fail(`timed out waiting for ${what}`)
}

const bearer = { Authorization: `Bearer ${TOKEN}` }

describe('event stream', () => {
  let t: TestServer
  before(async () => {
    t = await startServer({ ws_clients_max: 4 })
  })
  after(() => t.server.close())

  test('a subscriber with the header token receives broadcasts in order', async () => {
    const sub = opened(await subscribe(t.port, { headers: bearer }))
    await until(() => t.server.stats.ws_clients === 1, 'the subscriber to register')
    t.server.broadcast({ type: 'session.opened', id: 'a' })
    t.server.broadcast({ type: 'session.closed', id: 'a' })
    await until(() => sub.events.length === 2, 'two events')
    assert.deepEqual(sub.events, [
      { type: 'session.opened', id: 'a' },
      { type: 'session.closed', id: 'a' },
    ])
    sub.ws.close()
    await until(() => t.server.stats.ws_clients === 0, 'the subscriber to leave')
  })

  test('a browser-style subscriber passes the token as a subprotocol', async () => {
    const both = opened(
      await subscribe(t.port, {
        protocols: ['parley-token', `parley-token.${TOKEN}`],
        headers: { Origin: `http://127.0.0.1:${t.port}` },
      }),
    )
    assert.equal(both.ws.protocol, 'parley-token')
    // Offered alone, the token protocol must be echoed or a browser drops the connection.
    const alone = opened(await subscribe(t.port, { protocols: [`parley-token.${TOKEN}`] }))
    assert.equal(alone.ws.protocol, `parley-token.${TOKEN}`)
    await until(() => t.server.stats.ws_clients === 2, 'both subscribers')
    t.server.broadcast({ type: 'hello' })
    await until(() => both.events.length === 1 && alone.events.length === 1, 'the event on both')
    both.ws.close()
    alone.ws.close()
    await until(() => t.server.stats.ws_clients === 0, 'the subscribers to leave')
  })

  test('no token or a wrong one is refused with 401', async () => {
    refused(await subscribe(t.port), 401, 'UNAUTHORIZED')
    refused(
      await subscribe(t.port, { protocols: ['parley-token', `parley-token.${'cd'.repeat(32)}`] }),
      401,
      'UNAUTHORIZED',
    )
    refused(
      await subscribe(t.port, { headers: { Authorization: 'Bearer nope' } }),
      401,
      'UNAUTHORIZED',
    )
  })

  test('a foreign Origin or Host is refused with 403, even with the token', async () => {
    refused(
      await subscribe(t.port, { headers: { ...bearer, Origin: 'http://evil.example' } }),
      403,
      'FORBIDDEN',
    )
    const foreign_host = { ...bearer, Host: `evil.example:${t.port}` }
    refused(await subscribe(t.port, { headers: foreign_host }), 403, 'FORBIDDEN')
  })

  test('other paths are 404', async () => {
    refused(await subscribe(t.port, { headers: bearer, path: '/v1/status' }), 404, 'NOT_FOUND')
  })

  test('subscribers beyond ws_clients_max are refused with 503', async () => {
    const subs: Opened[] = []
    for (let i = 0; i < 4; i++) subs.push(opened(await subscribe(t.port, { headers: bearer })))
    refused(await subscribe(t.port, { headers: bearer }), 503, 'FORBIDDEN')
    for (const s of subs) s.ws.close()
    await until(() => t.server.stats.ws_clients === 0, 'the subscribers to leave')
    opened(await subscribe(t.port, { headers: bearer })).ws.close()
  })

  test('a subscriber that stops reading is dropped, the others keep receiving', async () => {
    const slow = opened(await subscribe(t.port, { headers: bearer }))
    const fast = opened(await subscribe(t.port, { headers: bearer }))
    const slow_closed = new Promise((r) => slow.ws.once('close', r))
    ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const padding = 'x'.repeat(64 * 1024)
    // Far more than socket buffers hold, so the server-side queue must grow past its bound.
    for (let i = 0; i < 400 && t.server.stats.ws_dropped === 0; i++) {
      t.server.broadcast({ type: 'bulk', i, padding })
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    assert.equal(t.server.stats.ws_dropped, 1)
    slow.ws.terminate()
    await slow_closed
    t.server.broadcast({ type: 'after' })
    await until(() => fast.events.at(-1)?.type === 'after', 'the fast subscriber to catch up')
    fast.ws.close()
    await until(() => t.server.stats.ws_clients === 0, 'the subscribers to leave')
  })

  test('close() says goodbye to subscribers', async () => {
    const own = await startServer()
    const sub = opened(await subscribe(own.port, { headers: bearer }))
    const closed = new Promise<number>((r) => sub.ws.once('close', (code) => r(code)))
    await own.server.close()
    assert.equal(await closed, 1001)
  })
})
