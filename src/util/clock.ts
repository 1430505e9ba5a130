// Time is injected so protocol code can run under the seeded simulator
// (test/sim). Only `systemClock` touches the real timers.

export type TimerHandle = { readonly id: number }

export interface Clock {
  /** Milliseconds on a monotonic timeline (not wall time). */
  now(): number
  /** Wall-clock milliseconds since the Unix epoch, for timestamps shown to people. */
  wallNow(): number
  setTimeout(fn: () => void, delay_ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

const realTimers = new Map<number, NodeJS.Timeout>()
let nextTimerId = 1

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(fn, delay_ms) {
    const id = nextTimerId++
    const t = setTimeout(() => {
      realTimers.delete(id)
      fn()
    }, delay_ms)
    // Protocol timers (keep-alives, backoff) must never keep a process alive on their own.
    t.unref()
    realTimers.set(id, t)
    return { id }
  },
  clearTimeout(handle) {
    const t = realTimers.get(handle.id)
    if (t !== undefined) {
      clearTimeout(t)
      realTimers.delete(handle.id)
    }
  },
}
