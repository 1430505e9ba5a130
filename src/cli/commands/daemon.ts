import { ApiClient, readDaemonInfo } from '../../api/index.js'
import { Daemon } from '../../daemon/daemon.js'
import { isKeystoreEncrypted, readPublicIdentity, unlockKeystore } from '../../identity/index.js'
import { DEFAULT_DHT_PORT, parseHostPortList } from '../../net/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'
import { obtainPassphrase } from '../passphrase.js'

export interface DaemonFlags {
  bootstrap?: string
  port?: string
  'api-port'?: string
}

export async function cmdDaemon(home: string, flags: DaemonFlags, out: Output): Promise<void> {
  await readPublicIdentity(home)
  await refuseSecondDaemon(home)
  const bootstrap = flags.bootstrap === undefined ? null : parseBootstrapFlag(flags.bootstrap)
  const dht_port = parsePort(flags.port, '--port', DEFAULT_DHT_PORT)
  const api_port = parsePort(flags['api-port'], '--api-port', 0)
  const passphrase = (await isKeystoreEncrypted(home))
    ? await obtainPassphrase({ confirm: false, purpose: 'unlock your keys' })
    : null
  const keys = await unlockKeystore(home, passphrase)
  const daemon = await Daemon.start({ home, keys, bootstrap, dht_port, api_port })
  const status = daemon.status()
  out.result(
    {
      ready: true,
      id: daemon.id,
      api: daemon.api_address,
      dht_port: status.dht_port,
      bootstrap_ms: status.bootstrap_ms,
    },
    `parley daemon ready: ${daemon.id}\n  reachability ${status.reachability}, DHT port ${status.dht_port}, API http://${daemon.api_address?.host}:${daemon.api_address?.port}`,
  )
  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      out.info(`parley daemon: ${why}, shutting down`)
      daemon.stop().then(resolve, resolve)
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
    daemon.once('shutdown-requested', () => stop('shutdown requested over the API'))
  })
}

async function refuseSecondDaemon(home: string): Promise<void> {
  const info = await readDaemonInfo(home).catch(() => null)
  if (info === null) return
  try {
    const client = await ApiClient.fromHome(home)
    await client.request('GET', '/v1/status', undefined, { timeout_ms: 2000 })
  } catch {
    return // stale daemon.json from a crash: the new daemon replaces it
  }
  throw new ParleyError(
    'DAEMON_ALREADY_RUNNING',
    `a Parley daemon (pid ${info.pid}) is already running for ${home}: stop it first, or use another --home`,
  )
}

function parseBootstrapFlag(text: string) {
  try {
    const list = parseHostPortList(text)
    if (list.length === 0) throw new Error('the list is empty')
    return list
  } catch (err) {
    throw new ParleyError('USAGE', `--bootstrap: ${(err as Error).message}`)
  }
}

export function parsePort(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ParleyError(
      'USAGE',
      `${flag} must be a port number 0-65535 (0 picks a free one), not "${text}"`,
    )
  }
  return port
}
