// ITU-T G.107 (06/2015) E-model, reduced to the inputs a call measures: the
// one-way delay and the packet loss left after FEC. Everything else takes
// the Recommendation's default values (Table 3), which give R0 − Is = 93.2.

/** G.107 default basic signal-to-noise ratio minus simultaneous impairments. */
const R_DEFAULT = 93.2
/**
 * Equipment impairment and loss robustness of the codec. G.113 has no Opus
 * entry; these are our assumption for Opus at 12–32 kbit/s with PLC: Ie 0
 * (transparent in the narrowband R scale) and Bpl 20 (between G.729A, 19,
 * and G.711 with PLC, 25.1). Stated in docs/PROTOCOL.md §10.7.
 */
export const OPUS_IE = 0
export const OPUS_BPL = 20

/** Delay impairment Id from the one-way (mouth-to-ear) delay, simplified G.107 form. */
export function delayImpairment(one_way_ms: number): number {
  const d = Math.max(0, one_way_ms)
  return 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0)
}

/** Effective equipment impairment Ie,eff for `loss_percent` lost frames with burst ratio `burst_r`. */
export function lossImpairment(loss_percent: number, burst_r = 1): number {
  const ppl = Math.max(0, Math.min(100, loss_percent))
  return OPUS_IE + ((95 - OPUS_IE) * ppl) / (ppl / burst_r + OPUS_BPL)
}

export function rFactor(one_way_ms: number, loss_percent: number, burst_r = 1): number {
  return R_DEFAULT - delayImpairment(one_way_ms) - lossImpairment(loss_percent, burst_r)
}

/** G.107 Annex B: R to the mean opinion score (1–4.5). */
export function mosFromR(r: number): number {
  if (r <= 0) return 1
  if (r >= 100) return 4.5
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6
}

export function estimateMos(one_way_ms: number, loss_percent: number, burst_r = 1): number {
  return mosFromR(rFactor(one_way_ms, loss_percent, burst_r))
}
