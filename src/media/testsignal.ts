import { SAMPLE_RATE_HZ } from './constants.js'

/**
 * A deterministic speech-like test signal at 48 kHz: words of voiced
 * syllables (a gliding 90–220 Hz pitch with harmonics shaped by two moving
 * formants, a 4–6 Hz syllable envelope) separated by 150–500 ms pauses, like
 * conversational speech's talk spurts. Used where a recording would otherwise
 * be needed (tests, benchmark, demo), so nothing has to be downloaded.
 */
export function speechLikeSignal(duration_ms: number, seed = 1): Int16Array {
  const n = Math.round((duration_ms * SAMPLE_RATE_HZ) / 1000)
  const out = new Int16Array(n)
  let state = seed >>> 0 || 1
  const rnd = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
  let t = Math.round(0.1 * SAMPLE_RATE_HZ)
  while (t < n) {
    const syllables = 1 + Math.floor(rnd() * 4)
    for (let s = 0; s < syllables && t < n; s++) {
      const len = Math.round((0.12 + rnd() * 0.16) * SAMPLE_RATE_HZ)
      const f0a = 90 + rnd() * 130
      const f0b = f0a * (0.8 + rnd() * 0.4)
      const f1 = 300 + rnd() * 500
      const f2 = 900 + rnd() * 1500
      const gain = 4000 + rnd() * 6000
      let phase = 0
      for (let i = 0; i < len && t + i < n; i++) {
        const x = i / len
        const f0 = f0a + (f0b - f0a) * x
        phase += (2 * Math.PI * f0) / SAMPLE_RATE_HZ
        let v = 0
        for (let h = 1; h * f0 < 4000; h++) {
          const f = h * f0
          const amp = 1 / (1 + ((f - f1) / 150) ** 2) + 0.6 / (1 + ((f - f2) / 250) ** 2)
          v += amp * Math.sin(h * phase)
        }
        const env = Math.sin(Math.PI * x) ** 2
        out[t + i] = Math.max(-32767, Math.min(32767, Math.round(gain * env * v * 0.5)))
      }
      t += len
    }
    t += Math.round((0.15 + rnd() * 0.35) * SAMPLE_RATE_HZ)
  }
  return out
}
