// Mailbox wire (PROTOCOL.md §9.6): golden vectors, fast-check fuzz of the
// frame decoder, and the hostile mailbox: a test double that tampers with,
// forges, misdirects, replays and withholds blobs cannot make the recipient
// accept anything the sender did not write to it.

import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  ChatService,
  ChatStore,
  type EnvelopeFields,
  signEnvelope,
} from '../../../src/chat/index.js'
import { encodeId, generateIdentity, generateKeyPair } from '../../../src/identity/index.js'
import {
  decodeMailboxFrame,
  encodeMailboxFrame,
  type FetchedBlob,
  type MailboxClient,
  type MailboxFrame,
  openSealed,
  sealTo,
} from '../../../src/mailbox/index.js'
import type { SessionManager } from '../../../src/session/index.js'
import { systemClock } from '../../../src/util/clock.js'
import { isParleyError } from '../../../src/util/errors.js'
import { seededRandom } from '../../../src/util/random.js'

const DIR = new URL('../../../../test/fixtures/wire/mailbox/', import.meta.url)
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')))
const hex = (s: string) => Buffer.from(s, 'hex')

function frameFromJson(f: any): MailboxFrame {
  const out: any = { type: f.type }
  for (const [k, v] of Object.entries(f)) {
    if (k === 'type') continue
    const key = k === 'blob_id' ? 'blobId' : k
    out[key] = typeof v === 'string' ? hex(v) : v
  }
  return out
}

describe('mailbox golden vectors', () => {
  for (const f of fixtures.filter((x) => x.name.startsWith('frame-'))) {
    test(f.name, () => {
      const frame = frameFromJson(f.fields)
      assert.equal(encodeMailboxFrame(frame).toString('hex'), f.hex)
      assert.deepEqual(decodeMailboxFrame(hex(f.hex)), frame)
    })
  }
  test('sealed-envelope opens with the recipient key only', () => {
    const f = fixtures.find((x) => x.name === 'sealed-envelope')
    const bob = generateKeyPair(hex(f.keys.recipient_seed))
    assert.equal(openSealed(bob, hex(f.hex))?.toString('hex'), f.fields.envelope)
    assert.equal(openSealed(generateKeyPair(Buffer.alloc(32, 1)), hex(f.hex)), null)
  })
  test('seven vectors', () => assert.equal(fixtures.length, 7))
})

test('arbitrary bytes never crash the mailbox frame decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 9000 }), fc.integer({ min: 0, max: 8 }), (b, t) => {
      for (const input of [b, Buffer.concat([Buffer.from([t]), b])]) {
        try {
          decodeMailboxFrame(input)
        } catch (err) {
          assert.ok(isParleyError(err), String(err))
        }
      }
      assert.equal(openSealed(generateKeyPair(Buffer.alloc(32, 5)), b), null)
    }),
    { numRuns: 1000 },
  )
})

test('a hostile mailbox cannot make the recipient accept a forged or altered message', async () => {
  const alice = generateIdentity({ name: 'alice', deviceName: 't', now_ms: 0 })
  const bob = generateIdentity({ name: 'bob', deviceName: 't', now_ms: 0 })
  const carol = generateIdentity({ name: 'carol', deviceName: 't', now_ms: 0 })
  const mallory = generateIdentity({ name: 'mallory', deviceName: 't', now_ms: 0 })
  const aliceId = encodeId(alice.identity.publicKey)
  const store = new ChatStore(':memory:')
  store.setContactState(aliceId, 'accepted', 0, 'alice')
  const env = (seq: number, text: string, over: Partial<EnvelopeFields> = {}, key = alice) =>
    signEnvelope(
      {
        sender: alice.identity.publicKey,
        recipient: bob.identity.publicKey,
        id: Buffer.alloc(16, seq),
        seq,
        sentAtMs: 1000,
        kind: 'text',
        text,
        ...over,
      } as EnvelopeFields,
      key.identity.secretKey,
    )
  const toBob = (e: Buffer) => sealTo(bob.identity.publicKey, e)
  const genuine = toBob(env(1, 'the real one'))
  const flipped = Buffer.from(toBob(env(2, 'altered in storage')))
  flipped[flipped.length - 20]! ^= 1
  // Bob's key is public, so a mailbox can seal anything to him; it cannot sign as alice.
  const forged = toBob(env(2, 'forged by mallory', {}, mallory))
  // A genuine envelope of alice's to carol, re-sealed to bob.
  const misdirected = toBob(env(2, 'meant for carol', { recipient: carol.identity.publicKey }))
  // Withholding seq 2 and offering seq 3: applied out of order would break per-sender order.
  const skipped = toBob(env(3, 'after a withheld one'))
  const blobs = [flipped, forged, genuine, misdirected, genuine, skipped, Buffer.alloc(10)]
  const removed: number[] = []
  const mailbox = {
    fetch: async () => ({
      blobs: blobs.map((blob, i): FetchedBlob => ({ blob, remove: () => removed.push(i) })),
      done: () => {},
    }),
    deposit: async () => 0,
  } as unknown as MailboxClient
  const manager = Object.assign(new EventEmitter(), {
    list: () => [],
    maintain: () => {},
    release: () => {},
    connect: () => Promise.reject(new Error('offline')),
  })
  const chat = new ChatService({
    sessions: manager as unknown as SessionManager,
    store,
    keys: bob,
    clock: systemClock,
    random: seededRandom(1),
    emit: () => {},
    mailbox,
  })
  try {
    const r = await chat.checkMail()
    assert.deepEqual(r, { fetched: 7, stored: 1 })
    assert.deepEqual(
      chat.history(aliceId).map((m) => m.text),
      ['the real one'],
    )
    const c = chat.counters.toJSON()
    assert.deepEqual([c.mailbox_bad, c.misaddressed, c.gap], [3, 1, 1], JSON.stringify(c))
    assert.deepEqual(
      removed.sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6],
    )
  } finally {
    chat.close()
    store.close()
  }
})
