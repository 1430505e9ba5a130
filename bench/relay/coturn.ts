import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket, type Socket } from 'node:dgram'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { freeUdpPort } from '../../src/net/node.js'
import { FlowDriver } from './flows.js'
import type { RelayCapsArgs, RelaySide } from './side.js'
import { type Address, TurnClient } from './turn.js'

const ALLOCATIONS_AT_ONCE = 50
const CHANNEL = 0x4000
const USERNAME = 'parley'
const PASSWORD = 'bench'
const REALM = 'parley'

/** Where `turnserver` is, or null when coturn is not installed. */
export function findTurnserver(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/sbin']
  for (const dir of dirs) {
    if (dir !== '' && existsSync(join(dir, 'turnserver'))) return join(dir, 'turnserver')
  }
  return null
}

/**
 * coturn on loopback with a minimal configuration (UDP only, long-term
 * credentials, Parley's caps as quotas) and, per flow, one TURN allocation
 * (A, ChannelData to the server) and one plain UDP peer (B, sending to A's
 * relayed address). One allocation per flow is TURN's cheapest relayed call:
 * each packet crosses the server once, as through a blind relay.
 */
export async function openCoturnSide(
  binary: string,
  root: string,
  flows_max: number,
  caps: RelayCapsArgs,
): Promise<RelaySide> {
  const port = await freeUdpPort('127.0.0.1')
  // Relay ports: a block of its own above the listening port's neighbourhood.
  const min_port = 20_000 + Math.floor(Math.random() * 30) * 1000
  const child = spawn(
    binary,
    [
      ...['-n', '--listening-ip=127.0.0.1', `--listening-port=${port}`, '--relay-ip=127.0.0.1'],
      ...['--lt-cred-mech', `--user=${USERNAME}:${PASSWORD}`, `--realm=${REALM}`],
      ...['--no-tls', '--no-dtls', '--no-tcp', '--no-tcp-relay', '--no-cli'],
      ...['--allow-loopback-peers', `--min-port=${min_port}`, `--max-port=${min_port + 999}`],
      `--total-quota=${caps.sessions_max}`,
      `--max-bps=${caps.session_bytes_per_s_max}`,
      `--bps-capacity=${caps.total_bytes_per_s_max}`,
      ...['--no-stdout-log', '--simple-log', `--log-file=${join(root, 'turnserver.log')}`],
      `--pidfile=${join(root, 'turnserver.pid')}`,
      `--userdb=${join(root, 'turndb')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const clients: TurnClient[] = []
  const peers: Socket[] = []
  const close = async () => {
    await Promise.all(clients.map((c) => c.close()))
    for (const p of peers) p.close()
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  try {
    const driver = new FlowDriver(flows_max)
    const server = { host: '127.0.0.1', port }
    for (let first = 0; first < flows_max; first += ALLOCATIONS_AT_ONCE) {
      const count = Math.min(ALLOCATIONS_AT_ONCE, flows_max - first)
      const batch = await Promise.all(
        Array.from({ length: count }, () => openFlow(server, driver, clients, peers, child)),
      )
      driver.links.push(...batch)
    }
    return {
      name: 'coturn',
      pid: child.pid!,
      driver,
      describe: async () =>
        `${flows_max} TURN allocations, each with a channel bound to its peer (coturn ${binary})`,
      close,
    }
  } catch (err) {
    await close()
    throw new Error(`coturn side failed: ${(err as Error).message} ${stderr.trim()}`)
  }
}

async function openFlow(
  server: Address,
  driver: FlowDriver,
  clients: TurnClient[],
  peers: Socket[],
  child: ChildProcess,
) {
  if (child.exitCode !== null) throw new Error(`turnserver exited (${child.exitCode})`)
  const client = new TurnClient(server, USERNAME, PASSWORD)
  clients.push(client)
  client.onData = driver.onPacket
  const relayed = await client.allocate()
  const peer = createSocket('udp4')
  peers.push(peer)
  peer.on('message', driver.onPacket)
  peer.on('error', () => {})
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve))
  await client.channelBind(CHANNEL, { host: '127.0.0.1', port: peer.address().port })
  return {
    sendFromA: (packet: Buffer) => client.sendChannel(CHANNEL, packet),
    sendFromB: (packet: Buffer) => peer.send(packet, relayed.port, relayed.host),
  }
}
