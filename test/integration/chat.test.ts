import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ApiEvent } from '../../src/api/index.js'
import { CLI_PATH, type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import {
  initUsers,
  runCli,
  startTestnetProcess,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'

// Contacts, presence and 1:1 chat between real daemons on a private testnet,
// driven through the real CLI and the API's WebSocket events.
describe('contacts and chat between real daemons', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const d: Record<string, DaemonProcess> = {}
  const ids: Record<string, string> = {}
  const events: Record<string, ApiEvent[]> = { alice: [], bob: [], carol: [] }
  const home = (n: string) => join(root.path, n)
  const cli = (n: string, ...args: string[]) => runCli([...args, '--home', home(n), '--json'])
  const ok = async (n: string, ...args: string[]) => {
    const r = await cli(n, ...args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return JSON.parse(r.stdout)
  }

  async function start(name: string) {
    d[name] = await spawnDaemon({
      home: home(name),
      args: ['--bootstrap', testnet.bootstrap, '--port', '0'],
    })
    await d[name]!.client.events((e) => events[name]!.push(e))
  }

  /** Waits for an event (events arrive asynchronously; no timing is asserted). */
  async function waitFor(name: string, pred: (e: ApiEvent) => boolean, what: string, from = 0) {
    for (let i = 0; i < 600; i++) {
      const e = events[name]!.slice(from).find(pred)
      if (e !== undefined) return e
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(
      `${name} never saw ${what}; events: ${JSON.stringify(events[name]!.slice(-5))}; stderr: ${d[name]!.stderr()}`,
    )
  }

  before(async () => {
    root = await tempDir('chat')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(ids, await initUsers(root.path, ['alice', 'bob', 'carol']))
    await Promise.all(['alice', 'bob', 'carol'].map(start))
  })

  after(async () => {
    await Promise.all(Object.values(d).map((x) => x.stop()))
    await testnet?.stop()
    await root?.cleanup()
  })

  test('a message before the contact accepted is refused with a clear error', async () => {
    const r = await cli('alice', 'send', ids.bob!, 'hi')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not accepted you as a contact/)
  })

  test('add with a note, the other side sees the request, accepts', async () => {
    const added = await ok('alice', 'contacts', 'add', ids.bob!, '--note', 'alice from work')
    assert.equal(added.contact.state, 'requested')
    const req = await waitFor('bob', (e) => e.type === 'contact.request', 'a contact request')
    assert.equal(req.id, ids.alice)
    assert.equal(req.note, 'alice from work')
    const list = await ok('bob', 'contacts', 'list')
    assert.deepEqual(
      list.contacts.map((c: { id: string; state: string; name: string }) => [
        c.id,
        c.state,
        c.name,
      ]),
      [[ids.alice, 'incoming', 'alice']],
    )
    await ok('bob', 'contacts', 'accept', 'alice')
    await waitFor('alice', (e) => e.type === 'contact.accepted', 'the accept')
    const mine = await ok('alice', 'contacts', 'list')
    assert.equal(mine.contacts[0].state, 'accepted')
    assert.equal(mine.contacts[0].name, 'bob')
  })

  test('send by name: ids, per-sender order, delivery and read receipts', async () => {
    const sent: string[] = []
    // A few through the CLI, the rest through the API the CLI uses (each CLI run costs ~0.5 s).
    for (let i = 0; i < 3; i++) sent.push((await ok('alice', 'send', 'bob', `m${i}`)).message_id)
    for (let i = 3; i < 20; i++) {
      const r = await d.alice!.client.request<{ message_id: string }>('POST', '/v1/chat/send', {
        contact: 'bob',
        text: `m${i}`,
      })
      sent.push(r.message_id)
    }
    await waitFor(
      'alice',
      (e) => e.type === 'chat.delivered' && e.message_id === sent.at(-1),
      'the last delivery receipt',
    )
    const h = await ok('bob', 'history', 'alice')
    assert.deepEqual(
      h.messages.map((m: { text: string }) => m.text),
      sent.map((_, i) => `m${i}`),
    )
    assert.deepEqual(
      h.messages.map((m: { message_id: string }) => m.message_id),
      sent,
    )
    assert.ok(h.messages.every((m: { direction: string }) => m.direction === 'in'))
    await d.bob!.client.request('POST', '/v1/chat/read', { contact: ids.alice })
    await waitFor('alice', (e) => e.type === 'chat.read' && e.seq !== undefined, 'a read receipt')
    const mine = await ok('alice', 'history', 'bob')
    assert.ok(
      mine.messages.every((m: { delivered: boolean; read: boolean }) => m.delivered && m.read),
    )
  })

  test('edit, delete and typing reach the other side', async () => {
    const a = await ok('alice', 'send', 'bob', 'helo')
    const b = await ok('alice', 'send', 'bob', 'oops')
    await d.alice!.client.request('POST', '/v1/chat/edit', {
      contact: 'bob',
      message_id: a.message_id,
      text: 'hello',
    })
    await d.alice!.client.request('POST', '/v1/chat/delete', {
      contact: 'bob',
      message_id: b.message_id,
    })
    await waitFor('bob', (e) => e.type === 'chat.deleted', 'the delete')
    const h = await ok('bob', 'history', 'alice')
    const byId = new Map(h.messages.map((m: { message_id: string }) => [m.message_id, m]))
    assert.deepEqual(
      [byId.get(a.message_id)].map((m: any) => [m.text, m.edited, m.deleted]),
      [['hello', true, false]],
    )
    assert.deepEqual(
      [byId.get(b.message_id)].map((m: any) => [m.text, m.deleted]),
      [['', true]],
    )
    await d.bob!.client.request('POST', '/v1/chat/typing', { contact: 'alice', typing: true })
    await waitFor('alice', (e) => e.type === 'chat.typing' && e.typing === true, 'typing')
  })

  test('presence: away and busy are seen; invisible looks offline but still receives', async () => {
    const from = events.alice!.length
    await ok('bob', 'presence', 'away')
    await waitFor('alice', (e) => e.type === 'presence' && e.status === 'away', 'bob away', from)
    await ok('bob', 'presence', 'busy')
    await waitFor('alice', (e) => e.type === 'presence' && e.status === 'busy', 'bob busy', from)
    await ok('bob', 'presence', 'invisible')
    const off = (e: ApiEvent) => e.type === 'presence' && e.status === 'offline'
    await waitFor('alice', off, 'bob offline', from)
    const seen = await ok('alice', 'presence')
    assert.equal(seen.contacts[0].presence, 'offline')
    const m = await ok('alice', 'send', 'bob', 'are you there?')
    await waitFor('bob', (e) => e.type === 'chat.message' && e.message_id === m.message_id, 'msg')
    const back = events.alice!.length
    await ok('bob', 'presence', 'online')
    await waitFor('alice', (e) => e.type === 'presence' && e.status === 'online', 'online', back)
  })

  test('parley chat: lines typed are sent, incoming shown, away after idle', async () => {
    const child = spawn(process.execPath, [CLI_PATH, 'chat', 'alice', '--home', home('bob')], {
      env: { ...process.env, PARLEY_AWAY_AFTER_MS: '300' },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let shown = ''
    child.stderr.on('data', (b: Buffer) => {
      shown += b.toString()
    })
    const exited = new Promise((r) => child.once('exit', r))
    const from = events.alice!.length
    try {
      await waitFor(
        'alice',
        (e) => e.type === 'presence' && e.status === 'away',
        'bob idle → away',
        from,
      )
      child.stdin.write('typed in parley chat\n')
      await waitFor(
        'alice',
        (e) => e.type === 'chat.message' && e.text === 'typed in parley chat',
        'the typed line',
      )
      await ok('alice', 'send', 'bob', 'shown in the chat window')
      for (let i = 0; i < 200 && !shown.includes('shown in the chat window'); i++)
        await new Promise((r) => setTimeout(r, 50))
      assert.match(shown, /them +shown in the chat window/)
    } finally {
      child.stdin.end()
      await exited
    }
  })

  test('a message over the size limit is refused with the limit stated', async () => {
    const r = await cli('alice', 'send', 'bob', 'x'.repeat(8193))
    assert.equal(r.code, 2)
    assert.match(r.stderr, /8193 bytes; the limit is 8192 bytes/)
  })

  test('decline and block: blocked requests and messages are dropped', async () => {
    await ok('carol', 'contacts', 'add', ids.alice!, '--note', 'first')
    await waitFor('alice', (e) => e.type === 'contact.request' && e.id === ids.carol, 'carol')
    await ok('alice', 'contacts', 'decline', ids.carol!)
    await ok('alice', 'contacts', 'block', ids.carol!)
    const before = events.alice!.length
    await ok('carol', 'contacts', 'add', ids.alice!, '--note', 'again')
    // Carol's request is acknowledged (so she stops retrying) and dropped.
    for (let i = 0; i < 100; i++) {
      const s = await d.alice!.client.request<any>('GET', '/v1/status')
      if ((s.counters.chat.blocked ?? 0) >= 1) break
      await new Promise((r) => setTimeout(r, 50))
    }
    const s = await d.alice!.client.request<any>('GET', '/v1/status')
    assert.equal(s.counters.chat.blocked, 1)
    assert.ok(!events.alice!.slice(before).some((e) => e.type === 'contact.request'))
    const list = await ok('alice', 'contacts', 'list')
    assert.equal(list.contacts.find((c: { id: string }) => c.id === ids.carol).state, 'blocked')
  })

  test('remove: the contact is gone and sending is refused', async () => {
    await ok('alice', 'contacts', 'remove', 'bob')
    const r = await cli('alice', 'send', 'bob', 'still there?')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not accepted you/)
  })

  test('an unknown name or a malformed ID gets a clear error', async () => {
    const r = await runCli(['history', 'nobody', '--home', home('alice')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no contact named "nobody"/)
    const r2 = await cli('alice', 'contacts', 'add', 'not-an-id')
    assert.notEqual(r2.code, 0)
    const r3 = await cli('alice', 'contacts', 'frobnicate')
    assert.equal(r3.code, 2)
  })
})
