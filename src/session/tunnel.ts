// Gateway tunnels (PROTOCOL.md §5.11): a protomux channel on an ordinary
// session that carries the raw bytes of an inner, end-to-end encrypted stream
// between two other devices. The endpoints run a fresh Noise handshake inside
// (their own device keys; the gateway has neither), so a gateway forwards
// ciphertext only. The same code serves the three roles:
//  - the opener (a device dialling through a gateway, or dialling a device a
//    gateway announces), which becomes the inner Noise initiator;
//  - the far end, which accepts a tunnel addressed to its identity and
//    becomes the inner responder;
//  - the gateway, which pairs an incoming tunnel with one it opens towards
//    the target and splices the two (see src/supernode/gateway.ts).

import c from 'compact-encoding'
import type { Channel, Message } from 'protomux'
import { Duplex } from 'streamx'
import { ParleyError } from '../util/errors.js'
import type { Random } from '../util/random.js'
import {
  decodeTunnelId,
  encodeTunnelId,
  TUNNEL_NONCE_BYTES,
  TUNNEL_PROTOCOL,
} from '../wire/index.js'
import { TUNNEL_DRAIN_MS, TUNNELS_PER_SESSION_MAX } from './constants.js'
import type { Session } from './session.js'

const EMPTY = Buffer.alloc(0)

/**
 * One tunnel channel as a byte stream (what an inner secret-stream runs
 * over). With `onRemoteData` the bytes go there instead of being pushed to
 * the readable side: that is how a gateway forwards without buffering.
 */
export class TunnelStream extends Duplex {
  readonly target: Buffer
  readonly session: Session
  private readonly channel: Channel
  private readonly message: Message
  private pendingWrite: ((err: Error | null) => void) | null = null
  /** Set while we opened the channel and the other side has not answered yet. */
  private opening: { resolve: () => void; reject: (err: Error) => void } | null = null
  /** Destroyed before the answer: the channel closes once it comes. */
  private closeWhenAnswered = false
  /** The other side (gateway or far end) closed the channel; we did not. */
  closedByRemote = false

  constructor(session: Session, id: Buffer, onRemoteData?: (data: Buffer) => void) {
    super()
    this.session = session
    this.target = decodeTunnelId(id).target
    const onmessage = onRemoteData ?? ((data: Buffer) => this.push(data))
    const channel = session.mux.createChannel({
      protocol: TUNNEL_PROTOCOL,
      id,
      handshake: c.raw,
      messages: [{ encoding: c.raw, onmessage }],
      onopen: () => {
        this.opening?.resolve()
        this.opening = null
        if (this.closeWhenAnswered) this.channel.close()
      },
      onclose: (isRemote: boolean) => {
        this.closedByRemote = isRemote
        const refused = this.opening !== null
        this.opening?.reject(
          new ParleyError('PEER_NOT_FOUND', 'the gateway could not reach the peer'),
        )
        this.opening = null
        // A forwarding tunnel has passed everything on already. An end point must
        // let its reader take what is still buffered (the peer's GOODBYE is usually
        // the last thing before the close): destroying now would drop it, and the
        // session would look lost instead of closed.
        // The session under the tunnel died: nothing is coming; close now (a lost path).
        const linkGone = session.closed || session.stream.destroyed
        if (refused || onRemoteData !== undefined || linkGone) {
          this.destroy()
          return
        }
        this.push(null)
        const cap = setTimeout(() => this.destroy(), TUNNEL_DRAIN_MS)
        cap.unref()
        this.once('end', () => this.destroy())
        this.once('close', () => clearTimeout(cap))
      },
      ondrain: () => this.onDrain(),
    })
    if (channel === null) throw new ParleyError('SESSION_CLOSED', 'tunnel id already in use')
    this.channel = channel
    this.message = channel.messages[0]!
    const set = tunnelsOf.get(session) ?? new Set<TunnelStream>()
    tunnelsOf.set(session, set)
    set.add(this)
    this.once('close', () => set.delete(this))
  }

  /** Opens our side (empty handshake, §5.11); resolves once the far side accepted. */
  open(): Promise<void> {
    const opened = new Promise<void>((resolve, reject) => {
      this.opening = { resolve, reject }
    })
    this.channel.open(EMPTY)
    return opened
  }

