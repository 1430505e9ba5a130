import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CallStats } from '../src/call/index.js'
import { recordedCall } from '../src/cli/commands/demo-call.js'
import { type DaemonProcess, spawnDaemon } from '../src/daemon/spawn.js'
import {
  alignSegments,
  CODEC_LOOKAHEAD_MS,
  estimateMos,
  FRAME_MS_DEFAULT,
  SAMPLES_PER_MS,
  segmentSimilarity,
  speechLikeSignal,
  writeWav,
} from '../src/media/index.js'
import { type HostPort, startTestnet } from '../src/net/index.js'
import { percentile } from '../src/util/stats.js'
import { initUsers, tempDir } from '../test/helpers/cli.js'
import { type MediaPathConditions, simulateCall } from '../test/sim/media-channel.js'
import { Sim } from '../test/sim/sim.js'

const WARM_CALLS = Number(process.env.BENCH_WARM_CALLS ?? 10)
const COLD_CALLS = Number(process.env.BENCH_COLD_CALLS ?? 3)
const CALL_S = Number(process.env.BENCH_CALL_S ?? 10)
const SEEDS = Number(process.env.BENCH_SEEDS ?? 5)

/**
 * Calls between real daemons on a loopback testnet: setup (dial → ringing)
 * cold and warm, mouth-to-ear delay beside the floor, CPU per call; then
 * quality at 0/5/15% loss over the seeded channel model.
 */
export async function benchCall(): Promise<void> {
  const testnet = await startTestnet({ host: '127.0.0.1', nodes: 3 })
  const root = await tempDir('bench-call')
  try {
    const bootstrap = testnet.bootstrap
    const speech = speechLikeSignal(CALL_S * 1000, 3)
    const wav = join(root.path, 'speech.wav')
    await writeFile(wav, writeWav(speech))
    const short = join(root.path, 'short.wav')
    await writeFile(short, writeWav(speechLikeSignal(2000, 4)))

    const cold: number[] = []
    const warm: number[] = []
    for (let i = 0; i < COLD_CALLS; i++) {
      const pair = await startPair(join(root.path, `pair${i}`), bootstrap)
      try {
        cold.push(await setupOnce(pair, short))
        if (i === 0) for (let k = 0; k < WARM_CALLS; k++) warm.push(await setupOnce(pair, short))
        if (i === 0) {
          // The first call with media makes V8 optimise libopus's WASM in background
          // threads, a one-time cost per process: warm up before measuring.
          await delayAndCpu(pair, short, speechLikeSignal(2000, 4), root.path, false)
          await delayAndCpu(pair, wav, speech, root.path, true)
        }
      } finally {
        await pair.stop()
      }
    }
    console.log(
      `call setup, dial → ringing (loopback testnet): cold p50 ${f(percentile(cold, 50))} ms (n=${cold.length}), warm p50 ${f(percentile(warm, 50))} ms p95 ${f(percentile(warm, 95))} ms (n=${warm.length})`,
    )
    console.log(
      `  beside: Skype ~seconds, ICE typically 1000-3000 ms; targets warm <= 300 ms (${f(percentile(warm, 50) / 300)}x of it), cold <= 1500 ms (${f(percentile(cold, 50) / 1500)}x)`,
    )
  } finally {
    await root.cleanup()
    await testnet.destroy()
  }
  quality()
}

interface Pair {
  alice: DaemonProcess
  bob: DaemonProcess
  bobId: string
  stop(): Promise<void>
}

async function startPair(dir: string, bootstrap: HostPort[]): Promise<Pair> {
  const ids = await initUsers(dir, ['alice', 'bob'])
  const args = ['--bootstrap', bootstrap.map((b) => `${b.host}:${b.port}`).join(','), '--port', '0']
  const alice = await spawnDaemon({ home: join(dir, 'alice'), args })
  const bob = await spawnDaemon({ home: join(dir, 'bob'), args })
  return {
    alice,
    bob,
    bobId: ids.bob!,
    stop: async () => {
      await Promise.all([alice.stop(), bob.stop()])
    },
  }
}

/** Waits for one event that matches; resolves with it. */
async function nextEvent(
  d: DaemonProcess,
  match: (e: Record<string, any>) => boolean,
): Promise<{ event: Promise<Record<string, any>>; close(): void }> {
  let resolve!: (e: Record<string, any>) => void
  const event = new Promise<Record<string, any>>((r) => {
    resolve = r
  })
  const sub = await d.client.events((e) => {
    if (match(e)) resolve(e)
  })
  return { event, close: () => sub.close() }
}

