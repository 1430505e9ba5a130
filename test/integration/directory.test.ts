import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { ApiEvent } from '../../src/api/index.js'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import type { DirectoryEntry } from '../../src/directory/index.js'
import {
  initUsers,
  runCli,
  startTestnetProcess,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'

// The directory (issue 4, point 1) with real daemons on a private testnet:
// every node publishes its signed profile to the supernodes; search by name
// returns every identity claiming the name with its fingerprint (two "bob"s
// here), search by ID returns the one record; s2 is a hostile supernode that
// alters every record it serves, and the searcher counts those as forged and
// drops them. `parley contacts add NAME` refuses a name two identities claim.
// Offline mail for bob goes to the mailboxes his record lists (s1, s2, not
// s3, which came later).

let root: Awaited<ReturnType<typeof tempDir>>
let testnet: TestnetProcess
const d: Record<string, DaemonProcess> = {}
const ids: Record<string, string> = {}
const home = (n: string) => join(root.path, n)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function start(name: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  d[name] = await spawnDaemon({
    home: home(name),
    args: ['--bootstrap', testnet.bootstrap, '--port', '0', ...extra],
    env: { PARLEY_DEBUG: '1', ...env },
  })
}

/** Until the daemon's own record is stored on both supernodes. */
async function published(name: string) {
  for (let i = 0; i < 400; i++) {
    const r = await d[name]!.client.request<{ last_publish: { stored: number } | null }>(
      'GET',
      '/v1/directory',
    )
    if ((r.last_publish?.stored ?? 0) >= 2) return
    await sleep(50)
  }
  throw new Error(`${name} never published to both supernodes: ${d[name]!.stderr()}`)
}

before(async () => {
  root = await tempDir('directory')
  testnet = await startTestnetProcess(['--nodes', '3'])
  Object.assign(ids, await initUsers(root.path, ['s1', 's2', 's3', 'alice', 'bob']))
  // A second identity that also calls itself bob (different case: names match normalised).
  const other = await runCli([
    'init',
    '--home',
    home('bob2'),
    '--name',
    'Bob',
    '--no-passphrase',
    '--json',
  ])
  assert.equal(other.code, 0, other.stderr)
  ids.bob2 = JSON.parse(other.stdout).id
  await start('s1', ['--supernode'])
  await start('s2', ['--supernode'], { PARLEY_TEST_DIRECTORY_TAMPER: '1' })
  await Promise.all(['bob', 'bob2'].map((n) => start(n)))
  await Promise.all(['bob', 'bob2'].map(published))
  // s3 comes after bob listed his mailboxes (s1 and s2); alice knows all three.
  await start('s3', ['--supernode'])
  await start('alice')
  await published('alice')
})

after(async () => {
  await Promise.all(Object.values(d).map((x) => x.stop()))
  await testnet?.stop()
  await root?.cleanup()
})

test('search by name returns every claimant with its fingerprint; forged records are dropped', async () => {
  const r = await runCli(['directory', 'search', 'bob', '--home', home('alice'), '--json'])
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { results: DirectoryEntry[]; supernodes_asked: number }
  assert.equal(out.supernodes_asked, 3)
  assert.deepEqual(out.results.map((e) => e.id).sort(), [ids.bob, ids.bob2].sort())
  for (const e of out.results) {
    assert.match(e.fingerprint, /^\d{5}( \d{5}){5}$/)
    // s2 altered its copy: only s1's verified one counts.
    assert.equal(e.sources, 1)
    assert.equal(e.mailboxes.length, 2)
  }
  const status = await d.alice!.client.request<{ counters: { directory: Record<string, number> } }>(
    'GET',
    '/v1/status',
  )
  assert.ok((status.counters.directory.forged ?? 0) >= 2, JSON.stringify(status.counters))
  const human = await runCli(['directory', 'search', 'BOB', '--home', home('alice')])
  assert.match(human.stdout, /2 identities claim "BOB"/)
  assert.ok(human.stdout.includes(ids.bob!) && human.stdout.includes(ids.bob2!))
})

test('search by ID returns that identity', async () => {
  const r = await runCli(['directory', 'search', ids.alice!, '--home', home('bob'), '--json'])
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as { by: string; results: DirectoryEntry[] }
  assert.equal(out.by, 'id')
  assert.deepEqual(
    out.results.map((e) => [e.id, e.name]),
    [[ids.alice, 'alice']],
  )
  const none = await runCli(['directory', 'search', 'nobody-by-this-name', '--home', home('bob')])
  assert.equal(none.code, 0)
  assert.match(none.stdout, /nobody named/)
})

test('contacts add NAME: refused when two claim it, done (fingerprint shown) when one does', async () => {
  const two = await runCli(['contacts', 'add', 'bob', '--home', home('alice')])
  assert.equal(two.code, 2)
  assert.match(two.stderr, /2 identities claim the name "bob"/)
  assert.ok(two.stderr.includes(ids.bob!) && two.stderr.includes(ids.bob2!), two.stderr)
  const one = await runCli(['contacts', 'add', 'alice', '--home', home('bob'), '--json'])
  assert.equal(one.code, 0, one.stderr)
  assert.match(one.stderr, /fingerprint \d{5}/)
  assert.equal(JSON.parse(one.stdout).contact.id, ids.alice)
  const none = await runCli(['contacts', 'add', 'zed', '--home', home('bob')])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /nobody named "zed"/)
})

