import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import { ParleyError, throwIfAborted } from '../util/errors.js'
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
  return new Promise((resolve, reject) => {
    const onAbort = () => socket.destroy()
    const cleanup = () => {
      socket.off('open', onOpen)
      socket.off('error', onError)
      socket.off('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onOpen = () => {
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
