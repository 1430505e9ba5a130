import { open } from 'node:fs/promises'
import { ParleyError } from '../util/errors.js'
import {
  CONFIG_FILE_BYTES_MAX,
  ENV_NOT_CONFIG,
  ENV_PREFIX,
  TYPO_DISTANCE_MAX,
} from './constants.js'
import { CONFIG_KEYS, type ConfigKey, KEY_SPECS, type KeySpec, type Value } from './keys.js'
import { parseJson, parseText } from './parse.js'
import { parseProxyUrl } from './proxy.js'

// Each source of configuration becomes a Layer: the keys it sets, each with
// the place it came from (a file path, a variable, a flag) for messages and
// `parley status`. Every value is validated here, before any merging, so an
// error names the exact place to fix.

export interface Entry {
  value: Value
  origin: string
}
export type Layer = Partial<Record<ConfigKey, Entry>>

export interface FileLayer {
  layer: Layer
  locked: ConfigKey[]
  /** true when the file exists (a missing file is not an error). */
  found: boolean
  has_proxy_password: boolean
  mode: number | null
}

function usage(message: string): ParleyError {
  return new ParleyError('USAGE', message)
}

export async function readFileLayer(path: string, allowLocked: boolean): Promise<FileLayer> {
  const empty: FileLayer = {
    layer: {},
    locked: [],
    found: false,
    has_proxy_password: false,
    mode: null,
  }
  let text: string
  let mode: number
  try {
    const fh = await open(path, 'r')
    try {
      mode = (await fh.stat()).mode
      const buf = Buffer.alloc(CONFIG_FILE_BYTES_MAX + 1)
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
      if (bytesRead > CONFIG_FILE_BYTES_MAX) {
        throw usage(
          `${path}: larger than ${CONFIG_FILE_BYTES_MAX} bytes; this is not a Parley config file`,
        )
      }
      text = buf.subarray(0, bytesRead).toString('utf8')
    } finally {
      await fh.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty
    if (err instanceof ParleyError) throw err
    // An unreadable policy file must stop the node: skipping it would silently drop the policy.
    throw usage(
      `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err}); fix its permissions`,
    )
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw usage(`${path}: not valid JSON (${(err as Error).message}); fix it or remove the file`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw usage(`${path}: must hold one JSON object, like {"supernode": false}`)
  }
  const layer: Layer = {}
  let locked: ConfigKey[] = []
  for (const [name, v] of Object.entries(doc)) {
    if (name.startsWith('//')) continue // the package.json idiom for comments
    if (name === 'locked' && allowLocked) {
      locked = parseLocked(path, v)
    } else if (name === 'relay') {
      readRelay(path, v, layer)
    } else {
      const spec = KEY_SPECS.find((s) => s.key === name && !name.includes('.'))
      if (spec === undefined) throw unknownKey(path, name, allowLocked)
      layer[spec.key] = { value: fromJson(path, spec, v), origin: path }
    }
  }
  const proxy = layer.proxy?.value
  const has_proxy_password = typeof proxy === 'string' && parseProxyUrl(proxy).password !== ''
  return { layer, locked, found: true, has_proxy_password, mode }
}

function readRelay(path: string, v: unknown, layer: Layer): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw usage(
      `${path}: "relay" must be an object like {"enabled": true, "sessions_max": 128}, not ${JSON.stringify(v)}`,
    )
  }
  for (const [name, sub] of Object.entries(v)) {
    if (name.startsWith('//')) continue
    const spec = KEY_SPECS.find((s) => s.key === `relay.${name}`)
    if (spec === undefined) throw unknownKey(path, `relay.${name}`, false)
    layer[spec.key] = { value: fromJson(path, spec, sub), origin: path }
  }
}

