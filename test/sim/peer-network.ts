// The sim's stand-in for hyperdht: a registry of which devices are announced
// under which identity (the DHT), hosts that accept links on a listen port,
// and a PeerNetwork per host that dials over simulated links. What the
// registry says may be a lie (a device announcing under someone else's
// identity), as on the real DHT; only the session hello can tell.

import type { DeviceAddress, FramedStream, PeerNetwork } from '../../src/session/types.js'
import type { Clock } from '../../src/util/clock.js'
import { Counters } from '../../src/util/counters.js'
import { assert, ParleyError } from '../../src/util/errors.js'
import { LinkStream } from './link.js'
import { type LinkConditions, SimNetwork } from './network.js'
import { LISTEN_PORT, type Packet } from './packet.js'
import type { Sim } from './sim.js'

/** Simulated DHT lookup time before the first result. */
export const LOOKUP_MS = 150
/** A dial that gets no answer fails after this, as a hyperdht connect does. */
export const LINK_CONNECT_TIMEOUT_MS = 4_000

export type HubCounter = 'syn_wrong_device' | 'syn_for_closed_link'

/** What a host's PeerNetwork did and when, for tests that check timing (reconnect backoff). */
export interface DialEvent {
  at_ms: number
  host: string
  what: 'lookup' | 'dial_open' | 'dial_failed'
}

/** Bound on the dial trace: a reconnect loop gone wild fails the run. */
export const DIAL_TRACE_MAX = 100_000

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

interface Host {
  name: string
  devicePublicKey: Buffer
  onAccept: (stream: FramedStream) => void
  /** Links with an endpoint on this host, by id; a closed id stays as null so late SYNs are ignored. */
  links: Map<number, LinkStream | null>
}

export class SimHub {
  readonly network: SimNetwork<Packet>
  readonly counters = new Counters<HubCounter>()
  /** Every link ever created, in creation order, for assertions. */
  readonly links: LinkStream[] = []
  readonly dialTrace: DialEvent[] = []
  private readonly sim: Sim
  private readonly hosts = new Map<string, Host>()
  private readonly hostByDevice = new Map<string, string>()
  private readonly announced = new Map<string, Buffer[]>()
  private nextLinkId = 1

  private readonly keepalive_ms: number | null | undefined

  /** `keepalive_ms` null turns link keep-alives off, to see what the session layer notices on its own. */
  constructor(sim: Sim, conditions?: LinkConditions, opts: { keepalive_ms?: number | null } = {}) {
    this.sim = sim
    this.keepalive_ms = opts.keepalive_ms
    this.network = new SimNetwork<Packet>(sim.clock, sim.fork(), conditions)
  }

  get clock(): Clock {
    return this.sim.clock
  }

  /** Adds a host running one device; `onAccept` gets every incoming stream (wire it to `adopt`). */
  addHost(name: string, devicePublicKey: Buffer, onAccept: (stream: FramedStream) => void): void {
    assert(!this.hosts.has(name), `host ${name} exists`)
    const host: Host = { name, devicePublicKey, onAccept, links: new Map() }
    this.hosts.set(name, host)
    this.hostByDevice.set(hex(devicePublicKey), name)
    this.network.bind({ host: name, port: LISTEN_PORT }, (packet, from) =>
      this.onListenPacket(host, packet, from.host),
    )
  }

  /** What `announce` does on the DHT: anyone can put any device under any identity. */
  announce(identityPublicKey: Uint8Array, devicePublicKey: Buffer): void {
    const list = this.announced.get(hex(identityPublicKey)) ?? []
    if (!list.some((k) => k.equals(devicePublicKey))) list.push(devicePublicKey)
    this.announced.set(hex(identityPublicKey), list)
  }

  /** The PeerNetwork of a host; usable once `addHost(hostName, …)` has run. */
  peerNetwork(hostName: string): PeerNetwork {
    return {
      findDevices: (identity, signal) => {
        this.record(hostName, 'lookup')
        return this.findDevices(identity, signal)
      },
      connect: (device, signal) =>
        this.connect(hostName, device, signal).then(
          (stream) => {
            this.record(hostName, 'dial_open')
            return stream
          },
          (err: unknown) => {
            this.record(hostName, 'dial_failed')
            throw err
          },
        ),
    }
  }

