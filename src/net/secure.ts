import NoiseSecretStream from '@hyperswarm/secret-stream'
import type { KeyPair } from 'hyperdht'
import type { Duplex } from 'streamx'
import { ParleyError } from '../util/errors.js'
import { SECURE_HANDSHAKE_TIMEOUT_MS } from './constants.js'

export type SecurePath = 'direct' | 'relayed' | 'gateway'

/**
 * Runs the Noise XX handshake of @hyperswarm/secret-stream (the same framing
 * and ciphers as every hyperdht connection) with our device key over any
 * byte stream — a TCP link to a gateway, or a tunnel through one — and
 * resolves once both sides are authenticated. PROTOCOL.md §5.11.
 */
export function secureStream(
  raw: Duplex | import('node:stream').Duplex,
  isInitiator: boolean,
  keyPair: KeyPair,
  path: SecurePath,
): Promise<NoiseSecretStream & { path: SecurePath }> {
  const stream = new NoiseSecretStream(isInitiator, raw, { keyPair })
  Object.defineProperty(stream, 'path', { value: path, enumerable: true })
  stream.on('error', () => {})
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => stream.destroy(), SECURE_HANDSHAKE_TIMEOUT_MS)
    stream.opened.then(
      (ok) => {
        clearTimeout(timer)
        if (ok) resolve(stream as NoiseSecretStream & { path: SecurePath })
        else reject(new ParleyError('PEER_NOT_FOUND', 'the encrypted handshake did not complete'))
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(new ParleyError('PEER_NOT_FOUND', `the encrypted handshake failed: ${String(err)}`))
      },
    )
  })
}
