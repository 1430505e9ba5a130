// The server side of `bench connect`, in its own process: a raw hyperdht echo
// server and a Parley node announced under its identity. Prints one JSON line
// {raw, parley} (hex public keys) when both listen; runs until SIGTERM.
import DHT, { type NoiseSocket } from 'hyperdht'
import { generateIdentity } from '../src/identity/index.js'
import { parseHostPortList } from '../src/net/index.js'
import { startParleyNode } from './parley-node.js'

const bootstrap = parseHostPortList(process.argv[2] ?? '')
const rawNode = new DHT({ bootstrap, port: 0, host: '127.0.0.1', firewalled: false })
await rawNode.fullyBootstrapped()
const keyPair = DHT.keyPair()
const echo = rawNode.createServer({}, (socket: NoiseSocket) => {
  socket.on('data', (d: Buffer) => socket.write(d))
  socket.on('error', () => {})
})
await echo.listen(keyPair)

const keys = generateIdentity({ name: 'server', deviceName: 'bench', now_ms: Date.now() })
const parley = await startParleyNode(bootstrap, keys)
await parley.net.announce(keys.identity.publicKey)

process.stdout.write(
  `${JSON.stringify({ raw: keyPair.publicKey.toString('hex'), parley: keys.identity.publicKey.toString('hex') })}\n`,
)
process.once('SIGTERM', async () => {
  parley.manager.close()
  await Promise.allSettled([parley.net.close(), echo.close().then(() => rawNode.destroy())])
  process.exit(0)
})
