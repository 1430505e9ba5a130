import type { HostPort } from '../net/hostcache.js'
import type { GatewayAddress } from '../net/websocket-link.js'

// Every switch an administrator has, with its config-file key, environment
// variable and flags in one table, so docs/ADMIN.md, the parser and
// `parley status` cannot disagree about names.

export interface RelayConfig {
  /** Serve as a blind relay for others. Defaults to the value of `supernode`. */
  enabled: boolean
  sessions_max: number
  session_bytes_per_s_max: number
  total_bytes_per_s_max: number
}

export interface Config {
  supernode: boolean
  relay: RelayConfig
  /** false: send no UDP at all; reach the network through a gateway (issue 3, planned). */
  udp: boolean
  /** DHT UDP listen port; 0 picks a free one. */
  port: number
  /** Supernode TCP/WebSocket gateway port; 0 = off. */
  gateway_port: number
  /** Prometheus /metrics TCP port on 127.0.0.1; 0 = off. */
  metrics_port: number
  /** Local API TCP port on 127.0.0.1; 0 = ephemeral. */
  api_port: number
  filetransfer: boolean
  /** Parley IDs whose file offers are accepted without asking (src/transfer). */
  auto_accept_from: string[]
  /** http:// or socks5:// URL, credentials allowed; see proxy.ts for where they may go. */
  proxy: string | null
  /** Honour HTTPS_PROXY / https_proxy from the environment (off: no ambient credentials). */
  use_env_proxy: boolean
  /** null = hyperdht's public bootstrap nodes. */
  bootstrap: HostPort[] | null
  /** Supernode gateways (HOST:PORT for TCP, ws://HOST:PORT/PATH for WebSocket) a node with `udp: false` reaches the network through. */
  gateways: GatewayAddress[]
}

export type Source = 'default' | 'system' | 'file' | 'env' | 'flag'

export type Kind =
  | 'bool'
  | 'port'
  | 'count'
  | 'bytes_per_s'
  | 'proxy'
  | 'bootstrap'
  | 'hostports'
  | 'ids'

export const CONFIG_KEYS = [
  'supernode',
  'relay.enabled',
  'relay.sessions_max',
  'relay.session_bytes_per_s_max',
  'relay.total_bytes_per_s_max',
  'udp',
  'port',
  'gateway_port',
  'metrics_port',
  'api_port',
  'filetransfer',
  'auto_accept_from',
  'proxy',
  'use_env_proxy',
  'bootstrap',
  'gateways',
] as const

/** A dotted path into `Config` (`relay.sessions_max`), as used in `sources` and `locked`. */
export type ConfigKey = (typeof CONFIG_KEYS)[number]

export type Value = boolean | number | string | null | HostPort[] | string[]

export interface KeySpec {
  key: ConfigKey
  kind: Kind
  env: string
  /** `--flag VALUE` for values; for booleans `--flag` sets true. */
  flag: string
  /** For booleans: `--no-flag` sets false. */
  flag_off?: string
}

function spec(key: ConfigKey, kind: Kind, env: string, flag: string): KeySpec {
  return kind === 'bool'
    ? { key, kind, env, flag, flag_off: `no-${flag}` }
    : { key, kind, env, flag }
}

export const KEY_SPECS: readonly KeySpec[] = [
  spec('supernode', 'bool', 'PARLEY_SUPERNODE', 'supernode'),
  spec('relay.enabled', 'bool', 'PARLEY_RELAY', 'relay'),
  spec('relay.sessions_max', 'count', 'PARLEY_RELAY_SESSIONS_MAX', 'relay-sessions-max'),
  spec(
    'relay.session_bytes_per_s_max',
    'bytes_per_s',
    'PARLEY_RELAY_SESSION_BYTES_PER_S_MAX',
    'relay-session-bytes-per-s-max',
  ),
  spec(
    'relay.total_bytes_per_s_max',
    'bytes_per_s',
    'PARLEY_RELAY_TOTAL_BYTES_PER_S_MAX',
    'relay-total-bytes-per-s-max',
  ),
  spec('udp', 'bool', 'PARLEY_UDP', 'udp'),
  spec('port', 'port', 'PARLEY_PORT', 'port'),
  spec('gateway_port', 'port', 'PARLEY_GATEWAY_PORT', 'gateway-port'),
  spec('metrics_port', 'port', 'PARLEY_METRICS_PORT', 'metrics-port'),
  spec('api_port', 'port', 'PARLEY_API_PORT', 'api-port'),
  spec('filetransfer', 'bool', 'PARLEY_FILETRANSFER', 'filetransfer'),
  spec('auto_accept_from', 'ids', 'PARLEY_AUTO_ACCEPT_FROM', 'auto-accept-from'),
  spec('proxy', 'proxy', 'PARLEY_PROXY', 'proxy'),
  spec('use_env_proxy', 'bool', 'PARLEY_USE_ENV_PROXY', 'use-env-proxy'),
  spec('bootstrap', 'bootstrap', 'PARLEY_BOOTSTRAP', 'bootstrap'),
  spec('gateways', 'hostports', 'PARLEY_GATEWAYS', 'gateways'),
]

export function specOf(key: ConfigKey): KeySpec {
  const found = KEY_SPECS.find((s) => s.key === key)
  if (found === undefined) throw new Error(`assertion failed: no spec for ${key}`)
  return found
}

/**
 * The options to spread into `parseArgs` for `parley daemon`: every switch as
 * a flag. Booleans get `--x` and `--no-x` because Node 20's parseArgs has no
 * negation of its own.
 */
type FlagOption = { type: 'string' | 'boolean' }

export const CONFIG_FLAG_OPTIONS: Record<string, FlagOption> = Object.fromEntries(
  KEY_SPECS.flatMap((s): [string, FlagOption][] =>
    s.flag_off === undefined
      ? [[s.flag, { type: 'string' }]]
      : [
          [s.flag, { type: 'boolean' }],
          [s.flag_off, { type: 'boolean' }],
        ],
  ),
)
