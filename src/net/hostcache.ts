import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { HOST_CACHE_NODES_MAX, HOST_CACHE_SUPERNODES_MAX } from './constants.js'

// Skype's host cache: the DHT nodes that answered us last time, tried first on
// the next start, so a node rejoins even when its bootstrap nodes are gone.
// A damaged cache is not an error: it is only a hint, so it is ignored.

export interface HostPort {
  host: string
  port: number
}

/** A supernode remembered from its announcement (docs/PROTOCOL.md §4.4): its key and where it answers. */
export interface CachedSupernode extends HostPort {
  /** hex of the supernode's device public key, the key `relayThrough` dials. */
  public_key: string
}

export async function loadHostCache(path: string): Promise<HostPort[]> {
  const parsed = await readCache(path)
  if (!Array.isArray(parsed.nodes)) return []
  return parsed.nodes.filter(isHostPort).slice(0, HOST_CACHE_NODES_MAX)
}

export async function loadCachedSupernodes(path: string): Promise<CachedSupernode[]> {
  const parsed = await readCache(path)
  if (!Array.isArray(parsed.supernodes)) return []
  return parsed.supernodes.filter(isCachedSupernode).slice(0, HOST_CACHE_SUPERNODES_MAX)
}

async function readCache(path: string): Promise<{ nodes?: unknown; supernodes?: unknown }> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown
    return typeof parsed === 'object' && parsed !== null ? parsed : {}
  } catch {
    return {}
  }
}

export async function saveHostCache(
  path: string,
  nodes: HostPort[],
  supernodes: CachedSupernode[] = [],
): Promise<void> {
  const unique = dedupe(nodes).slice(0, HOST_CACHE_NODES_MAX)
  const body = JSON.stringify(
    {
      saved_at_ms: Date.now(),
      nodes: unique,
      supernodes: supernodes.slice(0, HOST_CACHE_SUPERNODES_MAX),
    },
    null,
    1,
  )
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, body, { mode: 0o600 })
  await rename(tmp, path)
}

export function dedupe(nodes: HostPort[]): HostPort[] {
  const seen = new Set<string>()
  const out: HostPort[] = []
  for (const n of nodes) {
    const key = `${n.host}:${n.port}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ host: n.host, port: n.port })
  }
  return out
}

function isCachedSupernode(v: unknown): v is CachedSupernode {
  if (!isHostPort(v)) return false
  const key = (v as { public_key?: unknown }).public_key
  return typeof key === 'string' && /^[0-9a-f]{64}$/.test(key)
}

function isHostPort(v: unknown): v is HostPort {
  if (typeof v !== 'object' || v === null) return false
  const { host, port } = v as Record<string, unknown>
  return (
    typeof host === 'string' &&
    host.length > 0 &&
    host.length <= 255 &&
    Number.isInteger(port) &&
    (port as number) > 0 &&
    (port as number) < 65536
  )
}

/** Parses `H:P,H:P` as given to `--bootstrap`; throws a message for a person. */
export function parseHostPortList(text: string): HostPort[] {
  const out: HostPort[] = []
  for (const part of text.split(',')) {
    const item = part.trim()
    if (item === '') continue
    const colon = item.lastIndexOf(':')
    const host = colon > 0 ? item.slice(0, colon) : ''
    const port = Number(item.slice(colon + 1))
    if (host === '' || !Number.isInteger(port) || port <= 0 || port >= 65536) {
      throw new Error(`"${item}" is not HOST:PORT (for example 127.0.0.1:49737)`)
    }
    out.push({ host: host.replace(/^\[|\]$/g, ''), port })
  }
  return out
}
