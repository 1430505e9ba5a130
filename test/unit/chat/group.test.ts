// Groups: golden vectors of the group state and the group envelopes
// (PROTOCOL.md §11.7–§11.8), fast-check on the state decoder, and the
// receive rules of §11.9 on a real chat store: forged, relayed and stale
// states are dropped, an invitation needs a contact, a message that
// outruns its state waits for it, a removed member accepts nothing more.

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  ChatStore,
  decodeEnvelope,
  decodeGroupState,
  type EnvelopeBody,
  encodeGroupState,
  groupIdOf,
  signEnvelope,
  signGroupState,
  sortMembers,
} from '../../../src/chat/index.js'
import { encodeId, generateKeyPair, type KeyPair } from '../../../src/identity/index.js'
import { isParleyError } from '../../../src/util/errors.js'

const DIR = new URL('../../../../test/fixtures/wire/group/', import.meta.url)
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8'))
const hex = (s: string) => Buffer.from(s, 'hex')
const T0 = 1767225600000
const alice = generateKeyPair(Buffer.alloc(32, 1))
const bob = generateKeyPair(Buffer.alloc(32, 3))
const carol = generateKeyPair(Buffer.alloc(32, 4))
const mallory = generateKeyPair(Buffer.alloc(32, 6))
const NONCE = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')

function state(seq: number, members: KeyPair[], signer = alice, admin = alice) {
  return signGroupState(
    {
      admin: admin.publicKey,
      nonce: NONCE,
      seq,
      changedAtMs: T0,
      name: 'team',
      members: sortMembers(members.map((m) => m.publicKey)),
    },
    signer.secretKey,
  )
}

describe('group golden vectors', () => {
  test('group-state', () => {
    const f = fixture('group-state')
    const s = decodeGroupState(hex(f.hex))
    assert.equal(encodeGroupState(s).toString('hex'), f.hex)
    assert.equal(state(2, [alice, bob, carol]).toString('hex'), f.hex)
    assert.equal(groupIdOf(s.admin, s.nonce).toString('hex'), f.fields.group_id)
  })
  for (const name of ['envelope-group-state', 'envelope-group-text', 'envelope-group-leave']) {
    test(name, () => {
      const f = fixture(name)
      const e = decodeEnvelope(hex(f.hex))
      const { signature: _s, ...fields } = e
      assert.equal(signEnvelope(fields, alice.secretKey).toString('hex'), f.hex)
      assert.equal(e.kind, f.fields.kind)
    })
  }
})

describe('group state decoder under fast-check', () => {
  test('any single-byte change is rejected; arbitrary bytes never crash it', () => {
    const good = state(2, [alice, bob, carol])
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = Buffer.from(good)
        bad[at % bad.length]! ^= x
        assert.throws(() => decodeGroupState(bad), isParleyError)
      }),
      { numRuns: 400 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4000 }), (b) => {
        try {
          decodeGroupState(Buffer.concat([Buffer.from([1]), b]))
        } catch (err) {
          assert.ok(isParleyError(err), String(err))
        }
      }),
      { numRuns: 1000 },
    )
  })
  test('group envelopes round-trip, and any changed byte is rejected', () => {
    const b32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b))
    const arbBody: fc.Arbitrary<EnvelopeBody> = fc.oneof(
      fc.constant({ kind: 'group-state' as const, state: state(2, [alice, bob, carol]) }),
      fc.record({
        kind: fc.constant('group-text' as const),
        group: b32,
        stateSeq: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        text: fc.string({ maxLength: 100 }),
      }),
      fc.record({ kind: fc.constant('group-leave' as const), group: b32 }),
    )
    fc.assert(
      fc.property(arbBody, fc.nat(), fc.integer({ min: 1, max: 255 }), (body, at, x) => {
        const env = signEnvelope(
          {
            sender: alice.publicKey,
            recipient: bob.publicKey,
            id: Buffer.alloc(16),
            seq: 1,
            sentAtMs: T0,
            ...body,
          },
          alice.secretKey,
        )
        const { signature: _s, ...fields } = decodeEnvelope(env)
        assert.deepEqual(signEnvelope(fields, alice.secretKey), env)
        const bad = Buffer.from(env)
        bad[at % bad.length]! ^= x
        assert.throws(() => decodeEnvelope(bad), isParleyError)
      }),
      { numRuns: 300 },
    )
  })

  test('members must be sorted, unique and include the admin', () => {
    const f = { admin: alice.publicKey, nonce: NONCE, seq: 1, changedAtMs: T0, name: 'x' }
    const sorted = sortMembers([alice.publicKey, bob.publicKey])
    assert.throws(
      () => signGroupState({ ...f, members: [...sorted].reverse() }, alice.secretKey),
      isParleyError,
    )
    assert.throws(
      () => signGroupState({ ...f, members: [bob.publicKey] }, alice.secretKey),
      isParleyError,
    )
  })
})

