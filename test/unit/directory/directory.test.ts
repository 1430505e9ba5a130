// Directory: golden vectors (test/fixtures/wire/directory, PROTOCOL.md §11.6)
// in both directions; fast-check properties for the record and frame
// decoders; the supernode's store rules and the searcher's checks, with a
// clock the test moves (72 h and 96 h boundaries).

import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  DIRECTORY_RETENTION_MS,
  DirectoryClient,
  type DirectoryFrame,
  DirectoryServer,
  decodeDirectoryFrame,
  decodeProfile,
  encodeDirectoryFrame,
  encodeProfile,
  normaliseName,
  type ProfileFields,
  PUBLISH_REJECTED,
  PUBLISH_STALE,
  PUBLISH_STORED,
  signProfile,
} from '../../../src/directory/index.js'
import {
  decodeDeviceCertificate,
  generateKeyPair,
  type KeyPair,
  signDeviceCertificate,
} from '../../../src/identity/index.js'
import type { SessionManager } from '../../../src/session/index.js'
import type { Clock } from '../../../src/util/clock.js'
import { isParleyError } from '../../../src/util/errors.js'

const DIR = new URL('../../../../test/fixtures/wire/directory/', import.meta.url)
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')))
const hex = (s: string) => Buffer.from(s, 'hex')
const T0 = 1767225600000

function profileFromJson(f: any) {
  return {
    identity: hex(f.identity),
    publishedAtMs: f.published_at_ms,
    name: f.name,
    devices: f.devices.map((d: string) => decodeDeviceCertificate(hex(d))),
    mailboxes: f.mailboxes.map((m: any) => ({ publicKey: hex(m.key), host: m.host, port: m.port })),
    signature: hex(f.signature),
  }
}

function frameFromJson(f: any): DirectoryFrame {
  const out = { ...f }
  for (const k of ['record', 'identity']) if (k in out) out[k] = hex(out[k])
  return out
}

describe('directory golden vectors', () => {
  const alice = generateKeyPair(Buffer.alloc(32, 1))
  test('profile-record', () => {
    const f = fixtures.find((x) => x.name === 'profile-record')
    const p = profileFromJson(f.fields)
    assert.equal(encodeProfile(p).toString('hex'), f.hex)
    assert.deepEqual(decodeProfile(hex(f.hex)), p)
    assert.equal(signProfile(p, alice.secretKey).toString('hex'), f.hex)
  })
  for (const f of fixtures.filter((x) => x.name.startsWith('frame-'))) {
    test(f.name, () => {
      const frame = frameFromJson(f.fields)
      assert.equal(encodeDirectoryFrame(frame).toString('hex'), f.hex)
      assert.deepEqual(decodeDirectoryFrame(hex(f.hex)), frame)
    })
  }
  test('seven vectors', () => assert.equal(fixtures.length, 7))
})

test('names are compared normalised (NFKC, lower case, white space folded)', () => {
  assert.equal(normaliseName('  Alice   Smith '), 'alice smith')
  assert.equal(normaliseName('ＡＬＩＣＥ'), 'alice')
  assert.equal(normaliseName('Ame\u0301lie'), normaliseName('Amélie'))
  assert.equal(normaliseName(' \t '), '')
})

function identity(seed: number) {
  const id = generateKeyPair(Buffer.alloc(32, seed))
  const device = generateKeyPair(Buffer.alloc(32, seed + 100))
  return { id, cert: signDeviceCertificate(id, device.publicKey, 'dev', T0) }
}

function record(who: { id: KeyPair; cert: any }, name: string, at: number): Buffer {
  const f: ProfileFields = {
    identity: who.id.publicKey,
    publishedAtMs: at,
    name,
    devices: [who.cert],
    mailboxes: [],
  }
  return signProfile(f, who.id.secretKey)
}

const onlyParleyErrors = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    assert.ok(isParleyError(err), `threw a non-ParleyError: ${String(err)}`)
  }
}

describe('directory decoders under fast-check', () => {
  const who = identity(9)
  const arbFields = fc.record({
    at: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    name: fc.string({ minLength: 1, maxLength: 20 }).filter((n) => normaliseName(n) !== ''),
    mailboxes: fc.array(
      fc.record({
        publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b)),
        host: fc.string({ maxLength: 40 }),
        port: fc.integer({ min: 0, max: 65535 }),
      }),
      { maxLength: 4 },
    ),
  })
  const sign = (f: { at: number; name: string; mailboxes: any[] }) =>
    signProfile(
      {
        identity: who.id.publicKey,
        publishedAtMs: f.at,
        name: f.name,
        devices: [who.cert],
        mailboxes: f.mailboxes,
      },
      who.id.secretKey,
    )

  test('valid records round-trip', () => {
    fc.assert(
      fc.property(arbFields, (f) => {
        const signed = sign(f)
        assert.deepEqual(encodeProfile(decodeProfile(signed)), signed)
      }),
      { numRuns: 200 },
    )
  })

  test('any single-byte change to a signed record is rejected', () => {
    fc.assert(
      fc.property(arbFields, fc.nat(), fc.integer({ min: 1, max: 255 }), (f, at, x) => {
        const bad = Buffer.from(sign(f))
        bad[at % bad.length]! ^= x
        assert.throws(() => decodeProfile(bad), isParleyError)
      }),
      { numRuns: 400 },
    )
  })

  test('arbitrary bytes never crash the record or frame decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2200 }), (b) => {
        onlyParleyErrors(() => decodeProfile(b))
        onlyParleyErrors(() => decodeProfile(Buffer.concat([Buffer.from([1]), b])))
        onlyParleyErrors(() => decodeDirectoryFrame(b))
        for (let t = 1; t <= 6; t++)
          onlyParleyErrors(() => decodeDirectoryFrame(Buffer.concat([Buffer.from([t]), b])))
      }),
      { numRuns: 1500 },
    )
  })

  test('truncated and extended frames are rejected', () => {
    const arbFrame: fc.Arbitrary<DirectoryFrame> = fc.oneof(
      fc.record({
        type: fc.constant('published' as const),
        status: fc.integer({ min: 0, max: 3 }),
      }),
      fc.record({ type: fc.constant('find-name' as const), name: fc.string({ maxLength: 20 }) }),
      fc.record({
        type: fc.constant('find-id' as const),
        identity: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b)),
      }),
      fc.record({
        type: fc.constant('done' as const),
        more: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      }),
    )
    fc.assert(
      fc.property(
        arbFrame,
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        (f, cut, x) => {
          const enc = encodeDirectoryFrame(f)
          assert.deepEqual(decodeDirectoryFrame(enc), { ...f })
          assert.throws(
            () => decodeDirectoryFrame(enc.subarray(0, cut % enc.length)),
            isParleyError,
          )
          assert.throws(() => decodeDirectoryFrame(Buffer.concat([enc, x])), isParleyError)
        },
      ),
      { numRuns: 400 },
    )
  })
})

