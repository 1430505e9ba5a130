import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isParleyError } from '../../../src/util/errors.js'
import {
  CONTROL_FRAME_BYTES_MAX,
  type ControlMessage,
  decodeControl,
  encodeControl,
  GOODBYE_REASON_BYTES_MAX,
  GoodbyeCode,
} from '../../../src/wire/index.js'
import { arbControl, assertParleyError, hex } from './helpers.js'

describe('control frames', () => {
  test('round trip of any valid message', () => {
    fc.assert(
      fc.property(arbControl, (m) => {
        assert.deepEqual(decodeControl(encodeControl(m)), m)
      }),
    )
  })

  test('arbitrary bytes decode to a message that re-encodes to them, or throw a ParleyError', () => {
    const anyBytes = fc.uint8Array({ maxLength: 8192 })
    // Mutated valid frames reach far deeper into the parser than random bytes do.
    const nearValid = fc
      .tuple(
        arbControl,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      )
      .map(([m, edits]) => {
        const buf = encodeControl(m)
        for (const [at, value] of edits) if (buf.byteLength > 0) buf[at % buf.byteLength] = value
        return new Uint8Array(buf)
      })
    fc.assert(
      fc.property(fc.oneof(anyBytes, nearValid), (bytes) => {
        let m: ControlMessage
        try {
          m = decodeControl(bytes)
        } catch (err) {
          assert.ok(isParleyError(err), `not a ParleyError: ${String(err)}`)
          return
        }
        // One message, one byte string: nothing non-canonical gets through.
        assert.deepEqual(new Uint8Array(encodeControl(m)), bytes)
      }),
      { numRuns: 2000 },
    )
  })

  test('every truncation of a valid frame is malformed', () => {
    fc.assert(
      fc.property(arbControl, fc.nat(), (m, cut) => {
        const buf = encodeControl(m)
        const end = cut % buf.byteLength
        assertParleyError(() => decodeControl(buf.subarray(0, end)), 'MALFORMED_MESSAGE')
      }),
    )
  })

  test('trailing bytes are malformed', () => {
    fc.assert(
      fc.property(arbControl, fc.uint8Array({ minLength: 1, maxLength: 64 }), (m, extra) => {
        const buf = Buffer.concat([encodeControl(m), extra])
        assertParleyError(() => decodeControl(buf), 'MALFORMED_MESSAGE')
      }),
    )
  })

  test('frames over CONTROL_FRAME_BYTES_MAX are too large before anything is parsed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: CONTROL_FRAME_BYTES_MAX + 1, max: 8192 }),
        arbControl,
        (size, m) => {
          // A valid frame at the front must not matter: the size is checked first.
          const buf = Buffer.alloc(size)
          encodeControl(m).copy(buf)
          assertParleyError(() => decodeControl(buf), 'MESSAGE_TOO_LARGE')
        },
      ),
    )
    // Exactly at the limit passes the size gate and fails later, for its trailing bytes.
    const atLimit = Buffer.alloc(CONTROL_FRAME_BYTES_MAX)
    encodeControl({ type: 'ping', nonce: 1 }).copy(atLimit)
    assertParleyError(() => decodeControl(atLimit), 'MALFORMED_MESSAGE')
  })

  test('unknown types are UNKNOWN_MESSAGE_TYPE', () => {
    for (let type = 0; type <= 0xff; type++) {
      if (type >= 0x01 && type <= 0x03) continue
      assertParleyError(
        () => decodeControl(Buffer.from([type, 0, 0, 0, 0])),
        'UNKNOWN_MESSAGE_TYPE',
      )
    }
    assertParleyError(() => decodeControl(Buffer.alloc(0)), 'MALFORMED_MESSAGE')
  })

  test('goodbye keeps unknown codes as numbers', () => {
    const m = decodeControl(hex('03fd3930' + '02' + '6869'))
    assert.deepEqual(m, { type: 'goodbye', code: 12345, reason: 'hi' })
    assert.equal(GoodbyeCode.ShuttingDown, 5)
  })

  test('goodbye reason: limit, UTF-8 validity, BOM kept', () => {
    const atLimit = 'é'.repeat(GOODBYE_REASON_BYTES_MAX / 2)
    assert.equal(decodeControl(encodeControl(goodbye(atLimit))).type, 'goodbye')
    assertParleyError(() => encodeControl(goodbye(`${atLimit}x`)), 'MESSAGE_TOO_LARGE')
    // 0xfd 0x01 0x01 = length 257, one over the limit, with the bytes present.
    const tooLong = Buffer.concat([hex('0300fd0101'), Buffer.alloc(257, 0x61)])
    assertParleyError(() => decodeControl(tooLong), 'MESSAGE_TOO_LARGE')
    // Invalid UTF-8 is rejected, not replaced with U+FFFD.
    assertParleyError(() => decodeControl(hex('030002c328')), 'MALFORMED_MESSAGE')
    assertParleyError(() => decodeControl(hex('030003eda080')), 'MALFORMED_MESSAGE') // encoded surrogate
    assertParleyError(() => decodeControl(hex('030002c0af')), 'MALFORMED_MESSAGE') // overlong '/'
    assert.deepEqual(decodeControl(hex('030003efbbbf')), goodbye('\ufeff'))
    assertParleyError(() => encodeControl(goodbye('\ud800')), 'MALFORMED_MESSAGE')
  })

  test('uints must be in shortest form and at most 2^32 - 1', () => {
    assertParleyError(() => decodeControl(hex('03fd050000')), 'MALFORMED_MESSAGE') // 5 as 0xfd + u16
    assertParleyError(() => decodeControl(hex('03fe0500000000')), 'MALFORMED_MESSAGE') // 5 as 0xfe + u32
    assertParleyError(() => decodeControl(hex('030000fd0100' + '61')), 'MALFORMED_MESSAGE') // length 1 as u16
    assertParleyError(() => decodeControl(hex('03ff000000000100000000')), 'MALFORMED_MESSAGE') // 2^32
    assert.equal((decodeControl(hex('03feffffffff00')) as { code: number }).code, 0xffff_ffff)
  })

  test('encode rejects values a receiver would reject', () => {
    assertParleyError(() => encodeControl({ type: 'ping', nonce: -1 }), 'MALFORMED_MESSAGE')
    assertParleyError(() => encodeControl({ type: 'ping', nonce: 2 ** 32 }), 'MALFORMED_MESSAGE')
    assertParleyError(() => encodeControl({ type: 'pong', nonce: 1.5 }), 'MALFORMED_MESSAGE')
    assertParleyError(
      () => encodeControl({ type: 'goodbye', code: 2 ** 32, reason: '' }),
      'MALFORMED_MESSAGE',
    )
    assertParleyError(
      () => encodeControl({ type: 'nope' } as unknown as ControlMessage),
      'UNKNOWN_MESSAGE_TYPE',
    )
  })
})

function goodbye(reason: string): ControlMessage {
  return { type: 'goodbye', code: GoodbyeCode.Normal, reason }
}
