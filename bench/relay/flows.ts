// Voice-like flows for the relay bench: each flow sends one ~100 B datagram
// every 20 ms in each direction (an Opus frame plus headers), with flow id,
// direction and sequence number inside so the receiver can count them.

export const PACKET_BYTES = 100
export const PACKET_INTERVAL_MS = 20
/** The scheduler wakes this often and spreads flows over the 20 ms so they do not all burst at once. */
const TICK_MS = 5

/** The two ends of one relayed flow: A and B each send toward the other. */
export interface FlowLink {
  sendFromA(packet: Buffer): void
  sendFromB(packet: Buffer): void
}

export interface StepCounts {
  sent: number
  received: number
}

/** Drives the first `active` links at the flow rate and counts what arrives. */
export class FlowDriver {
  /** Filled by the side that opens the flows, in flow-id order. */
  readonly links: FlowLink[] = []
  private readonly sent: Uint32Array
  private readonly received: Uint32Array
  private active = 0
  private started_ms = 0
  private timer: NodeJS.Timeout | null = null
  /** Packets received since construction, any flow: read before and after a window. */
  received_total = 0

  constructor(flows_max: number) {
    this.sent = new Uint32Array(flows_max * 2)
    this.received = new Uint32Array(flows_max * 2)
  }

  /** The receive hook every endpoint calls with each payload it gets. */
  readonly onPacket = (packet: Buffer): void => {
    if (packet.length < 9) return
    const slot = packet.readUInt32BE(0) * 2 + packet[4]!
    if (slot >= this.received.length) return
    this.received[slot]! += 1
    this.received_total++
  }

  start(active: number): void {
    this.stop()
    this.active = Math.min(active, this.links.length)
    this.sent.fill(0)
    this.received.fill(0)
    this.started_ms = performance.now()
    this.timer = setInterval(() => this.tick(), TICK_MS)
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Sends whatever each flow owes by now, so timer jitter changes burst shape, not the rate. */
  private tick(): void {
    const elapsed = (performance.now() - this.started_ms) / PACKET_INTERVAL_MS
    for (let flow = 0; flow < this.active; flow++) {
      const phase = (flow % (PACKET_INTERVAL_MS / TICK_MS)) / (PACKET_INTERVAL_MS / TICK_MS)
      const due = Math.floor(elapsed + phase)
      const link = this.links[flow]!
      while (this.sent[flow * 2]! < due) {
        link.sendFromA(this.packet(flow, 0))
        link.sendFromB(this.packet(flow, 1))
      }
    }
  }

  private packet(flow: number, direction: 0 | 1): Buffer {
    const slot = flow * 2 + direction
    const p = Buffer.alloc(PACKET_BYTES)
    p.writeUInt32BE(flow, 0)
    p[4] = direction
    p.writeUInt32BE(this.sent[slot]!, 5)
    this.sent[slot]! += 1
    return p
  }

  /** Totals over the active flows since start(). */
  counts(): StepCounts {
    let sent = 0
    let received = 0
    for (let i = 0; i < this.active * 2; i++) {
      sent += this.sent[i]!
      received += this.received[i]!
    }
    return { sent, received }
  }
}
