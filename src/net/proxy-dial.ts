// TCP connections to a gateway, straight or through an explicitly configured
// proxy: HTTP CONNECT (RFC 9110 §9.3.6) or SOCKS5 (RFC 1928, with RFC 1929
// username/password). The credential rule is in src/config/proxy.ts: a
// proxy's credentials go to that proxy only — they are written here, on the
// socket to the proxy, and nowhere else.

import { connect, type Socket } from 'node:net'
import { ParleyError } from '../util/errors.js'
import { GATEWAY_CONNECT_TIMEOUT_MS, PROXY_REPLY_BYTES_MAX } from './constants.js'
import type { HostPort } from './hostcache.js'

export interface ProxySpec {
  protocol: 'http' | 'socks5'
  host: string
  port: number
  username: string
  password: string
}

/** Resolves to a connected socket to `target`, through `proxy` when given. */
export async function dialTcp(
  target: HostPort,
  proxy: ProxySpec | null,
  timeout_ms = GATEWAY_CONNECT_TIMEOUT_MS,
): Promise<Socket> {
  const first = proxy ?? target
  const socket = await tcpConnect(first.host, first.port, timeout_ms)
  if (proxy === null) return socket
  const deadline = setTimeout(() => socket.destroy(), timeout_ms)
  try {
    if (proxy.protocol === 'http') await httpConnect(socket, target, proxy)
    else await socks5Connect(socket, target, proxy)
    return socket
  } catch (err) {
    socket.destroy()
    throw err
  } finally {
    clearTimeout(deadline)
  }
}

function tcpConnect(host: string, port: number, timeout_ms: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    socket.setNoDelay(true)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new ParleyError('PEER_NOT_FOUND', `no TCP answer from ${host}:${port}`))
    }, timeout_ms)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(socket)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        new ParleyError(
          'PEER_NOT_FOUND',
          `cannot reach ${host}:${port}: ${err.code ?? err.message}`,
        ),
      )
    })
  })
}

/** Reads from the socket until `done` says how many bytes make the reply. */
function readReply(
  socket: Socket,
  done: (buf: Buffer) => number | null,
  what: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const cleanup = () => {
      socket.off('data', onData)
      socket.off('close', onClose)
      socket.off('error', onClose)
    }
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      const n = done(buf)
      if (n === null) {
        if (buf.byteLength > PROXY_REPLY_BYTES_MAX) {
          cleanup()
          reject(new ParleyError('PEER_NOT_FOUND', `the proxy's ${what} reply is too long`))
        }
        return
      }
      cleanup()
      // The gateway speaks only after our first Noise message, so nothing may
      // follow the proxy's reply. (The socket stays flowing: pausing it here
      // would keep secret-stream's reader from ever seeing the handshake.)
      if (n < buf.byteLength) {
        reject(new ParleyError('PEER_NOT_FOUND', `the proxy sent data after its ${what} reply`))
        return
      }
      resolve(buf)
    }
    const onClose = () => {
      cleanup()
      reject(new ParleyError('PEER_NOT_FOUND', `the proxy closed the connection during ${what}`))
    }
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.once('error', onClose)
  })
}

async function httpConnect(socket: Socket, target: HostPort, proxy: ProxySpec): Promise<void> {
  const authority = target.host.includes(':')
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`
  const auth =
    proxy.username === '' && proxy.password === ''
      ? ''
      : `Proxy-Authorization: Basic ${Buffer.from(`${proxy.username}:${proxy.password}`).toString('base64')}\r\n`
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`)
  const reply = await readReply(
    socket,
    (b) => {
      const end = b.indexOf('\r\n\r\n')
      return end < 0 ? null : end + 4
    },
    'HTTP CONNECT',
  )
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply.toString('latin1'))?.[1]
  if (status !== '200') {
    const hint = status === '407' ? ' (the proxy wants credentials: put them in the proxy URL)' : ''
    throw new ParleyError(
      'PEER_NOT_FOUND',
      `the proxy refused CONNECT to ${authority}: HTTP ${status ?? 'reply unreadable'}${hint}`,
    )
  }
}

async function socks5Connect(socket: Socket, target: HostPort, proxy: ProxySpec): Promise<void> {
  const withAuth = proxy.username !== '' || proxy.password !== ''
  socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]))
  const choice = await readReply(socket, (b) => (b.byteLength >= 2 ? 2 : null), 'SOCKS5 greeting')
  if (choice[0] !== 5 || (choice[1] !== 0 && choice[1] !== 2)) {
    throw new ParleyError('PEER_NOT_FOUND', 'the SOCKS5 proxy accepts none of our methods')
  }
  if (choice[1] === 2) {
    const user = Buffer.from(proxy.username)
    const pass = Buffer.from(proxy.password)
    if (user.byteLength > 255 || pass.byteLength > 255) {
      throw new ParleyError('USAGE', 'SOCKS5 user names and passwords are at most 255 bytes')
    }
    socket.write(
      Buffer.concat([
        Buffer.from([1, user.byteLength]),
        user,
        Buffer.from([pass.byteLength]),
        pass,
      ]),
    )
    const ok = await readReply(socket, (b) => (b.byteLength >= 2 ? 2 : null), 'SOCKS5 login')
    if (ok[1] !== 0)
      throw new ParleyError('PEER_NOT_FOUND', 'the SOCKS5 proxy rejected the credentials')
  }
  const host = Buffer.from(target.host)
  const port = Buffer.from([target.port >> 8, target.port & 0xff])
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(target.host)
  const addr = v4
    ? Buffer.concat([Buffer.from([1]), Buffer.from(target.host.split('.').map(Number))])
    : Buffer.concat([Buffer.from([3, host.byteLength]), host])
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, port]))
  const reply = await readReply(
    socket,
    (b) => {
      if (b.byteLength < 5) return null
      const len = b[3] === 1 ? 4 : b[3] === 4 ? 16 : b[3] === 3 ? 1 + b[4]! : -1
      if (len < 0) return 5
      return b.byteLength >= 4 + len + 2 ? 4 + len + 2 : null
    },
    'SOCKS5 connect',
  )
  if (reply[0] !== 5 || reply[1] !== 0) {
    throw new ParleyError(
      'PEER_NOT_FOUND',
      `the SOCKS5 proxy could not connect (reply ${reply[1]})`,
    )
  }
}
