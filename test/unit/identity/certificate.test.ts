import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import c from 'compact-encoding'
import fc from 'fast-check'
import {
  type DeviceCertificate,
  decodeDeviceCertificate,
  deviceCertificateEncoding,
  encodeDeviceCertificate,
  generateIdentity,
  generateKeyPair,
  sign,
  signDeviceCertificate,
  verify,
  verifyDeviceCertificate,
} from '../../../src/identity/index.js'
import { isParleyError } from '../../../src/util/errors.js'

const fixture = JSON.parse(
  readFileSync(
    new URL('../../../../test/fixtures/wire/device-certificate.json', import.meta.url),
    'utf-8',
  ),
)
const hex = (s: string) => Buffer.from(s, 'hex')

function fixtureCertificate(): DeviceCertificate {
  const f = fixture.fields
  return {
    identityPublicKey: hex(f.identity_public_key),
    devicePublicKey: hex(f.device_public_key),
    createdAtMs: f.created_at_ms,
    deviceName: f.device_name,
    signature: hex(f.signature),
  }
}

function freshCertificate(deviceName = 'laptop'): DeviceCertificate {
  return generateIdentity({ name: 'alice', deviceName, now_ms: 1_767_225_600_000 }).certificate
}

const isMalformed = (err: unknown) => isParleyError(err, 'MALFORMED_MESSAGE')

describe('signatures', () => {
  it('sign/verify with Ed25519, false (not a throw) for wrong sizes', () => {
    const kp = generateKeyPair()
    const msg = Buffer.from('hello')
    const sig = sign(msg, kp.secretKey)
    assert.equal(sig.byteLength, 64)
    assert.ok(verify(msg, sig, kp.publicKey))
    assert.equal(verify(Buffer.from('hellO'), sig, kp.publicKey), false)
    assert.equal(verify(msg, Buffer.concat([sig, Buffer.alloc(1)]), kp.publicKey), false)
    assert.equal(verify(msg, sig.subarray(0, 63), kp.publicKey), false)
    assert.equal(verify(msg, sig, kp.publicKey.subarray(0, 31)), false)
  })

  it('derives the same key pair from the same seed', () => {
    const seed = new Uint8Array(32).fill(7)
    assert.deepEqual(generateKeyPair(seed), generateKeyPair(seed))
    assert.equal(generateKeyPair().secretKey.byteLength, 64)
  })
})

