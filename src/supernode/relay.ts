import { Server as BlindRelayServer, type BlindRelaySession } from 'blind-relay'
import type DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import type { Clock } from '../util/clock.js'
import { DEFAULT_RELAY_CAPS, RelayAccounting, type RelayCaps } from './caps.js'
import { RELAY_PAIRING_TIMEOUT_MS, RELAY_SAMPLE_INTERVAL_MS } from './constants.js'

interface RelayStream {
  bytesReceived: number
  destroy(err?: Error): void
  on(event: 'close', fn: () => void): unknown
}

/**
 * hyperdht's blind relay (the `blind-relay` Server hyperdht's own
 * `relayThrough` client talks to), with Parley's caps and accounting around it.
 * Caps are enforced at the one hook blind-relay has before it allocates
 * anything: the `pair` message. A new pairing token beyond the session cap
 * closes that relay connection, which the peer's hyperdht reports as
 * RELAY_ABORTED and Parley's dialler answers by trying the next supernode.
 */
export class CappedRelay {
  readonly accounting: RelayAccounting
  private readonly server: BlindRelayServer
  private readonly streams = new Map<string, Set<RelayStream>>()
  private readonly sampler: NodeJS.Timeout
  private readonly onWarning: (err: Error) => void
  private closed = false

  constructor(opts: {
    dht: DHT
    clock: Clock
    caps?: Partial<RelayCaps>
    onWarning?: (err: Error) => void
  }) {
    const caps = { ...DEFAULT_RELAY_CAPS }
    for (const key of Object.keys(caps) as (keyof RelayCaps)[]) {
      const value = opts.caps?.[key]
      if (value !== undefined) caps[key] = value
    }
    this.accounting = new RelayAccounting(caps, opts.clock)
    this.onWarning = opts.onWarning ?? (() => {})
    // The relay's streams must be framed raw UDX streams of the DHT's own
    // socket, exactly what hyperdht's relay client expects (docs: PRODUCT.md).
    this.server = new BlindRelayServer({
      createStream: (o: Record<string, unknown>) =>
        opts.dht.createRawStream({ ...o, framed: true }),
    })
    this.sampler = setInterval(() => this.sample(), RELAY_SAMPLE_INTERVAL_MS)
    this.sampler.unref()
  }

  /** Takes a connection whose peer opened the blind-relay protocol. */
  accept(socket: NoiseSocket): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    const session = this.server.accept(socket, { id: socket.remotePublicKey })
    const mine = new Set<string>()
    const pairMessage = session._pair
    const onpair = pairMessage.onmessage
    // Admission runs before blind-relay records the request: a refused token
    // never reaches its pairing table.
    pairMessage.onmessage = (msg: { token: Buffer }, mux: unknown) => {
      const key = msg.token.toString('hex')
      const refused = this.accounting.admit(key)
      if (refused !== null) {
        this.onWarning(refused)
        session.destroy(refused)
        socket.destroy()
        return
      }
      mine.add(key)
      const timer = setTimeout(() => {
        if (!this.streams.has(key)) this.cut(key, session)
      }, RELAY_PAIRING_TIMEOUT_MS)
      timer.unref()
      return onpair(msg, mux)
    }
    session.on('pair', (_initiator: boolean, token: Buffer, stream: RelayStream) => {
      const key = token.toString('hex')
      const set = this.streams.get(key) ?? new Set<RelayStream>()
      this.streams.set(key, set)
      set.add(stream)
      stream.on('close', () => {
        set.delete(stream)
        if (set.size === 0 && this.streams.get(key) === set) {
          this.streams.delete(key)
          this.accounting.release(key)
        }
      })
    })
    session.on('error', () => {})
    session.on('close', () => {
      // Tokens that never paired hold no streams: give their slots back.
      for (const key of mine) if (!this.streams.has(key)) this.accounting.release(key)
      socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => session.destroy())
  }

  private sample(): void {
    const readings = new Map<string, number>()
    for (const [key, set] of this.streams) {
      let bytes = 0
      for (const s of set) bytes += s.bytesReceived
      readings.set(key, bytes)
    }
    for (const key of this.accounting.sample(readings)) this.cut(key, null)
  }

  private cut(key: string, session: BlindRelaySession | null): void {
    this.accounting.release(key)
    const set = this.streams.get(key)
    this.streams.delete(key)
    for (const s of set ?? []) s.destroy()
    session?.destroy()
  }

  stats() {
    return { caps: this.accounting.caps, ...this.accounting.counters() }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.sampler)
    for (const set of this.streams.values()) for (const s of set) s.destroy()
    this.streams.clear()
    await this.server.close().catch(() => {})
  }
}
