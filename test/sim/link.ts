// A reliable, ordered, message-preserving stream over the lossy SimNetwork:
// what a UDX stream under secret-stream gives the session layer in
// production. A small selective-repeat ARQ: sequence numbers, cumulative
// acks (piggybacked on data), one retransmit timer with RFC 6298 RTO and
// exponential backoff, duplicate suppression, a bounded send window and a
// bounded receive buffer, fast retransmit on three duplicate acks. As in
// libudx, RTO runs from 1 s to 30 s and a peer silent through 6 timeouts in
// a row is dead, about 61 s into a partition (packet.ts). Like secret-stream
// with hyperdht's `connectionKeepAlive`, an idle link sends an empty message
// every 5 s, so an idle end notices a dead path too; the receiver drops it.

import { Duplex } from 'streamx'
import type { FramedStream } from '../../src/session/types.js'
import type { Clock, TimerHandle } from '../../src/util/clock.js'
import { Counters } from '../../src/util/counters.js'
import { assert } from '../../src/util/errors.js'
import type { Address, SimNetwork } from './network.js'
import {
  DUPLICATE_ACKS_FOR_RETRANSMIT,
  LINGER_MS,
  LINK_KEEPALIVE_MS,
  LISTEN_PORT,
  MESSAGE_BYTES_MAX,
  type Packet,
  RECEIVE_WINDOW_SEGMENTS,
  RTO_TIMEOUTS_MAX,
  RtoEstimator,
  SEND_WINDOW_SEGMENTS,
  SYN_RETRY_MS,
} from './packet.js'

export type LinkCounter =
  | 'segments_sent'
  | 'retransmits'
  | 'rto_timeouts'
  | 'duplicates_received'
  | 'out_of_window_dropped'
  | 'keepalives_sent'
  | 'fast_retransmits'

export type LinkCloseReason = 'local' | 'reset' | 'timeout' | 'ended'

export interface LinkOptions {
  network: SimNetwork<Packet>
  clock: Clock
  link_id: number
  local: Address
  remote: Address
  isInitiator: boolean
  publicKey: Buffer
  remotePublicKey: Buffer
  /** Idle time before an empty keep-alive message; null turns keep-alives off. */
  keepalive_ms?: number | null
}

interface Segment {
  readonly payload: Buffer | null
  sent_ms: number
  retransmitted: boolean
}

export class LinkStream extends Duplex {
  readonly link_id: number
  readonly publicKey: Buffer
  readonly remotePublicKey: Buffer
  readonly isInitiator: boolean
  /** Protomux.from() stores itself here, as on secret-stream. */
  userData: unknown = null
  readonly counters = new Counters<LinkCounter>()
  /** Resolves when the handshake completes (at once on the accepting side). */
  readonly established: Promise<void>
  closeReason: LinkCloseReason | null = null

  private readonly net: SimNetwork<Packet>
  private readonly clock: Clock
  private readonly local: Address
  private readonly remote: Address
  private readonly unbind: () => void
  private isEstablished: boolean
  private resolveEstablished!: () => void
  private rejectEstablished!: (err: Error) => void
  private synTimer: TimerHandle | null = null
  private readonly keepalive_ms: number | null
  private keepaliveTimer: TimerHandle | null = null
  private finQueued = false
  private lingering = false

  private nextSeq = 0
  private readonly unacked = new Map<number, Segment>() // insertion order is seq order
  private blockedWrite: { payload: Buffer | null; cb: (err: Error | null) => void } | null = null
  private finalCb: ((err: Error | null) => void) | null = null
  private readonly rto = new RtoEstimator()
  private rtoTimer: TimerHandle | null = null
  private rtoTimeouts = 0
  private dupAckSeq = -1
  private dupAcks = 0

  private deliverSeq = 0
  private receivedUpTo = 0
  private readonly received = new Map<number, Buffer | null>()
  private readPaused = false

  constructor(opts: LinkOptions) {
    super()
    this.link_id = opts.link_id
    this.publicKey = opts.publicKey
    this.remotePublicKey = opts.remotePublicKey
    this.isInitiator = opts.isInitiator
    this.net = opts.network
    this.clock = opts.clock
    this.local = opts.local
    this.remote = opts.remote
    this.isEstablished = !opts.isInitiator
    this.keepalive_ms = opts.keepalive_ms === undefined ? LINK_KEEPALIVE_MS : opts.keepalive_ms
    this.established = new Promise((resolve, reject) => {
      this.resolveEstablished = resolve
      this.rejectEstablished = reject
    })
    this.established.catch(() => {})
    this.unbind = this.net.bind(this.local, (packet) => this.onPacket(packet))
    if (this.isEstablished) {
      this.resolveEstablished()
      this.sendPacket({ type: 'synack', link_id: this.link_id })
      this.armKeepalive()
    } else {
      this.sendSyn()
    }
  }

