import { join } from 'node:path'
import DHT, { type KeyPair, type NoiseSocket } from 'hyperdht'
import { type DaemonProcess, spawnDaemon } from '../src/daemon/spawn.js'
import {
  createKeystore,
  encodeId,
  ensureHome,
  generateIdentity,
  type IdentityKeys,
} from '../src/identity/index.js'
import { NetworkNode, startTestnet } from '../src/net/index.js'
import { SessionManager } from '../src/session/index.js'
import { systemClock } from '../src/util/clock.js'
import { systemRandom } from '../src/util/random.js'
import { percentile } from '../src/util/stats.js'
import { tempDir } from '../test/helpers/cli.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60)
const PINGS = 200
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60)

/**
 * Connect-by-key and RTT through Parley sessions beside raw hyperdht on the
 * same testnet in the same process; then idle RSS and background bytes/s of
 * real daemon processes.
 */
export async function benchConnect(): Promise<void> {
  const testnet = await startTestnet({ host: '127.0.0.1', nodes: 5 })
  const bootstrap = testnet.bootstrap
  try {
    const rawServer = await rawSide(bootstrap)
    const parleyServer = await parleySide(bootstrap)
    const [raw, parley] = await measureSides(rawServer, parleyServer)
    await rawServer.close()
    await parleyServer.close()
    const row = (name: string, s: Stats) =>
      `${name.padEnd(22)} connect p50 ${fmt(s.connect_p50)} ms  p90 ${fmt(s.connect_p90)} ms   rtt p50 ${fmt(s.rtt_p50)} ms  p99 ${fmt(s.rtt_p99)} ms`
    console.log(
      `loopback testnet (5 nodes), ${ROUNDS} fresh connects each, ${PINGS} round trips each`,
    )
    console.log(row('raw hyperdht', raw))
    console.log(row('parley session', parley))
    console.log(
      `ratio parley/raw: connect ${(parley.connect_p50 / raw.connect_p50).toFixed(2)}x (target <= 1.20x), rtt ${(parley.rtt_p50 / raw.rtt_p50).toFixed(2)}x`,
    )
    await idleDaemons(`${bootstrap[0]!.host}:${bootstrap[0]!.port}`)
  } finally {
    await testnet.destroy()
  }
}

interface Stats {
  connect_p50: number
  connect_p90: number
  rtt_p50: number
  rtt_p99: number
}

const fmt = (x: number) => x.toFixed(2)

function summarize(connects: number[], rtts: number[]): Stats {
  return {
    connect_p50: percentile(connects, 50),
    connect_p90: percentile(connects, 90),
    rtt_p50: percentile(rtts, 50),
    rtt_p99: percentile(rtts, 99),
  }
}

interface Side {
  connect(): Promise<{ rtt(): Promise<number>; close(): Promise<void> }>
  close(): Promise<void>
}

/** A raw hyperdht server (echo) and fresh raw clients connecting by its public key. */
async function rawSide(bootstrap: { host: string; port: number }[]): Promise<Side> {
  const server = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
  await server.fullyBootstrapped()
  const keyPair: KeyPair = DHT.keyPair()
  const srv = server.createServer({}, (socket: NoiseSocket) => {
    socket.on('data', (d: Buffer) => socket.write(d)) // echo
    socket.on('error', () => {})
  })
  await srv.listen(keyPair)
  return {
    async connect() {
      const client = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
      await client.fullyBootstrapped()
      const t0 = performance.now()
      const socket = client.connect(keyPair.publicKey)
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve())
        socket.once('error', reject)
      })
      const connect_ms = performance.now() - t0
      return {
        connect_ms,
        async rtt() {
          const s = performance.now()
          socket.write(Buffer.alloc(8))
          await new Promise((r) => socket.once('data', r))
          return performance.now() - s
        },
        async close() {
          socket.destroy()
          await client.destroy()
        },
      }
    },
    async close() {
      await srv.close()
      await server.destroy()
    },
  }
}

async function startParleyNode(bootstrap: { host: string; port: number }[], keys: IdentityKeys) {
  let manager: SessionManager | null = null
  const net = await NetworkNode.create({
    keyPair: keys.device,
    bootstrap,
    hostCachePath: null,
    port: 0,
    onConnection: (socket) => void manager?.adopt(socket, null).catch(() => {}),
  })
  manager = new SessionManager({
    network: net,
    certificate: keys.certificate,
    clock: systemClock,
    random: systemRandom,
    agent: 'bench',
  })
  await net.start()
  return { net, manager }
}

