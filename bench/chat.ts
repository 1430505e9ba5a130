import { join } from 'node:path'
import type { ApiEvent } from '../src/api/index.js'
import { type DaemonProcess, spawnDaemon } from '../src/daemon/spawn.js'
import { percentile } from '../src/util/stats.js'
import { initUsers, startTestnetProcess, tempDir } from '../test/helpers/cli.js'

const LATENCY_MESSAGES = Number(process.env.BENCH_CHAT_MESSAGES ?? 300)
const BULK_MESSAGES = Number(process.env.BENCH_CHAT_BULK ?? 3000)
const PRESENCE_ROUNDS = 20
const OFFLINE_MESSAGES = 100
const GROUP_EXTRA_MEMBERS = Number(process.env.BENCH_CHAT_GROUP_EXTRA ?? 3)
const GROUP_ROUNDS = 50
const SEARCH_ROUNDS = 50

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fmt = (x: number) => x.toFixed(1)

/**
 * Chat between real daemon processes on a loopback testnet: online message
 * latency (send API call → recipient's WebSocket event) beside the session's
 * own ping RTT, messages/s through one session, presence propagation, and
 * the time to fetch offline messages from two supernode mailboxes at login;
 * directory search by name, and group fan-out to every member, each beside
 * the 1:1 numbers.
 */
