import { tempDir } from '../test/helpers/cli.js'
import { findTurnserver, openCoturnSide } from './relay/coturn.js'
import { cpuBetween, pinToCpu, readCpu, readUdpDrops } from './relay/cpu.js'
import { PACKET_BYTES, PACKET_INTERVAL_MS } from './relay/flows.js'
import { openParleySide } from './relay/parley.js'
import type { RelayCapsArgs, RelaySide } from './relay/side.js'

const LOADS = (process.env.BENCH_RELAY_FLOWS ?? '10,50,100,200').split(',').map(Number)
const REPS = Number(process.env.BENCH_RELAY_REPS ?? 3)
const WINDOW_MS = Number(process.env.BENCH_RELAY_WINDOW_S ?? 4) * 1000
/** Flows run this long before the window opens (first packets, socket buffers). */
const WARM_MS = 500
/** After the senders stop, stragglers get this long before loss is counted. */
const DRAIN_MS = 300
const TARGET_RATIO = 1.2
/**
 * The target is per relay core, so each relay runs pinned to one CPU. The
 * load generators (this process) stay free: pinned to the other CPU alone,
 * Parley's encrypting generator saturates it at 200 flows and drops packets.
 */
const PIN = process.env.BENCH_RELAY_PIN !== '0'
const RELAY_CPU = 1

interface Sample {
  relayed_pps: number
  relay_cpu: number
  packets_per_cpu_s: number
  /** Share of the relay's CPU spent in the kernel (from /proc/<pid>/stat ticks). */
  system_share: number
  loss: number
  /** Datagrams the kernel dropped for full receive buffers during the step, at the relay / elsewhere. */
  drops_relay: number
  drops_others: number
  generator_cpu: number
}

/**
 * Voice-like flows (2 directions × 50 packets/s × 100 B) through one Parley
 * supernode's blind relay and through coturn on loopback, in the same run,
 * at several loads. Only the relay process's own CPU counts; the load
 * generators share the machine but not the measurement.
 */
export async function benchRelay(): Promise<void> {
  const flows_max = Math.max(...LOADS)
  const caps: RelayCapsArgs = {
    sessions_max: flows_max + 16,
    session_bytes_per_s_max: 256 * 1024,
    total_bytes_per_s_max: (flows_max + 16) * 256 * 1024,
  }
  const root = await tempDir('bench-relay')
  const sides: RelaySide[] = []
  try {
    const started_ms = performance.now()
    sides.push(await openParleySide(root.path, flows_max, caps))
    const turnserver = findTurnserver()
    if (turnserver === null) {
      console.log(
        'coturn column skipped: `turnserver` is not installed (Debian: apt-get install -y coturn)',
      )
    } else {
      sides.push(await openCoturnSide(turnserver, root.path, flows_max, caps))
    }
    for (const side of sides) console.log(`${side.name}: ${await side.describe()}`)
    const pinned = PIN && sides.every((s) => pinToCpu(s.pid, RELAY_CPU))
    console.log(
      pinned
        ? `each relay pinned to CPU ${RELAY_CPU}; load generators unpinned`
        : 'relays not pinned (needs 2 CPUs, taskset, BENCH_RELAY_PIN unset)',
    )
    console.log(
      `set up ${flows_max} flows per relay in ${((performance.now() - started_ms) / 1000).toFixed(1)} s; ` +
        `each flow 2 × ${1000 / PACKET_INTERVAL_MS} packets/s × ${PACKET_BYTES} B; ` +
        `${REPS} × ${WINDOW_MS / 1000} s windows per load, relays alternating; medians shown`,
    )
    const idle = new Map<string, number>()
    for (const side of sides) idle.set(side.name, (await measure(side, 0)).relay_cpu)
    console.log(
      `idle relay CPU (flows open, no packets): ${sides.map((s) => `${s.name} ${(idle.get(s.name)! * 100).toFixed(2)}%`).join(', ')}`,
    )
    const results = new Map<string, Sample[][]>(sides.map((s) => [s.name, []]))
    for (const flows of LOADS) {
      for (const side of sides) results.get(side.name)!.push([])
      for (let rep = 0; rep < REPS; rep++) {
        const order = rep % 2 === 0 ? sides : [...sides].reverse()
        for (const side of order)
          results
            .get(side.name)!
            .at(-1)!
            .push(await measure(side, flows))
      }
    }
    for (const side of sides) console.log(`${side.name}: ${await side.describe()}`)
    printTable(results)
  } finally {
    for (const side of sides) await side.close().catch(() => {})
    await root.cleanup()
  }
}