  private record(host: string, what: DialEvent['what']): void {
    assert(this.dialTrace.length < DIAL_TRACE_MAX, 'dial trace overflow')
    this.dialTrace.push({ at_ms: this.sim.now(), host, what })
  }

  private async *findDevices(
    identityPublicKey: Uint8Array,
    signal?: AbortSignal,
  ): AsyncIterable<DeviceAddress> {
    await this.sleep(LOOKUP_MS, signal)
    for (const publicKey of this.announced.get(hex(identityPublicKey)) ?? []) {
      if (signal?.aborted) return
      yield { publicKey, relayAddresses: [] }
    }
  }

  private connect(
    from: string,
    device: DeviceAddress,
    signal?: AbortSignal,
  ): Promise<FramedStream> {
    if (signal?.aborted) return Promise.reject(aborted())
    const local = this.hosts.get(from)
    assert(local !== undefined, `no host ${from}`)
    const remoteHost = this.hostByDevice.get(hex(device.publicKey)) ?? null
    if (remoteHost === null || remoteHost === from) {
      // Nobody holds that key (or it is our own): a real dial just hears nothing.
      return this.sleep(LINK_CONNECT_TIMEOUT_MS, signal).then(() => {
        throw notFound(device.publicKey)
      })
    }
    const link_id = this.nextLinkId++
    const link = new LinkStream({
      network: this.network,
      clock: this.sim.clock,
      link_id,
      local: { host: from, port: link_id },
      remote: { host: remoteHost, port: link_id },
      isInitiator: true,
      publicKey: local.devicePublicKey,
      remotePublicKey: Buffer.from(device.publicKey),
      keepalive_ms: this.keepalive_ms,
    })
    this.track(local, link)
    return new Promise<FramedStream>((resolve, reject) => {
      const timer = this.sim.clock.setTimeout(() => {
        cleanup()
        link.destroy()
        reject(notFound(device.publicKey))
      }, LINK_CONNECT_TIMEOUT_MS)
      const onAbort = () => {
        cleanup()
        link.destroy()
        reject(aborted())
      }
      const cleanup = () => {
        this.sim.clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      link.established.then(
        () => {
          cleanup()
          resolve(link.asFramedStream())
        },
        () => {
          cleanup()
          reject(notFound(device.publicKey))
        },
      )
    })
  }

  private onListenPacket(host: Host, packet: Packet, fromHost: string): void {
    if (packet.type !== 'syn') return
    if (!packet.to_device.equals(host.devicePublicKey)) {
      // The Noise handshake would fail: the dialler wanted a key this host does not hold.
      this.counters.inc('syn_wrong_device')
      return
    }
    const existing = host.links.get(packet.link_id)
    if (existing === null) {
      this.counters.inc('syn_for_closed_link')
      return
    }
    if (existing !== undefined) {
      existing.onRepeatedSyn()
      return
    }
    const link = new LinkStream({
      network: this.network,
      clock: this.sim.clock,
      link_id: packet.link_id,
      local: { host: host.name, port: packet.link_id },
      remote: { host: fromHost, port: packet.link_id },
      isInitiator: false,
      publicKey: host.devicePublicKey,
      remotePublicKey: packet.from_device,
      keepalive_ms: this.keepalive_ms,
    })
    this.track(host, link)
    host.onAccept(link.asFramedStream())
  }

  private track(host: Host, link: LinkStream): void {
    this.links.push(link)
    host.links.set(link.link_id, link)
    link.once('close', () => host.links.set(link.link_id, null))
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(aborted())
      const onAbort = () => {
        this.sim.clock.clearTimeout(timer)
        reject(aborted())
      }
      const timer = this.sim.clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

function notFound(devicePublicKey: Uint8Array): ParleyError {
  return new ParleyError(
    'PEER_NOT_FOUND',
    `device ${hex(devicePublicKey).slice(0, 8)}… did not answer within ${LINK_CONNECT_TIMEOUT_MS} ms`,
  )
}

function aborted(): ParleyError {
  return new ParleyError('ABORTED', 'the connect was cancelled')
}
