// One side of `bench transfer`, in its own process: the same process carries
// a raw hyperdht stream, a Parley transfer (network + sessions + transfer
// engine, as in the daemon) and a Node TLS 1.3 socket, so all three are
// measured between the same two processes.
//
//   node peer.js receiver BOOTSTRAP DIR CERT KEY  → prints {raw, parley, tls_port, id}
//   node peer.js sender BOOTSTRAP FILE ROUNDS '<receiver JSON>'
// The receiver prints one JSON line per finished run: {kind, bytes, ms}.

import { createReadStream, readFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls'
import DHT from 'hyperdht'
import { capYoungGeneration } from '../../src/daemon/memory.js'
import { encodeId, generateIdentity } from '../../src/identity/index.js'
import { parseHostPortList } from '../../src/net/index.js'
import { ChunkPool, TransferEngine } from '../../src/transfer/index.js'
import { systemClock } from '../../src/util/clock.js'
import { systemRandom } from '../../src/util/random.js'
import { startParleyNode } from '../parley-node.js'

// As `parley daemon` does (src/daemon/memory.ts): the same heap for all three kinds.
capYoungGeneration()
const [role, bootstrapText, ...args] = process.argv.slice(2)
const bootstrap = parseHostPortList(bootstrapText ?? '')
const emit = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)
/** CPU time of this whole process (every thread), in ms. */
const cpu_ms = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
/** CPU time of the main thread (the event loop), in ms; Linux only, else NaN. */
const main_cpu_ms = () => {
  try {
    const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN
  }
}
const usage = () => ({ cpu_ms: cpu_ms(), main_cpu_ms: main_cpu_ms() })
const since = (u: ReturnType<typeof usage>) => ({
  cpu_ms: cpu_ms() - u.cpu_ms,
  main_cpu_ms: main_cpu_ms() - u.main_cpu_ms,
})

async function parleyNode(home: string, autoAccept: string[]) {
  const keys = generateIdentity({ name: 'bench', deviceName: 'bench', now_ms: Date.now() })
  const node = await startParleyNode(bootstrap, keys)
  const engine = new TransferEngine({
    home,
    clock: systemClock,
    random: systemRandom,
    enabled: true,
    auto_accept_from: autoAccept,
    download_dir: home,
    connect: (id) => node.manager.connect(id),
    // BENCH_CHUNK_WORKERS=1: hash and write in worker threads instead of the event loop.
    ...(process.env.BENCH_CHUNK_WORKERS ? { chunks: new ChunkPool() } : {}),
    maintain: (id, owner) => node.manager.maintain(id, owner),
    release: (id, owner) => node.manager.release(id, owner),
  })
  node.manager.on('session', (s) =>
    engine.attach({ identity: s.remoteIdentityPublicKey!, mux: s.mux, path: () => s.path }),
  )
  await engine.start()
  await node.net.announce(keys.identity.publicKey)
  return { ...node, engine, id: encodeId(keys.identity.publicKey) }
}

async function receiver(dir: string, certPath: string, keyPath: string) {
  // Raw: count bytes until the announced size has arrived.
  const rawNode = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
  await rawNode.fullyBootstrapped()
  const keyPair = DHT.keyPair()
  const sink = (kind: string) => (socket: import('node:stream').Duplex) => {
    let expected = -1
    let got = 0
    let t0 = 0
    let c0 = usage()
    socket.on('data', (d: Buffer) => {
      if (expected < 0) {
        expected = Number(d.readBigUInt64LE(0))
        d = d.subarray(8)
        t0 = performance.now()
        c0 = usage()
      }
      got += d.byteLength
      if (got >= expected && expected >= 0) {
        emit({ kind, bytes: got, ms: performance.now() - t0, ...since(c0) })
        socket.write(Buffer.from([1]))
        expected = -2
      }
    })
    socket.on('error', () => {})
  }
  const raw = rawNode.createServer({}, sink('raw'))
  await raw.listen(keyPair)
  const tls = tlsServer(
    { cert: await readFile(certPath), key: await readFile(keyPath), minVersion: 'TLSv1.3' },
    sink('tls') as never,
  )
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()))
  const parley = await parleyNode(dir, [])
  const started = new Map<string, { t0: number; c0: ReturnType<typeof usage> }>()
  parley.engine.on(
    'event',
    (e: { type: string; transfer: { id: string; state: string; size: number; path: string } }) => {
      const t = e.transfer
      if (e.type === 'transfer.offered') {
        started.set(t.id, { t0: performance.now(), c0: usage() })
        void parley.engine.accept(t.id, dir)
      } else if (t.state === 'completed' && started.has(t.id)) {
        const start = started.get(t.id)!
        emit({
          kind: 'parley',
          bytes: t.size,
          ms: performance.now() - start.t0,
          ...since(start.c0),
        })
        started.delete(t.id)
        void rm(t.path, { force: true })
      }
    },
  )
  emit({
    raw: keyPair.publicKey.toString('hex'),
    parley: parley.id,
    tls_port: (tls.address() as { port: number }).port,
  })
}

