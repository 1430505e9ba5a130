// A deterministic discrete-event simulator in the spirit of TigerBeetle's
// VOPR: virtual time, one seeded Random, and every timer of the code under
// test scheduled through `SimClock`, so a run is a pure function of its seed.
//
// How progress stays deterministic. The code under test also runs work on
// Node's own queues: streamx uses queueMicrotask, protomux process.nextTick,
// the session layer promises. Those queues are FIFO and only ever fed by sim
// events, so their order is fixed by the order of sim events. What matters is
// that all of that work has finished before the next event fires. A fixed
// number of `await Promise.resolve()` does not guarantee it: a chain of
// microtasks starves process.nextTick, and a nextTick callback can queue
// further microtasks. `setImmediate` does: Node drains the whole nextTick and
// microtask queues before it enters the check phase. So the run loop fires one
// event, then awaits one setImmediate as a barrier. setImmediate never carries
// sim work and virtual time never moves inside it; real timers, Date.now and
// Math.random are not used anywhere in test/sim.

import type { Clock, TimerHandle } from '../../src/util/clock.js'
import { type Random, seededRandom } from '../../src/util/random.js'

/** Wall time at virtual time 0, for `wallNow()`: fixed so certificates and logs replay too. */
export const SIM_EPOCH_MS = Date.UTC(2025, 0, 1)
/** Bound on events in one `run_*` call: a runaway timer loop fails loudly instead of hanging. */
export const SIM_EVENTS_MAX = 5_000_000

interface Timer {
  readonly at_ms: number
  readonly seq: number
  readonly fn: () => void
  cancelled: boolean
}

/** Waits until every nextTick and microtask queued so far, and their consequences, have run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A virtual clock: a binary heap of timers ordered by (due time, insertion order). */
export class SimClock implements Clock {
  private now_ms = 0
  private seq = 0
  private readonly heap: Timer[] = []
  private readonly byId = new Map<number, Timer>()

  now(): number {
    return this.now_ms
  }

  wallNow(): number {
    // Integral, like Date.now(): certificates and the wire carry whole milliseconds.
    return SIM_EPOCH_MS + Math.floor(this.now_ms)
  }

  setTimeout(fn: () => void, delay_ms: number): TimerHandle {
    if (!(delay_ms >= 0)) delay_ms = 0 // like Node: NaN and negatives mean "as soon as possible"
    const timer: Timer = { at_ms: this.now_ms + delay_ms, seq: ++this.seq, fn, cancelled: false }
    this.push(timer)
    this.byId.set(timer.seq, timer)
    return { id: timer.seq }
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.byId.get(handle.id)
    if (timer === undefined) return
    timer.cancelled = true
    this.byId.delete(handle.id)
  }

  /** Timers still due (cancelled ones are skipped lazily and not counted). */
  get pending(): number {
    return this.byId.size
  }

  /** Due time of the next live timer, or null when none is left. */
  nextDue_ms(): number | null {
    this.dropCancelled()
    return this.heap[0]?.at_ms ?? null
  }

  /** Moves time to the next timer and runs it synchronously; false when none is left. */
  fireNext(): boolean {
    this.dropCancelled()
    const timer = this.pop()
    if (timer === undefined) return false
    this.byId.delete(timer.seq)
    this.now_ms = timer.at_ms
    timer.fn()
    return true
  }

  /** Moves time forward with nothing due in between (the caller checked). */
  advanceTo(at_ms: number): void {
    if (at_ms > this.now_ms) this.now_ms = at_ms
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop()
  }

  private static before(a: Timer, b: Timer): boolean {
    return a.at_ms < b.at_ms || (a.at_ms === b.at_ms && a.seq < b.seq)
  }

  private push(timer: Timer): void {
    const heap = this.heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!SimClock.before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  private pop(): Timer | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let min = i
      if (l < heap.length && SimClock.before(heap[l]!, heap[min]!)) min = l
      if (r < heap.length && SimClock.before(heap[r]!, heap[min]!)) min = r
      if (min === i) return top
      ;[heap[i], heap[min]] = [heap[min]!, heap[i]!]
      i = min
    }
  }
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown } | null

/** One simulation run: its seed, clock and root Random, and the loop that drives them. */
export class Sim {
  readonly seed: number
  readonly clock = new SimClock()
  readonly random: Random
  events_run = 0

  constructor(seed: number) {
    this.seed = seed
    this.random = seededRandom(seed)
  }

  /** An independent stream of randomness, so one component's draws do not shift another's. */
  fork(): Random {
    return seededRandom(Math.floor(this.random.float() * 2 ** 32))
  }

  now(): number {
    return this.clock.now()
  }

  /** Runs the next event and everything it queued; false when no timer is left. */
  async step(): Promise<boolean> {
    await flush()
    return this.fireOne()
  }

  /** Runs every event due up to `at_ms`, then leaves the clock at `at_ms`. */
  async run_until(at_ms: number): Promise<void> {
    await this.runWhile(() => true, at_ms)
    this.clock.advanceTo(at_ms)
  }

  run_for(duration_ms: number): Promise<void> {
    return this.run_until(this.now() + duration_ms)
  }

  /** Runs until no timer is left; `events_max` bounds runs whose timers re-arm forever. */
  async run_until_idle(events_max = SIM_EVENTS_MAX): Promise<void> {
    const start = this.events_run
    while (await this.step()) {
      if (this.events_run - start >= events_max) {
        throw new Error(`sim not idle after ${events_max} events (seed=${this.seed})`)
      }
    }
  }

  /** Runs until `promise` settles or `timeout_ms` of virtual time pass; null if it did not settle. */
  async settle<T>(promise: Promise<T>, timeout_ms: number): Promise<Settled<T>> {
    let result: Settled<T> = null
    promise.then(
      (value) => {
        result = { ok: true, value }
      },
      (error: unknown) => {
        result = { ok: false, error }
      },
    )
    await this.runWhile(() => result === null, this.now() + timeout_ms)
    return result
  }

  /** Runs until `predicate` holds (checked after every event) or `timeout_ms` pass; returns whether it held. */
  async run_until_true(predicate: () => boolean, timeout_ms: number): Promise<boolean> {
    await this.runWhile(() => !predicate(), this.now() + timeout_ms)
    return predicate()
  }

  /** Like `settle`, but throws (naming the seed) unless the promise resolved. */
  async resolve<T>(promise: Promise<T>, timeout_ms: number, what: string): Promise<T> {
    const r = await this.settle(promise, timeout_ms)
    if (r === null)
      throw new Error(`${what}: not settled within ${timeout_ms} ms (seed=${this.seed})`)
    if (!r.ok) throw r.error
    return r.value
  }

  private async fireOne(): Promise<boolean> {
    if (!this.clock.fireNext()) return false
    this.events_run++
    await flush()
    return true
  }

  private async runWhile(condition: () => boolean, until_ms: number): Promise<void> {
    await flush()
    const start = this.events_run
    while (condition()) {
      const due_ms = this.clock.nextDue_ms()
      if (due_ms === null || due_ms > until_ms) return
      await this.fireOne()
      if (this.events_run - start >= SIM_EVENTS_MAX) {
        throw new Error(`sim ran ${SIM_EVENTS_MAX} events without finishing (seed=${this.seed})`)
      }
    }
  }
}
