// Wire layer: the byte layout of every Parley message, the protocol
// constants, version negotiation and the identity topic. Everything here is
// specified in docs/PROTOCOL.md with golden vectors in test/fixtures/wire.

export * from './constants.js'
export { type ControlMessage, decodeControl, encodeControl, GoodbyeCode } from './control.js'
export { decodeHello, encodeHello, type Hello, helloEncoding } from './hello.js'
export { identityTopic, supernodeTopic } from './topic.js'
export { decodeTunnelId, encodeTunnelId, type TunnelId } from './tunnel.js'
export { negotiateVersion, type VersionRange } from './version.js'
