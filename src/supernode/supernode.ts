import type DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import type { Clock } from '../util/clock.js'
import { CONTROL_PROTOCOL } from '../wire/index.js'
import type { RelayCaps } from './caps.js'
import type { MetricSample } from './metrics.js'
import { CappedRelay } from './relay.js'

/** A connection that opens neither protocol within this long is closed. */
const ROUTE_TIMEOUT_MS = 10_000
const RELAY_PROTOCOL = 'blind-relay'

/**
 * The supernode role: a blind relay behind Parley's caps, sharing the
 * daemon's hyperdht server. Each incoming connection is routed by the first
 * protocol its peer opens: hyperdht's relay client opens `blind-relay`
 * (channel id = its key), a Parley peer opens the control channel.
 */
export class Supernode {
  readonly relay: CappedRelay

  constructor(opts: {
    dht: DHT
    clock: Clock
    caps?: Partial<RelayCaps>
    onWarning?: (err: Error) => void
  }) {
    this.relay = new CappedRelay(opts)
  }

  route(socket: NoiseSocket, onSession: () => void): void {
    const mux = Protomux.from(socket)
    const relayChannel = { protocol: RELAY_PROTOCOL, id: socket.remotePublicKey }
    const control = { protocol: CONTROL_PROTOCOL }
    const timer = setTimeout(() => socket.destroy(), ROUTE_TIMEOUT_MS)
    timer.unref()
    const decide = () => {
      clearTimeout(timer)
      mux.unpair(relayChannel)
      mux.unpair(control)
    }
    mux.pair(relayChannel, () => {
      decide()
      this.relay.accept(socket)
    })
    mux.pair(control, () => {
      decide()
      onSession()
    })
    socket.once('close', () => clearTimeout(timer))
  }

  status() {
    return this.relay.stats()
  }

  metrics(): MetricSample[] {
    const s = this.relay.stats()
    const g = (name: string, help: string, value: number): MetricSample => ({
      name,
      help,
      type: 'gauge',
      value,
    })
    const c = (name: string, help: string, value: number): MetricSample => ({
      name,
      help,
      type: 'counter',
      value,
    })
    return [
      g('parley_relay_sessions_active', 'Relay sessions pending or active.', s.sessions_active),
      g('parley_relay_sessions_max', 'Cap on relay sessions.', s.caps.sessions_max),
      g(
        'parley_relay_session_bytes_per_second_max',
        'Cap on one relay session, bytes/s both ways.',
        s.caps.session_bytes_per_s_max,
      ),
      g(
        'parley_relay_total_bytes_per_second_max',
        'Cap on the whole relay, bytes/s.',
        s.caps.total_bytes_per_s_max,
      ),
      c('parley_relay_sessions_accepted_total', 'Relay sessions admitted.', s.sessions_accepted),
      c(
        'parley_relay_sessions_refused_total',
        'Relay sessions refused at the session cap (RELAY_FULL).',
        s.sessions_refused,
      ),
      c(
        'parley_relay_sessions_rate_limited_total',
        'Relay sessions cut for exceeding a rate cap (RATE_LIMITED).',
        s.sessions_rate_limited,
      ),
      c('parley_relay_bytes_total', 'Bytes relayed, both directions.', s.bytes_relayed),
    ]
  }

  close(): Promise<void> {
    return this.relay.close()
  }
}
