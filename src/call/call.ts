import { EventEmitter } from 'node:events'
import {
  estimateMos,
  MEDIA_PACKET_BYTES_MAX,
  MediaReceiver,
  MediaSender,
  OpusScriptCodec,
  SAMPLES_PER_MS,
} from '../media/index.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { AudioSink, AudioSource } from './audio.js'
import {
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_MEDIA,
  ENVELOPE_REPORT,
  ENVELOPE_TAG_BYTES,
  MEDIA_TIMEOUT_MS,
  NO_ANSWER_MS,
  REPORT_INTERVAL_MS,
} from './constants.js'
import {
  type CallKeys,
  deriveCallKeys,
  type EphemeralKeyPair,
  ephemeralKeyPair,
  eraseKeys,
  openEnvelope,
  ReplayWindow,
  sealEnvelope,
} from './crypto.js'
import { decodeReport, encodeReport, type Report } from './report.js'
import { HangupReason, RejectReason, type Signal } from './signal.js'

/** Ticks late by more than this many frames are skipped, not caught up in a burst. */
const TICK_CATCH_UP_FRAMES_MAX = 3

export type CallState = 'calling' | 'ringing' | 'connected' | 'ended'
export type EndReason =
  | 'hangup'
  | 'remote_hangup'
  | 'declined'
  | 'busy'
  | 'no_answer'
  | 'cancelled'
  | 'media_timeout'
  | 'session_lost'
  | 'failed'

/** What a call needs from the session it runs on (src/call/manager.ts provides it). */
export interface CallLink {
  signal(s: Signal): void
  /** Sends an envelope; on a path without datagrams it may drop a stale frame (returns false). */
  envelope(b: Uint8Array): boolean
  readonly path: string
}

export interface CallAudio {
  source: AudioSource
  sink: AudioSink
  /** Hang up when the source ends (`--play F.wav`). */
  hangupAtEnd: boolean
}

export interface CallOptions {
  call_id: Buffer
  peer_id: string
  direction: 'outgoing' | 'incoming'
  link: CallLink
  clock: Clock
  frame_ms: number
  /** When the caller started dialling (before the session connect), for setup time. */
  dialed_ms?: number
}

/**
 * One call: its state machine (PROTOCOL §10.6), per-call keys and replay
 * windows (§10.3), and the 20 ms media tick that moves audio between the
 * source, the sender, the jitter buffer and the sink.
 */
export class Call extends EventEmitter {
  readonly id: Buffer
  readonly peer_id: string
  readonly direction: 'outgoing' | 'incoming'
  readonly frame_ms: number
  state: CallState
  end_reason: EndReason | null = null
  readonly created_ms: number
  ringing_ms: number | null = null
  connected_ms: number | null = null
  ended_ms: number | null = null
  localHold = false
  remoteHold = false
  muted = false
  remoteMuted = false
  rtt_ms: number | null = null
  readonly drops = { malformed: 0, replayed: 0, stale_dropped: 0, bad_report: 0 }

  private readonly link: CallLink
  private readonly clock: Clock
  private eph: EphemeralKeyPair | null = ephemeralKeyPair()
  private keys: CallKeys | null = null
  private readonly replay = { media: new ReplayWindow() }
  private sendCounter = 0n
  private audio: CallAudio | null = null
  private codec: OpusScriptCodec | null = null
  private rxCodec: OpusScriptCodec | null = null
  private sender: MediaSender | null = null
  private receiver: MediaReceiver | null = null
  private pcm: Int16Array = new Int16Array(0)
  private out: Int16Array = new Int16Array(0)
  private envelopeOut = Buffer.alloc(
    ENVELOPE_HEADER_BYTES + MEDIA_PACKET_BYTES_MAX + ENVELOPE_TAG_BYTES,
  )
  private tickTimer: TimerHandle | null = null
  private reportTimer: TimerHandle | null = null
  private answerTimer: TimerHandle | null = null
  private mediaStart_ms = 0
  private ticks = 0
  private lastHeard_ms = 0
  private lastPeerReport: { sent_ms: number; at_ms: number } | null = null
  private peerReport: Report | null = null
  private bitrateWindow = { at_ms: 0, bytes: 0, bps: 0 }

