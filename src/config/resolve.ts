import { join } from 'node:path'
import { inspect } from 'node:util'
import { ParleyError } from '../util/errors.js'
import {
  DHT_PORT_DEFAULT,
  RELAY_SESSION_BYTES_PER_S_MAX_DEFAULT,
  RELAY_SESSIONS_MAX_DEFAULT,
  RELAY_TOTAL_BYTES_PER_S_MAX_DEFAULT,
  SYSTEM_CONFIG_FILE_POSIX,
  USER_CONFIG_FILE,
} from './constants.js'
import { describeConfig } from './describe.js'
import { CONFIG_KEYS, type Config, type ConfigKey, type Source, type Value } from './keys.js'
import {
  type Entry,
  envLayer,
  type FileLayer,
  flagLayer,
  type Layer,
  readFileLayer,
  textEntry,
} from './layers.js'
import { redactProxyUrl } from './proxy.js'

// Precedence, highest first: flags > environment > <home>/config.json >
// system-wide file > defaults. A key the system file lists under "locked"
// takes the system file's value (or the default), and any other source that
// asks for a different value is an error naming both places: a policy that
// gives way silently is no policy, and a user who is overridden silently
// cannot tell why.

export interface ResolveOptions {
  home: string
  /** Values from parseArgs (with CONFIG_FLAG_OPTIONS); unrelated flags are ignored. */
  flags?: Record<string, string | boolean | undefined>
  env?: Record<string, string | undefined>
  /** Machine-wide policy file; undefined = the platform's path, null = none (tests). */
  systemFile?: string | null
}

export interface ResolvedConfig {
  config: Config
  sources: Record<ConfigKey, Source>
  /** Keys the administrator fixed in the system file. */
  locked: ConfigKey[]
  files: { system: string | null; user: string }
  /** Worth printing at start-up; never fatal, never contain a password. */
  warnings: string[]
}

interface Picked {
  value: Value
  source: Source
  origin: string
}

export function defaultSystemConfigFile(
  platform: NodeJS.Platform = process.platform,
  env: Record<string, string | undefined> = process.env,
): string {
  if (platform === 'win32')
    return join(env.ProgramData ?? 'C:\\ProgramData', 'parley', 'config.json')
  return SYSTEM_CONFIG_FILE_POSIX
}

export async function resolveConfig(opts: ResolveOptions): Promise<ResolvedConfig> {
  const env = opts.env ?? process.env
  const systemPath = opts.systemFile === undefined ? defaultSystemConfigFile() : opts.systemFile
  const userPath = join(opts.home, USER_CONFIG_FILE)
  const warnings: string[] = []
  const system = systemPath === null ? null : await readFileLayer(systemPath, true)
  const user = await readFileLayer(userPath, false)
  const layers: [Source, Layer][] = [
    ['flag', flagLayer(opts.flags ?? {})],
    ['env', envLayer(env, warnings)],
    ['file', user.layer],
    ['system', system?.layer ?? {}],
  ]
  const locked = new Set(system?.locked ?? [])
  const picked = {} as Record<ConfigKey, Picked>
  const pickInto = (key: ConfigKey) => {
    picked[key] = pick(key, layers, locked, systemPath ?? '', (k) => picked[k].value)
  }
  pickInto('use_env_proxy')
  addEnvProxy(
    env,
    picked.use_env_proxy.value === true,
    locked.has('proxy'),
    layers[1]![1],
    warnings,
  )
  for (const key of CONFIG_KEYS) if (key !== 'use_env_proxy') pickInto(key)

  checkCombinations(picked)
  for (const f of [system, user])
    if (f !== null) warnPermissions(f, f === system ? systemPath! : userPath, warnings)
  const sources = Object.fromEntries(CONFIG_KEYS.map((k) => [k, picked[k].source])) as Record<
    ConfigKey,
    Source
  >
  return {
    config: buildConfig(picked),
    sources,
    locked: CONFIG_KEYS.filter((k) => locked.has(k)),
    files: { system: systemPath, user: userPath },
    warnings,
  }
}

function pick(
  key: ConfigKey,
  layers: [Source, Layer][],
  locked: Set<ConfigKey>,
  systemPath: string,
  resolved: (k: ConfigKey) => Value,
): Picked {
  const fallback = (): Picked => ({
    value: defaultFor(key, resolved),
    source: 'default',
    origin: 'default',
  })
  if (!locked.has(key)) {
    for (const [source, layer] of layers) {
      const e = layer[key]
      if (e !== undefined) return { value: e.value, source, origin: e.origin }
    }
    return fallback()
  }
  const sys = layers[3]![1][key]
  const policy: Picked = {
    value: sys?.value ?? fallback().value,
    source: 'system',
    origin: systemPath,
  }
  for (const [, layer] of layers.slice(0, 3)) {
    const e = layer[key]
    if (e !== undefined && !sameValue(e.value, policy.value)) throw lockedError(key, e, policy)
  }
  return policy
}