async function measure(side: RelaySide, flows: number): Promise<Sample> {
  const { driver, pid } = side
  const drops0 = readUdpDrops(pid)
  driver.start(flows)
  await sleep(WARM_MS)
  const cpu0 = readCpu(pid)
  const gen0 = process.cpuUsage()
  const rx0 = driver.received_total
  const t0 = performance.now()
  await sleep(WINDOW_MS)
  const cpu1 = readCpu(pid)
  const gen = process.cpuUsage(gen0)
  const rx1 = driver.received_total
  const window_s = (performance.now() - t0) / 1000
  driver.stop()
  await sleep(DRAIN_MS)
  const { sent, received } = driver.counts()
  const drops1 = readUdpDrops(pid)
  const relay_cpu_s = cpuBetween(cpu0, cpu1)
  return {
    relayed_pps: (rx1 - rx0) / window_s,
    relay_cpu: relay_cpu_s / window_s,
    packets_per_cpu_s: (rx1 - rx0) / relay_cpu_s,
    system_share: (cpu1.system_s - cpu0.system_s) / Math.max(1e-9, cpu1.stat_s - cpu0.stat_s),
    loss: sent === 0 ? 0 : Math.max(0, sent - received) / sent,
    drops_relay: drops1.relay - drops0.relay,
    drops_others: drops1.others - drops0.others,
    generator_cpu: (gen.user + gen.system) / 1e6 / window_s,
  }
}

function printTable(results: Map<string, Sample[][]>): void {
  const header =
    'flows  relay   offered pkt/s  relayed pkt/s  relay CPU  (kernel)  pkt per CPU-s  us/pkt   loss  drops relay/gen  generator CPU'
  console.log(header)
  const ratios: number[] = []
  LOADS.forEach((flows, i) => {
    const perSide = new Map<string, number>()
    for (const [name, byLoad] of results) {
      const samples = byLoad[i]!
      const m = (f: (s: Sample) => number) => median(samples.map(f))
      const perCpu = m((s) => s.packets_per_cpu_s)
      perSide.set(name, perCpu)
      console.log(
        [
          String(flows).padStart(5),
          name.padEnd(6),
          String(flows * 2 * (1000 / PACKET_INTERVAL_MS)).padStart(14),
          m((s) => s.relayed_pps)
            .toFixed(0)
            .padStart(14),
          `${(m((s) => s.relay_cpu) * 100).toFixed(1)}%`.padStart(10),
          `${(m((s) => s.system_share) * 100).toFixed(0)}%`.padStart(9),
          perCpu.toFixed(0).padStart(14),
          (1e6 / perCpu).toFixed(2).padStart(7),
          `${(m((s) => s.loss) * 100).toFixed(2)}%`.padStart(7),
          `${m((s) => s.drops_relay)}/${m((s) => s.drops_others)}`.padStart(16),
          `${(m((s) => s.generator_cpu) * 100).toFixed(0)}%`.padStart(14),
        ].join(' '),
      )
    }
    const parley = perSide.get('parley')
    const coturn = perSide.get('coturn')
    if (parley !== undefined && coturn !== undefined) {
      ratios.push(parley / coturn)
      // Each repetition measured both relays back to back: their ratios show the noise.
      const paired = results
        .get('parley')!
        [i]!.map(
          (p, rep) => p.packets_per_cpu_s / results.get('coturn')![i]![rep]!.packets_per_cpu_s,
        )
      console.log(
        `${''.padStart(13)}ratio parley/coturn: ${(parley / coturn).toFixed(2)}x (per repetition: ${paired.map((r) => r.toFixed(2)).join(', ')})`,
      )
    }
  })
  if (ratios.length > 0) {
    console.log(
      `relayed packets per CPU-second, parley/coturn: ${ratios.map((r) => `${r.toFixed(2)}x`).join(', ')} ` +
        `at ${LOADS.join(', ')} flows; at ${LOADS.at(-1)} flows ${ratios.at(-1)!.toFixed(2)}x ` +
        `(target >= ${TARGET_RATIO}x)`,
    )
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
