import { ApiClient } from '../../api/index.js'
import type { DirectoryEntry } from '../../directory/index.js'
import { looksLikeId } from '../../identity/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'

// `parley directory search NAME|ID`, `parley directory [publish]`, and the
// name half of `parley contacts add NAME`: thin clients of /v1/directory.
// A name is never resolved silently: every claimant is shown with its
// fingerprint, and a name several identities claim is refused.

const USAGE = 'usage: parley directory search NAME|ID [--json] | publish | status'

export interface SearchResult {
  query: string
  by: 'id' | 'name'
  supernodes_asked: number
  more?: number
  results: DirectoryEntry[]
}

export function formatEntry(e: DirectoryEntry): string {
  const age = Math.max(0, Math.round((Date.now() - e.published_at_ms) / 3_600_000))
  return `${e.name.padEnd(16)} ${e.id}\n${''.padEnd(16)} fingerprint ${e.fingerprint}  (record ${age} h old, ${e.sources} supernode${e.sources === 1 ? '' : 's'})`
}

export async function search(client: ApiClient, query: string): Promise<SearchResult> {
  return client.request<SearchResult>('POST', '/v1/directory/search', { query })
}

export async function cmdDirectory(home: string, args: string[], out: Output): Promise<void> {
  const [sub = 'status', ...rest] = args
  const client = await ApiClient.fromHome(home)
  if (sub === 'search') {
    const query = rest.join(' ').trim()
    if (query === '') throw new ParleyError('USAGE', USAGE)
    const r = await search(client, query)
    const head =
      r.results.length === 0
        ? `nobody ${r.by === 'id' ? 'with that ID' : `named "${query}"`} in the directory (${r.supernodes_asked} supernode(s) asked)`
        : r.results.length > 1
          ? `${r.results.length} identities claim "${query}": compare the fingerprint with the person before adding one`
          : ''
    out.result(r, [head, ...r.results.map(formatEntry)].filter((x) => x !== '').join('\n'))
    return
  }
  if (sub === 'publish') {
    const r = await client.request<{ stored: number; asked: number }>(
      'POST',
      '/v1/directory/publish',
      {},
    )
    out.result(r, `your record is stored on ${r.stored} of ${r.asked} supernode(s)`)
    return
  }
  if (sub === 'status') {
    const r = await client.request<{
      last_publish: { stored: number; published_at_ms: number } | null
    }>('GET', '/v1/directory')
    const lp = r.last_publish
    out.result(
      r,
      lp === null
        ? 'your record has not reached a supernode yet'
        : `your record was stored on ${lp.stored} supernode(s) at ${new Date(lp.published_at_ms).toISOString()}`,
    )
    return
  }
  throw new ParleyError('USAGE', USAGE)
}

/**
 * `parley contacts add NAME`: the one identity that claims NAME, after
 * showing its fingerprint; several claimants are listed (with their
 * fingerprints) and refused, so the person picks one by ID.
 */
export async function resolveNameForAdd(
  client: ApiClient,
  who: string,
  out: Output,
): Promise<string> {
  if (looksLikeId(who)) return who
  const r = await search(client, who)
  if (r.results.length === 0)
    throw new ParleyError(
      'NOT_FOUND',
      `nobody named "${who}" is in the directory (people who were online in the last 96 h are); ask them for their ID`,
    )
  if (r.results.length > 1) {
    if (!out.json) out.info(r.results.map(formatEntry).join('\n'))
    else out.result({ ...r, added: null }, '')
    throw new ParleyError(
      'USAGE',
      `${r.results.length} identities claim the name "${who}"; check the fingerprint with the person and run \`parley contacts add ID\` with theirs`,
    )
  }
  const only = r.results[0]!
  out.info(
    `"${who}" is ${only.id}\nfingerprint ${only.fingerprint} — compare it with theirs (\`parley id\`) before trusting it`,
  )
  return only.id
}
