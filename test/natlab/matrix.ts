import type { LabHost, NatLab } from './lab.js'
import { canGoDirect, type HostKind } from './routers.js'

// One cell of the connectivity matrix: `parley ping` from a host of one kind
// to a host of another, run inside the source host's namespace.

export interface PairResult {
  from: HostKind
  to: HostKind
  /** 'direct' | 'relayed' | 'gateway' on success; 'failed' or 'todo' otherwise. */
  path: string
  connect_ms: number | null
  rtt_ms: number | null
  attempts: number
  /** Set when the pair opened relayed and later moved to the direct path. */
  direct_after_ms: number | null
  error: string | null
}

interface PingJson {
  path: string
  connect_ms: number
  rtt_ms: number
  reused_session: boolean
}

/** Attempts per pair: retries absorb a dial whose packets all lost their races under loss. */
export const PING_ATTEMPTS_MAX = 3
export const PING_CLI_TIMEOUT_MS = 25_000
/** How long a direct-capable pair that opened relayed may take to move to direct. */
export const DIRECT_UPGRADE_WAIT_MS = 30_000

export async function pingPair(lab: NatLab, from: LabHost, to: LabHost): Promise<PairResult> {
  const result: PairResult = {
    from: from.kind,
    to: to.kind,
    path: 'failed',
    connect_ms: null,
    rtt_ms: null,
    attempts: 0,
    direct_after_ms: null,
    error: null,
  }
  let elapsed_ms = 0
  while (result.attempts < PING_ATTEMPTS_MAX) {
    result.attempts++
    const r = await lab.cli(from, ['ping', to.id, '--count', '3'], PING_CLI_TIMEOUT_MS)
    elapsed_ms += r.elapsed_ms
    if (r.code !== 0) {
      // The daemon's own log says why (set PARLEY_DEBUG=1 for the dial details).
      const log = from.daemon?.stderr().trim().split('\n').slice(-4).join(' | ') ?? ''
      result.error = `${r.stderr.trim() || `exit ${r.code}`} (after ${r.elapsed_ms} ms) ${log}`
      continue
    }
    const out = JSON.parse(r.stdout) as PingJson
    if (out.reused_session && result.attempts === 1) {
      throw new Error(`${from.name} already had a session with ${to.name}`)
    }
    // A retry that finds a session means the first dial finished after the CLI
    // gave up: report the time of both attempts, an upper bound.
    const connect_ms = out.reused_session ? elapsed_ms : out.connect_ms
    Object.assign(result, { path: out.path, connect_ms, rtt_ms: out.rtt_ms })
    result.error = null
    break
  }
  if (result.path === 'relayed' && canGoDirect(from.kind, to.kind)) {
    result.direct_after_ms = await waitForDirect(lab, from, to.id)
  }
  return result
}

/** Polls `parley status` until the session to `peer_id` is direct; null if it never is. */
async function waitForDirect(lab: NatLab, host: LabHost, peer_id: string) {
  const started_ms = Date.now()
  while (Date.now() - started_ms < DIRECT_UPGRADE_WAIT_MS) {
    const r = await lab.cli(host, ['status'])
    if (r.code === 0) {
      const s = JSON.parse(r.stdout) as { peers: { id: string; path: string }[] }
      if (s.peers.some((p) => p.id === peer_id && p.path === 'direct')) {
        return Date.now() - started_ms
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return null
}

/** What is wrong with a cell, or null when it meets issue 3's acceptance. */
export function verdict(r: PairResult): string | null {
  if (r.path === 'todo') return null
  if (r.path === 'failed') return `${r.from} → ${r.to} did not connect: ${r.error}`
  if (canGoDirect(r.from, r.to) && r.path !== 'direct' && r.direct_after_ms === null) {
    return `${r.from} → ${r.to} could go direct but stayed ${r.path}`
  }
  return null
}

/** A fixed-width table: rows are the pinging host's kind, columns the pinged one. */
export function formatMatrix(title: string, kinds: readonly HostKind[], cells: PairResult[]) {
  const width = 34
  const cell = (from: HostKind, to: HostKind) => {
    const r = cells.find((c) => c.from === from && c.to === to)
    if (r === undefined) return '-'
    if (r.connect_ms === null) return r.path
    const retry = r.attempts > 1 ? ` (try ${r.attempts})` : ''
    const moved = r.direct_after_ms === null ? '' : ` →direct +${r.direct_after_ms}ms`
    return `${r.path} ${Math.round(r.connect_ms)}ms${retry}${moved}`
  }
  const lines = [title, ['from \\ to'.padEnd(12), ...kinds.map((k) => k.padEnd(width))].join('')]
  for (const from of kinds) {
    lines.push([from.padEnd(12), ...kinds.map((to) => cell(from, to).padEnd(width))].join(''))
  }
  return lines
}