  constructor(opts: CallOptions) {
    super()
    this.id = opts.call_id
    this.peer_id = opts.peer_id
    this.direction = opts.direction
    this.link = opts.link
    this.clock = opts.clock
    this.frame_ms = opts.frame_ms
    this.created_ms = opts.dialed_ms ?? opts.clock.now()
    this.state = opts.direction === 'outgoing' ? 'calling' : 'ringing'
    if (opts.direction === 'incoming') this.ringing_ms = this.created_ms
    this.answerTimer = opts.clock.setTimeout(() => {
      this.answerTimer = null
      if (this.state === 'connected' || this.state === 'ended') return
      if (this.direction === 'outgoing') this.link.signal({ type: 'cancel', call_id: this.id })
      this.end('no_answer')
    }, NO_ANSWER_MS)
  }

  get id_hex(): string {
    return this.id.toString('hex')
  }

  get ephemeralPublicKey(): Buffer {
    if (this.eph === null) throw new Error('assertion failed: call keys already derived')
    return this.eph.publicKey
  }

  /** Caller side: the callee's ringing/accept/reject, and anything during the call. */
  onSignal(s: Signal): void {
    if (this.state === 'ended') return
    switch (s.type) {
      case 'ringing':
        if (this.state === 'calling') {
          this.state = 'ringing'
          this.ringing_ms = this.clock.now()
          this.emit('state')
        }
        return
      case 'accept':
        if (this.direction !== 'outgoing' || this.state === 'connected') return
        if (!this.setKeys(s.ephemeral, true)) return
        this.connect()
        return
      case 'reject':
        this.end(
          s.reason === RejectReason.Busy
            ? 'busy'
            : s.reason === RejectReason.NoAnswer
              ? 'no_answer'
              : 'declined',
        )
        return
      case 'cancel':
        this.end('cancelled')
        return
      case 'hangup':
        this.end(s.reason === HangupReason.MediaTimeout ? 'media_timeout' : 'remote_hangup')
        return
      case 'hold':
      case 'resume':
        this.remoteHold = s.type === 'hold'
        this.lastHeard_ms = this.clock.now()
        this.emit('state')
        return
      case 'mute':
        this.remoteMuted = s.muted
        this.emit('state')
        return
    }
  }

  /** The caller's INVITE carried `peerEphemeral`; the audio is ready. */
  accept(peerEphemeral: Buffer, audio: CallAudio): void {
    if (this.direction !== 'incoming' || this.state !== 'ringing') return
    const ephemeral = this.ephemeralPublicKey
    this.audio = audio
    if (!this.setKeys(peerEphemeral, false)) return
    this.link.signal({ type: 'accept', call_id: this.id, ephemeral })
    this.connect()
  }

  /** Caller side: the audio to use once the callee accepts. */
  setAudio(audio: CallAudio): void {
    this.audio = audio
  }

  reject(): void {
    if (this.direction !== 'incoming' || this.state !== 'ringing') return
    this.link.signal({ type: 'reject', call_id: this.id, reason: RejectReason.Declined })
    this.end('declined')
  }

  /** Hang up, cancel or decline, whatever the state calls for. */
  hangup(): void {
    if (this.state === 'ended') return
    if (this.state === 'connected') {
      this.link.signal({ type: 'hangup', call_id: this.id, reason: HangupReason.Normal })
      this.end('hangup')
    } else if (this.direction === 'outgoing') {
      this.link.signal({ type: 'cancel', call_id: this.id })
      this.end('cancelled')
    } else {
      this.reject()
    }
  }

  hold(on: boolean): void {
    if (this.state !== 'connected' || this.localHold === on) return
    this.localHold = on
    this.link.signal({ type: on ? 'hold' : 'resume', call_id: this.id })
    this.emit('state')
  }

  mute(on: boolean): void {
    if (this.state === 'ended' || this.muted === on) return
    this.muted = on
    if (this.sender !== null) this.sender.muted = on
    this.link.signal({ type: 'mute', call_id: this.id, muted: on })
    this.emit('state')
  }

  /** The session went away under the call. */
  lost(): void {
    this.end('session_lost')
  }

