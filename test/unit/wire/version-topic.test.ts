import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import DHT from 'hyperdht'
import { generateKeyPair } from '../../../src/identity/index.js'
import {
  IDENTITY_TOPIC_CONTEXT,
  identityTopic,
  negotiateVersion,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_MIN,
} from '../../../src/wire/index.js'

describe('negotiateVersion', () => {
  test('picks the highest common version', () => {
    assert.equal(negotiateVersion({ min: 1, max: 1 }, { min: 1, max: 1 }), 1)
    assert.equal(negotiateVersion({ min: 1, max: 3 }, { min: 2, max: 5 }), 3)
    assert.equal(negotiateVersion({ min: 2, max: 5 }, { min: 1, max: 3 }), 3)
    assert.equal(negotiateVersion({ min: 1, max: 1 }, { min: 2, max: 3 }), null)
    assert.equal(negotiateVersion({ min: 4, max: 9 }, { min: 1, max: 3 }), null)
    assert.ok(PROTOCOL_VERSION_MIN <= PROTOCOL_VERSION)
  })

  test('agrees with the definition on both sides', () => {
    const range = fc
      .tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }))
      .map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) }))
    fc.assert(
      fc.property(range, range, (local, remote) => {
        const v = negotiateVersion(local, remote)
        assert.equal(v, negotiateVersion(remote, local), 'both peers compute the same version')
        let expected: number | null = null
        for (let x = local.min; x <= local.max; x++)
          if (x >= remote.min && x <= remote.max) expected = x
        assert.equal(v, expected)
      }),
    )
  })

  test('an inverted range never negotiates', () => {
    assert.equal(negotiateVersion({ min: 3, max: 1 }, { min: 1, max: 3 }), null)
  })
})

describe('identityTopic', () => {
  test("is hyperdht's DHT.hash of the context, a zero byte and the key", () => {
    const pk = generateKeyPair(Buffer.alloc(32, 1)).publicKey
    const input = Buffer.concat([
      Buffer.from(IDENTITY_TOPIC_CONTEXT, 'ascii'),
      Buffer.from([0]),
      pk,
    ])
    assert.deepEqual(identityTopic(pk), DHT.hash(input))
    assert.equal(identityTopic(pk).byteLength, 32)
  })

  test('differs per identity and rejects keys of the wrong size', () => {
    const a = identityTopic(Buffer.alloc(32, 1))
    const b = identityTopic(Buffer.alloc(32, 2))
    assert.notDeepEqual(a, b)
    assert.throws(() => identityTopic(Buffer.alloc(31)), /32 bytes/)
  })
})
