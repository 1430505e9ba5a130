import type { HostPort } from '../net/hostcache.js'
import { formatGatewayAddress } from '../net/websocket-link.js'
import { CONFIG_KEYS, type Config, type ConfigKey, type Source } from './keys.js'
import { redactProxyUrl } from './proxy.js'

// What `parley status` and logs may show of a configuration. The proxy
// password is replaced by *** here and nowhere else, so every printer goes
// through these functions.

export interface DescribedConfig extends Omit<Config, 'proxy' | 'bootstrap' | 'gateways'> {
  /** `http://user:***@host:port`, or null. */
  proxy: string | null
  /** `HOST:PORT` strings, or null for the public network. */
  bootstrap: string[] | null
  gateways: string[]
}

export function describeConfig(config: Config): DescribedConfig {
  return {
    supernode: config.supernode,
    relay: { ...config.relay },
    udp: config.udp,
    port: config.port,
    gateway_port: config.gateway_port,
    metrics_port: config.metrics_port,
    api_port: config.api_port,
    filetransfer: config.filetransfer,
    auto_accept_from: [...config.auto_accept_from],
    proxy: config.proxy === null ? null : redactProxyUrl(config.proxy),
    use_env_proxy: config.use_env_proxy,
    bootstrap: config.bootstrap === null ? null : config.bootstrap.map(formatHostPort),
    gateways: config.gateways.map(formatGatewayAddress),
  }
}

/**
 * `key = value (source)` lines for the human form of `parley status`. Takes
 * the described (redacted) form so the CLI can print what the API returned.
 */
export function formatConfigLines(
  described: DescribedConfig,
  sources: Record<ConfigKey, Source>,
  locked: readonly ConfigKey[] = [],
): string[] {
  return CONFIG_KEYS.map((key) => {
    const value = valueAt(described, key)
    const shown = key === 'bootstrap' && value === null ? 'public network' : JSON.stringify(value)
    const lock = locked.includes(key) ? ', locked' : ''
    return `${key} = ${shown} (${sources[key]}${lock})`
  })
}

export function valueAt(c: DescribedConfig | Config, key: ConfigKey): unknown {
  if (key.startsWith('relay.')) return c.relay[key.slice(6) as keyof Config['relay']]
  return c[key as Exclude<ConfigKey, `relay.${string}`>]
}

function formatHostPort(n: HostPort): string {
  return n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`
}