test('mail for an offline contact goes to the mailboxes listed in their record', async () => {
  const events: ApiEvent[] = []
  const sub = await d.alice!.client.events((e) => events.push(e))
  const listed = await d.bob!.client.request<{ mailboxes: { key: string }[] }>(
    'GET',
    '/v1/directory',
  )
  // bob asked alice in the test before (`contacts add alice`); she accepts once it arrived.
  for (let i = 0; ; i++) {
    const ok = await d
      .alice!.client.request('POST', '/v1/contacts/accept', { id: ids.bob })
      .then(() => true)
      .catch(() => false)
    if (ok) break
    if (i > 400) assert.fail('the request never reached alice')
    await sleep(50)
  }
  for (let i = 0; ; i++) {
    const c = await d.bob!.client.request<{ contacts: { id: string; state: string }[] }>(
      'GET',
      '/v1/contacts',
    )
    if (c.contacts.find((x) => x.id === ids.alice)?.state === 'accepted') break
    if (i > 400) assert.fail('bob never saw the accept')
    await sleep(50)
  }
  await d.bob!.stop()
  for (let i = 0; i < 3; i++)
    await d.alice!.client.request('POST', '/v1/chat/send', { contact: ids.bob, text: `m${i}` })
  for (let i = 0; ; i++) {
    if (i > 600) assert.fail(`not deposited: ${d.alice!.stderr()}`)
    const n = events
      .filter((e) => e.type === 'chat.mailboxed')
      .reduce((a, e) => a + Number(e.count), 0)
    if (n >= 3) break
    await sleep(100)
  }
  sub.close()
  const held: Record<string, number> = {}
  for (const n of ['s1', 's2', 's3']) {
    const st = await d[n]!.client.request<{ mailbox: { blobs: number }; peers: unknown }>(
      'GET',
      '/v1/status',
    )
    held[n] = st.mailbox.blobs
  }
  // bob listed s1 and s2 (the only supernodes when he published): alice used those.
  assert.equal(listed.mailboxes.length, 2)
  assert.deepEqual(held, { s1: 3, s2: 3, s3: 0 })
  await start('bob')
  let h = { messages: [] as { text: string }[] }
  for (let i = 0; i < 600 && h.messages.length < 3; i++) {
    await sleep(50)
    h = await d.bob!.client.request('POST', '/v1/chat/history', { contact: ids.alice })
  }
  assert.deepEqual(
    h.messages.map((m) => m.text),
    ['m0', 'm1', 'm2'],
  )
})
