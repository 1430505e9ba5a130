import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  decodeReport,
  decodeSignal,
  deriveCallKeys,
  encodeReport,
  encodeSignal,
  ephemeralKeyPair,
  openEnvelope,
  ReplayWindow,
  sealEnvelope,
} from '../../../src/call/index.js'

// Golden vectors of PROTOCOL §10 (test/fixtures/media): encode fields → hex, decode hex → fields.
// The envelope vector was also checked with Python's `cryptography` ChaCha20Poly1305.

const dir = new URL('../../../../test/fixtures/media/', import.meta.url)
const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as {
    hex: string
    fields: Record<string, any>
  }
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const checked = new Set(['media-packet'])

const SIGNALS: Record<string, (f: Record<string, any>) => Record<string, unknown>> = {
  'call-invite': (f) => ({
    type: 'invite',
    call_id: Buffer.from(f.call_id, 'hex'),
    ephemeral: Buffer.from(f.e_caller, 'hex'),
    frame_units: f.frame_units,
    flags: f.flags,
  }),
  'call-accept': (f) => ({
    type: 'accept',
    call_id: Buffer.from(f.call_id, 'hex'),
    ephemeral: Buffer.from(f.e_callee, 'hex'),
  }),
  'call-reject': (f) => ({
    type: 'reject',
    call_id: Buffer.from(f.call_id, 'hex'),
    reason: f.reason,
  }),
  'call-hangup': (f) => ({
    type: 'hangup',
    call_id: Buffer.from(f.call_id, 'hex'),
    reason: f.reason,
  }),
}

for (const [name, toSignal] of Object.entries(SIGNALS)) {
  test(`signal vector ${name}`, () => {
    checked.add(name)
    const v = load(name)
    const s = toSignal(v.fields) as Parameters<typeof encodeSignal>[0]
    assert.equal(hex(encodeSignal(s)), v.hex)
    assert.deepEqual(decodeSignal(Buffer.from(v.hex, 'hex')), s)
  })
}

test('report vector', () => {
  checked.add('call-report')
  const v = load('call-report')
  const { version: _version, ...fields } = v.fields
  assert.equal(hex(encodeReport(fields as any)), v.hex)
  assert.deepEqual(decodeReport(Buffer.from(v.hex, 'hex')), fields)
})

test('envelope vector', () => {
  checked.add('call-envelope')
  const v = load('call-envelope')
  const f = v.fields
  const call_id = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')
  const key = Buffer.from(f.key, 'hex')
  const env = sealEnvelope(
    Buffer.alloc(0),
    f.kind,
    call_id,
    BigInt(f.counter),
    key,
    Buffer.from(f.plaintext, 'hex'),
  )
  assert.equal(hex(env), v.hex)
  const opened = openEnvelope(Buffer.from(v.hex, 'hex'), call_id, key)
  assert.ok(opened !== null)
  assert.equal(hex(opened.plain), f.plaintext)
  assert.equal(opened.counter, 7n)
  // One flipped bit anywhere, or another call's id, and it does not open.
  const bad = Buffer.from(v.hex, 'hex')
  bad[20]! ^= 1
  assert.equal(openEnvelope(bad, call_id, key), null)
  const other = Buffer.from(call_id)
  other[0] = 9
  assert.equal(openEnvelope(Buffer.from(v.hex, 'hex'), other, key), null)
})

test('every vector file is checked', () => {
  const files = readdirSync(dir).map((f) => f.replace(/\.json$/, ''))
  assert.deepEqual(
    files.filter((f) => !checked.has(f)),
    [],
  )
})

test('malformed signals and reports are null, never thrown', () => {
  assert.equal(decodeSignal(Buffer.from('01', 'hex')), null)
  assert.equal(decodeSignal(Buffer.alloc(17, 0xff)), null)
  assert.equal(decodeSignal(Buffer.concat([Buffer.of(2), Buffer.alloc(17)])), null, 'trailing byte')
  assert.equal(decodeReport(Buffer.alloc(23)), null, 'version 0')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      decodeSignal(b)
      decodeReport(b)
    }),
  )
})

test('per-call keys: both sides agree, directions differ, secrets are erased', () => {
  const call_id = Buffer.alloc(16, 7)
  const caller = ephemeralKeyPair()
  const callee = ephemeralKeyPair()
  const callerPub = Buffer.from(caller.publicKey)
  const a = deriveCallKeys(caller, callee.publicKey, call_id, true)
  const b = deriveCallKeys(callee, callerPub, call_id, false)
  assert.ok(a.send.equals(b.receive))
  assert.ok(a.receive.equals(b.send))
  assert.ok(!a.send.equals(a.receive))
  assert.ok(caller.secretKey.every((x) => x === 0))
  // A low-order point (all zeros) is refused.
  assert.throws(() => deriveCallKeys(ephemeralKeyPair(), Buffer.alloc(32), call_id, true))
})

test('replay window: each counter once, reordering inside the window, nothing older', () => {
  const w = new ReplayWindow()
  assert.ok(w.accept(0n))
  assert.ok(w.accept(5n))
  assert.ok(w.accept(3n), 'reordered inside the window')
  assert.ok(!w.accept(3n), 'replay')
  assert.ok(!w.accept(5n), 'replay of the highest')
  assert.ok(w.accept(200n))
  assert.ok(!w.accept(72n), 'older than the window')
  assert.ok(w.accept(73n), 'just inside the window')
  assert.ok(w.accept(1000n), 'a jump')
  assert.ok(!w.accept(200n))
})
