import type { Clock } from '../util/clock.js'
import { ParleyError } from '../util/errors.js'
import {
  RELAY_BURST_S,
  RELAY_SESSION_BYTES_PER_S_MAX,
  RELAY_SESSIONS_MAX,
  RELAY_TOTAL_BYTES_PER_S_MAX,
} from './constants.js'

export interface RelayCaps {
  sessions_max: number
  session_bytes_per_s_max: number
  total_bytes_per_s_max: number
}

export const DEFAULT_RELAY_CAPS: RelayCaps = {
  sessions_max: RELAY_SESSIONS_MAX,
  session_bytes_per_s_max: RELAY_SESSION_BYTES_PER_S_MAX,
  total_bytes_per_s_max: RELAY_TOTAL_BYTES_PER_S_MAX,
}

export interface RelayCounters {
  sessions_active: number
  sessions_accepted: number
  sessions_refused: number
  sessions_rate_limited: number
  bytes_relayed: number
}

interface Slot {
  /** Cumulative bytes last read from the slot's streams. */
  bytes: number
  /** Token bucket: bytes this session may still send before it is over its rate. */
  tokens: number
}

/**
 * The caps and accounting of a blind relay, free of sockets and timers so
 * that tests drive it with a fake clock. A slot is one relayed session (one
 * pairing token), held from its first pair request until its streams close.
 *
 * Rates are policed, not shaped: udx-native forwards relayed packets in C
 * (`relayTo`), so JavaScript never sees them one by one. The relay reads each
 * stream's byte counter every sample and cuts a session whose token bucket
 * runs dry; this adds no per-packet work at all.
 */
export class RelayAccounting {
  readonly caps: RelayCaps
  private readonly clock: Pick<Clock, 'now'>
  private readonly slots = new Map<string, Slot>()
  private totalTokens: number
  private last_ms: number
  private accepted = 0
  private refused = 0
  private rateLimited = 0
  private relayed = 0

  constructor(caps: RelayCaps, clock: Pick<Clock, 'now'>) {
    this.caps = caps
    this.clock = clock
    this.totalTokens = caps.total_bytes_per_s_max * RELAY_BURST_S
    this.last_ms = clock.now()
  }

  has(key: string): boolean {
    return this.slots.has(key)
  }

  /** Takes a slot for a new pairing token, or says why not. */
  admit(key: string): ParleyError | null {
    if (this.slots.has(key)) return null
    if (this.slots.size >= this.caps.sessions_max) {
      this.refused++
      return new ParleyError(
        'RELAY_FULL',
        `this relay carries its maximum of ${this.caps.sessions_max} sessions; try another supernode`,
      )
    }
    this.accepted++
    this.slots.set(key, { bytes: 0, tokens: this.caps.session_bytes_per_s_max * RELAY_BURST_S })
    return null
  }

  release(key: string): void {
    this.slots.delete(key)
  }

  /**
   * Feeds the cumulative byte count of every live slot; returns the slots to
   * cut for going over their own rate or, when the relay as a whole is over,
   * the heaviest senders of this sample until the rest fit.
   */
  sample(readings: Map<string, number>): string[] {
    const now_ms = this.clock.now()
    const elapsed_s = Math.max(0, (now_ms - this.last_ms) / 1000)
    this.last_ms = now_ms
    const { session_bytes_per_s_max: perSession, total_bytes_per_s_max: total } = this.caps
    const cut: string[] = []
    const deltas: [string, number][] = []
    let sum = 0
    for (const [key, bytes] of readings) {
      const slot = this.slots.get(key)
      if (slot === undefined) continue
      const delta = Math.max(0, bytes - slot.bytes)
      slot.bytes = Math.max(slot.bytes, bytes)
      slot.tokens = Math.min(perSession * RELAY_BURST_S, slot.tokens + perSession * elapsed_s)
      slot.tokens -= delta
      this.relayed += delta
      // A session cut for its own rate frees its share of the total at once.
      if (slot.tokens < 0) cut.push(key)
      else {
        deltas.push([key, delta])
        sum += delta
      }
    }
    this.totalTokens = Math.min(total * RELAY_BURST_S, this.totalTokens + total * elapsed_s) - sum
    deltas.sort((a, b) => b[1] - a[1])
    for (const [key, delta] of deltas) {
      if (this.totalTokens >= 0) break
      cut.push(key)
      this.totalTokens += delta
    }
    for (const key of cut) {
      this.slots.delete(key)
      this.rateLimited++
    }
    return cut
  }

  counters(): RelayCounters {
    return {
      sessions_active: this.slots.size,
      sessions_accepted: this.accepted,
      sessions_refused: this.refused,
      sessions_rate_limited: this.rateLimited,
      bytes_relayed: this.relayed,
    }
  }
}
