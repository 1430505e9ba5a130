// The channel id of a gateway tunnel (PROTOCOL.md §5.11). A tunnel carries the
// bytes of an inner, end-to-end Noise stream between two devices through a
// gateway; its protomux channel id names the identity it is meant for, so the
// gateway can route it before accepting it.

import { ParleyError } from '../util/errors.js'
import { TUNNEL_ID_BYTES, TUNNEL_ID_KIND, TUNNEL_NONCE_BYTES } from './constants.js'

const IDENTITY_BYTES = 32

export interface TunnelId {
  /** The identity the tunnel is for: the far end's inner Hello must certify it. */
  target: Buffer
  /** Chosen at random by the opener: several tunnels to one identity stay apart. */
  nonce: Buffer
}

export function encodeTunnelId(id: TunnelId): Buffer {
  if (id.target.byteLength !== IDENTITY_BYTES || id.nonce.byteLength !== TUNNEL_NONCE_BYTES) {
    throw new ParleyError('MALFORMED_MESSAGE', 'a tunnel id has a 32-byte target and 8-byte nonce')
  }
  return Buffer.concat([Buffer.from([TUNNEL_ID_KIND]), id.target, id.nonce])
}

/** Throws MALFORMED_MESSAGE for anything but the exact 41-byte layout. */
export function decodeTunnelId(bytes: Uint8Array | null): TunnelId {
  if (bytes === null || bytes.byteLength !== TUNNEL_ID_BYTES || bytes[0] !== TUNNEL_ID_KIND) {
    throw new ParleyError('MALFORMED_MESSAGE', 'not a tunnel id')
  }
  const b = Buffer.from(bytes)
  return {
    target: b.subarray(1, 1 + IDENTITY_BYTES),
    nonce: b.subarray(1 + IDENTITY_BYTES),
  }
}
