// Shared pieces of the wire tests: fixture loading, JSON <-> message mapping
// (fixtures use the field names of docs/PROTOCOL.md, not the TypeScript ones),
// fast-check arbitraries for valid messages, and an error matcher.

import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import fc from 'fast-check'
import type { DeviceCertificate } from '../../../src/identity/index.js'
import type { ErrorCode } from '../../../src/util/errors.js'
import { isParleyError } from '../../../src/util/errors.js'
import {
  AGENT_BYTES_MAX,
  type ControlMessage,
  GOODBYE_REASON_BYTES_MAX,
  type Hello,
  UINT_FIELD_MAX,
} from '../../../src/wire/index.js'

// Tests run from build/test/unit/wire; the fixtures are data and stay in the source tree.
export const FIXTURE_DIR = new URL('../../../../test/fixtures/wire/', import.meta.url)

export interface Fixture {
  name: string
  description: string
  hex: string
  fields: any
}

export function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(new URL(f, FIXTURE_DIR), 'utf8')) as Fixture)
}

export function hex(s: string): Buffer {
  return Buffer.from(s, 'hex')
}

export function helloFromJson(f: any): Hello {
  const cert = f.certificate
  assert.equal(cert.version, 1, 'fixtures hold version 1 certificates')
  return {
    versionMin: f.version_min,
    versionMax: f.version_max,
    certificate: {
      identityPublicKey: hex(cert.identity_public_key),
      devicePublicKey: hex(cert.device_public_key),
      createdAtMs: cert.created_at_ms,
      deviceName: cert.device_name,
      signature: hex(cert.signature),
    },
    agent: f.agent,
    flags: f.flags,
  }
}

export function helloToJson(h: Hello): unknown {
  const cert = h.certificate
  return {
    version_min: h.versionMin,
    version_max: h.versionMax,
    certificate: {
      version: 1,
      identity_public_key: cert.identityPublicKey.toString('hex'),
      device_public_key: cert.devicePublicKey.toString('hex'),
      created_at_ms: cert.createdAtMs,
      device_name: cert.deviceName,
      signature: cert.signature.toString('hex'),
    },
    agent: h.agent,
    flags: h.flags,
  }
}

/** Throws unless `run` throws a ParleyError, with `code` when given. */
export function assertParleyError(run: () => unknown, code?: ErrorCode): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(isParleyError(err), `expected a ParleyError, got ${String(err)}`)
    if (code !== undefined) assert.equal(err.code, code, err.message)
    return true
  })
}

/** A string of at most `bytesMax` UTF-8 bytes: any code points, or long ASCII near the limit. */
export function arbText(bytesMax: number): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.string({ unit: 'binary', maxLength: Math.floor(bytesMax / 4) }),
      fc.string({ unit: 'grapheme-ascii', maxLength: bytesMax }),
      fc.string({ unit: 'grapheme', maxLength: bytesMax }),
    )
    .filter((s) => Buffer.byteLength(s, 'utf8') <= bytesMax)
}

const arbUintField = fc.oneof(
  fc.integer({ min: 0, max: 0xfc }),
  fc.constantFrom(0xfc, 0xfd, 0xffff, 0x1_0000, UINT_FIELD_MAX),
  fc.integer({ min: 0, max: UINT_FIELD_MAX }),
)

const arbBytes = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b))

// fc.record builds null-prototype objects; decoders return plain ones, and
// deepStrictEqual compares prototypes, hence the `({ ...r })` maps below.
export const arbCertificate: fc.Arbitrary<DeviceCertificate> = fc
  .record({
    identityPublicKey: arbBytes(32),
    devicePublicKey: arbBytes(32),
    createdAtMs: fc.oneof(
      fc.integer({ min: 0, max: 2 ** 42 }),
      fc.constant(Number.MAX_SAFE_INTEGER),
    ),
    deviceName: arbText(64),
    signature: arbBytes(64),
  })
  .map((r) => ({ ...r }))

export const arbHello: fc.Arbitrary<Hello> = fc
  .record({
    a: arbUintField,
    b: arbUintField,
    certificate: arbCertificate,
    agent: arbText(AGENT_BYTES_MAX),
    flags: arbUintField,
  })
  .map(({ a, b, certificate, agent, flags }) => ({
    versionMin: Math.min(a, b),
    versionMax: Math.max(a, b),
    certificate,
    agent,
    flags,
  }))

export const arbControl: fc.Arbitrary<ControlMessage> = fc
  .oneof(
    fc.record({
      type: fc.constant('ping' as const),
      nonce: fc.integer({ min: 0, max: 0xffff_ffff }),
    }),
    fc.record({
      type: fc.constant('pong' as const),
      nonce: fc.integer({ min: 0, max: 0xffff_ffff }),
    }),
    fc.record({
      type: fc.constant('goodbye' as const),
      code: fc.oneof(fc.integer({ min: 0, max: 7 }), arbUintField),
      reason: arbText(GOODBYE_REASON_BYTES_MAX),
    }),
  )
  .map((m) => ({ ...m }))
