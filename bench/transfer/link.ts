import { join } from 'node:path'
import type { TransferView } from '../../src/transfer/index.js'
import { writeDistinctChunks } from '../../test/helpers/files.js'
import { type LabHost, NatLab } from '../../test/natlab/lab.js'
import { execIn, labUnavailableReason, run } from '../../test/natlab/netns.js'

const LINK_MBIT = Number(process.env.BENCH_LINK_MBIT ?? 100)
const LINK_BYTES = Number(process.env.BENCH_LINK_BYTES ?? 100 * 1024 * 1024)
const LINK_ROUNDS = Number(process.env.BENCH_LINK_ROUNDS ?? 3)

/**
 * Parley on a rate-limited link: two real daemons in network namespaces of
 * the NAT lab (open hosts, each behind its own router), the sender's router
 * shaping everything it forwards to the public segment with `tc tbf` at
 * LINK_MBIT. Throughput is the receiver's own clock: offer received
 * (auto-accepted) → file verified, fsynced and in place.
 */
export async function benchRateLimitedLink(): Promise<void> {
  const reason = labUnavailableReason() ?? (await tcMissing())
  if (reason !== null) {
    console.log(`rate-limited link: skipped (${reason})`)
    return
  }
  const lab = await NatLab.create({ proxy: false })
  try {
    const alice = await lab.addHost('alice', 'open')
    const bob = await lab.addHost('bob', 'open')
    await lab.startDaemon(alice)
    await lab.startDaemon(bob, ['--auto-accept-from', alice.id])
    const file = join(lab.dir, 'link.bin')
    await writeDistinctChunks(file, LINK_BYTES)
    const link_bytes_per_s = (LINK_MBIT * 1e6) / 8
    // The queue a router keeps before it drops: a deep one, then a shallow one
    // (loss-based congestion control backs off more on the shallow one).
    for (const queue_ms of [200, 50]) {
      const tbf = ['rate', `${LINK_MBIT}mbit`, 'burst', '128kb', 'latency', `${queue_ms}ms`]
      await execIn(alice.router_ns, 'tc', ['qdisc', 'replace', 'dev', 'wan', 'root', 'tbf', ...tbf])
      const rates = await transfers(lab, alice, bob, file)
      const median = rates[Math.floor(rates.length / 2)]!
      const pct = (r: number) => ((r / link_bytes_per_s) * 100).toFixed(1)
      console.log(
        `rate-limited link (tc tbf ${LINK_MBIT} Mbit/s, ${queue_ms} ms queue, between two namespaces), ${LINK_BYTES >> 20} MiB, ${LINK_ROUNDS} runs: parley median ${(median / 1e6).toFixed(2)} MB/s = ${pct(median)}% of the link (goal >= 90%); runs ${rates.map(pct).join(', ')}%`,
      )
    }
  } finally {
    await lab.close()
  }
}

/** LINK_ROUNDS transfers alice → bob; each one's rate (bytes/s, receiver's clock), sorted. */
async function transfers(lab: NatLab, alice: LabHost, bob: LabHost, file: string) {
  const rates: number[] = []
  for (let i = 0; i < LINK_ROUNDS; i++) {
    const sent = await lab.cli(alice, ['send-file', bob.id, file, '--detach'])
    if (sent.code !== 0) throw new Error(`send-file failed: ${sent.stderr}`)
    const id = (JSON.parse(sent.stdout) as TransferView).id
    const done = await waitForEnd(lab, bob, id)
    if (done.state !== 'completed')
      throw new Error(`transfer ${done.state}: ${done.error?.message}`)
    rates.push(done.size / ((done.finished_at_ms! - done.created_at_ms) / 1000))
  }
  return rates.sort((a, b) => a - b)
}

async function waitForEnd(lab: NatLab, host: LabHost, id: string): Promise<TransferView> {
  for (let tries = 0; tries < 600; tries++) {
    const r = await lab.cli(host, ['transfers'])
    if (r.code === 0) {
      const { transfers } = JSON.parse(r.stdout) as { transfers: TransferView[] }
      const t = transfers.find((v) => v.id === id)
      if (t !== undefined && t.finished_at_ms !== null) return t
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  throw new Error(`transfer ${id} did not finish in 10 minutes`)
}

async function tcMissing(): Promise<string | null> {
  try {
    await run('tc', ['-V'])
    return null
  } catch {
    return 'needs `tc` (apt-get install iproute2)'
  }
}