  /** One envelope for this call (datagram or reliable message). Bad ones are counted and dropped. */
  onEnvelope(b: Uint8Array): void {
    if (this.keys === null || this.state !== 'connected') return
    const env = openEnvelope(b, this.id, this.keys.receive)
    if (env === null) {
      this.drops.malformed++
      return
    }
    if (!this.replay.media.accept(env.counter)) {
      this.drops.replayed++
      return
    }
    const now = this.clock.now()
    this.lastHeard_ms = now
    if (env.kind === ENVELOPE_MEDIA) this.receiver!.onPacket(env.plain, now)
    else if (env.kind === ENVELOPE_REPORT) this.onReport(env.plain, now)
    else this.drops.malformed++
  }

  private setKeys(peerEphemeral: Buffer, isCaller: boolean): boolean {
    try {
      this.keys = deriveCallKeys(this.eph!, peerEphemeral, this.id, isCaller)
      this.eph = null
      return true
    } catch {
      this.link.signal({ type: 'hangup', call_id: this.id, reason: HangupReason.Failed })
      this.end('failed')
      return false
    }
  }

  private connect(): void {
    this.clearAnswerTimer()
    this.state = 'connected'
    const now = this.clock.now()
    this.connected_ms = now
    this.lastHeard_ms = now
    const frame = this.frame_ms * SAMPLES_PER_MS
    this.codec = new OpusScriptCodec(frame, 32_000)
    const seed = this.id.readUInt32BE(4)
    this.sender = new MediaSender(this.codec, seed & 0xffff, this.id.readUInt32BE(8))
    this.sender.muted = this.muted
    this.rxCodec = new OpusScriptCodec(frame, 32_000)
    this.receiver = new MediaReceiver(this.rxCodec)
    this.pcm = new Int16Array(frame)
    this.out = new Int16Array(frame)
    this.mediaStart_ms = now
    this.bitrateWindow = { at_ms: now, bytes: 0, bps: 0 }
    this.tickTimer = this.clock.setTimeout(() => this.tick(), 0)
    this.reportTimer = this.clock.setTimeout(() => this.report(), REPORT_INTERVAL_MS)
    this.emit('state')
  }

  /** The 20 ms tick: no awaits; allocation only inside the transport. */
  private tick(): void {
    if (this.state !== 'connected') return
    const now = this.clock.now()
    const audio = this.audio
    const onHold = this.localHold || this.remoteHold
    let ended = false
    if (audio !== null && !onHold) {
      ended = !audio.source.read(this.pcm)
      const n = this.sender!.frame(this.pcm)
      this.seal(ENVELOPE_MEDIA, this.sender!.packet.subarray(0, n))
    }
    this.receiver!.pull(this.out, now)
    audio?.sink.write(this.out)
    if (ended && audio!.hangupAtEnd) {
      this.hangup()
      return
    }
    if (!onHold && now - this.lastHeard_ms > MEDIA_TIMEOUT_MS) {
      this.link.signal({ type: 'hangup', call_id: this.id, reason: HangupReason.MediaTimeout })
      this.end('media_timeout')
      return
    }
    this.ticks++
    // Scheduled against the start, so timer lateness does not accumulate; but after a
    // stall (a busy event loop) start afresh rather than send and play a burst.
    let next_ms = this.mediaStart_ms + this.ticks * this.frame_ms
    if (now - next_ms > TICK_CATCH_UP_FRAMES_MAX * this.frame_ms) {
      this.mediaStart_ms = now - this.ticks * this.frame_ms + this.frame_ms
      next_ms = now + this.frame_ms
    }
    this.tickTimer = this.clock.setTimeout(() => this.tick(), Math.max(0, next_ms - now))
  }

  private seal(kind: number, plain: Uint8Array): void {
    const env = sealEnvelope(
      this.envelopeOut,
      kind,
      this.id,
      this.sendCounter++,
      this.keys!.send,
      plain,
    )
    if (this.link.envelope(env)) this.bitrateWindow.bytes += env.length
    else this.drops.stale_dropped++
  }

  private report(): void {
    if (this.state !== 'connected') return
    const now = this.clock.now()
    const r = this.receiver!
    const echo = this.lastPeerReport
    this.seal(
      ENVELOPE_REPORT,
      encodeReport({
        sent_ms: Math.floor(now) >>> 0,
        echo_ms: echo === null ? 0 : echo.sent_ms,
        hold_ms: echo === null ? 0 : Math.round(now - echo.at_ms),
        loss_permille: Math.round(r.intervalLoss() * 1000),
        jitter_ms: Math.round(r.jitter.jitter_ms),
        buffer_ms: Math.round(r.jitter.delay_ms),
        packets_received: r.jitter.counters.received,
      }),
    )
    const w = this.bitrateWindow
    w.bps = ((w.bytes * 8) / Math.max(1, now - w.at_ms)) * 1000
    w.at_ms = now
    w.bytes = 0
    this.emit('stats', this.stats())
    this.reportTimer = this.clock.setTimeout(() => this.report(), REPORT_INTERVAL_MS)
  }

