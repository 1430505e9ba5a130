import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  decodeMediaPacket,
  encodeMediaPacket,
  MEDIA_PACKET_BYTES_MAX,
} from '../../../src/media/index.js'

const fixture = JSON.parse(
  readFileSync(
    new URL('../../../../test/fixtures/media/media-packet.json', import.meta.url),
    'utf8',
  ),
) as { hex: string; fields: Record<string, any> }

test('media packet golden vector: encode', () => {
  const f = fixture.fields
  const out = new Uint8Array(MEDIA_PACKET_BYTES_MAX)
  const primary = Buffer.from(f.primary, 'hex')
  const red = Buffer.from(f.redundant[0], 'hex')
  const n = encodeMediaPacket(
    out,
    f.flags,
    f.sequence,
    f.timestamp,
    f.frame_samples,
    primary,
    primary.length,
    [red],
    [red.length],
    1,
  )
  assert.equal(Buffer.from(out.subarray(0, n)).toString('hex'), fixture.hex)
})

test('media packet golden vector: decode', () => {
  const p = decodeMediaPacket(Buffer.from(fixture.hex, 'hex'))
  assert.ok(typeof p !== 'string')
  const f = fixture.fields
  assert.equal(p.flags, f.flags)
  assert.equal(p.sequence, f.sequence)
  assert.equal(p.timestamp, f.timestamp)
  assert.equal(p.frame_samples, f.frame_samples)
  assert.deepEqual(
    p.redundant.map((r) => Buffer.from(r).toString('hex')),
    f.redundant,
  )
  assert.equal(Buffer.from(p.primary).toString('hex'), f.primary)
})

test('bad media packets are named, never thrown', () => {
  assert.equal(decodeMediaPacket(new Uint8Array(5)), 'malformed')
  assert.equal(decodeMediaPacket(Buffer.from('0203123489abcdef0800ff', 'hex')), 'version')
  assert.equal(decodeMediaPacket(Buffer.from('0103123489abcdef0700ff', 'hex')), 'malformed')
  // Redundancy longer than the packet.
  assert.equal(decodeMediaPacket(Buffer.from('0103123489abcdef080100ffaa', 'hex')), 'malformed')
  assert.equal(decodeMediaPacket(new Uint8Array(MEDIA_PACKET_BYTES_MAX + 1)), 'oversize')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1300 }), (b) => {
      decodeMediaPacket(b)
    }),
  )
})
