import { join } from 'node:path'
import DHT, { type NoiseSocket } from 'hyperdht'
import { type DaemonProcess, spawnDaemon } from '../../src/daemon/spawn.js'
import { createKeystore, ensureHome, generateIdentity } from '../../src/identity/index.js'
import { NetworkNode, startTestnet, type Testnet } from '../../src/net/index.js'
import { FlowDriver, type FlowLink } from './flows.js'
import type { RelayCapsArgs, RelaySide } from './side.js'

const CONNECTS_AT_ONCE = 25
const SUPERNODE_DISCOVERY_TIMEOUT_MS = 20_000
const PAIRING_TIMEOUT_MS = 10_000
/**
 * Each generator node takes half of all flows on one UDP socket; with the
 * default 208 KiB buffer a GC pause of the bench process drops packets there
 * (not at the relay), so the generators get more room (rmem_max permitting).
 */
const GENERATOR_RECV_BUFFER_BYTES = 4 * 1024 * 1024

interface RelayStatus {
  relay?: {
    sessions_active: number
    sessions_refused: number
    sessions_rate_limited: number
    bytes_relayed: number
  }
}

/**
 * A real `parley daemon --supernode` process (the relay measured), and two
 * Parley network nodes in this process that may only connect through a relay
 * (the test-only forced-relay mode, as in test/integration/supernode.test.ts).
 * Each flow is its own hyperdht connection, so its own relay session; the
 * datagrams are the encrypted unreliable messages media uses (`trySend`).
 */
export async function openParleySide(
  root: string,
  flows_max: number,
  caps: RelayCapsArgs,
): Promise<RelaySide> {
  const testnet = await startTestnet({ host: '127.0.0.1', nodes: 3 })
  const nodes: NetworkNode[] = []
  let daemon: DaemonProcess | null = null
  const sockets: NoiseSocket[] = []
  const close = async () => {
    for (const s of sockets) s.destroy()
    await Promise.all(nodes.map((n) => n.close().catch(() => {})))
    await daemon?.stop()
    await testnet.destroy()
  }
  try {
    daemon = await startSupernode(root, testnet, caps)
    const driver = new FlowDriver(flows_max)
    const accepted = new Map<string, NoiseSocket>()
    const bootstrap = testnet.bootstrap
    const onConnection = (socket: NoiseSocket) => {
      sockets.push(socket)
      socket.on('error', () => {})
      socket.on('message', driver.onPacket)
      void socket.opened.then(() => accepted.set(socket.handshakeHash!.toString('hex'), socket))
    }
    const node = (accept: (s: NoiseSocket) => void) =>
      NetworkNode.create({
        keyPair: DHT.keyPair(),
        bootstrap,
        hostCachePath: null,
        port: 0,
        onConnection: accept,
        forceRelay: true,
      })
    const callee = await node(onConnection)
    nodes.push(callee)
    const caller = await node((s) => s.destroy())
    nodes.push(caller)
    await Promise.all([callee.start(), caller.start()])
    for (const n of nodes) {
      for (const socket of [n.dht.io.serverSocket, n.dht.io.clientSocket]) {
        socket?.setRecvBufferSize(GENERATOR_RECV_BUFFER_BYTES)
      }
    }
    await waitForSupernode(caller)
    let relayed = 0
    for (let first = 0; first < flows_max; first += CONNECTS_AT_ONCE) {
      const batch = Array.from({ length: Math.min(CONNECTS_AT_ONCE, flows_max - first) }, () =>
        caller.connect({ publicKey: callee.dht.defaultKeyPair.publicKey, relayAddresses: [] }),
      )
      for (const socket of await Promise.all(batch)) {
        sockets.push(socket)
        socket.on('error', () => {})
        socket.on('message', driver.onPacket)
        if ((socket as NoiseSocket & { path?: string }).path === 'relayed') relayed++
        const peer = await waitFor(() => accepted.get(socket.handshakeHash!.toString('hex')))
        driver.links.push(link(socket, peer))
      }
    }
    const supernode = daemon
    return {
      name: 'parley',
      pid: supernode.child.pid!,
      driver,
      async describe() {
        const s = await supernode.client.request<RelayStatus>('GET', '/v1/status')
        const r = s.relay
        return `${relayed}/${flows_max} flows relayed through the supernode; supernode: ${r?.sessions_active} sessions active, ${r?.sessions_refused} refused, ${r?.sessions_rate_limited} rate-limited`
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

function link(a: NoiseSocket, b: NoiseSocket): FlowLink {
  return {
    sendFromA: (packet) => a.trySend(packet),
    sendFromB: (packet) => b.trySend(packet),
  }
}

async function startSupernode(
  root: string,
  testnet: Testnet,
  caps: RelayCapsArgs,
): Promise<DaemonProcess> {
  const home = join(root, 'supernode')
  await ensureHome(home)
  const keys = generateIdentity({ name: 'relay', deviceName: 'bench', now_ms: Date.now() })
  await createKeystore(home, keys, null)
  const b = testnet.bootstrap[0]!
  return spawnDaemon({
    home,
    args: [
      ...['--bootstrap', `${b.host}:${b.port}`, '--port', '0', '--supernode'],
      ...['--relay-sessions-max', String(caps.sessions_max)],
      ...['--relay-session-bytes-per-s-max', String(caps.session_bytes_per_s_max)],
      ...['--relay-total-bytes-per-s-max', String(caps.total_bytes_per_s_max)],
    ],
  })
}

async function waitForSupernode(node: NetworkNode): Promise<void> {
  const deadline_ms = performance.now() + SUPERNODE_DISCOVERY_TIMEOUT_MS
  while (node.supernodes.ranked().length === 0) {
    if (performance.now() > deadline_ms) throw new Error('the bench supernode was never found')
    await new Promise((r) => setTimeout(r, 200))
    await node.refreshSupernodes()
  }
}

async function waitFor<T>(get: () => T | undefined): Promise<T> {
  const deadline_ms = performance.now() + PAIRING_TIMEOUT_MS
  for (;;) {
    const value = get()
    if (value !== undefined) return value
    if (performance.now() > deadline_ms)
      throw new Error('the callee never saw a relayed connection')
    await new Promise((r) => setTimeout(r, 10))
  }
}