  private onReport(plain: Uint8Array, now: number): void {
    const rep = decodeReport(plain)
    if (rep === null) {
      this.drops.bad_report++
      return
    }
    if (rep.echo_ms !== 0) {
      const rtt = ((Math.floor(now) >>> 0) - rep.echo_ms - rep.hold_ms) >>> 0
      if (rtt < 60_000) this.rtt_ms = rtt
    }
    this.lastPeerReport = { sent_ms: rep.sent_ms, at_ms: now }
    this.peerReport = rep
    this.sender!.onReport(rep.loss_permille / 1000, this.rtt_ms)
  }

  private clearAnswerTimer(): void {
    if (this.answerTimer !== null) this.clock.clearTimeout(this.answerTimer)
    this.answerTimer = null
  }

  private end(reason: EndReason): void {
    if (this.state === 'ended') return
    this.clearAnswerTimer()
    if (this.tickTimer !== null) this.clock.clearTimeout(this.tickTimer)
    if (this.reportTimer !== null) this.clock.clearTimeout(this.reportTimer)
    this.state = 'ended'
    this.end_reason = reason
    this.ended_ms = this.clock.now()
    const final = this.stats()
    this.codec?.close()
    this.rxCodec?.close()
    if (this.keys !== null) eraseKeys(this.keys)
    this.audio?.source.close()
    this.audio?.sink.close()
    this.emit('state')
    this.emit('ended', final)
  }

  /** Live statistics (PROTOCOL §10.7); also the summary at hang-up. */
  stats() {
    const r = this.receiver?.stats() ?? null
    const jb_ms = this.receiver?.jitter.delay_ms ?? 0
    const mouth_to_ear_ms = this.receiver?.mouthToEar_ms(this.rtt_ms) ?? null
    const loss_after = r?.loss_percent_after_fec ?? 0
    return {
      call_id: this.id_hex,
      peer: this.peer_id,
      direction: this.direction,
      state: this.state,
      end_reason: this.end_reason,
      path: this.link.path,
      hold: this.localHold || this.remoteHold,
      muted: this.muted,
      remote_muted: this.remoteMuted,
      setup_ms: this.ringing_ms === null ? null : round2(this.ringing_ms - this.created_ms),
      answer_ms: this.connected_ms === null ? null : round2(this.connected_ms - this.created_ms),
      duration_s:
        this.connected_ms === null
          ? 0
          : round2(((this.ended_ms ?? this.clock.now()) - this.connected_ms) / 1000),
      rtt_ms: this.rtt_ms,
      loss_percent_before_fec: r?.loss_percent_before_fec ?? 0,
      loss_percent_after_fec: loss_after,
      peer_loss_percent: this.peerReport === null ? null : this.peerReport.loss_permille / 10,
      jitter_ms: r?.jitter_ms ?? 0,
      jitter_buffer_ms: round2(jb_ms),
      concealed_frames: r?.concealed_frames ?? 0,
      recovered_frames: r?.recovered_frames ?? 0,
      late_packets: r?.late_packets ?? 0,
      bitrate_bps: Math.round(this.bitrateWindow.bps),
      target_bitrate_bps: this.sender?.rate.decision.bitrate_bps ?? null,
      redundancy_depth: this.sender?.rate.decision.redundancy_depth ?? null,
      frames_sent: this.sender?.frames_sent ?? 0,
      packets_received: r?.packets_received ?? 0,
      mouth_to_ear_ms: mouth_to_ear_ms === null ? null : round2(mouth_to_ear_ms),
      mos: mouth_to_ear_ms === null ? null : round2(estimateMos(mouth_to_ear_ms, loss_after)),
      drops: { ...this.drops, media_malformed: r?.malformed_packets ?? 0 },
    }
  }
}

export type CallStats = ReturnType<Call['stats']>

const round2 = (x: number) => Math.round(x * 100) / 100
