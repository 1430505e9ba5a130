import { decodeId, encodeId } from '../identity/index.js'
import type { HostPort } from '../net/hostcache.js'
import { type GatewayAddress, parseGatewayList } from '../net/websocket-link.js'
import { BOOTSTRAP_NODES_MAX, BYTES_PER_S_LIMIT, RELAY_SESSIONS_MAX_LIMIT } from './constants.js'
import type { ConfigKey, KeySpec, Value } from './keys.js'
import { parseProxyUrl, redactUrlText } from './proxy.js'

// Turns one raw value (JSON from a file, or text from the environment or a
// flag) into a typed value, or throws an Error saying what is allowed. The
// caller prefixes the key and where the value came from.

const ZERO_MEANS: Partial<Record<ConfigKey, string>> = {
  port: '0 picks a free port',
  gateway_port: '0 turns the gateway off',
  metrics_port: '0 turns metrics off',
  api_port: '0 picks an ephemeral port',
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on']
const FALSE_WORDS = ['0', 'false', 'no', 'off']

export function parseText(spec: KeySpec, text: string): Value {
  const t = text.trim()
  switch (spec.kind) {
    case 'bool': {
      const lower = t.toLowerCase()
      if (TRUE_WORDS.includes(lower)) return true
      if (FALSE_WORDS.includes(lower)) return false
      throw new Error(`must be one of 1, 0, true, false, yes, no, on, off, not "${t}"`)
    }
    case 'port':
    case 'count':
    case 'bytes_per_s':
      if (!/^[0-9]+$/.test(t)) throw new Error(`${integerRule(spec)}, not "${t}"`)
      return checkInteger(spec, Number(t))
    case 'proxy':
      return t === 'none' ? null : parseProxy(t)
    case 'bootstrap':
      return t === 'public' ? null : parseBootstrap(t.split(','))
    case 'hostports':
      return t === '' || t === 'none' ? [] : parseHostPorts(t.split(','))
    case 'ids':
      return parseIds(t === '' ? [] : t.split(','))
  }
}

export function parseJson(spec: KeySpec, v: unknown): Value {
  switch (spec.kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`must be true or false, not ${show(v)}`)
      return v
    case 'port':
    case 'count':
    case 'bytes_per_s':
      if (typeof v !== 'number') throw new Error(`${integerRule(spec)}, not ${show(v)}`)
      return checkInteger(spec, v)
    case 'proxy':
      if (v === null) return null
      if (typeof v !== 'string') {
        throw new Error(`must be an http:// or socks5:// URL string, or null, not ${show(v)}`)
      }
      return parseProxy(v)
    case 'bootstrap':
      if (v === null) return null
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        throw new Error(
          `must be a list of "HOST:PORT" strings, or null for the public network, not ${show(v)}`,
        )
      }
      return parseBootstrap(v as string[])
    case 'hostports':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        throw new Error(
          `must be a list of "HOST:PORT" or "ws://HOST:PORT/PATH" strings, not ${show(v)}`,
        )
      }
      return v.length === 0 ? [] : parseHostPorts(v as string[])
    case 'ids':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
        throw new Error(`must be a list of Parley ID strings, not ${show(v)}`)
      }
      return parseIds(v as string[])
  }
}

/** Parley IDs, normalised; a typo is an error naming the entry. */
function parseIds(items: string[]): string[] {
  if (items.length > BOOTSTRAP_NODES_MAX * 16) throw new Error('has too many entries')
  return items.map((item) => {
    try {
      return encodeId(decodeId(item.trim()))
    } catch (err) {
      throw new Error(`has a bad entry ${show(item)}: ${(err as Error).message}`)
    }
  })
}

function integerRule(spec: KeySpec): string {
  switch (spec.kind) {
    case 'port':
      return `must be an integer 0-65535 (${ZERO_MEANS[spec.key] ?? '0 = none'})`
    case 'count':
      return `must be an integer 1-${RELAY_SESSIONS_MAX_LIMIT} (to refuse all, turn relay off)`
    default:
      return `must be an integer 1-${BYTES_PER_S_LIMIT}, in bytes per second`
  }
}

function checkInteger(spec: KeySpec, n: number): number {
  const max =
    spec.kind === 'port'
      ? 65535
      : spec.kind === 'count'
        ? RELAY_SESSIONS_MAX_LIMIT
        : BYTES_PER_S_LIMIT
  const min = spec.kind === 'port' ? 0 : 1
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`${integerRule(spec)}, not ${n}`)
  }
  return n
}

function parseProxy(text: string): string {
  parseProxyUrl(text) // throws a message that never shows the password
  return text
}

function parseBootstrap(items: string[]): HostPort[] {
  const list = parseHostPorts(items)
  if (list.length === 0) {
    throw new Error(
      'is an empty list; give HOST:PORT entries, or null / "public" for the public network',
    )
  }
  return list
}

function parseHostPorts(items: string[]): GatewayAddress[] {
  let list: GatewayAddress[]
  try {
    list = parseGatewayList(items.join(','))
  } catch (err) {
    throw new Error(`has a bad entry: ${(err as Error).message}`)
  }
  if (list.length > BOOTSTRAP_NODES_MAX) {
    throw new Error(`has ${list.length} entries; at most ${BOOTSTRAP_NODES_MAX} are allowed`)
  }
  return list
}

/** A JSON value for an error message: short, and never a full URL with a password in it. */
export function show(v: unknown): string {
  const text = JSON.stringify(typeof v === 'string' ? redactUrlText(v) : v) ?? String(v)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