describe('device certificate', () => {
  it('matches the golden vector in test/fixtures/wire', () => {
    const cert = fixtureCertificate()
    assert.equal(encodeDeviceCertificate(cert).toString('hex'), fixture.hex)
    assert.deepEqual(decodeDeviceCertificate(hex(fixture.hex)), cert)
    assert.ok(verifyDeviceCertificate(cert))
  })

  it('is reproduced by signing the golden fields with the golden seeds', () => {
    const identity = generateKeyPair(hex(fixture.keys.identity_seed))
    const device = generateKeyPair(hex(fixture.keys.device_seed))
    const cert = signDeviceCertificate(identity, device.publicKey, 'laptop', 1_767_225_600_000)
    assert.equal(encodeDeviceCertificate(cert).toString('hex'), fixture.hex)
  })

  it('verifies after an encode/decode round trip, for any valid name and time', () => {
    const identity = generateKeyPair()
    const device = generateKeyPair()
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 16 }),
        fc.maxSafeNat(),
        (name, at_ms) => {
          fc.pre(Buffer.byteLength(name) <= 64)
          const cert = signDeviceCertificate(identity, device.publicKey, name, at_ms)
          const decoded = decodeDeviceCertificate(encodeDeviceCertificate(cert))
          assert.deepEqual(decoded, cert)
          assert.ok(verifyDeviceCertificate(decoded))
        },
      ),
      { numRuns: 50 },
    )
  })

  it('fails to verify or to decode when any byte is changed', () => {
    const bytes = hex(fixture.hex)
    for (let i = 0; i < bytes.byteLength; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(bytes)
        tampered[i]! ^= mask
        let cert: DeviceCertificate
        try {
          cert = decodeDeviceCertificate(tampered)
        } catch (err) {
          assert.ok(isMalformed(err), `byte ${i}: ${err}`)
          continue
        }
        assert.equal(verifyDeviceCertificate(cert), false, `byte ${i} ^ ${mask}`)
      }
    }
  })

  it('rejects truncation, trailing bytes, unknown versions and non-canonical integers', () => {
    const bytes = hex(fixture.hex)
    for (let len = 0; len < bytes.byteLength; len++) {
      assert.throws(
        () => decodeDeviceCertificate(bytes.subarray(0, len)),
        isMalformed,
        `length ${len}`,
      )
    }
    assert.throws(
      () => decodeDeviceCertificate(Buffer.concat([bytes, Buffer.alloc(1)])),
      /trailing/,
    )
    const v2 = Buffer.from(bytes)
    v2[0] = 2
    assert.throws(() => decodeDeviceCertificate(v2), /version 2/)
    // created_at_ms = 5 written as 0xfd 0x05 0x00 instead of 0x05.
    const cert = { ...fixtureCertificate(), createdAtMs: 5 }
    const canonical = c.encode(deviceCertificateEncoding, cert)
    const padded = Buffer.concat([
      canonical.subarray(0, 65),
      Buffer.from([0xfd, 5, 0]),
      canonical.subarray(66),
    ])
    assert.throws(() => decodeDeviceCertificate(padded), /non-canonical/)
  })

  it('rejects device names over 64 bytes and invalid UTF-8', () => {
    const identity = generateKeyPair()
    const device = generateKeyPair()
    signDeviceCertificate(identity, device.publicKey, 'é'.repeat(32), 0) // exactly 64 bytes
    assert.throws(
      () => signDeviceCertificate(identity, device.publicKey, 'x'.repeat(65), 0),
      /65 bytes/,
    )
    assert.throws(() => signDeviceCertificate(identity, device.publicKey, '\ud800', 0), /Unicode/)
    assert.throws(
      () => encodeDeviceCertificate({ ...freshCertificate(), deviceName: 'é'.repeat(33) }),
      isMalformed,
    )
    const long = encodeWithRawName(Buffer.alloc(65, 0x61))
    assert.throws(() => decodeDeviceCertificate(long), /longer than 64/)
    const invalid = encodeWithRawName(Buffer.from([0xc3, 0x28]))
    assert.throws(() => decodeDeviceCertificate(invalid), isMalformed)
  })

  it('rejects bad fields when signing and never throws from verify', () => {
    const identity = generateKeyPair()
    assert.throws(() => signDeviceCertificate(identity, Buffer.alloc(31), 'x', 0), /32 bytes/)
    assert.throws(() => signDeviceCertificate(identity, Buffer.alloc(32), 'x', -1), /integer/)
    assert.throws(() => signDeviceCertificate(identity, Buffer.alloc(32), 'x', 1.5), /integer/)
    const cert = freshCertificate()
    assert.equal(verifyDeviceCertificate({ ...cert, signature: Buffer.alloc(3) }), false)
    assert.equal(verifyDeviceCertificate({ ...cert, createdAtMs: Number.NaN }), false)
    assert.equal(verifyDeviceCertificate({ ...cert, deviceName: 'other' }), false)
    assert.equal(verifyDeviceCertificate({} as DeviceCertificate), false)
    assert.equal(verifyDeviceCertificate(null as unknown as DeviceCertificate), false)
  })

  it('embeds in another compact-encoding message', () => {
    const cert = freshCertificate('phone')
    const envelope = {
      preencode(state: any, m: { n: number; cert: DeviceCertificate }) {
        c.uint.preencode(state, m.n)
        deviceCertificateEncoding.preencode(state, m.cert)
      },
      encode(state: any, m: { n: number; cert: DeviceCertificate }) {
        c.uint.encode(state, m.n)
        deviceCertificateEncoding.encode(state, m.cert)
      },
      decode(state: any) {
        return { n: c.uint.decode(state), cert: deviceCertificateEncoding.decode(state) }
      },
    }
    const buf = c.encode(envelope, { n: 300, cert })
    assert.deepEqual(c.decode(envelope, buf), { n: 300, cert })
    assert.throws(() => c.decode(envelope, buf.subarray(0, buf.byteLength - 1)))
  })

  it('decodes into copies that do not alias the input buffer', () => {
    const bytes = hex(fixture.hex)
    const cert = decodeDeviceCertificate(bytes)
    bytes.fill(0)
    assert.ok(verifyDeviceCertificate(cert))
  })
})

/** The golden certificate's prefix with a raw name (no validation), plus any 64-byte signature. */
function encodeWithRawName(name: Buffer): Buffer {
  const prefix = hex(fixture.hex).subarray(0, 1 + 32 + 32 + 9)
  return Buffer.concat([prefix, Buffer.from([name.byteLength]), name, Buffer.alloc(64)])
}
