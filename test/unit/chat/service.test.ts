// Two ChatServices over a real protomux pair in memory (what a session gives
// them), with their own SQLite stores: the order, authorization and
// receive-path rules of PROTOCOL.md §9.4 without a network.

import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import { afterEach, describe, test } from 'node:test'
import Protomux from 'protomux'
import {
  type ChatEvent,
  ChatService,
  ChatStore,
  REQUESTS_PER_SENDER_MAX,
  signEnvelope,
} from '../../../src/chat/index.js'
import { encodeId, generateIdentity, type IdentityKeys } from '../../../src/identity/index.js'
import type { SessionManager } from '../../../src/session/index.js'
import { systemClock } from '../../../src/util/clock.js'
import { seededRandom } from '../../../src/util/random.js'

interface Side {
  keys: IdentityKeys
  store: ChatStore
  chat: ChatService
  events: ChatEvent[]
  id: string
}

const tick = () => new Promise((r) => setImmediate(r))
async function settle() {
  for (let i = 0; i < 20; i++) await tick()
}

function side(name: string, seed: number): Side & { manager: EventEmitter } {
  const keys = generateIdentity({ name, deviceName: 'test', now_ms: 0 })
  const store = new ChatStore(':memory:')
  const events: ChatEvent[] = []
  const manager = Object.assign(new EventEmitter(), {
    list: () => [],
    maintain: () => {},
    release: () => {},
    connect: () => Promise.reject(new Error('no network here')),
  })
  const chat = new ChatService({
    sessions: manager as unknown as SessionManager,
    store,
    keys,
    clock: systemClock,
    random: seededRandom(seed),
    emit: (e) => events.push(e),
  })
  return { keys, store, chat, events, manager, id: encodeId(keys.identity.publicKey) }
}

function link(onwrite: (chunk: Buffer) => void): Duplex {
  return new Duplex({
    objectMode: true,
    read() {},
    write(chunk: Buffer, _e, done) {
      onwrite(chunk)
      done()
    },
  })
}

/** Connects two sides as if a session had opened between them. */
function connect(a: ReturnType<typeof side>, b: ReturnType<typeof side>) {
  let da: Duplex | null = null
  let db: Duplex | null = null
  da = link((chunk) => db!.push(chunk))
  db = link((chunk) => da!.push(chunk))
  const muxA = new Protomux(da)
  const muxB = new Protomux(db)
  const session = (mux: Protomux, remote: Side) => ({
    remoteIdentityPublicKey: remote.keys.identity.publicKey,
    closed: false,
    mux,
  })
  a.manager.emit('session', session(muxA, b))
  b.manager.emit('session', session(muxB, a))
}

const sides: Side[] = []
afterEach(() => {
  for (const s of sides.splice(0)) {
    s.chat.close()
    s.store.close()
  }
})

function pair() {
  const a = side('alice', 1)
  const b = side('bob', 2)
  sides.push(a, b)
  connect(a, b)
  return { a, b }
}

