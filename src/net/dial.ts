import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import { ParleyError, throwIfAborted } from '../util/errors.js'
import { RELAY_NUDGE_POLL_MS, RELAY_NUDGE_UNTIL_MS, RELAY_NUDGES_MAX } from './constants.js'
import type { Reachability } from './reachability.js'

export interface DialTarget {
  publicKey: Buffer
  relayAddresses: { host: string; port: number }[]
}

/**
 * When to race a relay against punching. A relay session costs a supernode
 * a slot and a round trip, so we ask for one only when punching is likely to
 * be slow or impossible from our side: our own NAT randomises ports (punching
 * works only against consistent peers, after 2–15 s), or we do not know yet.
 * Open and consistent hosts dial plainly and ask for a relay only when that
 * first attempt fails (see NetworkNode.connect). The callee applies the same
 * rule to its own reachability through the server's `relayThrough` hook;
 * hyperdht then uses the callee's relay, as the callee knows its NAT best.
 */
export function wantsRelay(reachability: Reachability): boolean {
  return reachability === 'randomising-nat' || reachability === 'unknown'
}

/**
 * Test-only: `PARLEY_TEST_FORCE_RELAY=1` makes every dial go through a relay
 * on loopback, where hyperdht would otherwise always find the direct path
 * (LAN shortcut, fast-open probe, punching). Never set it in production: a
 * node with it never connects directly.
 */
export const FORCE_RELAY_FOR_TESTS = process.env.PARLEY_TEST_FORCE_RELAY === '1'

export const FORCED_RELAY_CONNECT_OPTS = {
  holepunch: () => false,
  localConnection: false,
  fastOpen: false,
}

/** One hyperdht dial, optionally raced through `relay`; resolves once the Noise handshake completed. */
export function dialOnce(opts: {
  dht: DHT
  keyPair: KeyPair
  target: DialTarget
  relay: Buffer | null
  forceRelay: boolean
  signal?: AbortSignal
  onDebug: (msg: string) => void
}): Promise<NoiseSocket> {
  const { dht, target, relay, signal } = opts
  throwIfAborted(signal)
  const socket = dht.connect(target.publicKey, {
    keyPair: opts.keyPair,
    relayAddresses: target.relayAddresses,
    ...(relay === null ? {} : { relayThrough: relay }),
    ...(opts.forceRelay ? FORCED_RELAY_CONNECT_OPTS : {}),
  })
  const started_ms = performance.now()
  return new Promise((resolve, reject) => {
    const onAbort = () => socket.destroy()
    const cleanup = () => {
      socket.off('open', onOpen)
      socket.off('error', onError)
      socket.off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onOpen = () => {
      const ms = (performance.now() - started_ms).toFixed(1)
      opts.onDebug(`dial ${target.publicKey.toString('hex').slice(0, 16)} open in ${ms} ms`)
      cleanup()
      resolve(socket)
    }
    const onError = (err: Error & { code?: string }) => {
      const via = relay === null ? '' : ` via relay ${relay.toString('hex').slice(0, 16)}`
      opts.onDebug(
        `dial ${target.publicKey.toString('hex').slice(0, 16)}${via} failed: ${err.code ?? err.message}`,
      )
      cleanup()
      socket.destroy()
      reject(
        new ParleyError(
          'PEER_NOT_FOUND',
          `could not reach the peer's device${via}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      )
    }
    const onClose = () => onError(new Error(signal?.aborted ? 'cancelled' : 'connection closed'))
    socket.on('open', onOpen)
    socket.on('error', onError)
    socket.on('close', onClose)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

const EMPTY = Buffer.alloc(0)

/**
 * Gets a relayed stream's first flight through in a round trip instead of
 * UDX's 1 s initial retransmission timeout. A blind relay learns each peer's
 * address from that peer's first packet (blind-relay's
 * `BlindRelayLink._onfirewall`) and drops what it cannot forward yet, so the
 * side whose pair reply arrives first loses what it sends (secret-stream
 * header, hello) before the other side's first packet reached the relay: in
 * the NAT lab ~1 relayed connect in 3 took 1,030–1,130 ms instead of 40–100.
 * Once a packet from the peer has arrived (so its side of the relay is up)
 * while ours are still unacknowledged, we send an empty secret-stream message
 * (protomux ignores empty frames): the peer acknowledges it selectively and
 * UDX resends the lost packets at once (also when punching moved the stream
 * to the direct path meanwhile). Costs a few tiny packets per relayed connect
 * at most; nothing when the first flight is acknowledged in time.
 */
export function nudgeRelayedStream(socket: NoiseSocket): void {
  const raw = socket.rawStream
  const started_ms = performance.now()
  let seen = 0
  let nudges = 0
  const timer = setInterval(() => {
    const over = nudges >= RELAY_NUDGES_MAX || performance.now() - started_ms > RELAY_NUDGE_UNTIL_MS
    // All we sent was acknowledged: the relay forwards both ways now.
    const acked = raw.packetsTransmitted > 0 && raw.inflight === 0
    if (over || acked || socket.destroyed) {
      clearInterval(timer)
      return
    }
    if (raw.packetsReceived === seen) return
    seen = raw.packetsReceived
    nudges++
    socket.write(EMPTY)
  }, RELAY_NUDGE_POLL_MS)
  timer.unref()
}