function defaultFor(key: ConfigKey, resolved: (k: ConfigKey) => Value): Value {
  switch (key) {
    case 'supernode':
      return false
    case 'relay.enabled':
      return resolved('supernode')
    case 'relay.sessions_max':
      return RELAY_SESSIONS_MAX_DEFAULT
    case 'relay.session_bytes_per_s_max':
      return RELAY_SESSION_BYTES_PER_S_MAX_DEFAULT
    case 'relay.total_bytes_per_s_max':
      return RELAY_TOTAL_BYTES_PER_S_MAX_DEFAULT
    case 'udp':
    case 'filetransfer':
      return true
    case 'port':
      return DHT_PORT_DEFAULT
    case 'gateway_port':
    case 'metrics_port':
    case 'api_port':
      return 0
    case 'proxy':
    case 'bootstrap':
      return null
    case 'gateways':
    case 'auto_accept_from':
      return []
    case 'use_env_proxy':
      return false
  }
}

/** HTTPS_PROXY is ambient: it counts only when asked for, and never against a locked proxy. */
function addEnvProxy(
  env: Record<string, string | undefined>,
  enabled: boolean,
  proxyLocked: boolean,
  envLayerOut: Layer,
  warnings: string[],
): void {
  if (!enabled || envLayerOut.proxy !== undefined) return
  // Lower case first, as curl does.
  const name = ['https_proxy', 'HTTPS_PROXY'].find((n) => (env[n] ?? '') !== '')
  if (name === undefined) return
  if (proxyLocked) {
    warnings.push(`${name} is ignored: the administrator fixed "proxy" in the system-wide file`)
    return
  }
  const raw = env[name]!.trim()
  // curl and most tools take a bare HOST:PORT here and mean an HTTP proxy.
  const text = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(raw) ? raw : `http://${raw}`
  envLayerOut.proxy = textEntry(`${name} (read because use_env_proxy is true)`, 'proxy', text)
}

function checkCombinations(p: Record<ConfigKey, Picked>): void {
  const at = (k: ConfigKey) => `${k} is ${JSON.stringify(p[k].value)} (${p[k].origin})`
  if (p.supernode.value === true && p.udp.value === false) {
    throw usage(
      `${at('supernode')} but ${at('udp')}: a supernode serves the DHT and relays over UDP; turn one of them off`,
    )
  }
  if (p['relay.enabled'].value === true && p.supernode.value !== true) {
    throw usage(
      `${at('relay.enabled')} but ${at('supernode')}: relaying runs on supernodes only; set supernode to true as well`,
    )
  }
  if (p.gateway_port.value !== 0 && p.supernode.value !== true) {
    throw usage(
      `${at('gateway_port')} but ${at('supernode')}: the gateway runs on supernodes only; set supernode to true, or gateway_port to 0`,
    )
  }
  const tcp: ConfigKey[] = ['gateway_port', 'metrics_port', 'api_port']
  for (const [i, a] of tcp.entries()) {
    for (const b of tcp.slice(i + 1)) {
      if (p[a].value !== 0 && p[a].value === p[b].value) {
        throw usage(`${at(a)} and ${at(b)}: two TCP services cannot share a port; change one`)
      }
    }
  }
}

function lockedError(key: ConfigKey, asked: Entry, policy: Picked): ParleyError {
  return usage(
    `${asked.origin}: "${key}" is locked to ${shown(key, policy.value)} by the administrator in ${policy.origin}; ` +
      `remove ${shown(key, asked.value)} from ${asked.origin}, or ask your administrator`,
  )
}

function shown(key: ConfigKey, v: Value): string {
  return JSON.stringify(key === 'proxy' && typeof v === 'string' ? redactProxyUrl(v) : v)
}

function sameValue(a: Value, b: Value): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function warnPermissions(f: FileLayer, path: string, warnings: string[]): void {
  if (!f.has_proxy_password || f.mode === null || process.platform === 'win32') return
  if ((f.mode & 0o077) !== 0) {
    warnings.push(
      `${path} holds a proxy password and other users can read it; run: chmod 600 ${path}`,
    )
  }
}

function buildConfig(p: Record<ConfigKey, Picked>): Config {
  const v = <T>(k: ConfigKey) => p[k].value as T
  const config: Config = {
    supernode: v('supernode'),
    relay: {
      enabled: v('relay.enabled'),
      sessions_max: v('relay.sessions_max'),
      session_bytes_per_s_max: v('relay.session_bytes_per_s_max'),
      total_bytes_per_s_max: v('relay.total_bytes_per_s_max'),
    },
    udp: v('udp'),
    port: v('port'),
    gateway_port: v('gateway_port'),
    metrics_port: v('metrics_port'),
    api_port: v('api_port'),
    filetransfer: v('filetransfer'),
    auto_accept_from: v('auto_accept_from'),
    proxy: v('proxy'),
    use_env_proxy: v('use_env_proxy'),
    bootstrap: v('bootstrap'),
    gateways: v('gateways'),
  }
  // Defence in depth: JSON.stringify(config) or console.log(config) in some
  // future status or debug path still shows the redacted proxy.
  Object.defineProperty(config, 'toJSON', {
    value: () => describeConfig(config),
    enumerable: false,
  })
  Object.defineProperty(config, inspect.custom, {
    value: () => describeConfig(config),
    enumerable: false,
  })
  return Object.freeze(config)
}

function usage(message: string): ParleyError {
  return new ParleyError('USAGE', message)
}