function parseLocked(path: string, v: unknown): ConfigKey[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw usage(`${path}: "locked" must be a list of key names, like ["supernode", "udp"]`)
  }
  const out = new Set<ConfigKey>()
  for (const name of v as string[]) {
    // "relay" locks the whole group: an administrator who turns relaying off means all of it.
    const group = CONFIG_KEYS.filter((k) => k === name || k.startsWith(`${name}.`))
    if (group.length === 0) {
      throw usage(
        `${path}: "locked" names unknown key "${name}"${suggest(name, [...CONFIG_KEYS, 'relay'])}; keys are: ${CONFIG_KEYS.join(', ')}`,
      )
    }
    for (const k of group) out.add(k)
  }
  return [...out]
}

function unknownKey(path: string, name: string, isSystem: boolean): ParleyError {
  if (name === 'locked') {
    return usage(`${path}: "locked" is only allowed in the system-wide file, not in a user's file`)
  }
  const top = [
    ...new Set(CONFIG_KEYS.map((k) => k.split('.')[0]!)),
    ...(isSystem ? ['locked'] : []),
  ]
  const names = name.startsWith('relay.') ? CONFIG_KEYS.filter((k) => k.startsWith('relay.')) : top
  return usage(
    `${path}: unknown key "${name}"${suggest(name, names)}; allowed: ${names.join(', ')}`,
  )
}

function fromJson(path: string, spec: KeySpec, v: unknown): Value {
  try {
    return parseJson(spec, v)
  } catch (err) {
    throw usage(`${path}: "${spec.key}" ${(err as Error).message}`)
  }
}

function fromText(origin: string, spec: KeySpec, text: string): Value {
  try {
    return parseText(spec, text)
  } catch (err) {
    throw usage(`${origin}: "${spec.key}" ${(err as Error).message}`)
  }
}

/** PARLEY_* variables. An empty variable counts as unset, as with PARLEY_HOME. */
export function envLayer(env: Record<string, string | undefined>, warnings: string[]): Layer {
  const layer: Layer = {}
  for (const spec of KEY_SPECS) {
    const text = env[spec.env]
    if (text === undefined || text === '') continue
    layer[spec.key] = { value: fromText(spec.env, spec, text), origin: spec.env }
  }
  const known = new Set<string>([...KEY_SPECS.map((s) => s.env), ...ENV_NOT_CONFIG])
  for (const name of Object.keys(env)) {
    if (!name.startsWith(ENV_PREFIX) || known.has(name)) continue
    const hint = suggest(
      name,
      KEY_SPECS.map((s) => s.env),
    )
    // A near miss is almost certainly a typo that would silently drop a setting.
    if (hint !== '') throw usage(`${name}: not a Parley setting${hint}`)
    warnings.push(`${name} is set but is not a Parley setting; it is ignored`)
  }
  return layer
}

/** Flags as parsed by `parseArgs` with CONFIG_FLAG_OPTIONS; other flags (--home, --json) are ignored. */
export function flagLayer(flags: Record<string, string | boolean | undefined>): Layer {
  const layer: Layer = {}
  for (const spec of KEY_SPECS) {
    const on = flags[spec.flag]
    if (spec.flag_off !== undefined) {
      const off = flags[spec.flag_off] === true
      if (on === true && off) {
        throw usage(`--${spec.flag} and --${spec.flag_off} contradict each other; give one`)
      }
      if (on === true) layer[spec.key] = { value: true, origin: `--${spec.flag}` }
      if (off) layer[spec.key] = { value: false, origin: `--${spec.flag_off}` }
    } else if (typeof on === 'string') {
      layer[spec.key] = { value: fromText(`--${spec.flag}`, spec, on), origin: `--${spec.flag}` }
    }
  }
  return layer
}

export function textEntry(origin: string, key: ConfigKey, text: string): Entry {
  const spec = KEY_SPECS.find((s) => s.key === key)!
  return { value: fromText(origin, spec, text), origin }
}

/** `(did you mean "x"?)` when one candidate is within a couple of edits, else ''. */
export function suggest(name: string, candidates: readonly string[]): string {
  let best = ''
  let bestDistance = TYPO_DISTANCE_MAX + 1
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best === '' ? '' : ` (did you mean "${best}"?)`
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost)
    }
    prev = cur
  }
  return prev[b.length]!
}
