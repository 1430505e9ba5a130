import type { Random } from '../../src/util/random.js'
import type { SimClock } from './sim.js'

// A one-way media path for the call simulations: fixed delay plus uniform
// jitter (which reorders), and loss that is either independent or bursty
// (a two-state Gilbert model: every packet in the bad state is lost).

export type LossModel =
  | { kind: 'none' }
  | { kind: 'random'; rate: number }
  | { kind: 'bursty'; rate: number; burst_mean: number }

export interface MediaPathConditions {
  delay_ms: number
  jitter_ms: number
  loss: LossModel
}

export class MediaChannel {
  sent = 0
  lost = 0
  private bad = false
  private readonly clock: SimClock
  private readonly random: Random
  private readonly cond: MediaPathConditions
  private readonly deliver: (bytes: Uint8Array, at_ms: number) => void

  constructor(
    clock: SimClock,
    random: Random,
    cond: MediaPathConditions,
    deliver: (bytes: Uint8Array, at_ms: number) => void,
  ) {
    this.clock = clock
    this.random = random
    this.cond = cond
    this.deliver = deliver
  }

  send(bytes: Uint8Array): void {
    this.sent++
    if (this.drop()) {
      this.lost++
      return
    }
    const copy = Uint8Array.from(bytes)
    const delay_ms = this.cond.delay_ms + this.uniform() * this.cond.jitter_ms
    this.clock.setTimeout(() => this.deliver(copy, this.clock.now()), delay_ms)
  }

  private drop(): boolean {
    const loss = this.cond.loss
    if (loss.kind === 'none') return false
    if (loss.kind === 'random') return this.uniform() < loss.rate
    // Gilbert: leave the bad state with 1/burst_mean; enter it so that the
    // stationary share of bad packets equals the loss rate.
    const leave = 1 / loss.burst_mean
    const enter = (loss.rate * leave) / (1 - loss.rate)
    this.bad = this.bad ? this.uniform() >= leave : this.uniform() < enter
    return this.bad
  }

  private uniform(): number {
    const b = this.random.bytes(4)
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32
  }
}
