// The `parley/transfer` channel on every peer session (docs/PROTOCOL.md
// §8.1): opened from either side, at most one in use per peer; when a
// duplicate session loses (§5.8) the transfers carry on over the one that
// stays.

import type Protomux from 'protomux'
import type { Channel, Message } from 'protomux'
import { encodeId } from '../identity/index.js'
import { TRANSFER_PROTOCOL } from './constants.js'
import { type TransferMessage, transferFrameEncoding } from './wire.js'

/** What a transfer needs of a session: who, its protomux, and its path now. */
export interface PeerLink {
  identity: Buffer
  mux: Protomux
  path(): string
}

export interface ChannelEvents {
  /** A channel to `peer` is (again) the one in use: resend what the old one lost. */
  opened(peer: string): void
  /** The last channel to `peer` closed. */
  lost(peer: string): void
  drained(peer: string): void
  frame(peer: string, raw: Buffer): void
}

interface PeerChannel {
  link: PeerLink
  channel: Channel
  message: Message
  open: boolean
}

export class TransferChannels {
  /** The channel in use per peer. */
  private readonly inUse = new Map<string, PeerChannel>()
  /** Every open channel per peer, oldest first. */
  private readonly open = new Map<string, PeerChannel[]>()
  closed = false

  constructor(private readonly events: ChannelEvents) {}

  /**
   * Opens the transfer channel on a new session. The peer may open its side
   * before or after we do: protomux rejects an open nobody waits for, so a
   * pair handler also answers a later open from the peer.
   */
  attach(link: PeerLink): void {
    if (this.closed) return
    link.mux.pair({ protocol: TRANSFER_PROTOCOL }, () => this.openChannel(link))
    this.openChannel(link)
  }

  private openChannel(link: PeerLink): void {
    if (this.closed) return
    const peer = encodeId(link.identity)
    const pc = { link, open: false } as PeerChannel
    const channel = link.mux.createChannel({
      protocol: TRANSFER_PROTOCOL,
      onopen: () => {
        pc.open = true
        this.open.set(peer, [...(this.open.get(peer) ?? []), pc])
        this.inUse.set(peer, pc)
        this.events.opened(peer)
      },
      onclose: () => {
        pc.open = false
        const others = (this.open.get(peer) ?? []).filter((x) => x !== pc)
        if (others.length > 0) this.open.set(peer, others)
        else this.open.delete(peer)
        if (this.inUse.get(peer) !== pc) return
        // Two sessions between the same devices (simultaneous connects, §5.8):
        // when the newer one loses, carry on over the one that stays.
        const stays = others.at(-1)
        if (stays !== undefined) {
          this.inUse.set(peer, stays)
          this.events.opened(peer)
          return
        }
        this.inUse.delete(peer)
        this.events.lost(peer)
      },
      ondrain: () => this.events.drained(peer),
    })
    if (channel === null) return
    pc.channel = channel
    pc.message = channel.addMessage({
      encoding: transferFrameEncoding,
      onmessage: (b: Buffer) => this.events.frame(peer, b),
    })
    channel.open()
  }

  /** Sends a frame; false when no channel to the peer is open (or the stream wants to drain). */
  send(peer: string, m: TransferMessage): boolean {
    const pc = this.inUse.get(peer)
    if (pc === undefined || !pc.open) return false
    return pc.message.send(m)
  }

  isOpen(peer: string): boolean {
    return this.inUse.get(peer)?.open === true
  }

  /** The session path under the channel in use, or null when there is none. */
  path(peer: string): string | null {
    return this.inUse.get(peer)?.link.path() ?? null
  }

  /** Peers with a channel open now. */
  openPeers(): string[] {
    return [...this.inUse].filter(([, pc]) => pc.open).map(([peer]) => peer)
  }
}
