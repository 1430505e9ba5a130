import { createHash, createHmac, randomBytes } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'

// A minimal TURN client (RFC 8656, formerly RFC 5766) for the relay bench:
// UDP only, long-term credentials, Allocate + ChannelBind + ChannelData.
// No npm package does this for Node (`stun` and `@msimerson/stun` stop at
// STUN Binding), and the bench needs only this much.

const MAGIC_COOKIE = 0x2112a442
const HEADER_BYTES = 20
const INTEGRITY_ATTR_BYTES = 24
const CHANNEL_HEADER_BYTES = 4
const REQUEST_TIMEOUT_MS = 500
const REQUEST_ATTEMPTS_MAX = 4

const METHOD = { allocate: 0x003, refresh: 0x004, channelBind: 0x009 } as const
const CLASS_SUCCESS = 0x100
const CLASS_ERROR = 0x110

const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  channelNumber: 0x000c,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedTransport: 0x0019,
} as const

const ERROR_UNAUTHORIZED = 401
const ERROR_STALE_NONCE = 438
const TRANSPORT_UDP = 17

export interface Address {
  host: string
  port: number
}

type Attr = [type: number, value: Buffer]

interface StunMessage {
  type: number
  transactionId: Buffer
  attrs: Map<number, Buffer>
}

function encodeMessage(type: number, transactionId: Buffer, attrs: Attr[], key: Buffer | null) {
  const body = Buffer.concat(
    attrs.map(([t, v]) => {
      const padded = Buffer.alloc(4 + Math.ceil(v.length / 4) * 4)
      padded.writeUInt16BE(t, 0)
      padded.writeUInt16BE(v.length, 2)
      v.copy(padded, 4)
      return padded
    }),
  )
  const header = Buffer.alloc(HEADER_BYTES)
  header.writeUInt16BE(type, 0)
  // MESSAGE-INTEGRITY covers the header with the length already counting itself (RFC 8489 §14.5).
  header.writeUInt16BE(body.length + (key === null ? 0 : INTEGRITY_ATTR_BYTES), 2)
  header.writeUInt32BE(MAGIC_COOKIE, 4)
  transactionId.copy(header, 8)
  if (key === null) return Buffer.concat([header, body])
  const mac = createHmac('sha1', key).update(header).update(body).digest()
  const integrity = Buffer.alloc(INTEGRITY_ATTR_BYTES)
  integrity.writeUInt16BE(ATTR.messageIntegrity, 0)
  integrity.writeUInt16BE(mac.length, 2)
  mac.copy(integrity, 4)
  return Buffer.concat([header, body, integrity])
}

function decodeMessage(buf: Buffer): StunMessage | null {
  if (buf.length < HEADER_BYTES || buf.readUInt32BE(4) !== MAGIC_COOKIE) return null
  const length = buf.readUInt16BE(2)
  if (HEADER_BYTES + length > buf.length) return null
  const attrs = new Map<number, Buffer>()
  let at = HEADER_BYTES
  while (at + 4 <= HEADER_BYTES + length) {
    const t = buf.readUInt16BE(at)
    const len = buf.readUInt16BE(at + 2)
    if (at + 4 + len > buf.length) return null
    if (!attrs.has(t)) attrs.set(t, buf.subarray(at + 4, at + 4 + len))
    at += 4 + Math.ceil(len / 4) * 4
  }
  return { type: buf.readUInt16BE(0), transactionId: buf.subarray(8, 20), attrs }
}

function encodeXorAddress(addr: Address): Buffer {
  const v = Buffer.alloc(8)
  v.writeUInt8(0x01, 1) // IPv4
  v.writeUInt16BE(addr.port ^ (MAGIC_COOKIE >>> 16), 2)
  const ip = addr.host.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
  v.writeUInt32BE((ip ^ MAGIC_COOKIE) >>> 0, 4)
  return v
}

function decodeXorAddress(v: Buffer): Address {
  const port = v.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16)
  const ip = (v.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0
  return { host: [24, 16, 8, 0].map((s) => (ip >>> s) & 0xff).join('.'), port }
}

function errorCode(msg: StunMessage): number {
  const v = msg.attrs.get(ATTR.errorCode)
  return v === undefined || v.length < 4 ? 0 : (v[2]! & 0x7) * 100 + v[3]!
}

/** One allocation on a TURN server, on its own UDP socket (an allocation is per 5-tuple). */
export class TurnClient {
  private readonly socket: Socket
  private readonly server: Address
  private readonly username: string
  private readonly password: string
  private realm = ''
  private nonce: Buffer = Buffer.alloc(0)
  private key: Buffer | null = null
  private readonly pending = new Map<string, (msg: StunMessage) => void>()
  /** Called with the payload of each ChannelData message (the peer's datagram). */
  onData: (payload: Buffer) => void = () => {}

