import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { ApiEvent } from '../../src/api/index.js'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { initUsers, startTestnetProcess, type TestnetProcess, tempDir } from '../helpers/cli.js'

// Offline delivery (issue 4, point 5) with real daemons: bob is offline,
// alice writes; her daemon seals the messages to bob and leaves them in two
// supernode mailboxes; alice goes offline too; bob logs in and gets them
// from the mailboxes, in order, once — with nobody else online.

let root: Awaited<ReturnType<typeof tempDir>>
let testnet: TestnetProcess
const d: Record<string, DaemonProcess | null> = {}
const ids: Record<string, string> = {}
const events: Record<string, ApiEvent[]> = { alice: [], bob: [] }
const home = (n: string) => join(root.path, n)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function start(name: string, extra: string[] = []) {
  d[name] = await spawnDaemon({
    home: home(name),
    args: ['--bootstrap', testnet.bootstrap, '--port', '0', ...extra],
    env: { PARLEY_DEBUG: '1' },
  })
  if (name in events) await d[name]!.client.events((e) => events[name]!.push(e))
}

async function waitFor(name: string, pred: (e: ApiEvent) => boolean, what: string) {
  for (let i = 0; i < 1200; i++) {
    const e = events[name]!.find(pred)
    if (e !== undefined) return e
    await sleep(50)
  }
  throw new Error(`${name} never saw ${what}: ${d[name]?.stderr()}`)
}

before(async () => {
  root = await tempDir('offline')
  testnet = await startTestnetProcess(['--nodes', '3'])
  Object.assign(ids, await initUsers(root.path, ['s1', 's2', 'alice', 'bob']))
  await Promise.all(['s1', 's2'].map((n) => start(n, ['--supernode'])))
  await Promise.all(['alice', 'bob'].map((n) => start(n)))
  await d.alice!.client.request('POST', '/v1/contacts/add', { id: ids.bob })
  await waitFor('bob', (e) => e.type === 'contact.request', 'the request')
  await d.bob!.client.request('POST', '/v1/contacts/accept', { id: ids.alice })
  await waitFor('alice', (e) => e.type === 'contact.accepted', 'the accept')
})

after(async () => {
  await Promise.all(Object.values(d).map((x) => x?.stop()))
  await testnet?.stop()
  await root?.cleanup()
})

test('messages to an offline contact go through two mailboxes and arrive at login', async () => {
  await d.bob!.stop()
  d.bob = null
  // Events are kept from the start, so one emitted before stop() returned is still found.
  await waitFor('alice', (e) => e.type === 'presence' && e.status === 'offline', 'bob offline')
  const sent: string[] = []
  for (let i = 0; i < 5; i++) {
    const r = await d.alice!.client.request<{ message_id: string }>('POST', '/v1/chat/send', {
      contact: ids.bob,
      text: `while you were out ${i}`,
    })
    sent.push(r.message_id)
  }
  // Every message must be in a mailbox before alice leaves (several deposits may cover them).
  for (let i = 0; ; i++) {
    if (i > 600) assert.fail(`not all in mailboxes: ${d.alice!.stderr()}`)
    const boxed = events
      .alice!.filter((e) => e.type === 'chat.mailboxed')
      .reduce((n, e) => n + Number(e.count), 0)
    if (boxed >= 5) break
    await sleep(100)
  }
  const deposits = events.alice!.filter((e) => e.type === 'chat.mailboxed')
  assert.ok(
    deposits.every((e) => e.mailboxes === 2),
    `${JSON.stringify(deposits)}\n${d.alice!.stderr()}`,
  )
  const s1 = await d.s1!.client.request<{ mailbox: { blobs: number } }>('GET', '/v1/status')
  const s2 = await d.s2!.client.request<{ mailbox: { blobs: number } }>('GET', '/v1/status')
  assert.deepEqual([s1.mailbox.blobs, s2.mailbox.blobs], [5, 5])
  await d.alice!.stop()
  d.alice = null

  const loginAt = Date.now()
  await start('bob')
  // Polled: the fetch may be over before the event stream is subscribed.
  let h = { messages: [] as { message_id: string; text: string }[] }
  for (let i = 0; i < 600 && h.messages.length < 5; i++) {
    if (i > 0) await sleep(50)
    h = await d.bob!.client.request('POST', '/v1/chat/history', { contact: ids.alice })
  }
  console.log(`offline fetch: ${Date.now() - loginAt} ms from daemon start`)
  assert.deepEqual(
    h.messages.map((m) => m.message_id),
    sent,
  )
  assert.deepEqual(
    h.messages.map((m) => m.text),
    sent.map((_, i) => `while you were out ${i}`),
  )
  // Fetched and deleted: both mailboxes are empty again.
  for (let i = 0; i < 100; i++) {
    const a = await d.s1!.client.request<{ mailbox: { blobs: number } }>('GET', '/v1/status')
    const b = await d.s2!.client.request<{ mailbox: { blobs: number } }>('GET', '/v1/status')
    if (a.mailbox.blobs + b.mailbox.blobs === 0) return
    await sleep(50)
  }
  assert.fail(`the mailboxes still hold blobs after the fetch: ${d.bob!.stderr()}`)
})
