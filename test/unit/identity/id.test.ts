import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  decodeId,
  encodeId,
  generateKeyPair,
  looksLikeId,
  safetyFingerprint,
} from '../../../src/identity/index.js'
import { isParleyError } from '../../../src/util/errors.js'

const SEED_ONES = new Uint8Array(32).fill(1)
// Computed once from seed = 32 bytes of 0x01 and cross-checked with an
// independent Python (hashlib) implementation of the construction in README.md.
const GOLDEN_ID = 'tkrq8zmwb8a3m9k15csu3q17qmfgqnp9dskbrg9uq1rydpyxp7qy'
const GOLDEN_FINGERPRINT = '27225 13074 28447 84200 97765 89160'

describe('Parley IDs', () => {
  it('round-trips any 32-byte key as 52 lowercase z-base32 characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const id = encodeId(key)
        assert.equal(id.length, 52)
        assert.match(id, /^[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
        assert.ok(looksLikeId(id))
        assert.deepEqual(decodeId(id), Buffer.from(key))
      }),
    )
  })

  it('pins the ID of a fixed key', () => {
    assert.equal(encodeId(generateKeyPair(SEED_ONES).publicKey), GOLDEN_ID)
  })

  it('accepts surrounding whitespace and upper case', () => {
    const key = decodeId(GOLDEN_ID)
    assert.deepEqual(decodeId(`  ${GOLDEN_ID.toUpperCase()}\n`), key)
    assert.ok(looksLikeId(`\t${GOLDEN_ID} `))
  })

  it('rejects what is not an ID with INVALID_ID and a message that says what an ID is', () => {
    const bad = [
      '',
      'hello',
      GOLDEN_ID.slice(0, 51),
      `${GOLDEN_ID}y`,
      `${GOLDEN_ID.slice(0, 20)}0${GOLDEN_ID.slice(21)}`, // '0' is not in the alphabet
      `${GOLDEN_ID.slice(0, 20)} ${GOLDEN_ID.slice(21)}`,
      Buffer.alloc(32, 1).toString('hex'),
      // Same 256 bits, but a spare low bit set in the last character: not the canonical spelling.
      `${GOLDEN_ID.slice(0, 51)}${nextLetter(GOLDEN_ID.at(-1)!)}`,
      'x'.repeat(10_000),
    ]
    for (const text of bad) {
      assert.equal(looksLikeId(text), false, text)
      assert.throws(
        () => decodeId(text),
        (err) =>
          isParleyError(err, 'INVALID_ID') &&
          /52 characters of z-base32.*parley id/.test(err.message),
      )
    }
  })

  it('keeps the error message short for huge input', () => {
    try {
      decodeId('q'.repeat(100_000))
      assert.fail('should throw')
    } catch (err) {
      assert.ok(isParleyError(err, 'INVALID_ID'))
      assert.ok(err.message.length < 300)
    }
  })
})

describe('safety fingerprint', () => {
  it('is six groups of five digits, deterministic, and pinned for a fixed key', () => {
    const key = generateKeyPair(SEED_ONES).publicKey
    const fingerprint = safetyFingerprint(key)
    assert.match(fingerprint, /^\d{5}( \d{5}){5}$/)
    assert.equal(safetyFingerprint(Buffer.from(key)), fingerprint)
    assert.equal(fingerprint, GOLDEN_FINGERPRINT)
  })

  it('differs for different keys', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) seen.add(safetyFingerprint(generateKeyPair().publicKey))
    assert.equal(seen.size, 20)
  })
})

/** The z-base32 letter after `ch`, i.e. the same high bits with the lowest spare bit flipped. */
function nextLetter(ch: string): string {
  const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769'
  return alphabet[alphabet.indexOf(ch) ^ 1]!
}
