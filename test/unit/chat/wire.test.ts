// Chat wire: golden vectors (test/fixtures/wire/chat, PROTOCOL.md §9.7) in
// both directions, and fast-check properties for both decoders: arbitrary or
// mutated bytes never crash them and only ever raise a ParleyError.

import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  type ChatFrame,
  decodeChatFrame,
  decodeEnvelope,
  type Envelope,
  type EnvelopeFields,
  encodeChatFrame,
  encodeEnvelope,
  signEnvelope,
  TEXT_BYTES_MAX,
} from '../../../src/chat/index.js'
import { generateKeyPair } from '../../../src/identity/index.js'
import { isParleyError } from '../../../src/util/errors.js'

const DIR = new URL('../../../../test/fixtures/wire/chat/', import.meta.url)
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')))
const hex = (s: string) => Buffer.from(s, 'hex')

function envelopeFromJson(f: any): Envelope {
  const e: any = {
    sender: hex(f.sender),
    recipient: hex(f.recipient),
    id: hex(f.message_id),
    seq: f.seq,
    sentAtMs: f.sent_at_ms,
    kind: f.kind,
    signature: hex(f.signature),
  }
  for (const k of ['text', 'name', 'note']) if (k in f) e[k] = f[k]
  if ('target' in f) e.target = hex(f.target)
  return e
}

describe('chat golden vectors', () => {
  const alice = generateKeyPair(Buffer.alloc(32, 1))
  for (const f of fixtures.filter((x) => x.name.startsWith('envelope-'))) {
    test(f.name, () => {
      const e = envelopeFromJson(f.fields)
      assert.equal(encodeEnvelope(e).toString('hex'), f.hex)
      assert.deepEqual(decodeEnvelope(hex(f.hex)), e)
      // Ed25519 is deterministic: the seed's key re-signs to the same bytes.
      assert.equal(signEnvelope(e as EnvelopeFields, alice.secretKey).toString('hex'), f.hex)
      assert.equal(f.keys.sender_seed, '01'.repeat(32))
    })
  }
  for (const f of fixtures.filter((x) => x.name.startsWith('frame-'))) {
    test(f.name, () => {
      const frame =
        f.fields.type === 'envelope' ? { ...f.fields, envelope: hex(f.fields.envelope) } : f.fields
      assert.equal(encodeChatFrame(frame).toString('hex'), f.hex)
      assert.deepEqual(decodeChatFrame(hex(f.hex)), frame)
    })
  }
  test('there are ten vectors, all checked above', () => {
    assert.equal(fixtures.length, 10)
  })
})

function onlyParleyErrors(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    assert.ok(isParleyError(err), `threw a non-ParleyError: ${String(err)}`)
  }
}

const keys = generateKeyPair(Buffer.alloc(32, 7))
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b))
const arbBody = fc.oneof(
  fc.record({ kind: fc.constant('text' as const), text: fc.string({ maxLength: 200 }) }),
  fc.record({ kind: fc.constant('edit' as const), target: bytes16, text: fc.string() }),
  fc.record({ kind: fc.constant('delete' as const), target: bytes16 }),
  fc.record({
    kind: fc.constant('request' as const),
    name: fc.string({ maxLength: 16 }),
    note: fc.string({ maxLength: 100 }),
  }),
  fc.record({ kind: fc.constant('accept' as const), name: fc.string({ maxLength: 16 }) }),
)
const arbFields = fc
  .record({
    recipient: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b)),
    id: bytes16,
    seq: fc.integer({ min: 0, max: 0xffff_ffff }),
    sentAtMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    body: arbBody,
  })
  .map(({ body, ...rest }) => ({ ...rest, ...body, sender: keys.publicKey }) as EnvelopeFields)

describe('chat decoders under fast-check', () => {
  test('valid envelopes round-trip', () => {
    fc.assert(
      fc.property(arbFields, (f) => {
        const signed = signEnvelope(f, keys.secretKey)
        const e = decodeEnvelope(signed)
        assert.deepEqual(encodeEnvelope(e), signed)
      }),
      { numRuns: 300 },
    )
  })

  test('any single-byte change to a signed envelope is rejected', () => {
    fc.assert(
      fc.property(arbFields, fc.nat(), fc.integer({ min: 1, max: 255 }), (f, at, x) => {
        const signed = signEnvelope(f, keys.secretKey)
        const bad = Buffer.from(signed)
        bad[at % bad.length]! ^= x
        assert.throws(
          () => decodeEnvelope(bad),
          (err) => isParleyError(err),
        )
      }),
      { numRuns: 500 },
    )
  })

  test('arbitrary bytes never crash the envelope or frame decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (b) => {
        onlyParleyErrors(() => decodeEnvelope(b))
        onlyParleyErrors(() => decodeChatFrame(b))
        onlyParleyErrors(() => decodeChatFrame(Buffer.concat([Buffer.from([1]), b])))
      }),
      { numRuns: 2000 },
    )
  })

  test('truncations and extensions of valid frames are rejected, never thrown through', () => {
    const arbFrame: fc.Arbitrary<ChatFrame> = fc.oneof(
      fc.record({
        type: fc.constant('ack' as const),
        seq: fc.integer({ min: 0, max: 0xffff_ffff }),
      }),
      fc.record({
        type: fc.constant('read' as const),
        seq: fc.integer({ min: 0, max: 0xffff_ffff }),
      }),
      fc.record({ type: fc.constant('typing' as const), typing: fc.boolean() }),
      fc.record({ type: fc.constant('presence' as const), status: fc.integer({ min: 0, max: 3 }) }),
    )
    fc.assert(
      fc.property(
        arbFrame,
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (f, cut, extra) => {
          const enc = encodeChatFrame(f)
          assert.deepEqual(decodeChatFrame(enc), { ...f })
          assert.throws(() => decodeChatFrame(enc.subarray(0, cut % enc.length)), isParleyError)
          assert.throws(() => decodeChatFrame(Buffer.concat([enc, extra])), isParleyError)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('the text limit: 8192 bytes pass, 8193 are MESSAGE_TOO_LARGE', () => {
    const f = {
      sender: keys.publicKey,
      recipient: keys.publicKey,
      id: Buffer.alloc(16),
      seq: 1,
      sentAtMs: 0,
    }
    const ok = signEnvelope(
      { ...f, kind: 'text', text: 'é'.repeat(TEXT_BYTES_MAX / 2) },
      keys.secretKey,
    )
    assert.equal(decodeEnvelope(ok).kind, 'text')
    assert.ok(decodeChatFrame(encodeChatFrame({ type: 'envelope', envelope: ok })))
    assert.throws(
      () =>
        signEnvelope({ ...f, kind: 'text', text: 'x'.repeat(TEXT_BYTES_MAX + 1) }, keys.secretKey),
      (err) => isParleyError(err, 'MESSAGE_TOO_LARGE'),
    )
  })
})
