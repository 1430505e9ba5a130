import { execFileSync, spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { spawnDaemon } from '../src/daemon/spawn.js'
import { createKeystore, ensureHome, generateIdentity } from '../src/identity/index.js'
import { startTestnet } from '../src/net/index.js'
import { RELAYED_BYTES_PER_S } from '../src/transfer/index.js'
import { percentile } from '../src/util/stats.js'
import { tempDir } from '../test/helpers/cli.js'
import { writeDistinctChunks } from '../test/helpers/files.js'
import { benchRateLimitedLink } from './transfer/link.js'

const SIZE_BYTES = Number(process.env.BENCH_TRANSFER_BYTES ?? 256 * 1024 * 1024)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const RELAYED_BYTES = 2 * 1024 * 1024
const RELAYED_ROUNDS = 3
const RELAY_SESSION_CAP = 262_144
const PEER = fileURLToPath(new URL('./transfer/peer.js', import.meta.url))

interface Result {
  kind: string
  /** Absent: the receiver's measurement; 'sender': the sender's CPU for the same run. */
  side?: 'sender'
  bytes: number
  ms: number
  cpu_ms: number
  main_cpu_ms: number
  /** Share of the machine's CPU busy during the run (the receiver's figure is reported). */
  machine_busy: number
}

/**
 * File transfer throughput: on loopback, Parley beside the raw hyperdht
 * encrypted stream, that stream into a sink that only hashes and writes
 * (the floor of work for any verified transfer), and Node TLS 1.3 over TCP,
 * all between the same two processes (medians of ROUNDS runs of SIZE_BYTES
 * each); then a Parley transfer through a supernode's relay.
 */
export async function benchTransfer(): Promise<void> {
  const dir = await tempDir('bench-transfer')
  const testnet = await startTestnet({ host: '127.0.0.1', nodes: 3 })
  const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  try {
    const file = join(dir.path, 'payload.bin')
    await writeDistinctChunks(file, SIZE_BYTES)
    const tls = makeCertificate(dir.path)
    const results = await runPair({
      bootstrap,
      dir: dir.path,
      file,
      tls,
      kinds: (process.env.BENCH_TRANSFER_KINDS ?? 'raw,sink,tls,parley').split(','),
    })
    const received = results.filter((r) => r.side === undefined)
    const rates = (kind: string) =>
      received.filter((r) => r.kind === kind).map((r) => r.bytes / 1e6 / (r.ms / 1000))
    const mbps = (kind: string) => percentile(rates(kind), 50)
    const cpu = (kind: string, side: 'sender' | undefined, f: 'cpu_ms' | 'main_cpu_ms') =>
      percentile(
        results.filter((r) => r.kind === kind && r.side === side).map((r) => r[f]),
        50,
      ).toFixed(0)
    const busy = (kind: string) =>
      `${(
        percentile(
          received.filter((r) => r.kind === kind).map((r) => r.machine_busy),
          50,
        ) * 100
      ).toFixed(0)}% of both cores busy`
    console.log(
      `loopback, ${SIZE_BYTES / 2 ** 20} MiB per run, ${ROUNDS} runs each, interleaved, two processes (sender, receiver); medians`,
    )
    const all: [kind: string, label: string, what: string][] = [
      ['raw', 'raw hyperdht stream', ''],
      [
        'sink',
        'raw stream + hash + write',
        'SHA-256 per 256 KiB chunk, written, fdatasync: no framework',
      ],
      ['tls', 'Node TLS 1.3 over TCP', ''],
      ['parley', 'parley transfer', 'accept → chunks hashed, file verified, fsynced and in place'],
    ]
    const kinds = all.filter(([kind]) => rates(kind).length > 0)
    for (const [kind, label, what] of kinds) {
      console.log(
        `${label.padEnd(26)} ${mbps(kind).toFixed(1).padStart(6)} MB/s  ${busy(kind)}${what ? `; ${what}` : ''}`,
      )
    }
    for (const [kind] of kinds) {
      console.log(
        `CPU ${kind.padEnd(6)} sender ${cpu(kind, 'sender', 'cpu_ms')} ms (event loop ${cpu(kind, 'sender', 'main_cpu_ms')}), receiver ${cpu(kind, undefined, 'cpu_ms')} ms (event loop ${cpu(kind, undefined, 'main_cpu_ms')})`,
      )
    }
    // Runs are interleaved, so run i of each kind saw about the same machine:
    // the median of the per-round ratios cancels slow drifts in load that
    // the ratio of the medians does not.
    const ratio = (a: string, b: string, note: string) => {
      const [x, y] = [rates(a), rates(b)]
      if (x.length === 0 || y.length === 0) return
      const paired = x.slice(0, y.length).map((r, i) => r / y[i]!)
      console.log(
        `ratio ${`${a}/${b}`.padEnd(11)} ${(mbps(a) / mbps(b)).toFixed(2)}x; per round: median ${percentile(paired, 50).toFixed(2)}x, rounds ${paired.map((r) => r.toFixed(2)).join(', ')}${note}`,
      )
    }
    ratio('parley', 'raw', '  (goal >= 0.90x)')
    ratio('sink', 'raw', '  (the most a verified transfer keeps of the raw stream here)')
    ratio('parley', 'sink', '  (Parley against that floor of work)')
    ratio('parley', 'tls', '')
    if (process.env.BENCH_TRANSFER_LOOPBACK_ONLY) return
    await benchRelayed(bootstrap, dir.path)
    await benchRateLimitedLink()
  } finally {
    await testnet.destroy()
    await dir.cleanup()
  }
}

/** A Parley transfer between two clients that may only connect through a supernode's relay. */
async function benchRelayed(bootstrap: string, root: string): Promise<void> {
  const home = join(root, 'supernode')
  await ensureHome(home)
  await createKeystore(
    home,
    generateIdentity({ name: 'relay', deviceName: 'bench', now_ms: Date.now() }),
    null,
  )
  const supernode = await spawnDaemon({
    home,
    args: ['--bootstrap', bootstrap, '--port', '0', '--supernode'],
  })
  try {
    const file = join(root, 'relayed.bin')
    await writeDistinctChunks(file, RELAYED_BYTES)
    const results = await runPair({
      bootstrap,
      dir: root,
      file,
      tls: makeCertificate(root),
      kinds: ['parley'],
      rounds: RELAYED_ROUNDS,
      env: { PARLEY_TEST_FORCE_RELAY: '1' },
    })
    const rate = percentile(
      results.filter((r) => r.side === undefined).map((r) => r.bytes / (r.ms / 1000)),
      50,
    )
    console.log(
      `relayed through a supernode (default caps), ${RELAYED_BYTES >> 20} MiB, median of ${RELAYED_ROUNDS} runs: parley ${(rate / 1000).toFixed(1)} kB/s = ${((rate / RELAY_SESSION_CAP) * 100).toFixed(0)}% of the relay's per-session cap (${RELAY_SESSION_CAP} B/s; the receiver paces at ${RELAYED_BYTES_PER_S} B/s so the relay never cuts it)`,
    )
  } finally {
    await supernode.stop()
  }
}

/** Starts a receiver and a sender process; resolves with the receiver's measurements. */
async function runPair(o: {
  bootstrap: string
  dir: string
  file: string
  tls: { cert: string; key: string }
  kinds: string[]
  rounds?: number
  env?: NodeJS.ProcessEnv
}): Promise<Result[]> {
  const rounds = o.rounds ?? ROUNDS
  const inbox = join(o.dir, `inbox-${Date.now()}`)
  await mkdir(inbox, { recursive: true })
  const env = { ...process.env, ...o.env, BENCH_KINDS: o.kinds.join(',') }
  const prof = (sub: string) =>
    process.env.BENCH_PROF
      ? ['--cpu-prof', '--cpu-prof-dir', join(process.env.BENCH_PROF, sub)]
      : []
  const children: ReturnType<typeof spawn>[] = []
  const receiver = spawn(
    process.execPath,
    [...prof('r'), PEER, 'receiver', o.bootstrap, inbox, o.tls.cert, o.tls.key],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  )
  children.push(receiver)
  try {
    return await new Promise<Result[]>((resolve, reject) => {
      const results: Result[] = []
      let started = false
      receiver.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)))
      const expected = 2 * o.kinds.length * rounds
      const onResult = (line: string) => {
        results.push(JSON.parse(line) as Result)
        if (results.length === expected) resolve(results)
      }
      createInterface({ input: receiver.stdout! }).on('line', (line) => {
        if (started) return onResult(line)
        started = true
        const args = [...prof('s'), PEER, 'sender', o.bootstrap, o.file, String(rounds), line]
        const sender = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env })
        children.push(sender)
        createInterface({ input: sender.stdout! }).on('line', (l) => {
          if (!l.includes('sender_done')) onResult(l)
        })
      })
    })
  } finally {
    for (const c of children) {
      c.removeAllListeners('exit')
      c.kill(process.env.BENCH_PROF ? 'SIGINT' : 'SIGTERM')
    }
  }
}

function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const subject = ['-days', '1', '-subj', '/CN=bench']
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', key, '-out', cert, ...subject], {
    stdio: 'ignore',
  })
  return { cert, key }
}