  /** Answers a tunnel the remote opened (acceptTunnel). */
  accept(): void {
    this.channel.open(EMPTY)
  }

  /**
   * Closes the channel, but never one the other side has not answered yet.
   * protomux (3.12.1) ignores a close for a channel its side has not paired
   * yet; if that side then accepts, it holds the channel open, and our next
   * channel, which reuses the id, makes it destroy the whole session
   * ("Invalid open message"). So such a close waits for the answer (or for
   * the session to end); the stream itself is closed at once either way.
   */
  private closeChannel(): void {
    if (this.opening !== null) this.closeWhenAnswered = true
    else this.channel.close()
  }

  /**
   * Sends straight on the channel; false when the link is backed up (wait for
   * 'channel-drain'). A closed tunnel takes nothing more: the bytes are
   * dropped and there is nothing to wait for (true).
   */
  forward(data: Buffer): boolean {
    if (this.destroying || this.channel.closed) return true
    return this.message.send(data)
  }

  private onDrain(): void {
    const cb = this.pendingWrite
    this.pendingWrite = null
    cb?.(null)
    this.emit('channel-drain')
  }

  override _write(data: Buffer, cb: (err: Error | null) => void): void {
    if (this.message.send(data)) cb(null)
    else this.pendingWrite = cb
  }

  override _final(cb: (err: Error | null) => void): void {
    this.closeChannel()
    cb(null)
  }

  override _destroy(cb: (err: Error | null) => void): void {
    this.closeChannel()
    const pending = this.pendingWrite
    this.pendingWrite = null
    pending?.(null)
    cb(null)
  }
}

const tunnelsOf = new WeakMap<Session, Set<TunnelStream>>()

function checkRoom(session: Session): void {
  if ((tunnelsOf.get(session)?.size ?? 0) >= TUNNELS_PER_SESSION_MAX) {
    throw new ParleyError('SESSION_CLOSED', 'too many tunnels on this session')
  }
}

/**
 * Opens a tunnel without waiting for the far end (§5.11): the stream can be
 * written at once, since protomux keeps messages for a channel its side has
 * not answered yet. `accepted` settles when the far end answers, and
 * rejects (PEER_NOT_FOUND) if the tunnel closes first; it never goes unhandled.
 */
export function startTunnel(
  session: Session,
  target: Buffer,
  random: Random,
  onRemoteData?: (data: Buffer) => void,
  nonce?: Buffer,
): { tunnel: TunnelStream; accepted: Promise<void> } {
  checkRoom(session)
  const id = encodeTunnelId({
    target,
    nonce: nonce ?? Buffer.from(random.bytes(TUNNEL_NONCE_BYTES)),
  })
  const tunnel = new TunnelStream(session, id, onRemoteData)
  const accepted = tunnel.open()
  accepted.catch(() => {})
  return { tunnel, accepted }
}

/** Accepts a tunnel the remote opened (from within watchTunnels' `onTunnel`). */
export function acceptTunnel(
  session: Session,
  id: Buffer,
  onRemoteData?: (data: Buffer) => void,
): TunnelStream {
  const tunnel = new TunnelStream(session, id, onRemoteData)
  tunnel.accept()
  return tunnel
}

/**
 * Calls `onTunnel` for each tunnel the remote opens on this session, with its
 * target identity. Malformed ids and tunnels beyond the cap are refused and
 * reported. `onTunnel` must accept (acceptTunnel) before its promise
 * settles, or protomux refuses the open.
 */
export function watchTunnels(
  session: Session,
  onTunnel: (id: Buffer, target: Buffer) => Promise<void> | void,
  onRefused: (reason: 'malformed' | 'full' | 'unroutable') => void,
): void {
  session.mux.pair({ protocol: TUNNEL_PROTOCOL }, async (raw) => {
    let target: Buffer
    try {
      target = decodeTunnelId(raw).target
    } catch {
      onRefused('malformed')
      return
    }
    try {
      checkRoom(session)
    } catch {
      onRefused('full')
      return
    }
    try {
      await onTunnel(Buffer.from(raw), target)
    } catch {
      onRefused('unroutable')
    }
  })
}
