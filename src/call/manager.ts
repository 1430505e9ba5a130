import { EventEmitter } from 'node:events'
import c from 'compact-encoding'
import type { Channel, Message } from 'protomux'
import { encodeId } from '../identity/index.js'
import {
  FRAME_MS_DEFAULT,
  OPUS_PAYLOAD_BYTES_MAX,
  OpusScriptCodec,
  SAMPLES_PER_MS,
} from '../media/index.js'
import type { Session, SessionManager } from '../session/index.js'
import type { Clock } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { ParleyError } from '../util/errors.js'
import type { Random } from '../util/random.js'
import { Call, type CallAudio, type CallLink, type CallStats } from './call.js'
import {
  CALL_ID_BYTES,
  CALL_PROTOCOL,
  CALL_PROTOCOL_VERSION,
  ENDED_CALLS_KEPT,
  RELIABLE_BACKLOG_BYTES_MAX,
} from './constants.js'
import { decodeSignal, encodeSignal, RejectReason, type Signal } from './signal.js'

export type CallDropReason = 'malformed_signal' | 'unknown_call' | 'busy' | 'bad_envelope'

interface Link {
  channel: Channel
  signal: Message
  media: Message
  open: boolean
}

/** Signals waiting for the channel to open (the peer may have refused our first open). */
const PENDING_SIGNALS_MAX = 16

export interface CallManagerOptions {
  sessions: SessionManager
  clock: Clock
  /** Call ids (ephemeral keys always come from libsodium's CSPRNG). */
  random: Random
}

/**
 * Calls for one daemon: the `parley/call` channel on every session, the
 * datagram route for media, and the one-call-at-a-time rule (a second
 * incoming call is rejected busy; there is no call waiting). Events:
 * `incoming` (Call), `call` (Call, for any new call), `ended` (CallStats).
 */
export class CallManager extends EventEmitter {
  readonly counters = new Counters<CallDropReason>()
  active: Call | null = null
  readonly ended: CallStats[] = []
  private readonly opts: CallManagerOptions
  private readonly links = new Map<Session, Link>()
  private readonly sessionOf = new WeakMap<Call, Session>()
  private readonly pending = new Map<Session, Buffer[]>()
  /** The INVITE's key for the ringing incoming call. */
  private pendingInvite: { call: Call; ephemeral: Buffer } | null = null

  constructor(opts: CallManagerOptions) {
    super()
    this.opts = opts
    opts.sessions.on('session', (s: Session) => this.attach(s))
    opts.sessions.on('session-closed', () => this.checkSession())
    for (const s of opts.sessions.list()) this.attach(s)
    warmUpCodec()
  }

  /** Places a call to `identity` over a session (connecting if needed). */
  async dial(
    identity: Buffer,
    audio: CallAudio,
    opts: { signal?: AbortSignal; frame_ms?: number } = {},
  ): Promise<Call> {
    this.assertIdle()
    const dialed_ms = this.opts.clock.now()
    const session = await this.opts.sessions.connect(identity, { signal: opts.signal })
    this.assertIdle()
    const frame_ms = opts.frame_ms ?? FRAME_MS_DEFAULT
    const call = this.track(
      new Call({
        call_id: Buffer.from(this.opts.random.bytes(CALL_ID_BYTES)),
        peer_id: encodeId(identity),
        direction: 'outgoing',
        link: this.linkFor(session),
        clock: this.opts.clock,
        frame_ms,
        dialed_ms,
      }),
      session,
    )
    call.setAudio(audio)
    this.send(session, {
      type: 'invite',
      call_id: call.id,
      ephemeral: call.ephemeralPublicKey,
      frame_units: frame_ms / 2.5,
      flags: 0,
    })
    return call
  }

  /** Answers the ringing incoming call. */
  answer(audio: CallAudio): Call {
    const p = this.pendingInvite
    if (p === null || p.call.state !== 'ringing') {
      throw new ParleyError('CALL_NOT_FOUND', 'no incoming call is ringing')
    }
    this.pendingInvite = null
    p.call.accept(p.ephemeral, audio)
    return p.call
  }

  hangup(): CallStats {
    const call = this.active
    if (call === null) throw new ParleyError('CALL_NOT_FOUND', 'there is no call to hang up')
    call.hangup()
    return call.stats()
  }

  close(): void {
    this.active?.hangup()
  }

  private assertIdle(): void {
    if (this.active !== null) {
      throw new ParleyError(
        'CALL_ALREADY_ACTIVE',
        `already in a call with ${this.active.peer_id}; hang up first (parley hangup)`,
      )
    }
  }

  private track(call: Call, session: Session): Call {
    this.active = call
    this.sessionOf.set(call, session)
    call.once('ended', (stats: CallStats) => {
      if (this.active === call) this.active = null
      if (this.pendingInvite?.call === call) this.pendingInvite = null
      this.ended.push(stats)
      if (this.ended.length > ENDED_CALLS_KEPT) this.ended.shift()
      this.emit('ended', stats)
    })
    this.emit('call', call)
    return call
  }

  /** The link a call uses follows the session that replaced its own, if any. */
  private linkFor(session: Session): CallLink {
    const sessions = this.opts.sessions
    const self = this
    return {
      signal(s: Signal) {
        self.send(sessions.current(session), s)
      },
      envelope(b: Uint8Array) {
        return self.sendEnvelope(sessions.current(session), b)
      },
      get path() {
        return sessions.current(session).path
      },
    }
  }

