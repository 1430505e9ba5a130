import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import {
  freeTcpPort,
  initUsers,
  runCli,
  startTestnetProcess,
  statusJson,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'

interface RelayStatus {
  roles: string[]
  metrics: string | null
  relay: { sessions_active: number; sessions_refused: number; bytes_relayed: number }
}

// Two supernodes capped at one relay session each, three clients that may only
// connect through a relay (PARLEY_TEST_FORCE_RELAY, test-only). The second
// relayed session finds the first supernode full and must use the other.
describe('supernodes relay on loopback, capped', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const supernodes: DaemonProcess[] = []
  const clients: DaemonProcess[] = []
  const ids: Record<string, string> = {}
  const home = (name: string) => join(root.path, name)

  before(async () => {
    root = await tempDir('supernode')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(ids, await initUsers(root.path, ['s1', 's2', 'alice', 'bob', 'carol']))
    const common = ['--bootstrap', testnet.bootstrap, '--port', '0']
    for (const name of ['s1', 's2']) {
      // metrics_port 0 means "off" (docs/ADMIN.md), so give it a free port.
      const metrics = String(await freeTcpPort())
      const args = [
        ...common,
        '--supernode',
        '--relay-sessions-max',
        '1',
        '--metrics-port',
        metrics,
      ]
      supernodes.push(await spawnDaemon({ home: home(name), args }))
    }
    const env = { PARLEY_TEST_FORCE_RELAY: '1', PARLEY_DEBUG: '1' }
    clients.push(
      ...(await Promise.all(
        ['alice', 'bob', 'carol'].map((name) =>
          spawnDaemon({ home: home(name), args: common, env }),
        ),
      )),
    )
  })

  after(async () => {
    await Promise.all([...clients, ...supernodes].map((d) => d.stop()))
    await testnet?.stop()
    await root?.cleanup()
  })

  const relayStatus = (name: string) => statusJson<RelayStatus>(home(name))

  test('a forced-relay ping goes through a supernode and says relayed', async () => {
    const r = await runCli(['ping', ids.bob!, '--home', home('alice'), '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { path: string; connect_ms: number; rtt_ms: number }
    assert.equal(out.path, 'relayed')
    assert.ok(out.rtt_ms > 0 && out.rtt_ms < 1000, `rtt_ms ${out.rtt_ms}`)
    const bob = JSON.parse((await runCli(['status', '--home', home('bob'), '--json'])).stdout)
    // Sessions to supernodes (the directory, mailboxes) are direct by design; alice's is relayed.
    assert.deepEqual(
      bob.peers
        .filter((p: { supernode: boolean }) => !p.supernode)
        .map((p: { path: string }) => p.path),
      ['relayed'],
    )
  })

  test('a full supernode refuses and the client uses the next one', async () => {
    const r = await runCli(['ping', ids.carol!, '--home', home('alice'), '--json'])
    assert.equal(r.code, 0, `${r.stderr}\nalice: ${clients[0]!.stderr()}`)
    assert.equal((JSON.parse(r.stdout) as { path: string }).path, 'relayed')
    const [s1, s2] = [await relayStatus('s1'), await relayStatus('s2')]
    assert.deepEqual(s1.roles, ['supernode', 'relay'])
    assert.deepEqual(
      [s1.relay.sessions_active, s2.relay.sessions_active],
      [1, 1],
      'one session on each supernode',
    )
    assert.ok(s1.relay.sessions_refused + s2.relay.sessions_refused >= 1, 'one refusal at the cap')
  })

  test('GET /metrics serves the relay counters as Prometheus text', async () => {
    const s1 = await relayStatus('s1')
    assert.match(s1.metrics ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const res = await fetch(s1.metrics!)
    assert.equal(res.status, 200)
    const text = await res.text()
    assert.match(text, /^parley_relay_sessions_active 1$/m)
    assert.match(text, /^parley_relay_sessions_max 1$/m)
    assert.match(text, /^# TYPE parley_relay_bytes_total counter$/m)
  })
})
