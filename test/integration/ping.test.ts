import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { encodeId, generateKeyPair } from '../../src/identity/index.js'
import {
  initUsers,
  runCli,
  startTestnetProcess,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'

// Acceptance: two homes, one private testnet, `parley ping <other> --json`
// prints path, connect_ms and rtt_ms and exits 0 — all through the real CLI.
describe('two daemons on a private testnet', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  const daemons: DaemonProcess[] = []
  const ids: Record<string, string> = {}

  before(async () => {
    root = await tempDir('ping')
    testnet = await startTestnetProcess(['--nodes', '3'])
    Object.assign(ids, await initUsers(root.path, ['alice', 'bob']))
    for (const name of ['alice', 'bob']) {
      daemons.push(
        await spawnDaemon({
          home: join(root.path, name),
          args: ['--bootstrap', testnet.bootstrap, '--port', '0'],
        }),
      )
    }
  })

  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()))
    await testnet?.stop()
    await root?.cleanup()
  })

  test('parley ping --json prints path, connect_ms and rtt_ms', async () => {
    const r = await runCli(['ping', ids.bob!, '--home', join(root.path, 'alice'), '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { path: string; connect_ms: number; rtt_ms: number }
    assert.equal(out.path, 'direct')
    assert.ok(out.connect_ms > 0 && out.connect_ms < 10_000, `connect_ms ${out.connect_ms}`)
    assert.ok(out.rtt_ms > 0 && out.rtt_ms < 1000, `rtt_ms ${out.rtt_ms}`)
  })

  test('both sides see one authenticated session, named by identity', async () => {
    const r = await runCli(['status', '--home', join(root.path, 'bob'), '--json'])
    assert.equal(r.code, 0, r.stderr)
    const status = JSON.parse(r.stdout) as {
      id: string
      peers: { id: string }[]
      reachability: string
    }
    assert.equal(status.id, ids.bob)
    assert.deepEqual(
      status.peers.map((p) => p.id),
      [ids.alice],
    )
    // On a loopback network every node is reachable (src/net/node.ts).
    assert.equal(status.reachability, 'open')
  })

  test('simultaneous pings from both sides end with one session each way', async () => {
    const [a, b] = await Promise.all([
      runCli(['ping', ids.bob!, '--home', join(root.path, 'alice'), '--json']),
      runCli(['ping', ids.alice!, '--home', join(root.path, 'bob'), '--json']),
    ])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    for (const name of ['alice', 'bob']) {
      const s = JSON.parse(
        (await runCli(['status', '--home', join(root.path, name), '--json'])).stdout,
      )
      assert.equal(s.peers.length, 1, `${name} has ${s.peers.length} sessions`)
    }
  })

  test('an ID nobody announces fails within 10 s with "peer not found"', async () => {
    const stranger = encodeId(generateKeyPair().publicKey)
    const r = await runCli(['ping', stranger, '--home', join(root.path, 'alice')])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /peer not found/)
    assert.ok(r.elapsed_ms < 10_000, `took ${r.elapsed_ms} ms`)
  })

  test('a malformed ID is refused before the daemon is asked', async () => {
    const r = await runCli(['ping', 'not-an-id', '--home', join(root.path, 'alice')])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /not a Parley ID/)
  })

  test('a second daemon on the same home is refused', async () => {
    const r = await runCli([
      'daemon',
      '--home',
      join(root.path, 'alice'),
      '--bootstrap',
      testnet.bootstrap,
    ])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /already running/)
  })
})

test('commands that need a daemon say plainly that none is running', async () => {
  const root = await tempDir('nodaemon')
  try {
    await runCli(['init', '--home', root.path, '--no-passphrase'])
    const r = await runCli(['status', '--home', root.path])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /no Parley daemon is running/)
  } finally {
    await root.cleanup()
  }
})
