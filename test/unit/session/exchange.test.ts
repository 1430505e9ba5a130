// Request/answer exchanges (src/session/exchange.ts) over real protomux on an
// in-memory stream pair: an exchange whose channel closes under it fails at
// once with SESSION_CLOSED instead of waiting out its deadline, and so does
// one queued behind it.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import c from 'compact-encoding'
import Protomux from 'protomux'
import { Exchanges } from '../../../src/session/exchange.js'
import type { Session } from '../../../src/session/index.js'
import { systemClock } from '../../../src/util/clock.js'
import { isParleyError } from '../../../src/util/errors.js'
import { streamPair } from '../transfer/helpers.js'

const PROTOCOL = 'parley/test-exchange'

test('an exchange whose channel closes under it fails at once, and so does the next', async () => {
  const [a, b] = streamPair()
  const client = new Protomux(a)
  const server = new Protomux(b)
  // The server opens its side, takes the request and closes the channel without answering.
  server.pair({ protocol: PROTOCOL }, () => {
    const ch = server.createChannel({ protocol: PROTOCOL })!
    ch.addMessage({ encoding: c.raw, onmessage: () => ch.close() })
    ch.open()
  })
  const exchanges = new Exchanges<Buffer>({
    protocol: PROTOCOL,
    encode: (f) => f,
    decode: (raw) => raw,
    clock: systemClock,
    timeout_ms: 120_000, // far beyond the test runner's patience: only the close can end it
    what: 'the test server',
  })
  const session = { mux: client } as unknown as Session
  const first = exchanges.run<string>(session, (ch) => ch.send(Buffer.from('hello')))
  const second = exchanges.run<string>(session, (ch) => ch.send(Buffer.from('again')))
  for (const [name, p] of [
    ['first', first],
    ['second', second],
  ] as const) {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(isParleyError(err, 'SESSION_CLOSED'), `${name}: ${String(err)}`)
      return true
    })
  }
  a.destroy()
  b.destroy()
})
