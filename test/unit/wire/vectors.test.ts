// Golden vectors: test/fixtures/wire/*.json are data, written once and
// checked by hand against docs/PROTOCOL.md. Every fixture must be claimed by
// a check here, so a new vector cannot sit in the folder untested.

import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { describe, test } from 'node:test'
import c from 'compact-encoding'
import Protomux from 'protomux'
import {
  CONTROL_PROTOCOL,
  type ControlMessage,
  decodeControl,
  decodeHello,
  decodeTunnelId,
  encodeControl,
  encodeHello,
  encodeTunnelId,
  type Hello,
  helloEncoding,
  identityTopic,
  supernodeTopic,
  TUNNEL_ID_KIND,
} from '../../../src/wire/index.js'
import { type Fixture, helloFromJson, helloToJson, hex, loadFixtures } from './helpers.js'

const fixtures = new Map(loadFixtures().map((f) => [f.name, f]))
// Checked by test/unit/identity, which owns that layout.
const OWNED_ELSEWHERE = new Set(['device-certificate'])
const claimed = new Set<string>()

function fixture(name: string): Fixture {
  const f = fixtures.get(name)
  assert.ok(f, `missing fixture ${name}.json`)
  claimed.add(name)
  return f
}

describe('golden vectors', () => {
  test('hello', () => {
    const f = fixture('hello')
    assert.equal(encodeHello(helloFromJson(f.fields)).toString('hex'), f.hex)
    assert.deepEqual(helloToJson(decodeHello(hex(f.hex))), f.fields)
  })

  for (const name of ['ping', 'pong', 'goodbye']) {
    test(name, () => {
      const f = fixture(name)
      assert.equal(encodeControl(f.fields as ControlMessage).toString('hex'), f.hex)
      assert.deepEqual(decodeControl(hex(f.hex)), f.fields)
    })
  }

  test('identity-topic', () => {
    const f = fixture('identity-topic')
    assert.equal(identityTopic(hex(f.fields.identity_public_key)).toString('hex'), f.hex)
  })

  test('supernode-topic', () => {
    const f = fixture('supernode-topic')
    assert.equal(supernodeTopic().toString('hex'), f.hex)
  })

  test('tunnel-id', () => {
    const f = fixture('tunnel-id')
    const id = { target: hex(f.fields.target), nonce: hex(f.fields.nonce) }
    assert.equal(encodeTunnelId(id).toString('hex'), f.hex)
    assert.deepEqual(decodeTunnelId(hex(f.hex)), id)
    assert.equal(f.fields.kind, TUNNEL_ID_KIND)
  })

  test('protomux frames of the control channel, through the real protomux', async () => {
    const open = fixture('protomux-open')
    const message = fixture('protomux-message')
    const batch = fixture('protomux-batch')
    const close = fixture('protomux-close')
    const { frames, received, send } = controlChannelPair(decodeHello(hex(open.fields.handshake)))
    send.message(hex(message.fields.payload))
    send.batch(batch.fields.messages.map((m: { payload: string }) => hex(m.payload)))
    send.close()
    await new Promise((resolve) => setImmediate(resolve))

    // Encode direction: what protomux wrote is byte for byte the vectors.
    assert.deepEqual(
      frames.map((f) => f.toString('hex')),
      [open.hex, message.hex, batch.hex, close.hex],
    )
    // Decode direction: the peer's protomux got back the fields.
    assert.equal(open.fields.protocol, CONTROL_PROTOCOL)
    assert.equal(open.fields.handshake, fixture('hello').hex)
    assert.ok(received.hello, 'the control channel opened')
    assert.equal(encodeHello(received.hello).toString('hex'), open.fields.handshake)
    assert.deepEqual(
      received.payloads.map((p) => p.toString('hex')),
      [message.fields.payload, ...batch.fields.messages.map((m: { payload: string }) => m.payload)],
    )
    assert.equal(received.closed, true)
  })

  test('every fixture file is checked', () => {
    // node:test runs a describe block's tests in order, so this one runs last.
    for (const name of fixtures.keys()) {
      assert.ok(
        claimed.has(name) || OWNED_ELSEWHERE.has(name),
        `${name}.json is not checked by any test`,
      )
    }
  })
})

/**
 * Two protomux instances over an in-memory, message-preserving link (what
 * secret-stream gives protomux), each with a control channel opened with
 * `helloEncoding` as its handshake. Records every frame side A writes.
 */
function controlChannelPair(hello: Hello) {
  const frames: Buffer[] = []
  const received = { hello: null as Hello | null, payloads: [] as Buffer[], closed: false }
  let a: Duplex | null = null
  let b: Duplex | null = null
  a = link((chunk) => {
    frames.push(Buffer.from(chunk))
    b!.push(chunk)
  })
  b = link((chunk) => a!.push(chunk))
  const muxA = new Protomux(a)
  const muxB = new Protomux(b)
  const channelA = muxA.createChannel({ protocol: CONTROL_PROTOCOL, handshake: helloEncoding })!
  const channelB = muxB.createChannel({
    protocol: CONTROL_PROTOCOL,
    handshake: helloEncoding,
    onopen: (h: Hello) => {
      received.hello = h
    },
    onclose: () => {
      received.closed = true
    },
  })!
  const messageA = channelA.addMessage({ encoding: c.raw })
  channelB.addMessage({
    encoding: c.raw,
    onmessage: (p: Buffer) => received.payloads.push(Buffer.from(p)),
  })
  channelA.open(hello)
  channelB.open(hello)
  const send = {
    message: (payload: Buffer) => messageA.send(payload),
    batch: (payloads: Buffer[]) => {
      // cork/uncork are protomux API that src/types/vendor.d.ts does not declare.
      const corkable = muxA as unknown as { cork(): void; uncork(): void }
      corkable.cork()
      for (const p of payloads) messageA.send(p)
      corkable.uncork()
    },
    close: () => channelA.close(),
  }
  return { frames, received, send }
}

function link(onwrite: (chunk: Buffer) => void): Duplex {
  return new Duplex({
    objectMode: true,
    read() {},
    write(chunk: Buffer, _encoding, done) {
      onwrite(chunk)
      done()
    },
  })
}
