// Golden vectors of §8 (test/fixtures/wire/transfer/*.json, every file
// checked) and a fuzz test: the decoder only ever returns a message or throws
// a ParleyError, and what it returns re-encodes to the same bytes.

import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import c from 'compact-encoding'
import fc from 'fast-check'
import { chunkHash } from '../../../src/transfer/hash.js'
import {
  CHUNK_BYTES_MAX,
  DATA_HEADER_BYTES,
  decodeTransfer,
  encodeTransfer,
  fileHash,
  type TransferMessage,
} from '../../../src/transfer/index.js'
import { transferFrameEncoding } from '../../../src/transfer/wire.js'
import { isParleyError } from '../../../src/util/errors.js'

const DIR = new URL('../../../../test/fixtures/wire/transfer/', import.meta.url)
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')))

const BYTE_FIELDS = new Set(['id', 'file_hash', 'hash', 'data'])
const fromJson = (fields: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [
      k,
      BYTE_FIELDS.has(k) ? Buffer.from(v as string, 'hex') : v,
    ]),
  ) as unknown as TransferMessage
const toJson = (m: TransferMessage) =>
  Object.fromEntries(
    Object.entries(m).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v]),
  )

describe('transfer golden vectors (§8.7)', () => {
  test('every fixture is checked', () => {
    assert.ok(fixtures.length >= 8)
    for (const f of fixtures)
      assert.ok(f.name === 'file-hash' || f.name.startsWith('transfer-'), f.name)
  })
  for (const f of fixtures.filter((x) => x.name.startsWith('transfer-'))) {
    test(f.name, () => {
      assert.equal(encodeTransfer(fromJson(f.fields)).toString('hex'), f.hex)
      assert.deepEqual(toJson(decodeTransfer(Buffer.from(f.hex, 'hex'))), f.fields)
    })
  }
  test('the protomux encoding writes the same bytes as encodeTransfer', () => {
    for (const f of fixtures.filter((x) => x.name.startsWith('transfer-'))) {
      assert.equal(
        Buffer.from(c.encode(transferFrameEncoding, fromJson(f.fields))).toString('hex'),
        f.hex,
      )
    }
  })
  test('file-hash', () => {
    const f = fixtures.find((x) => x.name === 'file-hash')
    const content = Buffer.from(f.fields.content_utf8, 'utf8')
    const h = chunkHash(content)
    assert.deepEqual([h.toString('hex')], f.fields.chunk_hashes)
    assert.equal(fileHash(f.fields.size, f.fields.chunk_bytes, h).toString('hex'), f.hex)
  })
})

describe('transfer decoder under fuzzing', () => {
  const decodeOrParleyError = (b: Uint8Array) => {
    try {
      return decodeTransfer(b)
    } catch (err) {
      assert.ok(isParleyError(err), `non-ParleyError thrown: ${String(err)}`)
      return null
    }
  }

  test('random bytes: a message or a ParleyError, and a message re-encodes identically', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 1, max: 7 }),
        (bytes, type) => {
          const frame = Buffer.from(bytes)
          if (frame.length > 0 && bytes.length % 2 === 0) frame[0] = type // bias towards real types
          const m = decodeOrParleyError(frame)
          if (m !== null) assert.equal(encodeTransfer(m).toString('hex'), frame.toString('hex'))
        },
      ),
      { numRuns: 5000 },
    )
  })

  test('mutated golden vectors never crash the decoder', () => {
    const golden = fixtures
      .filter((x) => x.name.startsWith('transfer-'))
      .map((f) => Buffer.from(f.hex, 'hex'))
    fc.assert(
      fc.property(
        fc.constantFrom(...golden),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.integer({ min: -8, max: 8 }),
        (base, edits, resize) => {
          let frame = Buffer.from(base)
          for (const [at, v] of edits) frame[at % frame.length] = v
          if (resize < 0) frame = frame.subarray(0, Math.max(0, frame.length + resize))
          else frame = Buffer.concat([frame, Buffer.alloc(resize)])
          const m = decodeOrParleyError(frame)
          if (m !== null) assert.equal(encodeTransfer(m).toString('hex'), frame.toString('hex'))
        },
      ),
      { numRuns: 5000 },
    )
  })

  test('limits: oversize frames are refused before parsing', () => {
    const big = Buffer.alloc(DATA_HEADER_BYTES + CHUNK_BYTES_MAX + 1)
    big[0] = 0x06
    assert.throws(() => decodeTransfer(big), { code: 'MESSAGE_TOO_LARGE' })
    const offer = Buffer.alloc(2000)
    offer[0] = 0x01
    assert.throws(() => decodeTransfer(offer), { code: 'MESSAGE_TOO_LARGE' })
    assert.throws(() => decodeTransfer(Buffer.from([0x08])), { code: 'UNKNOWN_MESSAGE_TYPE' })
    assert.throws(() => decodeTransfer(Buffer.alloc(0)), { code: 'MALFORMED_MESSAGE' })
  })
})
