import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ApiClient, type ApiEvent } from '../../api/index.js'
import type { CallStats } from '../../call/index.js'
import { decodeId } from '../../identity/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'

export interface CallFlags {
  play?: string
  record?: string
  auto?: boolean
}

/** How long `parley call` waits for the daemon to place the call (the session connect). */
const DIAL_TIMEOUT_MS = 30_000

/**
 * CONTACT → Parley ID. Today a CONTACT is an ID; contact names (issue 4) plug
 * in here.
 */
export async function resolveContact(_home: string, contact: string): Promise<string> {
  decodeId(contact) // a typo gets a clear message before we bother the daemon
  return contact.trim().toLowerCase()
}

export async function cmdCall(
  home: string,
  contact: string | undefined,
  flags: CallFlags,
  out: Output,
) {
  if (contact === undefined) {
    throw new ParleyError('USAGE', 'usage: parley call CONTACT [--play F.wav] [--record F.wav]')
  }
  const id = await resolveContact(home, contact)
  const files = await audioFiles(flags)
  const client = await ApiClient.fromHome(home)
  const session = await watch(client, out)
  try {
    const placed = await client.request<CallStats>(
      'POST',
      '/v1/calls',
      { id, ...files },
      {
        timeout_ms: DIAL_TIMEOUT_MS,
      },
    )
    out.info(`calling ${id.slice(0, 12)}… (${placed.path})`)
    return finish(await session.until(placed.call_id, client), out)
  } finally {
    session.close()
  }
}

export async function cmdAnswer(home: string, flags: CallFlags, out: Output) {
  const files = await audioFiles(flags)
  const client = await ApiClient.fromHome(home)
  const session = await watch(client, out)
  try {
    let ringing = await ringingCall(client)
    if (ringing === null) {
      if (flags.auto !== true) {
        throw new ParleyError(
          'CALL_NOT_FOUND',
          'no call is ringing; `parley answer --auto` waits for the next one',
        )
      }
      out.info('waiting for a call…')
      ringing = await session.nextIncoming()
    }
    const answered = await client.request<CallStats>('POST', '/v1/call/answer', files)
    out.info(`answered ${ringing.peer.slice(0, 12)}…`)
    return finish(await session.until(answered.call_id, client), out)
  } finally {
    session.close()
  }
}

export async function cmdHangup(home: string, out: Output) {
  const client = await ApiClient.fromHome(home)
  const stats = await client.request<CallStats>('POST', '/v1/call/hangup', {})
  out.result(stats, `hung up the call with ${stats.peer}`)
}

async function ringingCall(client: ApiClient): Promise<CallStats | null> {
  const r = await client.request<{ active: CallStats | null }>('GET', '/v1/call')
  const a = r.active
  return a !== null && a.direction === 'incoming' && a.state === 'ringing' ? a : null
}

async function audioFiles(flags: CallFlags): Promise<{ play?: string; record?: string }> {
  const files: { play?: string; record?: string } = {}
  if (flags.play !== undefined) {
    files.play = resolve(flags.play)
    try {
      await access(files.play, constants.R_OK)
    } catch {
      throw new ParleyError('USAGE', `cannot read ${flags.play}: give a WAV file to --play`)
    }
  }
  if (flags.record !== undefined) files.record = resolve(flags.record)
  return files
}

interface Ended {
  call: CallStats
  recording: string | null
  recording_error: string | null
}

/** Subscribes before acting, so no event is missed; live stats go to stderr. */
async function watch(client: ApiClient, out: Output) {
  const ended = new Map<string, Ended>()
  const waiters: (() => void)[] = []
  let incoming: CallStats | null = null
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  const sub = await client.events((e: ApiEvent) => {
    if (e.type === 'call.ended')
      ended.set((e as unknown as Ended).call.call_id, e as unknown as Ended)
    if (e.type === 'call.incoming') incoming = (e as unknown as { call: CallStats }).call
    if (e.type === 'call.state') {
      const c = (e as unknown as { call: CallStats }).call
      out.info(`call ${c.state}${c.hold ? ' (on hold)' : ''}`)
    }
    if (e.type === 'call.stats' && !out.json)
      out.info(statsLine((e as unknown as { call: CallStats }).call))
    wake()
  })
  const wait = () => new Promise<void>((r) => waiters.push(r))
  let hangingUp = false
  return {
    close: () => sub.close(),
    async nextIncoming(): Promise<CallStats> {
      while (incoming === null) await wait()
      return incoming
    },
    async until(call_id: string, c: ApiClient): Promise<Ended> {
      // Ctrl-C hangs up and still prints the summary.
      const onSigint = () => {
        if (hangingUp) process.exit(130)
        hangingUp = true
        c.request('POST', '/v1/call/hangup', {}).catch(() => {})
      }
      process.on('SIGINT', onSigint)
      try {
        while (!ended.has(call_id)) await wait()
        return ended.get(call_id)!
      } finally {
        process.off('SIGINT', onSigint)
      }
    },
  }
}

function statsLine(c: CallStats): string {
  return [
    `rtt ${c.rtt_ms ?? '-'} ms`,
    `loss ${c.loss_percent_before_fec}% → ${c.loss_percent_after_fec}% after FEC`,
    `jitter ${c.jitter_ms} ms`,
    `buffer ${c.jitter_buffer_ms} ms`,
    `concealed ${c.concealed_frames}`,
    `${Math.round(c.bitrate_bps / 1000)} kbit/s`,
    `mouth-to-ear ${c.mouth_to_ear_ms ?? '-'} ms`,
    `MOS ${c.mos ?? '-'}`,
  ].join(' · ')
}

function finish(e: Ended, out: Output): void {
  const c = e.call
  const summary = { ...c, recording: e.recording }
  const connected = c.answer_ms !== null
  if (e.recording_error !== null) throw new ParleyError('INTERNAL', e.recording_error)
  if (!connected) {
    if (out.json) out.result(summary, '')
    throw new ParleyError(
      'CALL_NOT_FOUND',
      `the call did not connect: ${c.end_reason?.replace('_', ' ')}`,
    )
  }
  out.result(
    summary,
    [
      `call with ${c.peer} ended (${c.end_reason?.replace('_', ' ')}) after ${c.duration_s} s`,
      `  setup ${c.setup_ms} ms to ringing, path ${c.path}`,
      `  ${statsLine(c)}`,
      ...(e.recording !== null ? [`  recorded to ${e.recording}`] : []),
    ].join('\n'),
  )
}
