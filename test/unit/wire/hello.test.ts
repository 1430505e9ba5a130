import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { encodeDeviceCertificate } from '../../../src/identity/index.js'
import { isParleyError } from '../../../src/util/errors.js'
import {
  AGENT_BYTES_MAX,
  decodeHello,
  encodeHello,
  type Hello,
  helloEncoding,
} from '../../../src/wire/index.js'
import { arbHello, assertParleyError, helloFromJson, hex, loadFixtures } from './helpers.js'

const vector = loadFixtures().find((f) => f.name === 'hello')!
const vectorHello = (): Hello => helloFromJson(vector.fields)

/** The vector with some fields replaced, encoded by hand so encode-side checks do not interfere. */
function rawHello(parts: { versions?: string; agent?: string; flags?: string }): Buffer {
  const cert = encodeDeviceCertificate(vectorHello().certificate)
  return Buffer.concat([
    hex(parts.versions ?? '0101'),
    cert,
    hex(parts.agent ?? '00'),
    hex(parts.flags ?? '00'),
  ])
}

describe('hello', () => {
  test('round trip of any valid hello', () => {
    fc.assert(
      fc.property(arbHello, (h) => {
        assert.deepEqual(decodeHello(encodeHello(h)), h)
      }),
    )
  })

  test('arbitrary bytes decode to a hello that re-encodes to them, or throw a ParleyError', () => {
    const anyBytes = fc.uint8Array({ maxLength: 8192 })
    const nearValid = fc
      .tuple(
        arbHello,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      )
      .map(([h, edits]) => {
        const buf = encodeHello(h)
        for (const [at, value] of edits) buf[at % buf.byteLength] = value
        return new Uint8Array(buf)
      })
    fc.assert(
      fc.property(fc.oneof(anyBytes, nearValid), (bytes) => {
        let h: Hello
        try {
          h = decodeHello(bytes)
        } catch (err) {
          assert.ok(isParleyError(err), `not a ParleyError: ${String(err)}`)
          return
        }
        assert.deepEqual(new Uint8Array(encodeHello(h)), bytes)
      }),
      { numRuns: 2000 },
    )
  })

  test('every truncation of a valid hello is malformed', () => {
    fc.assert(
      fc.property(arbHello, fc.nat(), (h, cut) => {
        const buf = encodeHello(h)
        assertParleyError(
          () => decodeHello(buf.subarray(0, cut % buf.byteLength)),
          'MALFORMED_MESSAGE',
        )
      }),
    )
  })

  test('trailing bytes are malformed, through decodeHello and through the codec', () => {
    fc.assert(
      fc.property(arbHello, fc.uint8Array({ minLength: 1, maxLength: 64 }), (h, extra) => {
        const buf = Buffer.concat([encodeHello(h), extra])
        assertParleyError(() => decodeHello(buf), 'MALFORMED_MESSAGE')
        assertParleyError(
          () => helloEncoding.decode({ start: 0, end: buf.byteLength, buffer: buf }),
          'MALFORMED_MESSAGE',
        )
      }),
    )
  })

  test('the hand-built vector pieces line up', () => {
    assert.deepEqual(rawHello({ agent: '0c7061726c65792f302e312e30' }), hex(vector.hex))
  })

  test('version_min above version_max is malformed', () => {
    assertParleyError(() => decodeHello(rawHello({ versions: '0201' })), 'MALFORMED_MESSAGE')
    assertParleyError(
      () => encodeHello({ ...vectorHello(), versionMin: 3, versionMax: 2 }),
      'MALFORMED_MESSAGE',
    )
    assert.equal(decodeHello(rawHello({ versions: '02fd0001' })).versionMax, 256)
  })

  test('agent over AGENT_BYTES_MAX is too large', () => {
    const agent65 = `41${'61'.repeat(AGENT_BYTES_MAX + 1)}`
    assertParleyError(() => decodeHello(rawHello({ agent: agent65 })), 'MESSAGE_TOO_LARGE')
    assertParleyError(
      () => encodeHello({ ...vectorHello(), agent: 'a'.repeat(65) }),
      'MESSAGE_TOO_LARGE',
    )
    const agent64 = `40${'61'.repeat(AGENT_BYTES_MAX)}`
    assert.equal(decodeHello(rawHello({ agent: agent64 })).agent, 'a'.repeat(64))
  })

  test('flags: reserved bits are carried, not rejected; above 2^32 - 1 is malformed', () => {
    assert.equal(decodeHello(rawHello({ flags: 'feffffffff' })).flags, 0xffff_ffff)
    assert.equal(decodeHello(rawHello({ flags: '03' })).flags, 3)
    assertParleyError(
      () => decodeHello(rawHello({ flags: 'ff0000000001000000' })),
      'MALFORMED_MESSAGE',
    )
    assertParleyError(() => decodeHello(rawHello({ flags: 'fd0300' })), 'MALFORMED_MESSAGE') // not shortest
  })

  test('a broken certificate inside is a MALFORMED_MESSAGE from the wire layer', () => {
    const buf = hex(vector.hex)
    buf[2] = 2 // certificate version 2 does not exist
    assertParleyError(() => decodeHello(buf), 'MALFORMED_MESSAGE')
    const badKey = { ...vectorHello() }
    badKey.certificate = { ...badKey.certificate, devicePublicKey: Buffer.alloc(31) }
    assertParleyError(() => encodeHello(badKey), 'MALFORMED_MESSAGE')
  })

  test('decoded certificate keys do not alias the input', () => {
    const buf = hex(vector.hex)
    const h = decodeHello(buf)
    buf.fill(0)
    assert.deepEqual(h, vectorHello())
  })
})