  constructor(server: Address, username: string, password: string) {
    this.server = server
    this.username = username
    this.password = password
    this.socket = createSocket('udp4')
    this.socket.on('message', (buf: Buffer) => this.onMessage(buf))
    this.socket.on('error', () => {})
  }

  private onMessage(buf: Buffer): void {
    // ChannelData starts with a channel number in 0x4000–0x7FFF; STUN with two zero bits.
    if ((buf[0]! & 0xc0) === 0x40) {
      if (buf.length >= CHANNEL_HEADER_BYTES) this.onData(buf.subarray(CHANNEL_HEADER_BYTES))
      return
    }
    const msg = decodeMessage(buf)
    if (msg === null) return
    const resolve = this.pending.get(msg.transactionId.toString('hex'))
    resolve?.(msg)
  }

  private async request(method: number, attrs: Attr[], signed: boolean): Promise<StunMessage> {
    const transactionId = randomBytes(12)
    const id = transactionId.toString('hex')
    const auth: Attr[] = signed
      ? [
          [ATTR.username, Buffer.from(this.username)],
          [ATTR.realm, Buffer.from(this.realm)],
          [ATTR.nonce, this.nonce],
        ]
      : []
    const packet = encodeMessage(
      method,
      transactionId,
      [...attrs, ...auth],
      signed ? this.key : null,
    )
    try {
      for (let attempt = 0; attempt < REQUEST_ATTEMPTS_MAX; attempt++) {
        const reply = await new Promise<StunMessage | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS * 2 ** attempt)
          this.pending.set(id, (msg) => {
            clearTimeout(timer)
            resolve(msg)
          })
          this.socket.send(packet, this.server.port, this.server.host)
        })
        if (reply !== null) return reply
      }
    } finally {
      this.pending.delete(id)
    }
    throw new Error(`TURN server ${this.server.host}:${this.server.port} did not answer`)
  }

  /** An authenticated request: learns realm and nonce from a 401, renews a stale nonce once. */
  private async signedRequest(method: number, attrs: Attr[]): Promise<StunMessage> {
    let reply = await this.request(method, attrs, this.key !== null)
    for (let tries = 0; tries < 2 && reply.type === (method | CLASS_ERROR); tries++) {
      const code = errorCode(reply)
      if (code !== ERROR_UNAUTHORIZED && code !== ERROR_STALE_NONCE) break
      this.realm = reply.attrs.get(ATTR.realm)?.toString() ?? this.realm
      this.nonce = reply.attrs.get(ATTR.nonce) ?? this.nonce
      // Long-term credential key: MD5(username ":" realm ":" password), RFC 8489 §9.2.2.
      this.key = createHash('md5')
        .update(`${this.username}:${this.realm}:${this.password}`)
        .digest()
      reply = await this.request(method, attrs, true)
    }
    if (reply.type !== (method | CLASS_SUCCESS)) {
      throw new Error(`TURN request 0x${method.toString(16)} failed: error ${errorCode(reply)}`)
    }
    return reply
  }

  /** Binds the socket, allocates a UDP relay; returns the relayed transport address. */
  async allocate(): Promise<Address> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve))
    const transport = Buffer.from([TRANSPORT_UDP, 0, 0, 0])
    const reply = await this.signedRequest(METHOD.allocate, [[ATTR.requestedTransport, transport]])
    const relayed = reply.attrs.get(ATTR.xorRelayedAddress)
    if (relayed === undefined) throw new Error('TURN Allocate answer has no XOR-RELAYED-ADDRESS')
    return decodeXorAddress(relayed)
  }

  /** Binds a channel to the peer (this also installs the permission for its address). */
  async channelBind(channel: number, peer: Address): Promise<void> {
    const number = Buffer.alloc(4)
    number.writeUInt16BE(channel, 0)
    await this.signedRequest(METHOD.channelBind, [
      [ATTR.channelNumber, number],
      [ATTR.xorPeerAddress, encodeXorAddress(peer)],
    ])
  }

  /** Sends a datagram to the channel's peer: a 4-byte ChannelData header and the payload. */
  sendChannel(channel: number, payload: Buffer): void {
    const packet = Buffer.allocUnsafe(CHANNEL_HEADER_BYTES + payload.length)
    packet.writeUInt16BE(channel, 0)
    packet.writeUInt16BE(payload.length, 2)
    payload.copy(packet, CHANNEL_HEADER_BYTES)
    this.socket.send(packet, this.server.port, this.server.host)
  }

  /** Releases the allocation (Refresh with LIFETIME 0) and closes the socket. */
  async close(): Promise<void> {
    if (this.key !== null) {
      const zero = Buffer.alloc(4)
      await this.signedRequest(METHOD.refresh, [[ATTR.lifetime, zero]]).catch(() => {})
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}
