import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import DHT from 'hyperdht'
import { type DaemonProcess, spawnDaemon } from '../src/daemon/spawn.js'
import { createKeystore, encodeId, ensureHome, generateIdentity } from '../src/identity/index.js'
import { type HostPort, startTestnet } from '../src/net/index.js'
import { percentile } from '../src/util/stats.js'
import { tempDir } from '../test/helpers/cli.js'
import { startParleyNode } from './parley-node.js'

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
    const servers = await startServers(bootstrap)
    const [raw, parley] = await measureSides(
      rawSide(bootstrap, servers.raw),
      parleySide(bootstrap, servers.parley),
    ).finally(() => servers.stop())
    const row = (name: string, s: Stats) =>
      `${name.padEnd(22)} connect p50 ${fmt(s.connect_p50)} ms  p90 ${fmt(s.connect_p90)} ms   rtt p50 ${fmt(s.rtt_p50)} ms  p99 ${fmt(s.rtt_p99)} ms`
    console.log(
      `loopback testnet (5 nodes), servers in another process, ${ROUNDS} fresh connects each, ${PINGS} round trips each`,
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

/** Fresh raw hyperdht clients connecting by the public key of the echo server in the server process. */
function rawSide(bootstrap: HostPort[], serverPublicKey: Buffer): Side {
  return {
    async connect() {
      const client = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
      await client.fullyBootstrapped()
      const t0 = performance.now()
      const socket = client.connect(serverPublicKey)
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
    async close() {},
  }
}

/** Fresh Parley nodes connecting by the identity the server process announced. */
function parleySide(bootstrap: HostPort[], serverIdentity: Buffer): Side {
  let n = 0
  return {
    async connect() {
      const keys = generateIdentity({
        name: `client${n++}`,
        deviceName: 'bench',
        now_ms: Date.now(),
      })
      const client = await startParleyNode(bootstrap, keys)
      // Like the raw client, measure a node whose start-up queries have finished.
      await client.net.firstDiscovery
      const t0 = performance.now()
      const session = await client.manager.connect(serverIdentity)
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
    async close() {},
  }
}

/**
 * Both servers (a raw hyperdht echo server and a Parley node) run in one
 * child process, as a peer would be another machine: the clients here do not
 * share an event loop with the server they time.
 */
async function startServers(bootstrap: HostPort[]): Promise<{
  raw: Buffer
  parley: Buffer
  stop(): void
}> {
  const script = fileURLToPath(new URL('./servers.js', import.meta.url))
  const at = bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const child = spawn(process.execPath, [script, at], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
    child.once('exit', (code) => reject(new Error(`bench servers exited (${code})`)))
  })
  const ready = JSON.parse(line) as { raw: string; parley: string }
  return {
    raw: Buffer.from(ready.raw, 'hex'),
    parley: Buffer.from(ready.parley, 'hex'),
    stop: () => child.kill('SIGTERM'),
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
