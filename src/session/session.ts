import { EventEmitter } from 'node:events'
import c from 'compact-encoding'
import Protomux, { type Message } from 'protomux'
import { type DeviceCertificate, verifyDeviceCertificate } from '../identity/index.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { decodeDropReason, ParleyError } from '../util/errors.js'
import type { Random } from '../util/random.js'
import {
  CONTROL_PROTOCOL,
  type ControlMessage,
  decodeControl,
  decodeHello,
  encodeControl,
  encodeHello,
  GoodbyeCode,
  HELLO_FLAG_GATEWAY,
  type Hello,
  negotiateVersion,
  PING_INTERVAL_INDIRECT_MS,
  PING_INTERVAL_MS,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_MIN,
  SESSION_IDLE_TIMEOUT_INDIRECT_MS,
  SESSION_IDLE_TIMEOUT_MS,
} from '../wire/index.js'
import {
  GOODBYE_FLUSH_MS_MAX,
  HELLO_TIMEOUT_MS,
  PING_TIMEOUT_MS,
  PINGS_PENDING_MAX,
} from './constants.js'
import type { FramedStream, Path } from './types.js'

export interface SessionOptions {
  stream: FramedStream
  /** Our device certificate, sent in the Hello. */
  certificate: DeviceCertificate
  /** The identity the initiator dialled; null on the accepting side. */
  expectedIdentity: Buffer | null
  clock: Clock
  random: Random
  agent: string
  /** Protocol versions we speak; only tests change this. */
  versions?: { min: number; max: number }
  /** Hello flags we announce (HELLO_FLAG_SUPERNODE when this node serves others). */
  flags?: number
  /**
   * A device that answers for another identity is accepted when its Hello
   * says it is a gateway (HELLO_FLAG_GATEWAY): the dialler then tunnels
   * through it (PROTOCOL.md §5.11) instead of hanging up.
   */
  gatewayMayAnswer?: boolean
}

export type SessionDropReason = 'malformed' | 'oversize' | 'unknown_type' | 'unexpected_pong'

export interface CloseInfo {
  by: 'local' | 'remote' | 'transport'
  code: number
  reason: string
  /** The path died (transport closed or went silent), rather than someone saying goodbye. */
  lost: boolean
}

/**
 * One authenticated session with one remote device: the Noise stream, a
 * protomux over it, and the control channel (hello, ping, goodbye).
 * Later layers add their own channels on `mux`.
 */
export class Session extends EventEmitter {
  readonly stream: FramedStream
  readonly mux: Protomux
  readonly opened: Promise<void>
  readonly counters = new Counters<SessionDropReason>()
  remoteCertificate: DeviceCertificate | null = null
  version = 0
  remoteAgent = ''
  /** The peer's Hello flags (bit 0: it serves as a supernode); unknown bits are kept, not acted on. */
  remoteFlags = 0
  closeInfo: CloseInfo | null = null
  /** Set when this session lost a duplicate contest: the session that replaced it. */
  replacedBy: Session | null = null
  lastReceived_ms: number
  /** Set when the peer went silent past the idle timeout. */
  private lost = false

  private readonly opts: SessionOptions
  private readonly control: Message
  private resolveOpened!: () => void
  private rejectOpened!: (err: ParleyError) => void
  private isOpen = false
  private keepAliveTimer: TimerHandle | null = null
  private helloTimer: TimerHandle | null = null
  /** When the last keep-alive ping was sent (or the session opened). */
  private lastKeepAlive_ms = 0
  /** The nonce of the last keep-alive ping, whose pong is expected and not a stray. */
  private keepAliveNonce: number | null = null
  private readonly pings = new Map<
    number,
    { sent_ms: number; done: (rtt_ms: number | Error) => void }
  >()

