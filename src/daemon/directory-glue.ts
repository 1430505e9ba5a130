import type { Route } from '../api/index.js'
import {
  DIRECTORY_DB_FILE,
  DirectoryClient,
  DirectoryServer,
  DirectoryService,
  describeProfile,
  type MailboxAddress,
  PROFILE_MAILBOXES_MAX,
  PROFILE_NAME_BYTES_MAX,
} from '../directory/index.js'
import { decodeId, type IdentityKeys, looksLikeId } from '../identity/index.js'
import type { NetworkNode } from '../net/index.js'
import type { SessionManager } from '../session/index.js'
import { systemClock } from '../util/clock.js'
import { ParleyError } from '../util/errors.js'
import { supernodeSessions } from './mailbox-glue.js'

// The directory in the daemon (PROTOCOL.md §11): every node publishes its
// signed profile and searches; a supernode also keeps others' records.

export interface DirectoryParts {
  /** The mailboxes we list (and fetch from), best first. */
  mailboxes: () => MailboxAddress[]
  client: DirectoryClient
  service: DirectoryService
  server: DirectoryServer | null
}

export function startDirectory(opts: {
  home: string
  keys: IdentityKeys
  net: NetworkNode | null
  sessions: SessionManager
  supernode: boolean
  emit: (e: { type: string; [k: string]: unknown }) => void
  debug: (msg: string) => void
}): DirectoryParts {
  const server = opts.supernode
    ? new DirectoryServer({
        sessions: opts.sessions,
        path: `${opts.home}/${DIRECTORY_DB_FILE}`,
        clock: systemClock,
        // Test-only: a hostile supernode that alters the records it serves.
        tamper: process.env.PARLEY_TEST_DIRECTORY_TAMPER === '1' ? tamperRecord : null,
      })
    : null
  const client = new DirectoryClient({
    supernodeSessions: (max) => supernodeSessions(opts.net, opts.sessions, max),
    clock: systemClock,
  })
  const mailboxes = stickyMailboxes(opts.net)
  const service = new DirectoryService({
    keys: opts.keys,
    client,
    clock: systemClock,
    mailboxes,
    debug: opts.debug,
    onPublished: (r) => opts.emit({ type: 'directory.published', ...r }),
  })
  return { mailboxes, client, service, server }
}

/** After the network started: publish once the first supernode lookup is over (our mailboxes). */
export function publishWhenDiscovered(parts: DirectoryParts | null, net: NetworkNode | null): void {
  void (net?.firstDiscovery ?? Promise.resolve()).then(() => parts?.service.start())
}

/**
 * The supernodes whose mailboxes we fetch from and list in our record, best
 * first and sticky: one stays listed while it still answers, so senders that
 * read an older record still find our mail; free places go to the best
 * round trips (PROTOCOL.md §9.6).
 */
export function stickyMailboxes(net: NetworkNode | null): () => MailboxAddress[] {
  let listed: MailboxAddress[] = []
  return () => {
    if (net === null) return []
    const alive = new Map(
      net.supernodes
        .list()
        .filter((s) => s.rtt_ms !== null)
        .map((s) => [s.publicKey.toString('hex'), s]),
    )
    const keep = listed.filter((m) => alive.has(m.publicKey.toString('hex')))
    for (const s of net.supernodes.ranked()) {
      if (keep.length >= PROFILE_MAILBOXES_MAX) break
      if (s.rtt_ms === null || keep.some((m) => m.publicKey.equals(s.publicKey))) continue
      keep.push({ publicKey: s.publicKey, host: s.host, port: s.port })
    }
    listed = keep
    return listed
  }
}

/**
 * For a deposit to `recipient`: the mailboxes its directory record lists
 * (none when it has no record, or the directory cannot be reached: then the
 * announced supernodes are used, §9.6). For our own fetch: the ones we list.
 */
export async function mailboxesFor(
  parts: DirectoryParts | null,
  recipient?: Buffer,
): Promise<MailboxAddress[]> {
  if (recipient === undefined) return parts?.mailboxes() ?? []
  const profile = await parts?.service.profileOf(recipient).catch(() => null)
  return profile?.mailboxes ?? []
}

export function buildDirectoryRoutes(parts: () => DirectoryParts | null): Route[] {
  const need = () => {
    const p = parts()
    if (p === null) throw new ParleyError('INTERNAL', 'the directory is not running')
    return p
  }
  return [
    {
      method: 'POST',
      path: '/v1/directory/search',
      body: {
        query: {
          type: 'string',
          required: true,
          max_length: 128,
          description: 'a display name (every identity claiming it is returned) or a Parley ID',
        },
      },
      handler: async (b) => {
        const q = String(b.query).trim()
        const { client } = need()
        if (looksLikeId(q)) {
          const { profile, asked } = await client.findId(decodeId(q))
          return {
            query: q,
            by: 'id',
            supernodes_asked: asked,
            results: profile === null ? [] : [describeProfile(profile)],
          }
        }
        if (q === '' || Buffer.byteLength(q) > PROFILE_NAME_BYTES_MAX)
          throw new ParleyError('USAGE', `a name is 1 to ${PROFILE_NAME_BYTES_MAX} bytes of UTF-8`)
        const r = await client.findName(q)
        return {
          query: q,
          by: 'name',
          supernodes_asked: r.asked,
          more: r.more,
          results: r.profiles.map((p) =>
            describeProfile(p, r.sources.get(p.identity.toString('hex')) ?? 1),
          ),
        }
      },
    },
    {
      method: 'POST',
      path: '/v1/directory/publish',
      body: {},
      handler: async () => need().service.publish(),
    },
    {
      method: 'GET',
      path: '/v1/directory',
      handler: async () => {
        const p = need()
        return {
          last_publish: p.service.last,
          mailboxes: p.mailboxes().map((m) => ({
            key: m.publicKey.toString('hex'),
            host: m.host,
            port: m.port,
          })),
          counters: p.client.counters.toJSON(),
          ...(p.server === null ? {} : { server: p.server.stats() }),
        }
      },
    },
  ]
}

/** Flips one byte of the name (test double of a hostile directory, PARLEY_TEST_DIRECTORY_TAMPER). */
function tamperRecord(record: Buffer): Buffer {
  const out = Buffer.from(record)
  out[42] = out[42]! ^ 0x01
  return out
}
