// An identity as this device holds it: the long-term identity key (its
// public key IS the Parley ID), this device's key (used for Noise on the
// DHT), and the certificate in which the first vouches for the second.

import { ParleyError } from '../util/errors.js'
import { type DeviceCertificate, signDeviceCertificate } from './certificate.js'
import { IDENTITY_NAME_BYTES_MAX } from './constants.js'
import { generateKeyPair, type KeyPair } from './keys.js'

export interface IdentityKeys {
  /** What the user calls themselves; a local label, not signed. */
  name: string
  identity: KeyPair
  device: KeyPair
  certificate: DeviceCertificate
}

/** What can be read from a keystore without its passphrase. */
export interface PublicIdentity {
  name: string
  identityPublicKey: Buffer
  devicePublicKey: Buffer
  encrypted: boolean
}

/** Fresh identity and device keys, with the device certified as of `now_ms` (wall clock). */
export function generateIdentity(opts: {
  name: string
  deviceName: string
  now_ms: number
}): IdentityKeys {
  const problem = identityNameProblem(opts.name)
  if (problem !== null) throw new ParleyError('USAGE', `the identity name ${problem}`)
  const identity = generateKeyPair()
  const device = generateKeyPair()
  const certificate = signDeviceCertificate(
    identity,
    device.publicKey,
    opts.deviceName,
    opts.now_ms,
  )
  return { name: opts.name, identity, device, certificate }
}

/** Why `name` cannot name an identity, or null if it can. */
export function identityNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string'
  const bytes = Buffer.from(name, 'utf-8')
  if (bytes.byteLength === 0) return 'must not be empty'
  if (bytes.byteLength > IDENTITY_NAME_BYTES_MAX) {
    return `is ${bytes.byteLength} bytes; at most ${IDENTITY_NAME_BYTES_MAX} are allowed`
  }
  if (bytes.toString('utf-8') !== name) return 'is not valid Unicode'
  return null
}
