import { execFileSync, spawn } from 'node:child_process'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startTestnet } from '../src/net/index.js'
import { percentile } from '../src/util/stats.js'
import { tempDir } from '../test/helpers/cli.js'

const SIZE_BYTES = Number(process.env.BENCH_TRANSFER_BYTES ?? 256 * 1024 * 1024)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const PEER = fileURLToPath(new URL('./transfer/peer.js', import.meta.url))

/**
 * File transfer throughput on loopback: Parley beside the raw hyperdht
 * encrypted stream and Node TLS 1.3 over TCP, all between the same two
 * processes, medians of ROUNDS runs of SIZE_BYTES each.
 */
export async function benchTransfer(): Promise<void> {
  const dir = await tempDir('bench-transfer')
  const testnet = await startTestnet({ host: '127.0.0.1', nodes: 3 })
  const bootstrap = testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(',')
  const children: ReturnType<typeof spawn>[] = []
  try {
    const file = join(dir.path, 'payload.bin')
    await writePayload(file, SIZE_BYTES)
    const cert = join(dir.path, 'cert.pem')
    const key = join(dir.path, 'key.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=bench',
      ],
      { stdio: 'ignore' },
    )
    const inbox = join(dir.path, 'inbox')
    const receiver = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : []),
        PEER,
        'receiver',
        bootstrap,
        inbox,
        cert,
        key,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    children.push(receiver)
    const lines = createInterface({ input: receiver.stdout! })
    const results: { kind: string; bytes: number; ms: number }[] = []
    let info: string | null = null
    const allDone = new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        const o = JSON.parse(line)
        if (info === null) {
          info = line
          const sender = spawn(
            process.execPath,
            [
              ...(process.env.BENCH_PROF
                ? ['--cpu-prof', '--cpu-prof-dir', `${process.env.BENCH_PROF}/s`]
                : []),
              PEER,
              'sender',
              bootstrap,
              file,
              String(ROUNDS),
              line,
            ],
            { stdio: ['ignore', 'ignore', 'inherit'] },
          )
          children.push(sender)
          return
        }
        results.push(o)
        if (results.length === 3 * ROUNDS) resolve()
      })
    })
    const { mkdir } = await import('node:fs/promises')
    await mkdir(inbox, { recursive: true })
    await allDone
    const mbps = (kind: string) =>
      percentile(
        results.filter((r) => r.kind === kind).map((r) => r.bytes / 1e6 / (r.ms / 1000)),
        50,
      )
    const raw = mbps('raw')
    const tls = mbps('tls')
    const parley = mbps('parley')
    console.log(
      `loopback, ${SIZE_BYTES / 2 ** 20} MiB per run, ${ROUNDS} runs each, two processes (sender, receiver); medians`,
    )
    console.log(`raw hyperdht stream     ${raw.toFixed(1)} MB/s`)
    console.log(`Node TLS 1.3 over TCP   ${tls.toFixed(1)} MB/s`)
    console.log(
      `parley transfer         ${parley.toFixed(1)} MB/s  (accept → file verified and in place, fsync included)`,
    )
    console.log(
      `ratio parley/raw ${(parley / raw).toFixed(2)}x (goal >= 0.90x), parley/TLS ${(parley / tls).toFixed(2)}x`,
    )
  } finally {
    for (const c of children) c.kill(process.env.BENCH_PROF ? 'SIGINT' : 'SIGTERM')
    await testnet.destroy()
    await dir.cleanup()
  }
}

async function writePayload(path: string, size: number): Promise<void> {
  const { randomBytes } = await import('node:crypto')
  const block = randomBytes(1024 * 1024)
  const h = await open(path, 'w')
  try {
    for (let off = 0; off < size; off += block.length) {
      block.writeUInt32LE(off / block.length, 0)
      await h.write(block, 0, Math.min(block.length, size - off), off)
    }
  } finally {
    await h.close()
  }
}
