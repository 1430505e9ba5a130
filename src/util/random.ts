import { randomBytes } from 'node:crypto'

// Randomness is injected for the same reason as the clock: a seeded
// simulator must be able to replay every decision from its seed.
export interface Random {
  /** A float in [0, 1). */
  float(): number
  bytes(n: number): Uint8Array
}

export const systemRandom: Random = {
  float: () => randomBytes(4).readUInt32BE(0) / 2 ** 32,
  bytes: (n) => new Uint8Array(randomBytes(n)),
}

/** A small, fast seeded PRNG (mulberry32) for simulation and tests. Not for keys. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
  return {
    float: next,
    bytes(n) {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256)
      return out
    },
  }
}
