import type { Duplex } from 'node:stream'
import type { Duplex as ByteStream } from 'streamx'

/**
 * A message-preserving, reliable, encrypted duplex between two devices —
 * hyperdht's secret-stream in production, a simulated link in test/sim.
 */
export interface FramedStream extends Duplex {
  /** Our device public key (the Noise static key). */
  publicKey: Buffer
  /** The remote device public key, authenticated by the Noise handshake. */
  remotePublicKey: Buffer
  isInitiator: boolean
  /** Where the bytes go now, when the network layer can tell (live: relayed → direct). */
  readonly path?: Path
  /** Unreliable datagrams on the same encrypted connection, when the path has them. */
  trySend?(data: Uint8Array): void
}

/** Where a device can be dialled (an announcement seen on the DHT). */
export interface DeviceAddress {
  publicKey: Buffer
  relayAddresses: { host: string; port: number }[]
}

/** The narrow view of the network the session layer needs; the simulator provides its own. */
export interface PeerNetwork {
  findDevices(identityPublicKey: Uint8Array, signal?: AbortSignal): AsyncIterable<DeviceAddress>
  connect(device: DeviceAddress, signal?: AbortSignal): Promise<FramedStream>
  /**
   * Runs our own Noise handshake (device key) over a raw byte stream — a
   * gateway tunnel (PROTOCOL.md §5.11) — and resolves once it completed.
   * Networks without gateways (the simulator) leave it out.
   */
  secure?(raw: ByteStream, isInitiator: boolean): Promise<FramedStream>
}

export type Path = 'direct' | 'relayed' | 'gateway'
