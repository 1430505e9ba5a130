// Plain hyperdht between two lab hosts, no relays: the baseline of the
// reachability benchmark. `server BOOTSTRAP` listens and prints its key;
// `client BOOTSTRAP KEY ROUNDS` connects ROUNDS times (a fresh key pair each
// time) and prints the connect times in ms, null for a failed connect.
import DHT, { type HostPort } from 'hyperdht'

const [mode, bootstrapText, keyHex, roundsText] = process.argv.slice(2)
const bootstrap: HostPort[] = (bootstrapText ?? '').split(',').map((s) => {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
})
const CONNECT_TIMEOUT_MS = 10_000

const dht = new DHT({ bootstrap })
await dht.fullyBootstrapped()
if (mode === 'server') {
  const server = dht.createServer({}, (socket) => {
    socket.on('error', () => {})
    socket.on('data', () => {})
  })
  const keyPair = DHT.keyPair()
  await server.listen(keyPair)
  console.log(JSON.stringify({ key: keyPair.publicKey.toString('hex') }))
} else {
  const times: (number | null)[] = []
  for (let i = 0; i < Number(roundsText ?? 3); i++) {
    const started = performance.now()
    const socket = dht.connect(Buffer.from(keyHex!, 'hex'), { keyPair: DHT.keyPair() })
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), CONNECT_TIMEOUT_MS)
      socket.once('open', () => {
        clearTimeout(timer)
        resolve(true)
      })
      socket.once('error', () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
    times.push(ok ? performance.now() - started : null)
    socket.destroy()
  }
  console.log(JSON.stringify({ times }))
  await dht.destroy()
  process.exit(0)
}