export async function benchChat(): Promise<void> {
  const root = await tempDir('bench-chat')
  const testnet = await startTestnetProcess(['--nodes', '3'])
  const d: Record<string, DaemonProcess> = {}
  const extras = Array.from({ length: GROUP_EXTRA_MEMBERS }, (_, i) => `m${i + 1}`)
  const events: Record<string, ApiEvent[]> = { alice: [], bob: [] }
  const waiters: Record<string, ((e: ApiEvent) => void)[]> = { alice: [], bob: [] }
  for (const m of extras) {
    events[m] = []
    waiters[m] = []
  }
  const start = async (name: string, extra: string[] = []) => {
    d[name] = await spawnDaemon({
      home: join(root.path, name),
      args: ['--bootstrap', testnet.bootstrap, '--port', '0', ...extra],
    })
    if (name in events)
      await d[name]!.client.events((e) => {
        events[name]!.push(e)
        for (const w of waiters[name]!) w(e)
      })
  }
  const next = (name: string, pred: (e: ApiEvent) => boolean) =>
    new Promise<ApiEvent>((resolve) => {
      const w = (e: ApiEvent) => {
        if (!pred(e)) return
        waiters[name] = waiters[name]!.filter((x) => x !== w)
        resolve(e)
      }
      waiters[name]!.push(w)
    })
  try {
    const ids = await initUsers(root.path, ['s1', 's2', 'alice', 'bob'])
    await Promise.all(['s1', 's2'].map((n) => start(n, ['--supernode'])))
    await Promise.all(['alice', 'bob'].map((n) => start(n)))
    const accepted = next('alice', (e) => e.type === 'contact.accepted')
    const requested = next('bob', (e) => e.type === 'contact.request')
    await d.alice!.client.request('POST', '/v1/contacts/add', { id: ids.bob })
    await requested
    await d.bob!.client.request('POST', '/v1/contacts/accept', { id: ids.alice })
    await accepted

    const ping = await d.alice!.client.request<{ rtt_ms: number; rtt_ms_p99: number }>(
      'POST',
      '/v1/ping',
      { id: ids.bob, count: 200 },
    )
    const latency: number[] = []
    for (let i = 0; i < LATENCY_MESSAGES; i++) {
      const got = next('bob', (e) => e.type === 'chat.message' && e.text === `l${i}`)
      const t0 = performance.now()
      await d.alice!.client.request('POST', '/v1/chat/send', { contact: ids.bob, text: `l${i}` })
      await got
      latency.push(performance.now() - t0)
    }
    console.log(
      `loopback testnet, real daemons; ${LATENCY_MESSAGES} messages one at a time (API call → recipient's WS event)`,
    )
    console.log(
      `session ping rtt (anchor)   p50 ${fmt(ping.rtt_ms)} ms  p99 ${fmt(ping.rtt_ms_p99)} ms`,
    )
    const p50 = percentile(latency, 50)
    console.log(
      `chat message latency        p50 ${fmt(p50)} ms  p99 ${fmt(percentile(latency, 99))} ms  (${(p50 / ping.rtt_ms).toFixed(1)}x the ping rtt: local API + signing + two fsynced commits)`,
    )

    // Throughput: many sends in flight, until the recipient has them all.
    const bulkStart = events.bob!.length
    const t0 = performance.now()
    const inFlight = 32
    let sent = 0
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (sent < BULK_MESSAGES) {
          const i = sent++
          await d.alice!.client.request('POST', '/v1/chat/send', {
            contact: ids.bob,
            text: `b${i}`,
          })
        }
      }),
    )
    while (
      events.bob!.slice(bulkStart).filter((e) => e.type === 'chat.message').length < BULK_MESSAGES
    )
      await sleep(5)
    const bulk_s = (performance.now() - t0) / 1000
    console.log(
      `throughput, one session     ${fmt(BULK_MESSAGES / bulk_s)} messages/s (${BULK_MESSAGES} sent with ${inFlight} API calls in flight, all stored and acknowledged)`,
    )

    const presence: number[] = []
    for (let i = 0; i < PRESENCE_ROUNDS; i++) {
      const status = i % 2 === 0 ? 'away' : 'online'
      const seen = next('alice', (e) => e.type === 'presence' && e.status === status)
      const t = performance.now()
      await d.bob!.client.request('POST', '/v1/presence', { status })
      await seen
      presence.push(performance.now() - t)
    }
    console.log(
      `presence propagation        p50 ${fmt(percentile(presence, 50))} ms  max ${fmt(Math.max(...presence))} ms  (target <= 2000 ms)`,
    )

    // Directory: search by name (every supernode asked, every record verified).
    const search: number[] = []
    for (let i = 0; i < SEARCH_ROUNDS; i++) {
      const t = performance.now()
      const r = await d.alice!.client.request<{ results: unknown[] }>(
        'POST',
        '/v1/directory/search',
        { query: 'bob' },
      )
      search.push(performance.now() - t)
      if (r.results.length !== 1) throw new Error(`search found ${r.results.length} bobs`)
    }
    const s50 = percentile(search, 50)
    console.log(
      `directory search by name    p50 ${fmt(s50)} ms  p99 ${fmt(percentile(search, 99))} ms  (${(s50 / ping.rtt_ms).toFixed(1)}x the ping rtt; 2 supernodes asked, each dialled for the search)`,
    )

    // Group fan-out: alice writes, every member's daemon stores and shows it.
    const ids2 = await initUsers(root.path, extras)
    await Promise.all(extras.map((n) => start(n)))
    for (const m of extras) {
      const req = next(m, (e) => e.type === 'contact.request')
      const acc = next('alice', (e) => e.type === 'contact.accepted' && e.id === ids2[m])
      await d.alice!.client.request('POST', '/v1/contacts/add', { id: ids2[m] })
      await req
      await d[m]!.client.request('POST', '/v1/contacts/accept', { id: ids.alice })
      await acc
    }
    const members = ['bob', ...extras]
    const joined = members.map((m) => next(m, (e) => e.type === 'group.updated'))
    await d.alice!.client.request('POST', '/v1/groups/create', {
      name: 'bench',
      members: [ids.bob, ...extras.map((m) => ids2[m])].join(','),
    })
    await Promise.all(joined)
    const all: number[] = []
    const each: number[] = []
    for (let i = 0; i < GROUP_ROUNDS; i++) {
      const t = performance.now()
      const got = members.map((m) =>
        next(m, (e) => e.type === 'group.message' && e.text === `g${i}`).then(() =>
          each.push(performance.now() - t),
        ),
      )
      await d.alice!.client.request('POST', '/v1/groups/send', { group: 'bench', text: `g${i}` })
      await Promise.all(got)
      all.push(performance.now() - t)
    }
    const g50 = percentile(all, 50)
    console.log(
      `group fan-out to ${members.length} members  last member p50 ${fmt(g50)} ms  p99 ${fmt(percentile(all, 99))} ms; per member p50 ${fmt(percentile(each, 50))} ms  (${(g50 / p50).toFixed(1)}x the 1:1 latency)`,
    )
    await Promise.all(extras.map((m) => d[m]!.stop()))

    const gone = next(
      'alice',
      (e) => e.type === 'presence' && e.status === 'offline' && e.id === ids.bob,
    )
    await d.bob!.stop()
    await gone
    const boxedFrom = events.alice!.length
    for (let i = 0; i < OFFLINE_MESSAGES; i++)
      await d.alice!.client.request('POST', '/v1/chat/send', { contact: ids.bob, text: `o${i}` })
    while (
      events
        .alice!.slice(boxedFrom)
        .filter((e) => e.type === 'chat.mailboxed')
        .reduce((n, e) => n + Number(e.count), 0) < OFFLINE_MESSAGES
    )
      await sleep(20)
    await d.alice!.stop()
    const t1 = performance.now()
    await start('bob')
    const ready_ms = performance.now() - t1
    // Polled, not awaited as an event: the fetch may finish before we subscribe.
    for (;;) {
      const h = await d.bob!.client.request<{ messages: { text: string }[] }>(
        'POST',
        '/v1/chat/history',
        { contact: ids.alice, limit: 10 },
      )
      if (h.messages.at(-1)?.text === `o${OFFLINE_MESSAGES - 1}`) break
      await sleep(10)
    }
    const fetch_ms = performance.now() - t1
    console.log(
      `offline fetch at login      ${fmt(fetch_ms)} ms from daemon start (${fmt(ready_ms)} ms of it start-up; includes the 1,000 ms first-check delay) for ${OFFLINE_MESSAGES} messages from 2 mailboxes, sender offline`,
    )
  } finally {
    await Promise.all(Object.values(d).map((x) => x.stop()))
    await testnet.stop()
    await root.cleanup()
  }
}
