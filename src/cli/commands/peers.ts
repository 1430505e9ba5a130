import { ApiClient } from '../../api/index.js'
import { formatConfigLines } from '../../config/index.js'
import { decodeId } from '../../identity/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'

export interface PingResult {
  id: string
  path: string
  connect_ms: number
  rtt_ms: number
  rtt_ms_p99: number
  pings: number
  reused_session: boolean
}

export async function cmdPing(
  home: string,
  id: string | undefined,
  flags: { count?: string },
  out: Output,
) {
  if (id === undefined) throw new ParleyError('USAGE', 'usage: parley ping ID [--count N]')
  decodeId(id) // a typo gets a clear message before we bother the daemon
  const count = flags.count === undefined ? 5 : Number(flags.count)
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    throw new ParleyError('USAGE', '--count must be an integer from 1 to 1000')
  }
  const client = await ApiClient.fromHome(home)
  const r = await client.request<PingResult>(
    'POST',
    '/v1/ping',
    { id, count },
    { timeout_ms: 15_000 },
  )
  out.result(
    r,
    `${r.path} connection to ${r.id.slice(0, 12)}…: connect ${r.connect_ms} ms${r.reused_session ? ' (already connected)' : ''}, rtt ${r.rtt_ms} ms (median of ${r.pings})`,
  )
}

export async function cmdStatus(home: string, out: Output) {
  const client = await ApiClient.fromHome(home)
  const s = await client.request<Record<string, any>>('GET', '/v1/status')
  const peers = (s.peers as { id: string; path: string }[]) ?? []
  const lines = [
    `${s.name} ${s.id}`,
    `  online:       ${s.online ? 'yes' : 'no'}`,
    `  reachability: ${s.reachability}${s.public_address ? ` (seen as ${s.public_address})` : ''}`,
    `  DHT:          port ${s.dht_port}, ${s.dht_nodes} nodes known, ${s.host_cache_nodes} in host cache`,
    `  roles:        ${(s.roles as string[]).length ? (s.roles as string[]).join(', ') : 'client only'}`,
    `  peers:        ${peers.length}${peers.map((p) => `\n    ${p.id} (${p.path})`).join('')}`,
  ]
  if (s.config)
    lines.push(
      '  settings:',
      ...formatConfigLines(s.config, s.config_sources, s.config_locked).map((l) => `    ${l}`),
    )
  out.result(s, lines.join('\n'))
}
