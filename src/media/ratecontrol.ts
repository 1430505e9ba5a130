import { BITRATE_LADDER_BPS, REDUNDANCY_DEPTH_MAX } from './constants.js'

export interface RateDecision {
  bitrate_bps: number
  /** Earlier frames carried in each packet (0–2). */
  redundancy_depth: number
  /** Loss the Opus encoder is told to expect, in percent. */
  expected_loss_percent: number
}

/** Loss (fraction) above which a second earlier frame rides along: bursts of two are common then. */
const DEPTH2_LOSS = 0.08
/** RTT this far above the call's smallest means queues are building: treat as congestion. */
const CONGESTION_RTT_RISE_MS = 100
/** Clear reports needed before stepping the bitrate up one rung. */
const CLEAR_REPORTS_TO_STEP_UP = 3

/**
 * Adaptive bitrate and redundancy from the receiver's reports (about one a
 * second): under loss or congestion, fewer bits per frame and more earlier
 * frames per packet; when it clears, one rung back up every three clear
 * reports. Redundancy depth 1 stays on even without loss: it costs one extra
 * frame per packet and saves the first losses before any report arrives.
 */
export class RateController {
  private rung = BITRATE_LADDER_BPS.length - 1
  private clearReports = 0
  private rtt_ms_min = Number.POSITIVE_INFINITY
  private loss_smoothed = 0
  decision: RateDecision = {
    bitrate_bps: BITRATE_LADDER_BPS[BITRATE_LADDER_BPS.length - 1]!,
    redundancy_depth: 1,
    expected_loss_percent: 0,
  }

  /** One receiver report: `loss` is the fraction of packets lost since the last one. */
  update(loss: number, rtt_ms: number | null): RateDecision {
    this.loss_smoothed = this.loss_smoothed === 0 ? loss : 0.5 * this.loss_smoothed + 0.5 * loss
    if (rtt_ms !== null) this.rtt_ms_min = Math.min(this.rtt_ms_min, rtt_ms)
    const congested = rtt_ms !== null && rtt_ms - this.rtt_ms_min > CONGESTION_RTT_RISE_MS
    const l = this.loss_smoothed
    const ceiling = congested ? 0 : l >= 0.15 ? 1 : l >= 0.05 ? 2 : BITRATE_LADDER_BPS.length - 1
    if (this.rung > ceiling) {
      this.rung = ceiling
      this.clearReports = 0
    } else if (this.rung < ceiling && ++this.clearReports >= CLEAR_REPORTS_TO_STEP_UP) {
      this.rung++
      this.clearReports = 0
    }
    this.decision = {
      bitrate_bps: BITRATE_LADDER_BPS[this.rung]!,
      redundancy_depth: Math.min(REDUNDANCY_DEPTH_MAX, l >= DEPTH2_LOSS ? 2 : 1),
      expected_loss_percent: Math.round(l * 100),
    }
    return this.decision
  }
}