describe('chat service over an in-memory protomux', () => {
  test('request, accept, text, ack: both stores agree', async () => {
    const { a, b } = pair()
    await settle()
    a.chat.add(b.id, 'hello from a test')
    await settle()
    assert.equal(b.store.contact(a.id)?.state, 'incoming')
    b.chat.accept(a.id)
    await settle()
    assert.equal(a.store.contact(b.id)?.state, 'accepted')
    const m = a.chat.send(b.id, 'one')
    await settle()
    assert.deepEqual(
      b.chat.history(a.id).map((x) => [x.message_id, x.text]),
      [[m.id, 'one']],
    )
    assert.ok(a.events.some((e) => e.type === 'chat.delivered' && e.message_id === m.id))
    assert.equal(a.store.contact(b.id)?.acked_seq, a.store.contact(b.id)?.send_seq)
  })

  test('garbage frames are counted and dropped; the channel keeps working', async () => {
    const { a, b } = pair()
    await settle()
    a.chat.add(b.id, '')
    b.chat.accept(a.id)
    await settle()
    const chatB = b.chat
    // Feed B's receive path directly: the frame decoder, then the envelope decoder.
    const onFrame = (chatB as any).onFrame.bind(chatB)
    const session = (chatB as any).links.get(a.id).session
    for (const bad of [
      Buffer.alloc(0),
      Buffer.from([0x09]),
      Buffer.from([0x02, 0xff]),
      Buffer.from([0x01, 0x01, 0x02]),
      Buffer.alloc(9000, 1),
      Buffer.from([0x05, 0x07]),
    ])
      onFrame(a.id, session, bad)
    const counts = chatB.counters.toJSON()
    assert.equal(
      (counts.malformed ?? 0) + (counts.unknown_type ?? 0) + (counts.oversize ?? 0),
      6,
      JSON.stringify(counts),
    )
    a.chat.send(b.id, 'still works')
    await settle()
    assert.deepEqual(
      b.chat.history(a.id).map((x) => x.text),
      ['still works'],
    )
  })

  test('an envelope claiming another sender, or for someone else, is dropped', async () => {
    const { a, b } = pair()
    const mallory = side('mallory', 3)
    sides.push(mallory)
    await settle()
    a.chat.add(b.id, '')
    b.chat.accept(a.id)
    await settle()
    const onFrame = (b.chat as any).onFrame.bind(b.chat)
    const session = (b.chat as any).links.get(a.id).session
    // Signed by mallory, arriving on alice's session.
    const forged = signEnvelope(
      {
        sender: mallory.keys.identity.publicKey,
        recipient: b.keys.identity.publicKey,
        id: Buffer.alloc(16, 9),
        seq: 1,
        sentAtMs: 0,
        kind: 'text',
        text: 'i am alice',
      },
      mallory.keys.identity.secretKey,
    )
    onFrame(a.id, session, Buffer.concat([Buffer.from([1]), forged]))
    assert.equal(b.chat.counters.get('misaddressed'), 1)
    assert.deepEqual(b.chat.history(a.id), [])
  })

  test('store: duplicates re-acked, gaps unacked, blocked dropped, requests rate-limited', () => {
    const a = side('alice', 4)
    const b = side('bob', 5)
    sides.push(a, b)
    const env = (seq: number, body: any) => ({
      sender: a.keys.identity.publicKey,
      recipient: b.keys.identity.publicKey,
      id: Buffer.alloc(16, seq),
      seq,
      sentAtMs: 1000,
      signature: Buffer.alloc(64),
      ...body,
    })
    const now = 1_000_000
    assert.equal(
      b.store.receive(a.id, env(1, { kind: 'request', name: 'a', note: '' }), now).outcome,
      'stored',
    )
    assert.deepEqual(b.store.receive(a.id, env(1, { kind: 'request', name: 'a', note: '' }), now), {
      outcome: 'duplicate',
      ack: 1,
    })
    assert.equal(b.store.receive(a.id, env(3, { kind: 'text', text: 'x' }), now).ack, null)
    // Not accepted yet: the text is acknowledged (no retries) and dropped.
    const t = b.store.receive(a.id, env(2, { kind: 'text', text: 'x' }), now)
    assert.deepEqual([t.outcome, t.ack], ['dropped', 2])
    for (let seq = 3; seq < 3 + REQUESTS_PER_SENDER_MAX; seq++)
      b.store.receive(a.id, env(seq, { kind: 'request', name: 'a', note: `${seq}` }), now)
    const limited = b.store.receive(
      a.id,
      env(3 + REQUESTS_PER_SENDER_MAX, { kind: 'request', name: 'a', note: 'spam' }),
      now,
    )
    assert.deepEqual([limited.outcome, (limited as any).reason], ['dropped', 'rate_limited'])
    b.store.setContactState(a.id, 'blocked', now)
    const blocked = b.store.receive(
      a.id,
      env(4 + REQUESTS_PER_SENDER_MAX, { kind: 'request', name: 'a', note: '' }),
      now,
    )
    assert.deepEqual([blocked.outcome, (blocked as any).reason], ['dropped', 'blocked'])
  })
})