function testClock(start: number) {
  const c = { t: start }
  const clock: Clock = {
    now: () => c.t,
    wallNow: () => c.t,
    setTimeout: () => ({ id: 0 }),
    clearTimeout: () => {},
  }
  return { c, clock }
}

const noSessions = { on() {}, list: () => [] } as unknown as SessionManager

describe('the supernode directory store', () => {
  const bob = identity(2)
  const bob2 = identity(3)
  const { c, clock } = testClock(T0)
  const server = new DirectoryServer({ sessions: noSessions, path: ':memory:', clock })
  const as = (who: { id: KeyPair }) => ({ remoteIdentityPublicKey: who.id.publicKey })
  const publish = (who: { id: KeyPair }, rec: Buffer) =>
    server.handle(as(who), { type: 'publish', record: rec })
  const names = (frames: DirectoryFrame[]) =>
    frames.flatMap((f) => (f.type === 'record' ? [decodeProfile(f.record).name] : []))

  test("stores own records; forged and others' records are rejected", () => {
    assert.deepEqual(publish(bob, record(bob, 'bob', T0)), [
      { type: 'published', status: PUBLISH_STORED },
    ])
    const forged = Buffer.from(record(bob2, 'bob', T0))
    forged[forged.length - 1]! ^= 1
    assert.deepEqual(publish(bob2, forged), [{ type: 'published', status: PUBLISH_REJECTED }])
    // bob2's session cannot publish bob's (valid) record.
    assert.deepEqual(publish(bob2, record(bob, 'bob', T0 + 1)), [
      { type: 'published', status: PUBLISH_REJECTED },
    ])
    assert.equal(server.counters.get('forged'), 1)
    assert.equal(server.counters.get('not_own'), 1)
  })

  test('an older record never replaces a newer one', () => {
    assert.equal(
      (publish(bob, record(bob, 'Bob', T0 - 1000))[0] as { status: number }).status,
      PUBLISH_STALE,
    )
    assert.deepEqual(publish(bob2, record(bob2, 'BOB ', T0 + 5)), [
      { type: 'published', status: PUBLISH_STORED },
    ])
  })

  test('find by name returns every claimant; find by id one', () => {
    const r = server.handle(as(bob), { type: 'find-name', name: ' bOb' })
    assert.deepEqual(names(r).sort(), ['BOB ', 'bob'])
    assert.deepEqual(r.at(-1), { type: 'done', more: 0 })
    const one = server.handle(as(bob2), { type: 'find-id', identity: bob.id.publicKey })
    assert.deepEqual(names(one), ['bob'])
  })

  test('records are kept 96 h after their date, not longer', () => {
    c.t = T0 + 72 * 3_600_000
    assert.equal(names(server.handle(as(bob), { type: 'find-name', name: 'bob' })).length, 2)
    c.t = T0 + DIRECTORY_RETENTION_MS + 1
    assert.deepEqual(names(server.handle(as(bob), { type: 'find-name', name: 'bob' })), ['BOB '])
    assert.equal(server.stats().records, 1)
  })
})

describe('the searcher checks every record', () => {
  const bob = identity(2)
  const eve = identity(4)
  const { clock } = testClock(T0)
  const client = new DirectoryClient({
    supernodeSessions: async () => ({ sessions: [], done() {} }),
    clock,
  })
  test('forged, stale, unasked-for and superseded records are counted and dropped', () => {
    const forged = Buffer.from(record(eve, 'bob', T0))
    forged[50]! ^= 0x40
    const r = client.verify(
      [
        record(bob, 'bob', T0 - 10),
        record(bob, 'bob', T0),
        forged,
        record(eve, 'eve', T0),
        record(eve, 'bob', T0 - DIRECTORY_RETENTION_MS - 1),
        Buffer.from('garbage'),
      ],
      (p) => normaliseName(p.name) === 'bob',
    )
    assert.deepEqual(
      r.profiles.map((p) => [p.identity, p.publishedAtMs]),
      [[bob.id.publicKey, T0]],
    )
    assert.equal(r.sources.get(bob.id.publicKey.toString('hex')), 2)
    assert.deepEqual(client.counters.toJSON(), {
      superseded: 1,
      forged: 1,
      unknown_type: 1,
      unasked: 1,
      stale: 1,
    })
  })
})
