import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { seededRandom } from '../../src/util/random.js'
import { initUsers, startTestnetProcess, type TestnetProcess, tempDir } from '../helpers/cli.js'

// Acceptance (issue 4, "nothing lost"): 2,000 messages between two daemons
// (1,000 each way) while each is SIGKILLed at random moments and restarted.
// Every message must arrive exactly once and in per-sender order. Senders use
// stable message ids, so a send whose answer was lost to a kill is simply
// repeated (the daemon stores it once). The seed is printed for replay.

const PER_SIDE = 1000
const SEED = Number(process.env.PARLEY_CHAOS_SEED ?? Date.now() % 1_000_000)

let root: Awaited<ReturnType<typeof tempDir>>
let testnet: TestnetProcess
const d: Record<string, DaemonProcess | null> = { alice: null, bob: null }
const ids: Record<string, string> = {}
const home = (n: string) => join(root.path, n)

async function start(name: string) {
  d[name] = await spawnDaemon({
    home: home(name),
    args: ['--bootstrap', testnet.bootstrap, '--port', '0'],
  })
}

before(async () => {
  root = await tempDir('chaos')
  testnet = await startTestnetProcess(['--nodes', '3'])
  Object.assign(ids, await initUsers(root.path, ['alice', 'bob']))
  await Promise.all(['alice', 'bob'].map(start))
  await d.alice!.client.request('POST', '/v1/contacts/add', { id: ids.bob })
  for (;;) {
    const r = await d.bob!.client.request<{ contacts: { state: string }[] }>('GET', '/v1/contacts')
    if (r.contacts[0]?.state === 'incoming') break
    await sleep(50)
  }
  await d.bob!.client.request('POST', '/v1/contacts/accept', { id: ids.alice })
  for (;;) {
    const r = await d.alice!.client.request<{ contacts: { state: string }[] }>(
      'GET',
      '/v1/contacts',
    )
    if (r.contacts[0]?.state === 'accepted') break
    await sleep(50)
  }
})

after(async () => {
  await Promise.all(Object.values(d).map((x) => x?.stop('SIGKILL')))
  await testnet?.stop()
  await root?.cleanup()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const messageId = (from: string, i: number) =>
  createHash('sha256').update(`${SEED}/${from}/${i}`).digest('hex').slice(0, 32)

async function sender(from: string, to: string) {
  for (let i = 0; i < PER_SIDE; i++) {
    for (;;) {
      const daemon = d[from]
      try {
        if (daemon == null) throw new Error('down')
        await daemon.client.request(
          'POST',
          '/v1/chat/send',
          { contact: ids[to], text: `${from}-${i}`, message_id: messageId(from, i) },
          { timeout_ms: 5000 },
        )
        // Paced so that kills land all through the run rather than after it.
        await sleep(15)
        break
      } catch {
        await sleep(20) // killed under us: the restarted daemon takes the same id again
      }
    }
  }
}

test(`2,000 messages survive SIGKILLs of both sides (seed ${SEED})`, async () => {
  const random = seededRandom(SEED)
  let sending = true
  let kills = 0
  const killer = (async () => {
    while (sending) {
      await sleep(200 + random.float() * 600)
      if (!sending) break
      const victim = random.float() < 0.5 ? 'alice' : 'bob'
      const daemon = d[victim]!
      d[victim] = null
      await daemon.stop('SIGKILL')
      kills++
      await sleep(random.float() * 500)
      await start(victim)
    }
  })()
  await Promise.all([sender('alice', 'bob'), sender('bob', 'alice')])
  sending = false
  await killer
  assert.ok(kills >= 5, `only ${kills} kills happened`)
  console.log(`${kills} SIGKILLs (seed ${SEED})`)
  for (const [me, them] of [
    ['alice', 'bob'],
    ['bob', 'alice'],
  ] as const) {
    let got: { text: string; seq: number; message_id: string; direction: string }[] = []
    for (let waited = 0; waited < 1200; waited++) {
      const h = await d[me]!.client.request<{ messages: typeof got }>('POST', '/v1/chat/history', {
        contact: ids[them],
        limit: 10_000,
      })
      got = h.messages.filter((m) => m.direction === 'in')
      if (got.length >= PER_SIDE) break
      await sleep(100)
    }
    const expected = Array.from({ length: PER_SIDE }, (_, i) => `${them}-${i}`)
    // Exactly once and in the sender's order, both as stored and by sequence number.
    assert.deepEqual(
      got.map((m) => m.text),
      expected,
      `${me} history (seed ${SEED}, ${kills} kills)`,
    )
    assert.deepEqual(
      got.map((m) => m.message_id),
      expected.map((_, i) => messageId(them, i)),
    )
    assert.deepEqual(
      got.map((m) => m.seq),
      [...got.map((m) => m.seq)].sort((a, b) => a - b),
    )
  }
})
