// Comparing a recording with its source: the delay by cross-correlation and a
// similarity score after alignment. Used by the tests, the benchmark and the demo.

const DECIMATE = 8

export interface Alignment {
  /** How many samples the recording lags the source. */
  delay_samples: number
  /** Pearson correlation of the aligned waveforms over their overlap (−1…1). */
  waveform_correlation: number
  /** Pearson correlation of the aligned 10 ms RMS envelopes (−1…1): robust to codec phase changes. */
  envelope_correlation: number
}

/** Finds the lag in [0, max_lag_samples] that best aligns `recording` to `source`. */
export function align(
  source: Int16Array,
  recording: Int16Array,
  max_lag_samples: number,
): Alignment {
  const a = decimate(source)
  const b = decimate(recording)
  const maxLag = Math.floor(max_lag_samples / DECIMATE)
  let best = 0
  let bestScore = Number.NEGATIVE_INFINITY
  for (let lag = 0; lag <= maxLag; lag++) {
    const score = normalizedDot(a, b, lag)
    if (score > bestScore) {
      bestScore = score
      best = lag
    }
  }
  let fine = best * DECIMATE
  let fineScore = Number.NEGATIVE_INFINITY
  for (
    let lag = Math.max(0, best * DECIMATE - 2 * DECIMATE);
    lag <= best * DECIMATE + 2 * DECIMATE;
    lag++
  ) {
    const score = normalizedDot(source, recording, lag)
    if (score > fineScore) {
      fineScore = score
      fine = lag
    }
  }
  return {
    delay_samples: fine,
    waveform_correlation: normalizedDot(source, recording, fine),
    envelope_correlation: envelopeCorrelation(source, recording, fine),
  }
}

function decimate(x: Int16Array): Float64Array {
  const out = new Float64Array(Math.floor(x.length / DECIMATE))
  for (let i = 0; i < out.length; i++) {
    let s = 0
    for (let k = 0; k < DECIMATE; k++) s += x[i * DECIMATE + k]!
    out[i] = s / DECIMATE
  }
  return out
}

/** Pearson correlation of a[i] with b[i + lag] over the overlap. */
function normalizedDot(a: ArrayLike<number>, b: ArrayLike<number>, lag: number): number {
  const n = Math.min(a.length, b.length - lag)
  if (n <= 1) return 0
  let sa = 0
  let sb = 0
  for (let i = 0; i < n; i++) {
    sa += a[i]!
    sb += b[i + lag]!
  }
  const ma = sa / n
  const mb = sb / n
  let ab = 0
  let aa = 0
  let bb = 0
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma
    const y = b[i + lag]! - mb
    ab += x * y
    aa += x * x
    bb += y * y
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb)
}

function envelopeCorrelation(a: Int16Array, b: Int16Array, lag: number): number {
  const win = 480
  const n = Math.floor(Math.min(a.length, b.length - lag) / win)
  const ea = new Float64Array(n)
  const eb = new Float64Array(n)
  for (let w = 0; w < n; w++) {
    let x = 0
    let y = 0
    for (let i = 0; i < win; i++) {
      x += a[w * win + i]! ** 2
      y += b[w * win + i + lag]! ** 2
    }
    ea[w] = Math.sqrt(x / win)
    eb[w] = Math.sqrt(y / win)
  }
  return normalizedDot(ea, eb, 0)
}

export interface SegmentMatch {
  /** Where the segment starts in the source (samples). */
  at: number
  delay_samples: number
  /** Pearson correlation of the segment's waveform with the recording at that delay. */
  correlation: number
}

/**
 * Aligns each loud `segment_ms` stretch of `source` on its own, within
 * [0, max_lag_samples] (coarse at 6 kHz, then refined): an adaptive jitter
 * buffer moves playout during a call, so one global delay does not fit the
 * whole recording. The median correlation is the tests' similarity measure.
 */
export function alignSegments(
  source: Int16Array,
  recording: Int16Array,
  max_lag_samples: number,
  segment_ms = 400,
): SegmentMatch[] {
  const seg = segment_ms * 48
  const a = decimate(source)
  const b = decimate(recording)
  const segD = Math.floor(seg / DECIMATE)
  const out: SegmentMatch[] = []
  for (let start = 0; start + seg <= source.length; start += seg) {
    const piece = source.subarray(start, start + seg)
    if (rmsOf(piece) < 500) continue
    const startD = Math.floor(start / DECIMATE)
    const pieceD = a.subarray(startD, startD + segD)
    let coarse = 0
    let best = Number.NEGATIVE_INFINITY
    for (let lag = 0; lag <= max_lag_samples / DECIMATE; lag++) {
      if (startD + lag + segD > b.length) break
      const score = normalizedDot(pieceD, b.subarray(startD + lag, startD + lag + segD), 0)
      if (score > best) {
        best = score
        coarse = lag * DECIMATE
      }
    }
    let delay = coarse
    let correlation = Number.NEGATIVE_INFINITY
    for (let lag = Math.max(0, coarse - DECIMATE); lag <= coarse + DECIMATE; lag++) {
      if (start + lag + seg > recording.length) break
      const score = normalizedDot(piece, recording.subarray(start + lag, start + lag + seg), 0)
      if (score > correlation) {
        correlation = score
        delay = lag
      }
    }
    if (correlation > Number.NEGATIVE_INFINITY)
      out.push({ at: start, delay_samples: delay, correlation })
  }
  return out
}

/** The median of the segments' correlations (0 when there is none). */
export function segmentSimilarity(matches: readonly SegmentMatch[]): number {
  if (matches.length === 0) return 0
  const c = matches.map((m) => m.correlation).sort((x, y) => x - y)
  return c[Math.floor(c.length / 2)]!
}

function rmsOf(x: Int16Array): number {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!
  return Math.sqrt(s / x.length)
}