  /** The typed view the session layer takes (streamx and node:stream differ only in typings here). */
  asFramedStream(): FramedStream {
    return this as unknown as FramedStream
  }

  /** The listener saw a repeated SYN for this link: our SYNACK was lost. */
  onRepeatedSyn(): void {
    if (!this.destroying) this.sendPacket({ type: 'synack', link_id: this.link_id })
  }

  override _write(data: unknown, cb: (err: Error | null) => void): void {
    assert(Buffer.isBuffer(data) || data instanceof Uint8Array, 'a link carries bytes')
    // Empty messages are the keep-alive, filtered out on receipt, as secret-stream does.
    assert(data.byteLength > 0, 'an empty message would be taken for a keep-alive')
    assert(data.byteLength <= MESSAGE_BYTES_MAX, 'message larger than MESSAGE_BYTES_MAX')
    this.enqueue(Buffer.from(data), cb)
  }

  override _final(cb: (err: Error | null) => void): void {
    // Finished only once the FIN and everything before it are acked, as TCP's FIN_WAIT.
    this.finQueued = true
    this.enqueue(null, (err) => {
      if (err !== null || this.unacked.size === 0) cb(err)
      else this.finalCb = cb
    })
  }

  override _read(cb: (err: Error | null) => void): void {
    this.readPaused = false
    this.deliver()
    cb(null)
  }

  override _predestroy(): void {
    if (this.closeReason === null) {
      this.closeReason = 'local'
      // Best effort, as a UDX destroy: if it is lost the peer times out.
      this.sendPacket({ type: 'rst', link_id: this.link_id })
    }
    this.stopTimers()
    if (!this.isEstablished)
      this.rejectEstablished(new Error(`link ${this.link_id} closed while connecting`))
    const blocked = this.blockedWrite
    this.blockedWrite = null
    blocked?.cb(new Error('link destroyed'))
    // streamx completes a destroy only after the pending final callback returns.
    const final = this.finalCb
    this.finalCb = null
    final?.(null)
  }

  override _destroy(cb: (err: Error | null) => void): void {
    this.stopTimers()
    if (this.closeReason === null) {
      // Both FINs are acked, but the peer may not have our ack of its FIN: answer its
      // retransmits for a while (TCP's TIME_WAIT) instead of leaving it to time out.
      this.closeReason = 'ended'
      this.lingering = true
      this.clock.setTimeout(() => {
        this.lingering = false
        this.unbind()
      }, LINGER_MS)
    } else {
      this.unbind()
    }
    cb(null)
  }

  private stopTimers(): void {
    if (this.rtoTimer !== null) this.clock.clearTimeout(this.rtoTimer)
    if (this.synTimer !== null) this.clock.clearTimeout(this.synTimer)
    if (this.keepaliveTimer !== null) this.clock.clearTimeout(this.keepaliveTimer)
    this.rtoTimer = null
    this.synTimer = null
    this.keepaliveTimer = null
  }

  private armKeepalive(): void {
    if (this.keepalive_ms === null || this.destroying) return
    if (this.keepaliveTimer !== null) this.clock.clearTimeout(this.keepaliveTimer)
    this.keepaliveTimer = this.clock.setTimeout(() => {
      this.keepaliveTimer = null
      if (this.finQueued || this.destroying) return
      // Into the window like data, so its loss is noticed like data's.
      if (this.unacked.size < SEND_WINDOW_SEGMENTS) {
        this.counters.inc('keepalives_sent')
        this.enqueue(Buffer.alloc(0), () => {})
      } else {
        this.armKeepalive()
      }
    }, this.keepalive_ms)
  }

  private sendSyn(): void {
    if (this.isEstablished || this.destroying) return
    this.net.send(
      this.local,
      { host: this.remote.host, port: LISTEN_PORT },
      {
        type: 'syn',
        link_id: this.link_id,
        from_device: this.publicKey,
        to_device: this.remotePublicKey,
      },
    )
    this.synTimer = this.clock.setTimeout(() => this.sendSyn(), SYN_RETRY_MS)
  }

  private establish(): void {
    if (this.isEstablished) return
    this.isEstablished = true
    if (this.synTimer !== null) this.clock.clearTimeout(this.synTimer)
    this.synTimer = null
    this.armKeepalive()
    this.resolveEstablished()
  }

  private enqueue(payload: Buffer | null, cb: (err: Error | null) => void): void {
    if (this.destroying) {
      cb(new Error('link destroyed'))
      return
    }
    if (this.unacked.size >= SEND_WINDOW_SEGMENTS) {
      this.blockedWrite = { payload, cb }
      return
    }
    const seq = this.nextSeq++
    this.unacked.set(seq, { payload, sent_ms: this.clock.now(), retransmitted: false })
    this.transmit(seq, payload)
    if (this.rtoTimer === null) this.armRto()
    this.armKeepalive()
    cb(null)
  }

