import type { Random } from '../util/random.js'
import { RECONNECT_BACKOFF_MS_MAX, RECONNECT_BACKOFF_MS_MIN } from '../wire/index.js'

/** Exponential backoff with ±20% jitter so many peers do not retry in step (docs/PROTOCOL.md). */
export function nextBackoff_ms(attempt: number, random: Random): number {
  const base_ms = Math.min(
    RECONNECT_BACKOFF_MS_MAX,
    RECONNECT_BACKOFF_MS_MIN * 2 ** Math.min(attempt, 16),
  )
  return Math.round(base_ms * (0.8 + 0.4 * random.float()))
}
