// One side of `bench transfer`, in its own process: the same process carries
// a raw hyperdht stream, the same stream into a verifying sink (ChunkSink),
// a Parley transfer (network + sessions + transfer engine, as in the daemon)
// and a Node TLS 1.3 socket, so all four are measured between the same two
// processes.
//
//   node peer.js receiver BOOTSTRAP DIR CERT KEY  → prints {raw, sink, parley, tls_port}
//   node peer.js sender BOOTSTRAP FILE ROUNDS '<receiver JSON>'
// The receiver prints one JSON line per finished run: {kind, bytes, ms}.

import { createHash } from 'node:crypto'
import {
  closeSync,
  createReadStream,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
} from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls'
import DHT from 'hyperdht'
import { capYoungGeneration } from '../../src/daemon/memory.js'
import { encodeId, generateIdentity } from '../../src/identity/index.js'
import { parseHostPortList } from '../../src/net/index.js'
import { writeFully } from '../../src/transfer/hash.js'
import {
  CHECKPOINT_BYTES,
  CHUNK_BYTES_DEFAULT,
  ChunkPool,
  TransferEngine,
} from '../../src/transfer/index.js'
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
/** The whole machine's CPU ticks, [busy, all] (busy: not idle, not waiting on I/O); Linux only, else NaN. */
const machine_ticks = (): [number, number] => {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const all = f.reduce((a, b) => a + b, 0)
    return [all - f[3]! - f[4]!, all]
  } catch {
    return [Number.NaN, Number.NaN]
  }
}
const usage = () => ({ cpu_ms: cpu_ms(), main_cpu_ms: main_cpu_ms(), machine: machine_ticks() })
const since = (u: ReturnType<typeof usage>) => {
  const [busy, all] = machine_ticks()
  return {
    cpu_ms: cpu_ms() - u.cpu_ms,
    main_cpu_ms: main_cpu_ms() - u.main_cpu_ms,
    /** Share of both cores busy during the run, from the receiver's view (it ends the run). */
    machine_busy: (busy - u.machine[0]) / (all - u.machine[1]),
  }
}

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
  // Raw: count bytes until the announced size has arrived. Sink: the same,
  // hashing and writing them as they come (ChunkSink).
  const rawNode = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
  await rawNode.fullyBootstrapped()
  const serve = (kind: string) => (socket: import('node:stream').Duplex) => {
    let expected = -1
    let got = 0
    let t0 = 0
    let c0 = usage()
    const sink = kind === 'sink' ? new ChunkSink(join(dir, 'sink.bin')) : null
    socket.on('data', async (d: Buffer) => {
      if (expected < 0) {
        expected = Number(d.readBigUInt64LE(0))
        d = d.subarray(8)
        t0 = performance.now()
        c0 = usage()
        sink?.open(expected)
      }
      got += d.byteLength
      sink?.add(d)
      if (got >= expected && expected >= 0) {
        expected = -2
        await sink?.finish()
        emit({ kind, bytes: got, ms: performance.now() - t0, ...since(c0) })
        await sink?.remove()
        socket.write(Buffer.from([1]))
      }
    })
    socket.on('error', () => {})
  }
  const keyPair = DHT.keyPair()
  await rawNode.createServer({}, serve('raw')).listen(keyPair)
  const sinkKeyPair = DHT.keyPair()
  await rawNode.createServer({}, serve('sink')).listen(sinkKeyPair)
  const tls = tlsServer(
    { cert: await readFile(certPath), key: await readFile(keyPath), minVersion: 'TLSv1.3' },
    serve('tls') as never,
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
    sink: sinkKeyPair.publicKey.toString('hex'),
    parley: parley.id,
    tls_port: (tls.address() as { port: number }).port,
  })
}

async function sender(
  file: string,
  rounds: number,
  info: { raw: string; sink: string; parley: string; tls_port: number },
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
  const kinds = (process.env.BENCH_KINDS ?? 'raw,sink,tls,parley').split(',')
  for (let i = 0; i < rounds; i++) {
    for (const [kind, run] of [
      ['raw', (i: number) => rawRun(i, info.raw)],
      ['sink', (i: number) => rawRun(i, info.sink)],
      ['tls', tlsRun],
      ['parley', parleyRun],
    ] as const) {
      if (!kinds.includes(kind)) continue
      // Let the last run's file deletion and writeback finish before the next run starts.
      await new Promise((r) => setTimeout(r, SETTLE_MS))
      const c0 = usage()
      const from = await run(i)
      emit({ kind, side: 'sender', ...since(from ?? c0) })
    }
  }
  emit({ sender_done: true })

  async function rawRun(i: number, key: string): Promise<ReturnType<typeof usage> | undefined> {
    const s = rawNode.connect(Buffer.from(key, 'hex'))
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

/**
 * The least any verified, durable transfer must do with what arrives, and
 * nothing else: SHA-256 of every chunk, each chunk written at its offset in
 * a file of the final size, an fdatasync every CHECKPOINT_BYTES in the
 * background and one at the end. Chunks and checkpoints are Parley's sizes;
 * writes go one after another (parallel writes to one file contend for its
 * lock), in chunks because 1 MiB writes cost the kernel ~4x more CPU here
 * than 256 KiB ones. No framing, flow control, bookkeeping or resume.
 */
class ChunkSink {
  private readonly path: string
  private fd = -1
  private position = 0
  private hash = createHash('sha256')
  private hashed = 0
  private written: Promise<unknown> = Promise.resolve()
  private readonly syncs: Promise<unknown>[] = []

  constructor(path: string) {
    this.path = path
  }

  open(size: number): void {
    this.fd = openSync(this.path, 'w', 0o600)
    ftruncateSync(this.fd, size)
    this.position = 0
    this.hashed = 0
  }

  add(d: Buffer): void {
    const fd = this.fd
    for (let at = 0; at < d.byteLength; ) {
      const n = Math.min(CHUNK_BYTES_DEFAULT - this.hashed, d.byteLength - at)
      const piece = d.subarray(at, at + n)
      this.hash.update(piece)
      this.hashed += n
      if (this.hashed === CHUNK_BYTES_DEFAULT) this.endChunk()
      const position = this.position
      this.written = this.written.then(() => writeFully({ fd }, piece, position))
      if (Math.floor((position + n) / CHECKPOINT_BYTES) > Math.floor(position / CHECKPOINT_BYTES))
        this.syncs.push(this.written.then(() => new Promise((r) => fdatasync(fd, r))))
      this.position += n
      at += n
    }
  }

  private endChunk(): void {
    this.hash.digest()
    this.hash = createHash('sha256')
    this.hashed = 0
  }

  async finish(): Promise<void> {
    if (this.hashed > 0) this.endChunk()
    await Promise.all([this.written, ...this.syncs.splice(0)])
    fdatasyncSync(this.fd)
    closeSync(this.fd)
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true })
  }
}

const SETTLE_MS = 1000

// Registered first, so a profiled run (--cpu-prof) writes its profile whenever it is stopped.
process.once('SIGTERM', () => process.exit(0))
process.once('SIGINT', () => process.exit(0))
if (role === 'receiver') await receiver(args[0]!, args[1]!, args[2]!)
else await sender(args[0]!, Number(args[1]), JSON.parse(args[2]!))
