import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { initUsers, runCli, startTestnetProcess, tempDir } from '../helpers/cli.js'

// Acceptance: kill -9 a daemon, stop the testnet's bootstrap, restart the
// daemon: it rejoins through its host cache and can ping the other peer.
// The network outlives its bootstrap node the way a real one does: a second
// group of DHT nodes joined through it and keeps running.
test('a restarted daemon rejoins through its host cache when the bootstrap is gone', async () => {
  const root = await tempDir('hostcache')
  const boot = await startTestnetProcess(['--nodes', '1'])
  const rest = await startTestnetProcess(['--nodes', '3', '--bootstrap', boot.bootstrap])
  const daemons: DaemonProcess[] = []
  try {
    const ids = await initUsers(root.path, ['alice', 'bob'])
    const args = ['--bootstrap', boot.bootstrap, '--port', '0']
    const alice = await spawnDaemon({ home: join(root.path, 'alice'), args })
    const bob = await spawnDaemon({ home: join(root.path, 'bob'), args })
    daemons.push(alice, bob)

    const cache = JSON.parse(await readFile(join(root.path, 'alice', 'host-cache.json'), 'utf8'))
    assert.ok(cache.nodes.length >= 2, `host cache holds ${cache.nodes.length} nodes`)

    assert.equal(await alice.stop('SIGKILL'), null)
    await boot.stop('SIGKILL')
    const refused = await runCli(['status', '--home', join(root.path, 'alice')])
    assert.notEqual(refused.code, 0, 'the killed daemon no longer answers')

    const again = await spawnDaemon({ home: join(root.path, 'alice'), args })
    daemons.push(again)
    const status = await again.client.request<{ dht_nodes: number }>('GET', '/v1/status')
    assert.ok(status.dht_nodes > 0, 'rejoined the DHT')
    const ping = await runCli(['ping', ids.bob!, '--home', join(root.path, 'alice'), '--json'])
    assert.equal(ping.code, 0, ping.stderr)
    assert.equal(JSON.parse(ping.stdout).path, 'direct')
  } finally {
    await Promise.all(daemons.map((d) => d.stop()))
    await rest.stop()
    await boot.stop()
    await root.cleanup()
  }
})
