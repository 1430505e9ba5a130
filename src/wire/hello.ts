// The Hello (PROTOCOL.md §5.1): the handshake of the control channel, sent in
// protomux's channel-open message. It carries version negotiation, so its
// layout is the one structure every protocol version must keep unchanged.

import c from 'compact-encoding'
import { type DeviceCertificate, deviceCertificateEncoding } from '../identity/index.js'
import { ParleyError } from '../util/errors.js'
import {
  type Codec,
  checkString,
  checkUint,
  decodeStrict,
  encodeWith,
  errorText,
  expectEnd,
  malformed,
  readString,
  readUint,
  type State,
} from './codec.js'
import { AGENT_BYTES_MAX } from './constants.js'

export interface Hello {
  /** Lowest protocol version the sender speaks. */
  versionMin: number
  /** Highest protocol version the sender speaks; >= versionMin. */
  versionMax: number
  /** The sender's device certificate; its device key must be the sender's Noise key. */
  certificate: DeviceCertificate
  /** Software name and version, for logs and diagnostics only (UTF-8, at most 64 bytes). */
  agent: string
  /** Bit 0: the sender serves as a supernode (HELLO_FLAG_SUPERNODE). Other bits reserved. */
  flags: number
}

/**
 * compact-encoding codec for the Hello, usable directly as a protomux
 * channel `handshake` encoding. The Hello is always the last thing in its
 * container (it runs to the end of the open message), so `decode` rejects
 * trailing bytes itself: both ways of receiving it enforce the same rules.
 */
export const helloEncoding: Codec<Hello> = {
  preencode(state: State, h: Hello): void {
    checkHello(h)
    c.uint.preencode(state, h.versionMin)
    c.uint.preencode(state, h.versionMax)
    withCertificateErrors(() => deviceCertificateEncoding.preencode(state, h.certificate))
    c.string.preencode(state, h.agent)
    c.uint.preencode(state, h.flags)
  },
  encode(state: State, h: Hello): void {
    c.uint.encode(state, h.versionMin)
    c.uint.encode(state, h.versionMax)
    deviceCertificateEncoding.encode(state, h.certificate)
    c.string.encode(state, h.agent)
    c.uint.encode(state, h.flags)
  },
  decode(state: State): Hello {
    const versionMin = readUint(state, 'hello version_min')
    const versionMax = readUint(state, 'hello version_max')
    if (versionMin > versionMax) {
      throw malformed(`hello: version_min ${versionMin} is above version_max ${versionMax}`)
    }
    const certificate = withCertificateErrors(() => deviceCertificateEncoding.decode(state))
    const agent = readString(state, 'hello agent', AGENT_BYTES_MAX)
    const flags = readUint(state, 'hello flags')
    expectEnd(state, 'hello')
    return { versionMin, versionMax, certificate, agent, flags }
  },
}

function checkHello(h: Hello): void {
  if (typeof h !== 'object' || h === null) throw malformed('hello: must be an object')
  checkUint(h.versionMin, 'hello versionMin')
  checkUint(h.versionMax, 'hello versionMax')
  if (h.versionMin > h.versionMax) {
    throw malformed(`hello: versionMin ${h.versionMin} is above versionMax ${h.versionMax}`)
  }
  checkString(h.agent, 'hello agent', AGENT_BYTES_MAX)
  checkUint(h.flags, 'hello flags')
}

// The identity layer's codec throws plain Errors (compact-encoding style);
// here they become the wire layer's coded error.
function withCertificateErrors<T>(run: () => T): T {
  try {
    return run()
  } catch (err) {
    if (err instanceof ParleyError) throw err
    throw malformed(`hello certificate: ${errorText(err)}`, err)
  }
}

/** Encodes a Hello; throws ParleyError for one a receiver would reject. */
export function encodeHello(h: Hello): Buffer {
  return encodeWith(helloEncoding, h)
}

/**
 * Decodes a Hello that fills `buf` exactly. The result never aliases `buf`
 * (the certificate codec copies its keys).
 * Throws ParleyError: MALFORMED_MESSAGE (truncated, trailing bytes, bad
 * certificate layout, version_min > version_max, non-shortest uint, invalid
 * UTF-8) or MESSAGE_TOO_LARGE (agent over AGENT_BYTES_MAX).
 */
export function decodeHello(buf: Uint8Array): Hello {
  return decodeStrict(buf, 'hello', (state) => helloEncoding.decode(state))
}
