import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { ApiEvent } from '../../src/api/index.js'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { initUsers, startTestnetProcess, type TestnetProcess, tempDir } from '../helpers/cli.js'

// Presence (issue 4, point 3): a contact that vanishes without a goodbye
// (SIGKILL) is shown offline once the session's liveness rule (§5.7: 60 s
// without a frame, pings every 20 s) closes its session, i.e. within 90 s.
// The time is printed, not asserted (bench chat and this log track it); the
// test only fails if it never happens within the rule's bound plus slack.

let root: Awaited<ReturnType<typeof tempDir>>
let testnet: TestnetProcess
const d: Record<string, DaemonProcess> = {}
const ids: Record<string, string> = {}
const events: ApiEvent[] = []

before(async () => {
  root = await tempDir('vanish')
  testnet = await startTestnetProcess(['--nodes', '3'])
  Object.assign(ids, await initUsers(root.path, ['alice', 'bob']))
  for (const name of ['alice', 'bob'])
    d[name] = await spawnDaemon({
      home: join(root.path, name),
      args: ['--bootstrap', testnet.bootstrap, '--port', '0'],
    })
  await d.alice!.client.events((e) => events.push(e))
  await d.alice!.client.request('POST', '/v1/contacts/add', { id: ids.bob })
  for (;;) {
    const r = await d.bob!.client.request<{ contacts: { state: string }[] }>('GET', '/v1/contacts')
    if (r.contacts[0]?.state === 'incoming') break
    await new Promise((r) => setTimeout(r, 50))
  }
  await d.bob!.client.request('POST', '/v1/contacts/accept', { id: ids.alice })
})

after(async () => {
  await Promise.all(Object.values(d).map((x) => x.stop('SIGKILL')))
  await testnet?.stop()
  await root?.cleanup()
})

test('a contact killed without a goodbye shows offline within the liveness bound', async () => {
  for (let i = 0; ; i++) {
    const p = await d.alice!.client.request<{ contacts: { presence: string }[] }>(
      'GET',
      '/v1/presence',
    )
    if (p.contacts[0]?.presence === 'online') break
    assert.ok(i < 600, 'bob never showed online')
    await new Promise((r) => setTimeout(r, 50))
  }
  const from = events.length
  const killedAt = Date.now()
  await d.bob!.stop('SIGKILL')
  for (;;) {
    if (events.slice(from).some((e) => e.type === 'presence' && e.status === 'offline')) break
    assert.ok(Date.now() - killedAt < 120_000, 'bob still shows online 120 s after the kill')
    await new Promise((r) => setTimeout(r, 200))
  }
  console.log(`vanished contact shown offline after ${Date.now() - killedAt} ms`)
})
