// The simulated link's packets and limits. Timing constants mirror libudx
// (RTO bounds, UDX_MAX_RTO_TIMEOUTS) and hyperdht (`connectionKeepAlive`), so
// the session layer meets the failure timings it meets in production.

/** libudx's retransmit timeout bounds. */
export const RTO_MS_MIN = 1_000
export const RTO_MS_MAX = 30_000
/** libudx's UDX_MAX_RTO_TIMEOUTS: a peer silent through this many timeouts in a row is dead. */
export const RTO_TIMEOUTS_MAX = 6
/** RFC 5681 fast retransmit threshold. */
export const DUPLICATE_ACKS_FOR_RETRANSMIT = 3
/** hyperdht's default `connectionKeepAlive`. */
export const LINK_KEEPALIVE_MS = 5_000
/** After a graceful end, how long a link still acks the peer's retransmitted FIN. */
export const LINGER_MS = RTO_MS_MAX + RTO_MS_MIN
/** How often an unanswered SYN is repeated while connecting. */
export const SYN_RETRY_MS = 1_000
/** Segments sent and not yet acked; a full window holds back the writer. */
export const SEND_WINDOW_SEGMENTS = 64
/** Segments held ahead of delivery; anything further ahead is dropped and resent later. */
export const RECEIVE_WINDOW_SEGMENTS = 64
/** A message is one datagram here; protomux frames are far smaller. */
export const MESSAGE_BYTES_MAX = 1 << 20
/** The port every host listens on for SYNs; a link's endpoints use its id as their port. */
export const LISTEN_PORT = 0

export type Packet =
  | { type: 'syn'; link_id: number; from_device: Buffer; to_device: Buffer }
  | { type: 'synack'; link_id: number }
  /** `payload` null is the FIN: it takes a sequence number so it is ordered and acked like data. */
  | { type: 'data'; link_id: number; seq: number; ack: number; payload: Buffer | null }
  | { type: 'ack'; link_id: number; ack: number }
  | { type: 'rst'; link_id: number }

/** RFC 6298 retransmit timeout: smoothed RTT plus four deviations, doubled per timeout. */
export class RtoEstimator {
  rto_ms = RTO_MS_MIN
  private srtt_ms: number | null = null
  private rttvar_ms = 0

  /** Karn's rule applies: the caller passes only samples of segments sent once. */
  sample(rtt_ms: number): void {
    if (this.srtt_ms === null) {
      this.srtt_ms = rtt_ms
      this.rttvar_ms = rtt_ms / 2
    } else {
      this.rttvar_ms = 0.75 * this.rttvar_ms + 0.25 * Math.abs(this.srtt_ms - rtt_ms)
      this.srtt_ms = 0.875 * this.srtt_ms + 0.125 * rtt_ms
    }
  }

  backOff(): void {
    this.rto_ms = Math.min(RTO_MS_MAX, this.rto_ms * 2)
  }

  /** New data was acked: drop the backoff and return to the estimate. */
  settle(): void {
    const estimate_ms = this.srtt_ms === null ? RTO_MS_MIN : this.srtt_ms + 4 * this.rttvar_ms
    this.rto_ms = Math.min(RTO_MS_MAX, Math.max(RTO_MS_MIN, estimate_ms))
  }
}
