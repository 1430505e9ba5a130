import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A minimal HTTP CONNECT proxy for tests on loopback: it records the
 * Proxy-Authorization it was sent and every byte it carried each way, so a
 * test can check what crossed the wire.
 */
export interface RecordingProxy {
  port: number
  authorizations: string[]
  carried: Buffer[]
  close(): Promise<void>
}

export async function startConnectProxy(): Promise<RecordingProxy> {
  const authorizations: string[] = []
  const carried: Buffer[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    sockets.add(client)
    client.on('error', () => {})
    client.once('close', () => sockets.delete(client))
    let head = Buffer.alloc(0)
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      client.off('data', onHead)
      const text = head.subarray(0, end).toString('latin1')
      const rest = head.subarray(end + 4)
      const m = /^CONNECT ([^ ]+):(\d+) HTTP\/1\.1\r\n/.exec(text)
      const auth = /\r\nProxy-Authorization: ([^\r]*)/i.exec(text)
      if (auth) authorizations.push(auth[1]!)
      if (m === null) {
        client.end('HTTP/1.1 400 Bad Request\r\n\r\n')
        return
      }
      const upstream = connect({ host: m[1]!, port: Number(m[2]) })
      sockets.add(upstream)
      upstream.on('error', () => client.destroy())
      upstream.once('close', () => {
        sockets.delete(upstream)
        client.destroy()
      })
      client.once('close', () => upstream.destroy())
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n')
        if (rest.byteLength > 0) {
          carried.push(rest)
          upstream.write(rest)
        }
        client.on('data', (b: Buffer) => {
          carried.push(b)
          upstream.write(b)
        })
        upstream.on('data', (b: Buffer) => {
          carried.push(b)
          client.write(b)
        })
      })
    }
    client.on('data', onHead)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    authorizations,
    carried,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
