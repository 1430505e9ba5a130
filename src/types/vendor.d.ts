// Minimal typings for the Holepunch modules Parley uses. They ship no types;
// these cover only the surface we call, so a wrong call fails to compile.

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface HostPort {
    host: string
    port: number
  }
  export interface NoiseSocket extends Duplex {
    publicKey: Buffer
    remotePublicKey: Buffer
    handshakeHash: Buffer | null
    isInitiator: boolean
    rawStream: any
    relay?: unknown
    opened: Promise<boolean>
    setKeepAlive(ms: number): void
    send(data: Uint8Array): boolean
    trySend(data: Uint8Array): void
  }
  export interface Server extends EventEmitter {
    listen(keyPair?: KeyPair): Promise<void>
    close(): Promise<void>
    address(): { host: string; port: number; publicKey: Buffer } | null
    relayAddresses: HostPort[]
    publicKey: Buffer
  }
  export interface Query extends AsyncIterable<any> {
    finished(): Promise<void>
    destroy(): void
    closestReplies: any[]
  }
  export default class DHT extends EventEmitter {
    constructor(opts?: Record<string, unknown>)
    static keyPair(seed?: Uint8Array): KeyPair
    static hash(data: Uint8Array): Buffer
    static BOOTSTRAP: string[]
    defaultKeyPair: KeyPair
    bootstrapped: boolean
    firewalled: boolean
    randomized: boolean
    ephemeral: boolean
    online: boolean
    destroyed: boolean
    host: string | null
    port: number
    io: any
    stats: any
    udx: any
    ready(): Promise<void>
    fullyBootstrapped(): Promise<void>
    destroy(opts?: { force?: boolean }): Promise<void>
    connect(publicKey: Uint8Array, opts?: Record<string, unknown>): NoiseSocket
    createServer(opts?: Record<string, unknown>, onconnection?: (s: NoiseSocket) => void): Server
    lookup(target: Uint8Array, opts?: Record<string, unknown>): Query
    announce(
      target: Uint8Array,
      keyPair: KeyPair,
      relayAddresses?: HostPort[],
      opts?: Record<string, unknown>,
    ): Query
    unannounce(target: Uint8Array, keyPair: KeyPair, opts?: Record<string, unknown>): Promise<void>
    findPeer(publicKey: Uint8Array, opts?: Record<string, unknown>): Query
    toArray(opts?: { limit?: number }): HostPort[]
    address(): { host: string; port: number }
    createRawStream(opts?: Record<string, unknown>): any
    ping(to: HostPort, opts?: Record<string, unknown>): Promise<unknown>
  }
}

declare module 'hyperdht/testnet.js' {
  import type DHT from 'hyperdht'
  export default function createTestnet(
    size?: number,
    opts?: Record<string, unknown>,
  ): Promise<{
    nodes: DHT[]
    bootstrap: { host: string; port: number }[]
    destroy(): Promise<void>
  }>
}

declare module 'protomux' {
  export interface Message {
    send(data: any): boolean
  }
  export interface Channel {
    open(handshake?: any): void
    close(): void
    addMessage(opts: { encoding?: any; onmessage?: (m: any) => void }): Message
    messages: Message[]
    closed: boolean
    opened: boolean
    fullyOpened(): Promise<boolean>
  }
  export default class Protomux {
    constructor(stream: any, opts?: Record<string, unknown>)
    static from(stream: any, opts?: Record<string, unknown>): Protomux
    createChannel(opts: {
      protocol: string
      id?: Uint8Array | null
      unique?: boolean
      handshake?: any
      messages?: any[]
      onopen?: (handshake: any) => void | Promise<void>
      onclose?: (isRemote: boolean) => void
      ondestroy?: () => void
      ondrain?: () => void
    }): Channel | null
    pair(
      opts: { protocol: string; id?: Uint8Array | null },
      notify: (id: Uint8Array) => void | Promise<void>,
    ): void
    unpair(opts: { protocol: string; id?: Uint8Array | null }): void
    destroy(err?: Error): void
    stream: any
  }
}

declare module 'compact-encoding' {
  const c: any
  export default c
}

declare module 'z32' {
  export function encode(buf: Uint8Array): string
  export function decode(s: string): Buffer
}

declare module 'sodium-native' {
  const sodium: any
  export default sodium
}

declare module 'udx-native' {
  export default class UDX {
    createSocket(...args: unknown[]): any
    bytesTransmitted: number
    bytesReceived: number
    packetsTransmitted: number
    packetsReceived: number
  }
}

declare module 'blind-relay' {
  import type { EventEmitter } from 'node:events'
  export interface BlindRelaySession extends EventEmitter {
    /** The protomux message for `pair`; Parley wraps its `onmessage` to enforce caps. */
    _pair: { onmessage: (msg: any, mux: unknown) => unknown }
    destroy(err?: Error): void
    end(): Promise<void>
  }
  export class Server extends EventEmitter {
    constructor(opts: { createStream: (opts: Record<string, unknown>) => any })
    accept(stream: any, opts?: { id?: Uint8Array }): BlindRelaySession
    close(): Promise<void>
    stats: any
  }
}

declare module '@hyperswarm/secret-stream' {
  import type { Duplex } from 'node:stream'
  // A streamx Duplex at run time; typed like hyperdht's NoiseSocket (the same class).
  export default class NoiseSecretStream extends Duplex {
    constructor(
      isInitiator: boolean,
      rawStream: any,
      opts?: { keyPair?: { publicKey: Buffer; secretKey: Buffer }; pattern?: 'XX' | 'IK' },
    )
    publicKey: Buffer
    remotePublicKey: Buffer
    isInitiator: boolean
    rawStream: any
    opened: Promise<boolean>
  }
}
