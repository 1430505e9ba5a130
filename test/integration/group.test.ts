import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Database from 'better-sqlite3'
import type { ApiEvent } from '../../src/api/index.js'
import { decodeGroupState, signGroupState } from '../../src/chat/index.js'
import { Daemon } from '../../src/daemon/daemon.js'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { decodeId, generateIdentity } from '../../src/identity/index.js'
import {
  initUsers,
  runCli,
  startTestnetProcess,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'

// Group chat (issue 4, point 6) with real daemons: alice creates a group
// with bob and invites carol (bob and carol are not each other's contacts);
// messages from any member reach all the others; carol offline gets hers
// from the mailboxes at login; a member alice removes gets nothing more;
// a forged membership change (a state for alice's group not signed by her,
// sent by a real peer, mallory, over a real session) is counted and dropped.

let root: Awaited<ReturnType<typeof tempDir>>
let testnet: TestnetProcess
const d: Record<string, DaemonProcess | null> = {}
const ids: Record<string, string> = {}
const events: Record<string, ApiEvent[]> = { alice: [], bob: [], carol: [] }
const home = (n: string) => join(root.path, n)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
let groupId = ''

interface History {
  group: { seq: number; members: string[]; status: string }
  messages: { sender: string; text: string; dir: string; delivered_to: number }[]
}

async function start(name: string, extra: string[] = []) {
  d[name] = await spawnDaemon({
    home: home(name),
    args: ['--bootstrap', testnet.bootstrap, '--port', '0', ...extra],
    env: { PARLEY_DEBUG: '1' },
  })
  if (name in events) await d[name]!.client.events((e) => events[name]!.push(e))
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>) {
  for (let i = 0; i < 600; i++) {
    const v = await probe().catch(() => null)
    if (v) return v
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const history = (n: string) =>
  d[n]!.client.request<History>('POST', '/v1/groups/history', { group: groupId })

async function befriend(a: string, b: string) {
  await d[a]!.client.request('POST', '/v1/contacts/add', { id: ids[b] })
  await until(`${b} gets ${a}'s request`, () =>
    d[b]!.client.request('POST', '/v1/contacts/accept', { id: ids[a] }).then(() => true),
  )
  await until(`${a} sees the accept`, async () => {
    const r = await d[a]!.client.request<{ contacts: { id: string; state: string }[] }>(
      'GET',
      '/v1/contacts',
    )
    return r.contacts.some((c) => c.id === ids[b] && c.state === 'accepted')
  })
}

const texts = async (n: string) => (await history(n)).messages.map((m) => m.text)

before(async () => {
  root = await tempDir('group')
  testnet = await startTestnetProcess(['--nodes', '3'])
  Object.assign(ids, await initUsers(root.path, ['s1', 's2', 'alice', 'bob', 'carol']))
  await Promise.all(['s1', 's2'].map((n) => start(n, ['--supernode'])))
  await Promise.all(['alice', 'bob', 'carol'].map((n) => start(n)))
  await Promise.all([befriend('alice', 'bob'), befriend('alice', 'carol')])
})

after(async () => {
  await Promise.all(Object.values(d).map((x) => x?.stop()))
  await testnet?.stop()
  await root?.cleanup()
})

test('create, invite, and a message from any member reaches all the others', async () => {
  const g = await d.alice!.client.request<{ group: { id: string } }>('POST', '/v1/groups/create', {
    name: 'team',
    members: ids.bob,
  })
  groupId = g.group.id
  await d.alice!.client.request('POST', '/v1/groups/invite', { group: 'team', contact: ids.carol })
  await until('carol in the group', async () => (await history('carol')).group.seq === 2)
  await until('bob sees seq 2', async () => (await history('bob')).group.seq === 2)
  await d.bob!.client.request('POST', '/v1/groups/send', { group: groupId, text: 'hi from bob' })
  await d.alice!.client.request('POST', '/v1/groups/send', { group: 'team', text: 'hi from alice' })
  for (const n of ['alice', 'bob', 'carol'])
    await until(`${n} has both`, async () => {
      const t = await texts(n)
      return t.includes('hi from bob') && t.includes('hi from alice')
    })
  const carol = await history('carol')
  assert.equal(carol.group.members.length, 3)
  assert.equal(carol.messages.find((m) => m.text === 'hi from bob')?.sender, ids.bob)
  await until("both members stored alice's", async () =>
    (await history('alice')).messages.some((m) => m.dir === 'out' && m.delivered_to === 2),
  )
})

test('an offline member gets group messages from the mailboxes at login', async () => {
  await d.carol!.stop()
  d.carol = null
  events.bob = []
  await d.bob!.client.request('POST', '/v1/groups/send', {
    group: groupId,
    text: 'while carol is out',
  })
  await until('bob mailboxed it for carol', async () =>
    events.bob!.some((e) => e.type === 'chat.mailboxed' && e.contact === ids.carol),
  )
  await start('carol')
  await until('carol has it', async () => (await texts('carol')).includes('while carol is out'))
})

test('a removed member gets nothing more; the others carry on', async () => {
  await d.alice!.client.request('POST', '/v1/groups/remove', { group: groupId, member: ids.bob })
  await until(
    'bob knows he was removed',
    async () => (await history('bob')).group.status === 'removed',
  )
  await until('carol has seq 3', async () => (await history('carol')).group.seq === 3)
  await d.carol!.client.request('POST', '/v1/groups/send', { group: groupId, text: 'without bob' })
  await until('alice has it', async () => (await texts('alice')).includes('without bob'))
  // Carol sent it to alice only: delivered to 1 of 1, nothing is queued for bob.
  const c = await history('carol')
  assert.deepEqual(c.group.members.sort(), [ids.alice, ids.carol].sort())
  assert.equal(c.messages.find((m) => m.text === 'without bob')?.delivered_to, 1)
  assert.ok(!(await texts('bob')).includes('without bob'))
  const refused = await d
    .bob!.client.request('POST', '/v1/groups/send', { group: groupId, text: 'still here?' })
    .then(
      () => 'sent',
      (e: Error) => e.message,
    )
  assert.match(refused, /not in this group \(removed\)/)
})

test('a forged membership change from a real peer is counted and dropped', async () => {
  // mallory: an in-process node with its own identity, talking to carol over a real session.
  const keys = generateIdentity({ name: 'mallory', deviceName: 'x', now_ms: Date.now() })
  const [h, p] = testnet.bootstrap.split(':')
  const mallory = await Daemon.start({
    home: home('mallory'),
    keys,
    bootstrap: [{ host: h!, port: Number(p) }],
    dht_port: 0,
    api_port: 0,
  })
  try {
    const carolState = await history('carol')
    // A newer state of alice's very group (its nonce read from carol's store) that
    // adds mallory, signed by mallory instead of alice.
    const db = new Database(join(home('carol'), 'chat.db'), { readonly: true })
    const raw = (
      db.prepare('SELECT state FROM groups WHERE id = ?').get(groupId) as { state: Buffer }
    ).state
    db.close()
    const real = decodeGroupState(raw)
    const forged = signGroupState(
      {
        admin: decodeId(ids.alice!),
        nonce: real.nonce,
        seq: 99,
        changedAtMs: Date.now(),
        name: 'team',
        members: [...real.members, keys.identity.publicKey].sort(Buffer.compare),
      },
      keys.identity.secretKey,
    )
    const chat = mallory.chat as unknown as {
      enqueue(id: string, body: { kind: 'group-state'; state: Buffer }): unknown
    }
    chat.enqueue(ids.carol!, { kind: 'group-state', state: forged })
    await until('carol counted it', async () => {
      const s = await d.carol!.client.request<{ counters: { chat: Record<string, number> } }>(
        'GET',
        '/v1/status',
      )
      return (s.counters.chat.group_forged ?? 0) >= 1
    })
    const now = await history('carol')
    assert.deepEqual(now.group, carolState.group)
  } finally {
    await mallory.stop()
  }
})

test('the CLI lists groups and history; a member who leaves is removed by the admin', async () => {
  const list = await runCli(['groups', '--home', home('alice'), '--json'])
  assert.equal(list.code, 0, list.stderr)
  const groups = JSON.parse(list.stdout).groups as { id: string; you_are_admin: boolean }[]
  assert.deepEqual(
    groups.map((g) => [g.id, g.you_are_admin]),
    [[groupId, true]],
  )
  const h = await runCli(['group', 'history', 'team', '--home', home('carol')])
  assert.equal(h.code, 0, h.stderr)
  assert.match(h.stdout, /hi from bob/)
  const sent = await runCli(['group', 'send', 'team', 'bye', 'all', '--home', home('carol')])
  assert.equal(sent.code, 0, sent.stderr)
  const left = await runCli(['group', 'leave', 'team', '--home', home('carol')])
  assert.equal(left.code, 0, left.stderr)
  await until('alice removed carol', async () => (await history('alice')).group.seq === 4)
  assert.deepEqual((await history('alice')).group.members, [ids.alice])
  assert.ok((await texts('alice')).includes('bye all'))
  await until(
    'carol got the state that removes her',
    async () => (await history('carol')).group.seq === 4,
  )
  const again = await runCli(['group', 'leave', 'team', '--home', home('alice')])
  assert.equal(again.code, 2)
  assert.match(again.stderr, /you created this group/)
})
