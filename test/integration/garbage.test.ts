import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { seededRandom } from '../../src/util/random.js'
import { initUsers, runCli, startTestnetProcess, tempDir } from '../helpers/cli.js'

const GARBAGE_COUNT = 10_000
const CONCURRENCY = 50

// Acceptance: the daemon survives 10,000 garbage requests to its API and
// 10,000 garbage UDP datagrams to its DHT port, and still answers `ping`.
test('a daemon survives garbage on its API and DHT port', async () => {
  const seed = Number(process.env.PARLEY_SEED ?? Date.now() % 1_000_000)
  const random = seededRandom(seed)
  const root = await tempDir('garbage')
  const testnet = await startTestnetProcess(['--nodes', '3'])
  const daemons: DaemonProcess[] = []
  try {
    const ids = await initUsers(root.path, ['alice', 'bob'])
    for (const name of ['alice', 'bob']) {
      const args = ['--bootstrap', testnet.bootstrap, '--port', '0']
      daemons.push(await spawnDaemon({ home: join(root.path, name), args }))
    }
    const bob = daemons[1]!
    const status = await bob.client.request<{ dht_port: number }>('GET', '/v1/status')
    const info = JSON.parse(await readFile(join(root.path, 'bob', 'daemon.json'), 'utf8'))

    await sendGarbageDatagrams(status.dht_port, random)
    await sendGarbageHttp(info.port, random)

    assert.equal(bob.child.exitCode, null, `bob died (seed ${seed}): ${bob.stderr()}`)
    const ping = await runCli(['ping', ids.bob!, '--home', join(root.path, 'alice'), '--json'])
    assert.equal(ping.code, 0, `seed ${seed}: ${ping.stderr}`)
    const after = await bob.client.request<{ counters: { api: { rejected: number } } }>(
      'GET',
      '/v1/status',
    )
    assert.ok(
      after.counters.api.rejected >= GARBAGE_COUNT / 2,
      `rejections counted: ${JSON.stringify(after.counters)}`,
    )
  } finally {
    await Promise.all(daemons.map((d) => d.stop()))
    await testnet.stop()
    await root.cleanup()
  }
})

async function sendGarbageDatagrams(
  port: number,
  random: ReturnType<typeof seededRandom>,
): Promise<void> {
  const socket = createSocket('udp4')
  for (let i = 0; i < GARBAGE_COUNT; i++) {
    const size = Math.floor(random.float() * 1400)
    const payload = Buffer.from(random.bytes(size))
    // Some datagrams look like dht-rpc messages (first byte 0x03 / 0x13 version+type) to go deeper.
    if (size > 0 && i % 3 === 0) payload[0] = i % 2 === 0 ? 0x03 : 0x13
    await new Promise<void>((resolve) => socket.send(payload, port, '127.0.0.1', () => resolve()))
    if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5)) // stay under ~1k packets/ms bursts
  }
  socket.close()
}

function garbageRequest(i: number, random: ReturnType<typeof seededRandom>, port: number): Buffer {
  const host = `127.0.0.1:${port}`
  switch (i % 5) {
    case 0:
      return Buffer.from(random.bytes(1 + Math.floor(random.float() * 2000)))
    case 1:
      return Buffer.from(
        `POST /v1/ping HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer nope\r\nContent-Length: 5\r\n\r\n{{{{{`,
      )
    case 2:
      return Buffer.from(`GET /v1/status HTTP/1.1\r\nHost: evil.example\r\n\r\n`)
    case 3:
      return Buffer.from(
        `${'X'.repeat(1 + (i % 40))} /${'a'.repeat(i % 300)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      )
    default:
      return Buffer.from(
        `GET /v1/status HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://evil.example\r\n\r\n`,
      )
  }
}

async function sendGarbageHttp(
  port: number,
  random: ReturnType<typeof seededRandom>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < GARBAGE_COUNT) {
      const i = next++
      await new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1')
        s.setTimeout(2000, () => s.destroy())
        s.on('error', () => resolve())
        s.on('close', () => resolve())
        s.on('data', () => s.destroy())
        s.on('connect', () => s.end(garbageRequest(i, random, port)))
      })
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}
