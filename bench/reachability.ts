import { fileURLToPath } from 'node:url'
import { percentile } from '../src/util/stats.js'
import { type LabHost, NatLab } from '../test/natlab/lab.js'
import { labUnavailableReason } from '../test/natlab/netns.js'
import { jsonDocument } from '../test/natlab/procs.js'
import type { HostKind } from '../test/natlab/routers.js'

// `npm run bench -- reachability` (root): every ordered pair of the NAT lab's
// five host kinds, with delay on every router, connects with `parley ping`
// (fresh daemons each round) beside plain hyperdht without relays between
// the same two hosts. Goal (issue 3): every pair ≤ 250 ms p50.

const ALL_KINDS: readonly HostKind[] = ['open', 'cone', 'symmetric', 'udp-blocked', 'proxy-only']
/** `BENCH_REACH_KINDS=open,udp-blocked` limits the run to some kinds. */
const KINDS = (process.env.BENCH_REACH_KINDS?.split(',') as HostKind[] | undefined) ?? ALL_KINDS
const ROUNDS = Number(process.env.BENCH_REACH_ROUNDS ?? 5)
/** Per router and direction: two home hosts see +40 ms RTT, a home host and a server +20 ms. */
const ONE_WAY_MS = Number(process.env.BENCH_REACH_DELAY_MS ?? 10)
const GOAL_P50_MS = 250
const RAW_PEER = fileURLToPath(new URL('./reachability/raw-peer.js', import.meta.url))
const udp = (k: HostKind) => k === 'open' || k === 'cone' || k === 'symmetric'

interface Cell {
  parley: number[]
  paths: Set<string>
  rtt: number[]
  failures: number
  /** Pings that found a session already open (not a connect): left out of the times. */
  reused: number
  raw: (number | null)[]
}

export async function benchReachability(): Promise<void> {
  const unavailable = labUnavailableReason()
  if (unavailable !== null) {
    console.log(`reachability: skipped: ${unavailable}`)
    return
  }
  const lab = await NatLab.create({})
  try {
    await lab.addSupernode()
    const from = new Map<HostKind, LabHost>()
    const to = new Map<HostKind, LabHost>()
    for (const k of KINDS) {
      from.set(k, await lab.addHost(`${k}-a`, k))
      to.set(k, await lab.addHost(`${k}-b`, k))
    }
    await lab.setDelay('all', ONE_WAY_MS)
    await Promise.all(lab.hosts.map((h) => lab.startDaemon(h)))
    const cells = new Map<string, Cell>()
    const cell = (a: HostKind, b: HostKind) => {
      const key = `${a}>${b}`
      let c = cells.get(key)
      if (c === undefined) {
        c = { parley: [], paths: new Set(), rtt: [], failures: 0, reused: 0, raw: [] }
        cells.set(key, c)
      }
      return c
    }
    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0) {
        // Fresh daemons on the dialling side: no session survives into the next round.
        const dialers = [...from.values()]
        await Promise.all(dialers.map((h) => lab.stopDaemon(h)))
        await Promise.all(dialers.map((h) => lab.startDaemon(h)))
      }
      for (const a of KINDS) {
        for (const b of KINDS) {
          const r = await lab.cli(from.get(a)!, ['ping', to.get(b)!.id, '--count', '3'], 25_000)
          const c = cell(a, b)
          if (r.code !== 0) {
            c.failures++
            console.log(`  ${a} → ${b} failed: ${r.stderr.trim().slice(0, 300)}`)
            continue
          }
          const out = JSON.parse(r.stdout) as {
            path: string
            connect_ms: number
            rtt_ms: number
            reused_session: boolean
          }
          if (out.reused_session) {
            const st = await lab.cli(from.get(a)!, ['status'])
            const peer = (
              JSON.parse(st.stdout) as { peers: { id: string; initiator: boolean }[] }
            ).peers.find((p) => p.id === to.get(b)!.id)
            console.log(
              `  ${a} → ${b}: session already open (dialled by ${peer?.initiator ? 'us' : 'them'})`,
            )
            c.reused++
            continue
          }
          c.parley.push(out.connect_ms)
          c.paths.add(out.path)
          c.rtt.push(out.rtt_ms)
        }
      }
      process.stdout.write(`  round ${round + 1}/${ROUNDS} done\n`)
    }
    // Plain hyperdht, no relay: a server on each UDP host of the pinged side.
    const bootstrap = lab.bootstrap
    for (const b of KINDS.filter(udp)) {
      const server = await lab.start(
        `raw-${b}`,
        to.get(b)!.ns,
        [RAW_PEER, 'server', bootstrap],
        (o) => jsonDocument<{ key: string }>(o),
      )
      for (const a of KINDS.filter(udp)) {
        const args = [RAW_PEER, 'client', bootstrap, server.key, String(ROUNDS)]
        const out = await lab.start(`raw-${a}-${b}`, from.get(a)!.ns, args, (o) =>
          jsonDocument<{ times: (number | null)[] }>(o),
        )
        cell(a, b).raw.push(...out.times)
      }
    }
    report(cells)
  } finally {
    await lab.close()
  }
}

function report(cells: Map<string, Cell>): void {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0).padStart(5) : '    -')
  console.log(
    `NAT lab, ${ONE_WAY_MS} ms per router and direction (home↔home RTT +${4 * ONE_WAY_MS} ms), ${ROUNDS} fresh connects per pair; ms`,
  )
  console.log(
    `${'pair'.padEnd(26)}${'parley p50'.padStart(11)}${'p95'.padStart(6)}  ${'path'.padEnd(16)}${'rtt p50'.padStart(8)}${'hyperdht p50'.padStart(14)}${'p95'.padStart(6)}${'ok'.padStart(6)}   ratio`,
  )
  let worst = 0
  for (const [key, c] of cells) {
    const [a, b] = key.split('>')
    const p50 = percentile(c.parley, 50)
    worst = Math.max(worst, Number.isFinite(p50) ? p50 : Infinity)
    const raw = c.raw.filter((t): t is number => t !== null)
    const rawP50 = percentile(raw, 50)
    const ratio =
      Number.isFinite(rawP50) && Number.isFinite(p50) ? `${(p50 / rawP50).toFixed(2)}x` : '-'
    const failed =
      (c.failures > 0 ? ` (${c.failures} failed)` : '') +
      (c.reused > 0 ? ` (${c.reused} reused)` : '')
    console.log(
      `${`${a} → ${b}`.padEnd(26)}${f(p50).padStart(11)}${f(percentile(c.parley, 95))}  ${[...c.paths].join('+').padEnd(16)}${f(percentile(c.rtt, 50)).padStart(8)}${f(rawP50).padStart(14)}${f(percentile(raw, 95))}${`${raw.length}/${c.raw.length}`.padStart(6)}   ${ratio}${failed}`,
    )
  }
  console.log(
    `worst pair p50: ${worst.toFixed(0)} ms (goal <= ${GOAL_P50_MS} ms: ${worst <= GOAL_P50_MS ? 'met' : 'NOT met'}); hyperdht "ok" counts connects that opened without a relay`,
  )
}