  private transmit(seq: number, payload: Buffer | null): void {
    this.counters.inc('segments_sent')
    this.sendPacket({ type: 'data', link_id: this.link_id, seq, ack: this.receivedUpTo, payload })
  }

  private sendPacket(packet: Packet): void {
    this.net.send(this.local, this.remote, packet)
  }

  private armRto(): void {
    if (this.rtoTimer !== null) this.clock.clearTimeout(this.rtoTimer)
    this.rtoTimer = this.clock.setTimeout(() => this.onRto(), this.rto.rto_ms)
  }

  private onRto(): void {
    this.rtoTimer = null
    if (this.unacked.size === 0 || this.destroying) return
    this.counters.inc('rto_timeouts')
    if (++this.rtoTimeouts >= RTO_TIMEOUTS_MAX) {
      this.closeReason = 'timeout'
      this.destroy()
      return
    }
    // Resend the whole window: the receiver keeps what it has, and losses tend to come in runs.
    for (const [seq, segment] of this.unacked) {
      segment.retransmitted = true
      this.counters.inc('retransmits')
      this.transmit(seq, segment.payload)
    }
    this.rto.backOff()
    this.armRto()
  }

  private onPacket(packet: Packet): void {
    if (this.lingering && packet.type === 'data') {
      this.sendPacket({ type: 'ack', link_id: this.link_id, ack: this.receivedUpTo })
    }
    if (this.destroying) return
    // The peer is alive: only a peer silent through RTO_TIMEOUTS_MAX timeouts is dead. Counting
    // timeouts without ack progress instead would let one unlucky segment kill a live link.
    this.rtoTimeouts = 0
    switch (packet.type) {
      case 'synack':
        this.establish()
        return
      case 'rst':
        this.closeReason = 'reset'
        this.destroy()
        return
      case 'ack':
        this.establish()
        if (!this.onAck(packet.ack)) this.onDuplicateAck(packet.ack)
        return
      case 'data':
        // Data before the SYNACK means the SYNACK was lost or overtaken.
        this.establish()
        this.onAck(packet.ack)
        this.onData(packet.seq, packet.payload)
        return
      case 'syn':
        return
    }
  }

  /** Fast retransmit (RFC 5681): three acks for the same hole resend it without waiting for the RTO. */
  private onDuplicateAck(ack: number): void {
    const segment = this.unacked.get(ack)
    if (segment === undefined) return
    if (ack !== this.dupAckSeq) {
      this.dupAckSeq = ack
      this.dupAcks = 0
    }
    if (++this.dupAcks !== DUPLICATE_ACKS_FOR_RETRANSMIT) return
    segment.retransmitted = true
    this.counters.inc('fast_retransmits')
    this.transmit(ack, segment.payload)
  }

  /** Returns whether the ack acknowledged anything new. */
  private onAck(ack: number): boolean {
    let advanced = false
    for (const [seq, segment] of this.unacked) {
      if (seq >= ack) break
      // Karn: a retransmitted segment's ack could answer either copy, so it gives no sample.
      if (!segment.retransmitted) this.rto.sample(this.clock.now() - segment.sent_ms)
      this.unacked.delete(seq)
      advanced = true
    }
    if (!advanced) return false
    this.rto.settle()
    if (this.unacked.size > 0) this.armRto()
    else if (this.rtoTimer !== null) {
      this.clock.clearTimeout(this.rtoTimer)
      this.rtoTimer = null
    }
    const blocked = this.blockedWrite
    if (blocked !== null) {
      this.blockedWrite = null
      this.enqueue(blocked.payload, blocked.cb)
    }
    if (this.finalCb !== null && this.unacked.size === 0) {
      const cb = this.finalCb
      this.finalCb = null
      cb(null)
    }
    return true
  }

  private onData(seq: number, payload: Buffer | null): void {
    if (seq < this.deliverSeq || this.received.has(seq)) {
      this.counters.inc('duplicates_received')
    } else if (seq >= this.deliverSeq + RECEIVE_WINDOW_SEGMENTS) {
      this.counters.inc('out_of_window_dropped')
    } else {
      this.received.set(seq, payload)
      while (this.received.has(this.receivedUpTo)) this.receivedUpTo++
    }
    // Every data packet is acked, duplicates too: the first ack may have been lost.
    this.sendPacket({ type: 'ack', link_id: this.link_id, ack: this.receivedUpTo })
    this.deliver()
  }

  private deliver(): void {
    while (!this.readPaused && !this.destroying && this.received.has(this.deliverSeq)) {
      const payload = this.received.get(this.deliverSeq)!
      this.received.delete(this.deliverSeq)
      this.deliverSeq++
      if (payload === null) {
        this.push(null)
        return
      }
      if (payload.byteLength === 0) continue
      if (!this.push(payload)) this.readPaused = true
    }
  }
}