describe('§11.9 receive rules on a real store', () => {
  const db = new ChatStore(':memory:')
  const gid = groupIdOf(alice.publicKey, NONCE)
  const seqs = new Map<string, number>()
  const recv = (from: KeyPair, body: EnvelopeBody) => {
    const key = from.publicKey.toString('hex')
    const seq = (seqs.get(key) ?? 0) + 1
    seqs.set(key, seq)
    const e = decodeEnvelope(
      signEnvelope(
        {
          sender: from.publicKey,
          recipient: bob.publicKey,
          id: Buffer.alloc(16, seq),
          seq,
          sentAtMs: T0,
          ...body,
        },
        from.secretKey,
      ),
    )
    return db.receive(encodeId(from.publicKey), e, T0)
  }
  const reason = (r: ReturnType<typeof recv>) => (r.outcome === 'dropped' ? r.reason : r.outcome)
  const group = () => db.groups.get(gid.toString('hex'))

  test('an invitation from a non-contact is dropped; from a contact it is kept', () => {
    assert.equal(
      reason(recv(alice, { kind: 'group-state', state: state(1, [alice, bob]) })),
      'unauthorized',
    )
    db.setContactState(encodeId(alice.publicKey), 'accepted', T0)
    assert.equal(
      reason(recv(alice, { kind: 'group-state', state: state(1, [alice, bob]) })),
      'stored',
    )
    assert.equal(group()?.status, 'member')
  })

  test('forged and relayed states are dropped, stale ones too', () => {
    // mallory signs in alice's name; carol relays a genuine state of alice's.
    assert.equal(
      reason(
        recv(mallory, { kind: 'group-state', state: state(5, [alice, bob, mallory], mallory) }),
      ),
      'group_forged',
    )
    assert.equal(
      reason(recv(carol, { kind: 'group-state', state: state(6, [alice, bob, carol]) })),
      'group_forged',
    )
    assert.equal(
      reason(recv(alice, { kind: 'group-state', state: state(1, [alice, bob]) })),
      'group_stale',
    )
    assert.equal(group()?.seq, 1)
  })

  test('a message that outruns its state waits for it', () => {
    const r = recv(carol, { kind: 'group-text', group: gid, stateSeq: 2, text: 'early' })
    assert.equal(r.outcome, 'stored')
    assert.equal(db.groups.history(gid.toString('hex')).length, 0)
    const up = recv(alice, { kind: 'group-state', state: state(2, [alice, bob, carol]) })
    assert.ok(up.outcome === 'stored' && up.group?.type === 'updated')
    assert.deepEqual(
      db.groups.history(gid.toString('hex')).map((m) => m.text),
      ['early'],
    )
  })

  test('non-members are refused; a removed member accepts nothing more', () => {
    assert.equal(
      reason(recv(mallory, { kind: 'group-text', group: gid, stateSeq: 2, text: 'let me in' })),
      'not_member',
    )
    recv(alice, { kind: 'group-state', state: state(3, [alice, carol]) })
    assert.equal(group()?.status, 'removed')
    assert.equal(
      reason(recv(carol, { kind: 'group-text', group: gid, stateSeq: 2, text: 'late' })),
      'not_member',
    )
  })
})