  constructor(opts: SessionOptions) {
    super()
    this.opts = opts
    this.stream = opts.stream
    this.lastReceived_ms = opts.clock.now()
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpened = resolve
      this.rejectOpened = reject
    })
    // Callers may never await `opened` (e.g. a losing duplicate); never leave it unhandled.
    this.opened.catch(() => {})
    this.mux = Protomux.from(this.stream)
    const channel = this.mux.createChannel({
      protocol: CONTROL_PROTOCOL,
      handshake: c.raw,
      onopen: (hello: Buffer) => this.onHello(hello),
      onclose: () => this.onTransportClosed(),
    })
    if (channel === null) throw new Error('assertion failed: control channel already exists')
    this.control = channel.addMessage({
      encoding: c.raw,
      onmessage: (b: Buffer) => this.onFrame(b),
    })
    this.stream.on('close', () => this.onTransportClosed())
    this.stream.on('error', () => {})
    const versions = opts.versions ?? { min: PROTOCOL_VERSION_MIN, max: PROTOCOL_VERSION }
    const hello: Hello = {
      versionMin: versions.min,
      versionMax: versions.max,
      certificate: opts.certificate,
      agent: opts.agent,
      flags: opts.flags ?? 0,
    }
    channel.open(encodeHello(hello))
    // A connection that never says hello must not hold a session slot forever.
    this.helloTimer = opts.clock.setTimeout(() => {
      this.helloTimer = null
      this.fail(
        new ParleyError('TIMEOUT', `the peer sent no hello within ${HELLO_TIMEOUT_MS} ms`),
        null,
      )
    }, HELLO_TIMEOUT_MS)
  }

  /**
   * Silent for more than two ping intervals (PROTOCOL.md §5.8): a newer
   * session with the same device replaces it whoever dialled, because the
   * peer is reconnecting after this one's path died.
   */
  presumedDead(): boolean {
    const interval_ms = this.path === 'direct' ? PING_INTERVAL_MS : PING_INTERVAL_INDIRECT_MS
    return this.opts.clock.now() - this.lastReceived_ms > 2 * interval_ms
  }

  /** Where the bytes go now: a relayed stream says `direct` once hyperdht's punching wins. */
  get path(): Path {
    return this.stream.path ?? 'direct'
  }

  get isInitiator(): boolean {
    return this.stream.isInitiator
  }
  get localDevicePublicKey(): Buffer {
    return this.stream.publicKey
  }
  get remoteDevicePublicKey(): Buffer {
    return this.stream.remotePublicKey
  }
  get remoteIdentityPublicKey(): Buffer | null {
    return this.remoteCertificate?.identityPublicKey ?? null
  }
  get closed(): boolean {
    return this.closeInfo !== null
  }

  private onHello(raw: Buffer): void {
    let hello: Hello
    try {
      hello = decodeHello(raw)
    } catch {
      // Nothing can follow a broken hello: count it and hang up without answering.
      this.counters.inc('malformed')
      this.fail(new ParleyError('BAD_CERTIFICATE', 'the peer sent a malformed hello'), null)
      return
    }
    const local = this.opts.versions ?? { min: PROTOCOL_VERSION_MIN, max: PROTOCOL_VERSION }
    const version = negotiateVersion(local, { min: hello.versionMin, max: hello.versionMax })
    if (version === null) {
      const reason = `peer speaks protocol ${hello.versionMin}-${hello.versionMax}, we speak ${local.min}-${local.max}`
      this.fail(
        new ParleyError(
          'INCOMPATIBLE_VERSION',
          `incompatible peer: ${reason}; one of you needs to update Parley`,
        ),
        {
          code: GoodbyeCode.IncompatibleVersion,
          reason,
        },
      )
      return
    }
    const cert = hello.certificate
    if (
      !cert.devicePublicKey.equals(this.stream.remotePublicKey) ||
      !verifyDeviceCertificate(cert)
    ) {
      this.fail(
        new ParleyError('BAD_CERTIFICATE', 'the peer presented an invalid device certificate'),
        {
          code: GoodbyeCode.BadCertificate,
          reason: 'device certificate does not match the Noise key or its signature is invalid',
        },
      )
      return
    }
    const expected = this.opts.expectedIdentity
    const gateway = this.opts.gatewayMayAnswer === true && (hello.flags & HELLO_FLAG_GATEWAY) !== 0
    if (expected !== null && !cert.identityPublicKey.equals(expected) && !gateway) {
      this.fail(
        new ParleyError(
          'IDENTITY_MISMATCH',
          'the device that answered belongs to a different identity',
        ),
        {
          code: GoodbyeCode.IdentityMismatch,
          reason: 'you are not the identity I dialled',
        },
      )
      return
    }
    this.clearHelloTimer()
    this.remoteCertificate = cert
    this.version = version
    this.remoteAgent = hello.agent
    this.remoteFlags = hello.flags
    this.isOpen = true
    this.lastReceived_ms = this.opts.clock.now()
    this.lastKeepAlive_ms = this.lastReceived_ms
    this.scheduleKeepAlive()
    this.resolveOpened()
    this.emit('open')
  }

  private onFrame(raw: Buffer): void {
    let msg: ControlMessage
    try {
      msg = decodeControl(raw)
    } catch (err) {
      this.counters.inc(decodeDropReason(err))
      return
    }
    this.lastReceived_ms = this.opts.clock.now()
    switch (msg.type) {
      case 'ping':
        this.send({ type: 'pong', nonce: msg.nonce })
        return
      case 'pong': {
        if (msg.nonce === this.keepAliveNonce) {
          this.keepAliveNonce = null
          return
        }
        const pending = this.pings.get(msg.nonce)
        if (pending === undefined) {
          this.counters.inc('unexpected_pong')
          return
        }
        this.pings.delete(msg.nonce)
        pending.done(this.opts.clock.now() - pending.sent_ms)
        return
      }
      case 'goodbye':
        this.onGoodbye(msg.code, msg.reason)
        return
    }
  }

  private onGoodbye(code: number, reason: string): void {
    const info: CloseInfo = { by: 'remote', code, reason, lost: false }
    if (!this.isOpen) {
      const err =
        code === GoodbyeCode.IncompatibleVersion
          ? new ParleyError(
              'INCOMPATIBLE_VERSION',
              `the peer refused us: ${reason}; one of you needs to update Parley`,
            )
          : new ParleyError(
              'SESSION_CLOSED',
              `the peer closed the session (code ${code}): ${reason}`,
            )
      this.rejectOpened(err)
    }
    this.finish(info)
    this.stream.destroy()
  }

  /** Measures one round trip on the control channel. */
  ping(timeout_ms = PING_TIMEOUT_MS): Promise<number> {
    if (!this.isOpen || this.closed) {
      return Promise.reject(new ParleyError('SESSION_CLOSED', 'the session is not open'))
    }
    if (this.pings.size >= PINGS_PENDING_MAX) {
      return Promise.reject(new ParleyError('TIMEOUT', 'too many pings in flight'))
    }
    const nonce = nonceFrom(this.opts.random, this.pings)
    return new Promise((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(() => {
        this.pings.delete(nonce)
        reject(new ParleyError('TIMEOUT', `no answer to ping within ${timeout_ms} ms`))
      }, timeout_ms)
      this.pings.set(nonce, {
        sent_ms: this.opts.clock.now(),
        done: (r) => {
          this.opts.clock.clearTimeout(timer)
          if (typeof r === 'number') resolve(r)
          else reject(r)
        },
      })
      this.send({ type: 'ping', nonce })
    })
  }

  /**
   * PING every interval; dead after longer silence (§5.7). A path through a
   * relay or gateway can die with its carrier, so it is pinged every second
   * and declared dead 4 s after the last frame: that is what lets a session
   * fail over in ≤ 5 s. The death check is timed to the moment the silence
   * reaches the limit, not to the next ping tick, which would add up to one
   * interval (up to 1 s of a failover, 20 s on a direct path).
   */
  private scheduleKeepAlive(): void {
    const indirect = this.path !== 'direct'
    const interval_ms = indirect ? PING_INTERVAL_INDIRECT_MS : PING_INTERVAL_MS
    const idle_ms = indirect ? SESSION_IDLE_TIMEOUT_INDIRECT_MS : SESSION_IDLE_TIMEOUT_MS
    const now_ms = this.opts.clock.now()
    const ping_in_ms = this.lastKeepAlive_ms + interval_ms - now_ms
    const dead_in_ms = this.lastReceived_ms + idle_ms - now_ms
    this.keepAliveTimer = this.opts.clock.setTimeout(
      () => this.keepAliveTick(),
      Math.max(0, Math.min(ping_in_ms, dead_in_ms)),
    )
  }

  private keepAliveTick(): void {
    if (this.closed) return
    const indirect = this.path !== 'direct'
    const interval_ms = indirect ? PING_INTERVAL_INDIRECT_MS : PING_INTERVAL_MS
    const idle_ms = indirect ? SESSION_IDLE_TIMEOUT_INDIRECT_MS : SESSION_IDLE_TIMEOUT_MS
    const now_ms = this.opts.clock.now()
    const silent_ms = now_ms - this.lastReceived_ms
    if (silent_ms >= idle_ms) {
      this.lost = true
      this.fail(
        new ParleyError('TIMEOUT', `the peer sent nothing for ${Math.round(silent_ms)} ms`),
        null,
      )
      return
    }
    if (now_ms - this.lastKeepAlive_ms >= interval_ms) {
      this.lastKeepAlive_ms = now_ms
      this.keepAliveNonce = nonceFrom(this.opts.random, this.pings)
      this.send({ type: 'ping', nonce: this.keepAliveNonce })
    }
    this.scheduleKeepAlive()
  }

  private send(msg: ControlMessage): void {
    if (this.closed) return
    this.control.send(encodeControl(msg))
  }

  /** Says goodbye and closes; the goodbye is flushed before the stream goes. */
  close(code: number = GoodbyeCode.Normal, reason = ''): void {
    if (this.closed) return
    this.send({ type: 'goodbye', code, reason })
    if (!this.isOpen)
      this.rejectOpened(new ParleyError('SESSION_CLOSED', `session closed: ${reason || 'by us'}`))
    this.finish({ by: 'local', code, reason, lost: false })
    // end() lets the reliable stream retransmit the goodbye until the peer has it and
    // ends its side too (which closes the stream); destroy only a peer that never does.
    this.stream.end()
    const cap = this.opts.clock.setTimeout(() => this.stream.destroy(), GOODBYE_FLUSH_MS_MAX)
    this.stream.once('close', () => this.opts.clock.clearTimeout(cap))
  }

  private fail(err: ParleyError, goodbye: { code: number; reason: string } | null): void {
    if (this.closed) return
    // Reject first: close() would otherwise settle `opened` with a vaguer error.
    if (!this.isOpen) this.rejectOpened(err)
    if (goodbye !== null) {
      this.close(goodbye.code, goodbye.reason)
    } else {
      this.finish({ by: 'local', code: GoodbyeCode.Normal, reason: err.message, lost: this.lost })
      this.stream.destroy()
    }
    this.emit('failed', err)
  }

  private clearHelloTimer(): void {
    if (this.helloTimer === null) return
    this.opts.clock.clearTimeout(this.helloTimer)
    this.helloTimer = null
  }

  private onTransportClosed(): void {
    if (!this.isOpen)
      this.rejectOpened(
        new ParleyError('SESSION_CLOSED', 'the connection closed before the peer said hello'),
      )
    this.finish({
      by: 'transport',
      code: GoodbyeCode.Normal,
      reason: 'connection closed',
      lost: this.isOpen,
    })
  }

  private finish(info: CloseInfo): void {
    if (this.closeInfo !== null) return
    this.closeInfo = info
    if (this.keepAliveTimer !== null) this.opts.clock.clearTimeout(this.keepAliveTimer)
    this.clearHelloTimer()
    for (const p of this.pings.values())
      p.done(new ParleyError('SESSION_CLOSED', 'the session closed'))
    this.pings.clear()
    this.emit('close', info)
  }
}

function nonceFrom(random: Random, taken: Map<number, unknown>): number {
  for (;;) {
    const b = random.bytes(4)
    const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
    if (!taken.has(n)) return n
  }
}