/** A Parley node announced under its identity, and fresh Parley nodes connecting by that identity. */
async function parleySide(bootstrap: { host: string; port: number }[]): Promise<Side> {
  const serverKeys = generateIdentity({ name: 'server', deviceName: 'bench', now_ms: Date.now() })
  const server = await startParleyNode(bootstrap, serverKeys)
  await server.net.announce(serverKeys.identity.publicKey)
  let n = 0
  return {
    async connect() {
      const keys = generateIdentity({
        name: `client${n++}`,
        deviceName: 'bench',
        now_ms: Date.now(),
      })
      const client = await startParleyNode(bootstrap, keys)
      const t0 = performance.now()
      const session = await client.manager.connect(serverKeys.identity.publicKey)
      const connect_ms = performance.now() - t0
      return {
        connect_ms,
        rtt: () => session.ping(),
        async close() {
          client.manager.close()
          await client.net.close()
        },
      }
    },
    async close() {
      server.manager.close()
      await server.net.close()
    },
  }
}

/** Rounds alternate raw and Parley (order flipped each round) so drift hits both alike. */
async function measureSides(raw: Side, parley: Side): Promise<[Stats, Stats]> {
  const samples = [
    { side: raw, connects: [] as number[], rtts: [] as number[] },
    { side: parley, connects: [] as number[], rtts: [] as number[] },
  ]
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? samples : [...samples].reverse()
    for (const s of order) {
      const conn = (await s.side.connect()) as Awaited<ReturnType<Side['connect']>> & {
        connect_ms: number
      }
      s.connects.push(conn.connect_ms)
      if (i < 2) for (let p = 0; p < PINGS / 2; p++) s.rtts.push(await conn.rtt())
      await conn.close()
    }
  }
  return [
    summarize(samples[0]!.connects, samples[0]!.rtts),
    summarize(samples[1]!.connects, samples[1]!.rtts),
  ]
}

async function idleDaemons(bootstrap: string): Promise<void> {
  const root = await tempDir('bench-idle')
  const daemons: DaemonProcess[] = []
  try {
    const ids: string[] = []
    for (const name of ['alice', 'bob', 'carol']) {
      const home = join(root.path, name)
      await ensureHome(home)
      const keys = generateIdentity({ name, deviceName: 'bench', now_ms: Date.now() })
      await createKeystore(home, keys, null)
      ids.push(encodeId(keys.identity.publicKey))
      daemons.push(await spawnDaemon({ home, args: ['--bootstrap', bootstrap, '--port', '0'] }))
    }
    // alice holds one idle session to bob; carol has none.
    await daemons[0]!.client.request('POST', '/v1/ping', { id: ids[1], count: 1 })
    await new Promise((r) => setTimeout(r, 5000)) // let start-up traffic settle
    type S = {
      bytes_sent: number
      bytes_received: number
      packets_sent: number
      packets_received: number
      rss_bytes: number
    }
    const before = await Promise.all(daemons.map((d) => d.client.request<S>('GET', '/v1/status')))
    console.log(`idle: measuring ${IDLE_S} s of background traffic of real daemon processes...`)
    await new Promise((r) => setTimeout(r, IDLE_S * 1000))
    const afterS = await Promise.all(daemons.map((d) => d.client.request<S>('GET', '/v1/status')))
    const labels = ['alice (1 idle session)', 'bob (1 idle session)', 'carol (no sessions)']
    for (let i = 0; i < daemons.length; i++) {
      const a = afterS[i]!
      const b = before[i]!
      const payload = a.bytes_sent - b.bytes_sent + a.bytes_received - b.bytes_received
      const packets = a.packets_sent - b.packets_sent + a.packets_received - b.packets_received
      // On the wire each UDP/IPv4 datagram also carries 28 bytes of headers.
      const wire_bps = (payload + 28 * packets) / IDLE_S
      console.log(
        `${labels[i]!.padEnd(24)} background ${(payload / IDLE_S).toFixed(1)} B/s payload, ${wire_bps.toFixed(1)} B/s on the wire (${(packets / IDLE_S).toFixed(2)} pkt/s; target <= 100, Skype ~200)   RSS ${(a.rss_bytes / 2 ** 20).toFixed(1)} MB (target <= 80)`,
      )
    }
  } finally {
    await Promise.all(daemons.map((d) => d.stop()))
    await root.cleanup()
  }
}
