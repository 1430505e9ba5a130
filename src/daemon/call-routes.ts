import { constants } from 'node:fs'
import { access, readFile, rename, writeFile } from 'node:fs/promises'
import { delimiter, isAbsolute, join } from 'node:path'
import type { Route } from '../api/index.js'
import {
  type AudioSink,
  type AudioSource,
  type Call,
  type CallAudio,
  type CallStats,
  NullSink,
  RecordingSink,
  SamplesSource,
  SilenceSource,
  SoxSink,
  SoxSource,
} from '../call/index.js'
import { decodeId } from '../identity/index.js'
import { SAMPLE_RATE_HZ, WavError, wavTo48k, writeWav } from '../media/index.js'
import { ParleyError } from '../util/errors.js'
import type { Daemon } from './daemon.js'

/** Recordings stop growing after 30 minutes (~173 MB of WAV). */
export const RECORDING_SECONDS_MAX = 30 * 60

const PATH_FIELD = (what: string) => ({
  type: 'string' as const,
  max_length: 4096,
  description: `absolute path of the WAV file to ${what}`,
})

const recordings = new WeakMap<Call, { sink: RecordingSink; path: string }>()

/** Broadcasts call events on the API and writes recordings when calls end. */
export function watchCalls(daemon: Daemon): void {
  const calls = daemon.calls
  calls.on('call', (call: Call) => {
    call.on('state', () => {
      if (call.state !== 'ended') daemon.api?.broadcast({ type: 'call.state', call: call.stats() })
    })
    call.on('stats', (stats: CallStats) =>
      daemon.api?.broadcast({ type: 'call.stats', call: stats }),
    )
    call.once('ended', (stats: CallStats) => void finishCall(daemon, call, stats))
  })
  calls.on('incoming', (call: Call) => {
    daemon.api?.broadcast({ type: 'call.incoming', call: call.stats() })
  })
}

async function finishCall(daemon: Daemon, call: Call, stats: CallStats): Promise<void> {
  let recording: string | null = null
  let recording_error: string | null = null
  const rec = recordings.get(call)
  if (rec !== undefined) {
    try {
      const tmp = `${rec.path}.parley-tmp`
      await writeFile(tmp, writeWav(rec.sink.samples(), SAMPLE_RATE_HZ))
      await rename(tmp, rec.path)
      recording = rec.path
    } catch (err) {
      recording_error = `could not write ${rec.path}: ${(err as Error).message}`
    }
  }
  daemon.api?.broadcast({ type: 'call.ended', call: stats, recording, recording_error })
}

async function audioFor(
  daemon: Daemon,
  body: Record<string, unknown>,
  hangupAtEnd: boolean,
): Promise<{ audio: CallAudio; record: { sink: RecordingSink; path: string } | null }> {
  const play = body.play as string | undefined
  const record = body.record as string | undefined
  for (const p of [play, record]) {
    if (p !== undefined && !isAbsolute(p)) {
      throw new ParleyError('BAD_REQUEST', `audio file paths must be absolute: ${p}`)
    }
  }
  // sox failing mid-call (no device) ends the call; requireSox catches the usual case first.
  const onError = () => daemon.calls.active?.hangup()
  const live = play === undefined && record === undefined
  if (live) await requireSox()
  let source: AudioSource
  if (play !== undefined) {
    let bytes: Buffer
    try {
      bytes = await readFile(play)
    } catch (err) {
      throw new ParleyError('BAD_REQUEST', `cannot read ${play}: ${(err as Error).message}`)
    }
    try {
      source = new SamplesSource(wavTo48k(bytes))
    } catch (err) {
      if (err instanceof WavError) throw new ParleyError('BAD_REQUEST', `${play}: ${err.message}`)
      throw err
    }
  } else {
    source = live ? new SoxSource(onError) : new SilenceSource()
  }
  let sink: AudioSink = live ? new SoxSink(onError) : new NullSink()
  let rec: { sink: RecordingSink; path: string } | null = null
  if (record !== undefined) {
    rec = { sink: new RecordingSink(RECORDING_SECONDS_MAX * SAMPLE_RATE_HZ), path: record }
    sink = rec.sink
  }
  return { audio: { source, sink, hangupAtEnd: hangupAtEnd && play !== undefined }, record: rec }
}

async function requireSox(): Promise<void> {
  for (const tool of ['rec', 'play']) {
    const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '')
    let found = false
    for (const d of dirs) {
      try {
        await access(join(d, tool), constants.X_OK)
        found = true
        break
      } catch {
        // not in this directory
      }
    }
    if (!found) {
      throw new ParleyError(
        'NO_AUDIO_DEVICE',
        `live audio needs sox's \`${tool}\` on PATH and a sound device; install sox (apt-get install sox) or use --play F.wav / --record F.wav`,
      )
    }
  }
}

function remember(call: Call, rec: { sink: RecordingSink; path: string } | null): void {
  if (rec === null) return
  recordings.set(call, rec)
}

function current(daemon: Daemon): Call {
  const call = daemon.calls.active
  if (call === null) throw new ParleyError('CALL_NOT_FOUND', 'there is no call in progress')
  return call
}

export function buildCallRoutes(daemon: Daemon): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/calls',
      body: {
        id: {
          type: 'string',
          required: true,
          max_length: 128,
          description: 'the Parley ID to call',
        },
        play: PATH_FIELD('play into the call (the call ends with it)'),
        record: PATH_FIELD('record the call into'),
      },
      handler: async (body, signal) => {
        const identity = decodeId(String(body.id))
        const { audio, record } = await audioFor(daemon, body, true)
        const call = await daemon.calls.dial(identity, audio, { signal })
        remember(call, record)
        return call.stats()
      },
    },
    {
      method: 'POST',
      path: '/v1/call/answer',
      body: {
        play: PATH_FIELD('play into the call (the call ends with it)'),
        record: PATH_FIELD('record the call into'),
      },
      handler: async (body) => {
        const { audio, record } = await audioFor(daemon, body, true)
        const call = daemon.calls.answer(audio)
        remember(call, record)
        return call.stats()
      },
    },
    {
      method: 'POST',
      path: '/v1/call/hangup',
      body: {},
      handler: async () => daemon.calls.hangup(),
    },
    {
      method: 'POST',
      path: '/v1/call/hold',
      body: {
        on: { type: 'boolean', required: true, description: 'true to hold, false to resume' },
      },
      handler: async (body) => {
        const call = current(daemon)
        call.hold(body.on === true)
        return call.stats()
      },
    },
    {
      method: 'POST',
      path: '/v1/call/mute',
      body: {
        on: { type: 'boolean', required: true, description: 'true to mute, false to unmute' },
      },
      handler: async (body) => {
        const call = current(daemon)
        call.mute(body.on === true)
        return call.stats()
      },
    },
    {
      method: 'GET',
      path: '/v1/call',
      handler: async () => ({
        active: daemon.calls.active?.stats() ?? null,
        recent: daemon.calls.ended.slice(-5),
        counters: daemon.calls.counters.toJSON(),
      }),
    },
  ]
}