/** One call that is cancelled as soon as it rings: returns the daemon's dial → ringing time. */
async function setupOnce(pair: Pair, wav: string): Promise<number> {
  const ringing = await nextEvent(
    pair.alice,
    (e) => e.type === 'call.state' && e.call.state === 'ringing',
  )
  const ended = await nextEvent(pair.alice, (e) => e.type === 'call.ended')
  try {
    await pair.alice.client.request(
      'POST',
      '/v1/calls',
      { id: pair.bobId, play: wav },
      { timeout_ms: 30_000 },
    )
    const e = await ringing.event
    await pair.alice.client.request('POST', '/v1/call/hangup', {})
    await ended.event
    return (e.call as CallStats).setup_ms!
  } finally {
    ringing.close()
    ended.close()
  }
}

/** CPU time (user + system) of a process from /proc, in ms. */
async function cpu_ms(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

async function delayAndCpu(
  pair: Pair,
  wav: string,
  speech: Int16Array,
  dir: string,
  report: boolean,
): Promise<void> {
  const pids = [pair.alice.child.pid!, pair.bob.child.pid!]
  const idle0 = await Promise.all(pids.map(cpu_ms))
  await new Promise((r) => setTimeout(r, report ? CALL_S * 1000 : 0))
  const idle1 = await Promise.all(pids.map(cpu_ms))
  const t0 = Date.now()
  const c0 = await Promise.all(pids.map(cpu_ms))
  const call = await recordedCall(
    pair.alice,
    pair.bob,
    pair.bobId,
    wav,
    join(dir, 'bench-recording.wav'),
  )
  const c1 = await Promise.all(pids.map(cpu_ms))
  const wall_ms = Date.now() - t0
  const stats = call.callee
  if (!report) return
  const rec = call.recording
  const segments = alignSegments(speech, rec, 400 * SAMPLES_PER_MS)
  // The recording starts when bob answers; alice starts sending one signalling trip later,
  // so the aligned delay is jitter buffer + codec + network; a microphone adds the frame.
  const delays = segments.map((m) => m.delay_samples / SAMPLES_PER_MS + FRAME_MS_DEFAULT)
  const floor = FRAME_MS_DEFAULT + CODEC_LOOKAHEAD_MS
  const p50 = percentile(delays, 50)
  console.log(
    `mouth-to-ear on loopback (${CALL_S} s call, ${delays.length} speech segments aligned): p50 ${f(p50)} ms  p95 ${f(percentile(delays, 95))} ms; floor (20 ms frame + 6.5 ms Opus lookahead) ${f(floor)} ms; added beyond the floor p50 ${f(p50 - floor)} ms; target <= 60 ms total (${f(p50 / 60)}x)`,
  )
  console.log(
    `  callee stats: concealed ${stats.concealed_frames}, late ${stats.late_packets}, loss after FEC ${stats.loss_percent_after_fec}%, jitter ${stats.jitter_ms} ms, buffer ${stats.jitter_buffer_ms} ms, MOS ${stats.mos}; similarity (median segment correlation) ${f(segmentSimilarity(segments))}`,
  )
  const callCpu = c1[0]! - c0[0]! + (c1[1]! - c0[1]!)
  const idleCpu = ((idle1[0]! - idle0[0]! + (idle1[1]! - idle0[1]!)) * wall_ms) / (CALL_S * 1000)
  const perCall_pct = ((callCpu - idleCpu) / 2 / wall_ms) * 100
  console.log(
    `CPU per call (one daemon's share, idle subtracted): ${f(perCall_pct)}% of a core (${f((callCpu - idleCpu) / 2 / (wall_ms / 1000))} ms per call-second); Opus encode+decode alone ≈ 0.73%`,
  )
}

function quality(): void {
  const cases: [string, MediaPathConditions][] = [
    ['0% loss', { delay_ms: 20, jitter_ms: 30, loss: { kind: 'none' } }],
    ['5% random', { delay_ms: 20, jitter_ms: 30, loss: { kind: 'random', rate: 0.05 } }],
    [
      '15% bursty',
      { delay_ms: 20, jitter_ms: 30, loss: { kind: 'bursty', rate: 0.15, burst_mean: 2.5 } },
    ],
  ]
  console.log(
    `quality over the seeded channel (20 ms + 0-30 ms jitter), ${SEEDS} seeds × 8 s, medians:`,
  )
  for (const [name, cond] of cases) {
    const runs = Array.from({ length: SEEDS }, (_, i) => simulateCall(new Sim(i + 1), cond))
    const med = (g: (r: (typeof runs)[number]) => number) => percentile(runs.map(g), 50)
    const lost = med((r) => r.loss_percent_after_fec)
    const delay = med((r) => r.delay_ms)
    console.log(
      `  ${name.padEnd(11)} network loss ${f(med((r) => r.loss_percent_before_fec))}%  lost after FEC/PLC ${f(lost)}% (goal < 1% at 5%)  delay ${f(delay)} ms  envelope similarity ${f(med((r) => r.envelope_correlation))}  MOS ${f(estimateMos(delay + FRAME_MS_DEFAULT, lost))}`,
    )
  }
}

const f = (x: number) => x.toFixed(2)