async function sender(
  file: string,
  rounds: number,
  info: { raw: string; parley: string; tls_port: number },
) {
  const size = (await import('node:fs')).statSync(file).size
  const rawNode = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
  await rawNode.fullyBootstrapped()
  const parley = await parleyNode(`${file}.sender-home`, [])
  const pushFile = async (socket: NodeJS.WritableStream & NodeJS.ReadableStream) => {
    const head = Buffer.alloc(8)
    head.writeBigUInt64LE(BigInt(size))
    socket.write(head)
    const done = new Promise((r) => socket.once('data', r))
    createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(socket, { end: false })
    await done
  }
  const kinds = (process.env.BENCH_KINDS ?? 'raw,tls,parley').split(',')
  for (let i = 0; i < rounds; i++) {
    for (const [kind, run] of [
      ['raw', rawRun],
      ['tls', tlsRun],
      ['parley', parleyRun],
    ] as const) {
      if (!kinds.includes(kind)) continue
      const c0 = usage()
      const from = await run(i)
      emit({ kind, side: 'sender', ...since(from ?? c0) })
    }
  }
  emit({ sender_done: true })

  async function rawRun(i: number): Promise<ReturnType<typeof usage> | undefined> {
    const s = rawNode.connect(Buffer.from(info.raw, 'hex'))
    await new Promise((r) => s.once('open', r))
    await pushFile(s)
    s.destroy()
    if (process.env.BENCH_DEBUG) console.error('raw done', i)
    return undefined
  }

  async function tlsRun(i: number): Promise<ReturnType<typeof usage> | undefined> {
    const t = tlsConnect({ port: info.tls_port, host: '127.0.0.1', rejectUnauthorized: false })
    await new Promise((r) => t.once('secureConnect', r))
    await pushFile(t)
    t.destroy()
    if (process.env.BENCH_DEBUG) console.error('tls done', i)
    return undefined
  }

  /** Resolves with the CPU times when the receiver accepted (hashing before the offer is not counted). */
  async function parleyRun(_i: number): Promise<ReturnType<typeof usage>> {
    const sent = await parley.engine.send(info.parley, file)
    let c0: ReturnType<typeof usage> | null = null
    return new Promise((resolve) => {
      const on = (e: { transfer: { id: string; state: string } }) => {
        if (e.transfer.id === sent.id && e.transfer.state === 'sending') c0 ??= usage()
        if (
          e.transfer.id === sent.id &&
          ['completed', 'failed', 'declined'].includes(e.transfer.state)
        ) {
          parley.engine.off('event', on)
          resolve(c0 ?? usage())
        }
      }
      parley.engine.on('event', on)
    })
  }
}

// Registered first, so a profiled run (--cpu-prof) writes its profile whenever it is stopped.
process.once('SIGTERM', () => process.exit(0))
process.once('SIGINT', () => process.exit(0))
if (role === 'receiver') await receiver(args[0]!, args[1]!, args[2]!)
else await sender(args[0]!, Number(args[1]), JSON.parse(args[2]!))