  private send(session: Session, s: Signal): void {
    if (session.closed) return
    const link = this.links.get(session) ?? this.openChannel(session)
    if (link?.open === true) {
      link.signal.send(encodeSignal(s))
      return
    }
    const queue = this.pending.get(session) ?? []
    if (queue.length < PENDING_SIGNALS_MAX) queue.push(encodeSignal(s))
    this.pending.set(session, queue)
  }

  private sendEnvelope(session: Session, b: Uint8Array): boolean {
    if (session.closed) return false
    const stream = session.stream
    if (stream.trySend !== undefined && session.path !== 'gateway') {
      stream.trySend(b)
      return true
    }
    // No datagrams on this path: the reliable stream, but never queue stale audio.
    if (stream.writableLength > RELIABLE_BACKLOG_BYTES_MAX) return false
    const link = this.links.get(session)
    if (link === undefined) return false
    link.media.send(Buffer.from(b))
    return true
  }

  private attach(session: Session): void {
    // The peer may open its channel before we open ours: pair() lets us answer that open.
    session.mux.pair({ protocol: CALL_PROTOCOL }, () => {
      this.openChannel(session)
    })
    session.stream.on('message', (b: Buffer) => this.onDatagram(session, b))
    session.once('close', () => {
      this.links.delete(session)
      this.pending.delete(session)
      session.mux.unpair({ protocol: CALL_PROTOCOL })
    })
    this.openChannel(session)
  }

  private openChannel(session: Session): Link | undefined {
    const existing = this.links.get(session)
    if (existing !== undefined && !existing.channel.closed) return existing
    const channel = session.mux.createChannel({
      protocol: CALL_PROTOCOL,
      handshake: c.raw,
      onopen: () => {
        const link = this.links.get(session)
        if (link?.channel !== channel) return
        link.open = true
        for (const b of this.pending.get(session) ?? []) link.signal.send(b)
        this.pending.delete(session)
      },
      onclose: () => {
        if (this.links.get(session)?.channel === channel) this.links.delete(session)
      },
    })
    if (channel === null) return this.links.get(session)
    const link: Link = {
      channel,
      signal: channel.addMessage({
        encoding: c.raw,
        onmessage: (b: Buffer) => this.onSignal(session, b),
      }),
      media: channel.addMessage({
        encoding: c.raw,
        onmessage: (b: Buffer) => this.onDatagram(session, b),
      }),
      open: false,
    }
    this.links.set(session, link)
    channel.open(Buffer.of(CALL_PROTOCOL_VERSION))
    return link
  }

  private callOn(session: Session, call_id: Buffer | null): Call | null {
    const call = this.active
    if (call === null) return null
    const own = this.sessionOf.get(call)
    if (
      own === undefined ||
      this.opts.sessions.current(own) !== this.opts.sessions.current(session)
    ) {
      return null
    }
    return call_id === null || call.id.equals(call_id) ? call : null
  }

  private onSignal(session: Session, b: Buffer): void {
    const s = decodeSignal(b)
    if (s === null) {
      this.counters.inc('malformed_signal')
      return
    }
    if (s.type === 'invite') {
      this.onInvite(session, s)
      return
    }
    const call = this.callOn(session, s.call_id)
    if (call === null) {
      this.counters.inc('unknown_call')
      return
    }
    call.onSignal(s)
  }

  private onInvite(session: Session, s: Extract<Signal, { type: 'invite' }>): void {
    const identity = session.remoteIdentityPublicKey
    const frame_ms = s.frame_units * 2.5
    if (identity === null || ![10, 20, 40, 60].includes(frame_ms) || s.flags !== 0) {
      this.counters.inc('malformed_signal')
      return
    }
    if (this.active !== null) {
      this.counters.inc('busy')
      this.send(session, { type: 'reject', call_id: s.call_id, reason: RejectReason.Busy })
      return
    }
    const call = this.track(
      new Call({
        call_id: s.call_id,
        peer_id: encodeId(identity),
        direction: 'incoming',
        link: this.linkFor(session),
        clock: this.opts.clock,
        frame_ms,
      }),
      session,
    )
    this.pendingInvite = { call, ephemeral: s.ephemeral }
    this.send(session, { type: 'ringing', call_id: s.call_id })
    this.emit('incoming', call)
  }

  private onDatagram(session: Session, b: Buffer): void {
    const call = this.callOn(session, null)
    if (call === null) {
      this.counters.inc('bad_envelope')
      return
    }
    call.onEnvelope(b)
  }

  private checkSession(): void {
    const call = this.active
    if (call === null) return
    const own = this.sessionOf.get(call)
    if (own !== undefined && this.opts.sessions.current(own).closed) call.lost()
  }
}

/**
 * Compiling libopus's WASM blocks for a while, and V8 optimises its hot
 * functions only after they have run for a while (in background threads, then
 * swapping code): both would stall the first call's 20 ms ticks by 100 ms or
 * more. Run a second of audio through a codec at start-up instead (~0.1 s).
 */
function warmUpCodec(): void {
  const frame = FRAME_MS_DEFAULT * SAMPLES_PER_MS
  const codec = new OpusScriptCodec(frame, 32_000)
  const pcm = new Int16Array(frame)
  const out = new Int16Array(frame)
  const packet = new Uint8Array(OPUS_PAYLOAD_BYTES_MAX)
  for (let f = 0; f < WARM_UP_FRAMES; f++) {
    for (let i = 0; i < frame; i++) pcm[i] = Math.round(8000 * Math.sin((f * frame + i) * 0.05))
    codec.decode(packet, codec.encode(pcm, packet), out)
    if (f % 10 === 0) codec.decode(null, 0, out)
  }
  codec.close()
}

const WARM_UP_FRAMES = 200
