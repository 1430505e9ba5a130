// A simulated datagram network between named hosts. Every datagram draws
// its fate (loss, duplication, delay) from the seeded Random and is delivered
// by a sim timer, so reordering falls out of jitter and the whole run replays
// from the seed. Delivery, like UDP, promises nothing.

import type { Clock } from '../../src/util/clock.js'
import { Counters } from '../../src/util/counters.js'
import { assert } from '../../src/util/errors.js'
import type { Random } from '../../src/util/random.js'

export interface LinkConditions {
  /** One-way base delay. */
  latency_ms: number
  /** Extra one-way delay drawn uniformly from [0, jitter_ms) per datagram; reorders datagrams. */
  jitter_ms: number
  loss_probability: number
  duplicate_probability: number
}

export const PERFECT_LINK: LinkConditions = {
  latency_ms: 10,
  jitter_ms: 0,
  loss_probability: 0,
  duplicate_probability: 0,
}

export interface Address {
  host: string
  port: number
}

export type DatagramHandler<B> = (body: B, from: Address) => void

export type NetworkCounter =
  | 'sent'
  | 'delivered'
  | 'lost'
  | 'duplicated'
  | 'dropped_partition'
  | 'dropped_host_down'
  | 'dropped_unbound'

/** Bound on datagrams in flight: a retransmit storm fails the run instead of eating memory. */
export const DATAGRAMS_IN_FLIGHT_MAX = 100_000

const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`)
const addressKey = (a: Address) => `${a.host}:${a.port}`

export class SimNetwork<B> {
  readonly counters = new Counters<NetworkCounter>()
  private readonly clock: Clock
  private readonly random: Random
  private readonly defaults: LinkConditions
  private readonly conditions = new Map<string, LinkConditions>()
  private readonly cut = new Set<string>()
  private readonly down = new Set<string>()
  private readonly handlers = new Map<string, DatagramHandler<B>>()
  private inFlight = 0

  constructor(clock: Clock, random: Random, defaults: LinkConditions = PERFECT_LINK) {
    this.clock = clock
    this.random = random
    this.defaults = defaults
  }

  /** Sets the conditions between two hosts, in both directions. */
  configure(a: string, b: string, conditions: Partial<LinkConditions>): void {
    this.conditions.set(pairKey(a, b), { ...this.linkBetween(a, b), ...conditions })
  }

  linkBetween(a: string, b: string): LinkConditions {
    return this.conditions.get(pairKey(a, b)) ?? this.defaults
  }

  /** Cuts every datagram between two hosts, including those already in flight. */
  partition(a: string, b: string): void {
    this.cut.add(pairKey(a, b))
  }

  heal(a: string, b: string): void {
    this.cut.delete(pairKey(a, b))
  }

  isCut(a: string, b: string): boolean {
    return this.cut.has(pairKey(a, b))
  }

  /** A host that is down neither sends nor receives (it crashed or went offline). */
  setHostUp(host: string, up: boolean): void {
    if (up) this.down.delete(host)
    else this.down.add(host)
  }

  isHostUp(host: string): boolean {
    return !this.down.has(host)
  }

  bind(address: Address, handler: DatagramHandler<B>): () => void {
    const key = addressKey(address)
    assert(!this.handlers.has(key), `address ${key} is already bound`)
    this.handlers.set(key, handler)
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key)
    }
  }

  send(from: Address, to: Address, body: B): void {
    assert(from.host !== to.host, 'the simulated network only carries traffic between hosts')
    this.counters.inc('sent')
    const link = this.linkBetween(from.host, to.host)
    if (this.random.float() < link.loss_probability) {
      this.counters.inc('lost')
      return
    }
    this.schedule(from, to, body, link)
    if (this.random.float() < link.duplicate_probability) {
      this.counters.inc('duplicated')
      this.schedule(from, to, body, link)
    }
  }

  private schedule(from: Address, to: Address, body: B, link: LinkConditions): void {
    assert(this.inFlight < DATAGRAMS_IN_FLIGHT_MAX, 'too many datagrams in flight')
    this.inFlight++
    const delay_ms = link.latency_ms + this.random.float() * link.jitter_ms
    // Checked at both ends of the flight: a cut or a crash also loses what is on the wire.
    const cutAtSend = !this.passable(from.host, to.host)
    this.clock.setTimeout(() => {
      this.inFlight--
      this.deliver(from, to, body, cutAtSend)
    }, delay_ms)
  }

  private passable(a: string, b: string): boolean {
    return !this.cut.has(pairKey(a, b)) && !this.down.has(a) && !this.down.has(b)
  }

  private deliver(from: Address, to: Address, body: B, cutAtSend: boolean): void {
    if (cutAtSend || !this.passable(from.host, to.host)) {
      const hostDown = this.down.has(from.host) || this.down.has(to.host)
      this.counters.inc(hostDown ? 'dropped_host_down' : 'dropped_partition')
      return
    }
    const handler = this.handlers.get(addressKey(to))
    if (handler === undefined) {
      this.counters.inc('dropped_unbound')
      return
    }
    this.counters.inc('delivered')
    handler(body, from)
  }
}
