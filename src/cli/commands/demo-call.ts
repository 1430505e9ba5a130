import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ApiEvent } from '../../api/index.js'
import type { CallStats } from '../../call/index.js'
import type { DaemonProcess } from '../../daemon/spawn.js'
import {
  alignSegments,
  FRAME_MS_DEFAULT,
  parseWav,
  SAMPLES_PER_MS,
  segmentSimilarity,
  speechLikeSignal,
  writeWav,
} from '../../media/index.js'

export interface RecordedCall {
  caller: CallStats
  callee: CallStats
  /** What the callee recorded (48 kHz mono). */
  recording: Int16Array
}

/** Resolves with the first event that matches; subscribe before acting. */
async function onEvent(d: DaemonProcess, match: (e: ApiEvent) => boolean) {
  let resolve!: (e: ApiEvent) => void
  const event = new Promise<ApiEvent>((r) => {
    resolve = r
  })
  const sub = await d.client.events((e) => {
    if (match(e)) resolve(e)
  })
  return { event: event.finally(() => sub.close()), close: () => sub.close() }
}

/**
 * `caller` calls `callee_id` playing `wav`; `callee` answers and records into
 * `record_path`. Resolves when both sides have ended (the caller hangs up at
 * the end of the file). Used by `parley demo` and `npm run bench -- call`.
 */
export async function recordedCall(
  caller: DaemonProcess,
  callee: DaemonProcess,
  callee_id: string,
  wav: string,
  record_path: string,
): Promise<RecordedCall> {
  const incoming = await onEvent(callee, (e) => e.type === 'call.incoming')
  const calleeEnded = await onEvent(callee, (e) => e.type === 'call.ended')
  const callerEnded = await onEvent(caller, (e) => e.type === 'call.ended')
  try {
    await caller.client.request(
      'POST',
      '/v1/calls',
      { id: callee_id, play: wav },
      { timeout_ms: 30_000 },
    )
    await incoming.event
    await callee.client.request('POST', '/v1/call/answer', { record: record_path })
    const [a, b] = await Promise.all([callerEnded.event, calleeEnded.event])
    return {
      caller: a.call as CallStats,
      callee: b.call as CallStats,
      recording: parseWav(await readFile(record_path)).samples,
    }
  } finally {
    incoming.close()
    calleeEnded.close()
    callerEnded.close()
  }
}

/** The demo's call step: speech from alice to bob; setup, delay, loss and MOS. */
export async function demoCall(
  alice: DaemonProcess,
  bob: DaemonProcess,
  bob_id: string,
  dir: string,
): Promise<{ ok: boolean; detail: string; report: Record<string, unknown> }> {
  const speech = speechLikeSignal(4000, 7)
  const wav = join(dir, 'speech.wav')
  await writeFile(wav, writeWav(speech))
  const r = await recordedCall(alice, bob, bob_id, wav, join(dir, 'bob-heard.wav'))
  const segments = alignSegments(speech, r.recording, 400 * SAMPLES_PER_MS)
  const similarity = segmentSimilarity(segments)
  const delays = segments.map((m) => m.delay_samples).sort((x, y) => x - y)
  // A microphone would add the frame it fills before the first packet goes out.
  const delay_ms = (delays[Math.floor(delays.length / 2)] ?? 0) / SAMPLES_PER_MS + FRAME_MS_DEFAULT
  const report = {
    call_setup_ms: r.caller.setup_ms,
    call_mouth_to_ear_ms: Math.round(delay_ms * 10) / 10,
    call_loss_percent_after_fec: r.callee.loss_percent_after_fec,
    call_mos: r.callee.mos,
    call_similarity: Math.round(similarity * 1000) / 1000,
  }
  return {
    ok: similarity >= 0.8,
    detail: `setup ${r.caller.setup_ms} ms, mouth-to-ear ${report.call_mouth_to_ear_ms} ms, loss after FEC ${r.callee.loss_percent_after_fec}%, MOS ${r.callee.mos}, recording similarity ${report.call_similarity}`,
    report,
  }
}
