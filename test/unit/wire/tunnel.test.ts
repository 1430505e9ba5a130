import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isParleyError } from '../../../src/util/errors.js'
import { decodeTunnelId, encodeTunnelId, TUNNEL_ID_BYTES } from '../../../src/wire/index.js'

describe('tunnel ids (§5.11)', () => {
  test('round trip', () => {
    const arb = fc.record({
      target: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b)),
      nonce: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)),
    })
    fc.assert(
      fc.property(arb, (id) => assert.deepEqual(decodeTunnelId(encodeTunnelId(id)), { ...id })),
    )
  })

  test('anything but the exact layout is refused with a ParleyError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const valid = bytes.byteLength === TUNNEL_ID_BYTES && bytes[0] === 1
        try {
          const id = decodeTunnelId(bytes)
          assert.ok(valid)
          assert.deepEqual(new Uint8Array(encodeTunnelId(id)), bytes)
        } catch (err) {
          assert.ok(!valid, 'a valid id was refused')
          assert.ok(isParleyError(err, 'MALFORMED_MESSAGE'))
        }
      }),
      { numRuns: 2000 },
    )
    assert.throws(() => decodeTunnelId(null))
  })
})
