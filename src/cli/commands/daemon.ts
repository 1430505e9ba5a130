import { ApiClient, readDaemonInfo } from '../../api/index.js'
import {
  type Config,
  describeConfig,
  parseProxyUrl,
  resolveConfig,
  type Source,
} from '../../config/index.js'
import { Daemon } from '../../daemon/daemon.js'
import { capYoungGeneration } from '../../daemon/memory.js'
import { isKeystoreEncrypted, readPublicIdentity, unlockKeystore } from '../../identity/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'
import { obtainPassphrase } from '../passphrase.js'

export type DaemonFlags = Record<string, string | boolean | undefined>

export async function cmdDaemon(home: string, flags: DaemonFlags, out: Output): Promise<void> {
  capYoungGeneration()
  await readPublicIdentity(home)
  await refuseSecondDaemon(home)
  // Settings errors (and locked policy) come before the passphrase prompt.
  const { config, sources, locked, warnings } = await resolveConfig({
    home,
    flags,
    env: process.env,
  })
  for (const w of warnings) out.info(`parley daemon: ${w}`)
  refuseUnbuilt(config)
  refuseContradictions(config, sources)
  const passphrase = (await isKeystoreEncrypted(home))
    ? await obtainPassphrase({ confirm: false, purpose: 'unlock your keys' })
    : null
  const keys = await unlockKeystore(home, passphrase)
  const metricsHost =
    typeof flags['metrics-host'] === 'string' ? flags['metrics-host'] : '127.0.0.1'
  const gatewayHost = typeof flags['gateway-host'] === 'string' ? flags['gateway-host'] : '0.0.0.0'
  const daemon = await Daemon.start({
    home,
    keys,
    bootstrap: config.bootstrap,
    dht_port: config.port,
    api_port: config.api_port,
    supernode: config.supernode
      ? {
          caps: {
            sessions_max: config.relay.sessions_max,
            session_bytes_per_s_max: config.relay.session_bytes_per_s_max,
            total_bytes_per_s_max: config.relay.total_bytes_per_s_max,
          },
          gateway:
            config.gateway_port === 0 ? null : { host: gatewayHost, port: config.gateway_port },
        }
      : null,
    udp: config.udp,
    gateways: config.gateways,
    proxy: config.proxy === null ? null : parseProxyUrl(config.proxy),
    metrics: config.metrics_port === 0 ? null : { host: metricsHost, port: config.metrics_port },
    config: { described: describeConfig(config), sources, locked },
    transfer: { enabled: config.filetransfer, auto_accept_from: config.auto_accept_from },
  })
  const status = daemon.status()
  out.result(
    {
      ready: true,
      id: daemon.id,
      api: daemon.api_address,
      dht_port: status.dht_port,
      bootstrap_ms: status.bootstrap_ms,
      roles: status.roles,
      metrics: status.metrics,
      gateway: daemon.gateway_address,
      via_gateway: 'via_gateway' in status ? status.via_gateway : null,
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

/**
 * Switches whose machinery is not built yet (issue 3: gateway, proxy, UDP-less
 * operation, relay-less supernodes) are refused rather than silently ignored:
 * an administrator who sets them must not believe they took effect.
 */
function refuseUnbuilt(config: Config): void {
  const unbuilt: string[] = []
  if (config.supernode && !config.relay.enabled) unbuilt.push('relay: false on a supernode')
  if (unbuilt.length > 0) {
    throw new ParleyError(
      'USAGE',
      `not supported by this version yet: ${unbuilt.join('; ')}. Remove the setting (see docs/ADMIN.md).`,
    )
  }
}

/** Settings that contradict each other: said plainly, before anything starts. */
function refuseContradictions(config: Config, sources: Record<string, Source>): void {
  if (config.proxy !== null && config.udp) {
    throw new ParleyError(
      'USAGE',
      `a proxy (from ${sources.proxy}) carries TCP only: also set udp to false (--no-udp) and gateways, so that Parley reaches the network through a gateway behind the proxy`,
    )
  }
  if (!config.udp && config.gateways.length === 0) {
    throw new ParleyError(
      'USAGE',
      'udp is off but no gateway is configured: set gateways (--gateways HOST:PORT[,HOST:PORT…], the TCP gateway of a supernode)',
    )
  }
  if (!config.udp && config.supernode) {
    throw new ParleyError('USAGE', 'a supernode serves others over UDP: it cannot run with udp off')
  }
  if (config.gateway_port !== 0 && !config.supernode) {
    throw new ParleyError('USAGE', 'gateway_port is part of the supernode role: add --supernode')
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
