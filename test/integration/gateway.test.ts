import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { unlockKeystore } from '../../src/identity/index.js'
import {
  daemonLogs,
  freeTcpPort,
  initUsers,
  runCli,
  startTestnetProcess,
  type TestnetProcess,
  tempDir,
} from '../helpers/cli.js'
import { type RecordingProxy, startConnectProxy } from '../helpers/connect-proxy.js'

interface PingOut {
  path: string
  connect_ms: number
  rtt_ms: number
}

// A supernode with a TCP gateway on loopback; bob on UDP; carol with UDP off,
// linked straight to the gateway; dave with UDP off, reaching the gateway only
// through an HTTP CONNECT proxy with credentials; frank with UDP off, linked
// over the gateway port's WebSocket binding. (The NAT lab runs the same
// across real routers; this is the fast loopback version.)
describe('TCP gateway for UDP-less hosts', () => {
  let root: Awaited<ReturnType<typeof tempDir>>
  let testnet: TestnetProcess
  let proxy: RecordingProxy
  let tapFile = ''
  let gatewayPort = 0
  const daemons: DaemonProcess[] = []
  const ids: Record<string, string> = {}
  const home = (name: string) => join(root.path, name)

  before(async () => {
    root = await tempDir('gateway')
    tapFile = join(root.path, 'gateway-tap.hex')
    testnet = await startTestnetProcess(['--nodes', '3'])
    proxy = await startConnectProxy()
    Object.assign(ids, await initUsers(root.path, ['s1', 'bob', 'carol', 'dave', 'erin', 'frank']))
    const common = ['--bootstrap', testnet.bootstrap, '--port', '0']
    const env = { PARLEY_DEBUG: '1' }
    gatewayPort = await freeTcpPort()
    daemons.push(
      await spawnDaemon({
        home: home('s1'),
        args: [
          ...common,
          '--supernode',
          '--gateway-port',
          String(gatewayPort),
          '--gateway-host',
          '127.0.0.1',
        ],
        // The first tunnel is closed right after the gateway took it, as when its
        // session to the target loses a duplicate contest (§5.8): carol's first
        // ping must open another and get through.
        env: { ...env, PARLEY_TEST_GATEWAY_TAP: tapFile, PARLEY_TEST_GATEWAY_DROP_TUNNELS: '1' },
      }),
    )
    const gateways = ['--no-udp', '--gateways', `127.0.0.1:${gatewayPort}`]
    daemons.push(
      ...(await Promise.all([
        spawnDaemon({ home: home('bob'), args: common, env }),
        spawnDaemon({ home: home('carol'), args: gateways, env }),
        spawnDaemon({
          home: home('dave'),
          args: [...gateways, '--proxy', `http://dave:s3cret@127.0.0.1:${proxy.port}`],
          env,
        }),
        spawnDaemon({
          home: home('frank'),
          args: ['--no-udp', '--gateways', `ws://127.0.0.1:${gatewayPort}/parley`],
          env,
        }),
      ])),
    )
  })

  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()))
    await proxy?.close()
    await testnet?.stop()
    await root?.cleanup()
  })

  const ping = async (from: string, to: string): Promise<PingOut> => {
    const r = await runCli(['ping', ids[to]!, '--home', home(from), '--json'])
    // A failure says why: every daemon's debug log.
    assert.equal(r.code, 0, `${from} → ${to}: ${r.stderr}\n${daemonLogs(daemons)}`)
    return JSON.parse(r.stdout) as PingOut
  }

  test('a UDP-less host pings a UDP host through the gateway, and back', async () => {
    const out = await ping('carol', 'bob')
    assert.equal(out.path, 'gateway')
    assert.ok(out.rtt_ms > 0)
    // bob already has a session with carol (through the gateway): it is reused.
    const back = await ping('bob', 'carol')
    assert.equal(back.path, 'gateway')
  })

  test('a host that dials a UDP-less one finds it through the gateway', async () => {
    const out = await ping('bob', 'dave')
    assert.equal(out.path, 'gateway')
  })

  test('two UDP-less hosts on one gateway reach each other', async () => {
    const out = await ping('dave', 'carol')
    assert.equal(out.path, 'gateway')
  })

  test('a tunnel the gateway cannot route fails the ping with what happened', async () => {
    // erin never runs: the gateway finds no way to her and refuses the tunnel that
    // carol opened, and into which carol had already started her handshake.
    const r = await runCli(['ping', ids.erin!, '--home', home('carol'), '--json'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /gateway could not reach the peer/)
    // The link to the gateway survived the refusal.
    assert.equal((await ping('carol', 'bob')).path, 'gateway')
  })

  test('a host linked over WebSocket reaches and is reached like any other', async () => {
    assert.equal((await ping('frank', 'bob')).path, 'gateway')
    assert.equal((await ping('carol', 'frank')).path, 'gateway')
  })

  test('the gateway port answers plain HTTP, and WebSocket without our protocol, with 426', async () => {
    const plain = await httpStatus(gatewayPort, '/', {})
    assert.equal(plain.status, 426)
    assert.match(plain.body, /Parley gateway/)
    const foreign = await httpStatus(gatewayPort, '/chat', {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': Buffer.alloc(16, 7).toString('base64'),
      'sec-websocket-protocol': 'chat',
    })
    assert.equal(foreign.status, 426)
    const bad = await runCli([
      'daemon',
      '--home',
      home('erin'),
      '--no-udp',
      '--gateways',
      'wss://127.0.0.1:9/',
    ])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /only HOST:PORT \(TCP\) or ws:\/\/HOST:PORT\/PATH are gateways/)
  })

  test('udp off without gateways, or a proxy with udp on, is refused with what to do', async () => {
    const noGateway = await runCli(['daemon', '--home', home('erin'), '--no-udp'])
    assert.equal(noGateway.code, 2, noGateway.stderr)
    assert.match(noGateway.stderr, /no gateway is configured: set gateways/)
    const proxyWithUdp = await runCli([
      'daemon',
      '--home',
      home('erin'),
      '--proxy',
      'http://127.0.0.1:9',
    ])
    assert.equal(proxyWithUdp.code, 2, proxyWithUdp.stderr)
    assert.match(proxyWithUdp.stderr, /carries TCP only: also set udp to false/)
    const deadGateway = await runCli([
      'daemon',
      '--home',
      home('erin'),
      '--no-udp',
      '--gateways',
      '127.0.0.1:9',
    ])
    assert.equal(deadGateway.code, 1, deadGateway.stderr)
    assert.match(deadGateway.stderr, /no gateway answered \(127\.0\.0\.1:9: /)
  })

  test('status shows the gateway role, its clients, and the link of a UDP-less host', async () => {
    const s1 = JSON.parse((await runCli(['status', '--home', home('s1'), '--json'])).stdout)
    assert.ok(s1.roles.includes('gateway'))
    assert.equal(s1.gateway.clients, 3)
    assert.equal(s1.gateway.websocket_clients, 1)
    assert.ok(s1.gateway.tunnels_total >= 3, JSON.stringify(s1.gateway))
    const carol = JSON.parse((await runCli(['status', '--home', home('carol'), '--json'])).stdout)
    assert.equal(carol.online, true)
    assert.match(carol.via_gateway, /^127\.0\.0\.1:\d+$/)
    assert.equal(carol.dht_port, null)
  })

  test('proxy credentials go to the proxy only, and the proxy carries only ciphertext', async () => {
    assert.ok(proxy.authorizations.length >= 1)
    for (const a of proxy.authorizations) {
      assert.equal(a, `Basic ${Buffer.from('dave:s3cret').toString('base64')}`)
    }
    const carried = Buffer.concat(proxy.carried)
    assert.ok(carried.byteLength > 1000, `only ${carried.byteLength} bytes carried`)
    assert.equal(carried.indexOf('s3cret'), -1)
    // The Hello's agent string travels in every session: never readable on the wire.
    assert.equal(carried.indexOf('parley/'), -1)
  })

  test('the gateway never sees a secret key, nor what a tunnel carries', async () => {
    const tap = Buffer.from((await readFile(tapFile, 'utf8')).replace(/\n/g, ''), 'hex')
    const carol = await unlockKeystore(home('carol'), null)
    const dave = await unlockKeystore(home('dave'), null)
    const bob = await unlockKeystore(home('bob'), null)
    // The tap really is the gateway's plaintext: the links' own Hellos are in it.
    assert.notEqual(tap.indexOf(carol.certificate.signature), -1, 'tap misses the link hello')
    assert.notEqual(tap.indexOf(dave.certificate.signature), -1, 'tap misses the link hello')
    for (const keys of [carol, dave]) {
      for (const secret of [keys.device.secretKey, keys.identity.secretKey]) {
        // An Ed25519 secret key is seed ‖ public key: the seed is the secret part.
        assert.equal(tap.indexOf(secret.subarray(0, 32)), -1, 'a secret key crossed the gateway')
      }
    }
    // bob's Hello to carol and dave went inside the tunnels: the gateway saw only ciphertext.
    assert.equal(tap.indexOf(bob.certificate.signature), -1, "bob's inner hello was readable")
  })
})

/** One HTTP request to the gateway port: its status and body (an accepted upgrade shows as 101). */
function httpStatus(port: number, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode ?? 101, body: '' })
    })
    req.on('error', reject)
    req.end()
  })
}
