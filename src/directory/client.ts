// Publishing to and searching supernode directories (PROTOCOL.md §11.2–§11.4).
// Nothing a supernode returns is trusted: every record is decoded and its
// signatures verified here; forged, stale and unasked-for records are
// counted and dropped, and of several records of one identity the newest wins.

import { encodeId, safetyFingerprint } from '../identity/index.js'
import { Exchanges } from '../session/exchange.js'
import type { Session } from '../session/index.js'
import type { Clock } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import {
  DIRECTORY_FUTURE_SKEW_MS,
  DIRECTORY_OP_TIMEOUT_MS,
  DIRECTORY_PROTOCOL,
  DIRECTORY_RETENTION_MS,
  DIRECTORY_SUPERNODES_MAX,
  PUBLISH_STORED,
} from './constants.js'
import { type DirectoryFrame, decodeDirectoryFrame, encodeDirectoryFrame } from './frames.js'
import { normaliseName, type Profile, tryDecodeProfile } from './record.js'

export type DirectoryDrop =
  | 'forged'
  | 'oversize'
  | 'unknown_type'
  | 'stale'
  | 'future'
  | 'unasked'
  | 'superseded'

export interface DirectoryClientOptions {
  /** Sessions to up to `max` supernodes, best first; `done()` closes those opened only for this. */
  supernodeSessions(max: number): Promise<{ sessions: Session[]; done(): void }>
  clock: Clock
}

/** One identity found in the directory, as people see it. */
export interface DirectoryEntry {
  id: string
  name: string
  fingerprint: string
  published_at_ms: number
  devices: number
  mailboxes: { key: string; host: string; port: number }[]
  /** How many supernodes returned this identity. */
  sources: number
}

export class DirectoryClient {
  readonly counters = new Counters<DirectoryDrop>()
  private readonly opts: DirectoryClientOptions
  private readonly exchanges: Exchanges<DirectoryFrame>

  constructor(opts: DirectoryClientOptions) {
    this.opts = opts
    this.exchanges = new Exchanges({
      protocol: DIRECTORY_PROTOCOL,
      encode: encodeDirectoryFrame,
      decode: decodeDirectoryFrame,
      clock: opts.clock,
      timeout_ms: DIRECTORY_OP_TIMEOUT_MS,
      what: 'the directory',
    })
  }

  /** Publishes a signed record to every supernode within reach; returns how many stored it. */
  async publish(record: Buffer): Promise<{ stored: number; asked: number }> {
    const { sessions, done } = await this.opts.supernodeSessions(DIRECTORY_SUPERNODES_MAX)
    try {
      const statuses = await Promise.all(
        sessions.map((s) =>
          this.exchanges
            .run<number>(s, (ch, done) => {
              ch.listener = (f) => f.type === 'published' && done(f.status)
              ch.send({ type: 'publish', record })
            })
            .catch(() => -1),
        ),
      )
      return { stored: statuses.filter((x) => x === PUBLISH_STORED).length, asked: sessions.length }
    } finally {
      done()
    }
  }

  /** Every identity that claims `name` (normalised, §11.1), newest record of each. */
  async findName(
    name: string,
  ): Promise<{ profiles: Profile[]; sources: Map<string, number>; asked: number; more: number }> {
    const want = normaliseName(name)
    return this.find({ type: 'find-name', name }, (p) => normaliseName(p.name) === want)
  }

  /** The newest record of one identity, or null. */
  async findId(identity: Buffer): Promise<{ profile: Profile | null; asked: number }> {
    const r = await this.find({ type: 'find-id', identity }, (p) => p.identity.equals(identity))
    return { profile: r.profiles[0] ?? null, asked: r.asked }
  }

  private async find(
    query: DirectoryFrame,
    matches: (p: Profile) => boolean,
  ): Promise<{ profiles: Profile[]; asked: number; more: number; sources: Map<string, number> }> {
    const { sessions, done } = await this.opts.supernodeSessions(DIRECTORY_SUPERNODES_MAX)
    let answers: { records: Buffer[]; more: number }[]
    try {
      answers = await Promise.all(
        sessions.map((s) =>
          this.exchanges
            .run<{ records: Buffer[]; more: number }>(s, (ch, done) => {
              const records: Buffer[] = []
              ch.listener = (f) => {
                if (f.type === 'record') records.push(f.record)
                else if (f.type === 'done') done({ records, more: f.more })
              }
              ch.send(query)
            })
            .catch(() => ({ records: [], more: 0 })),
        ),
      )
    } finally {
      done()
    }
    const r = this.verify(
      answers.flatMap((a) => a.records),
      matches,
    )
    return { ...r, asked: sessions.length, more: Math.max(0, ...answers.map((a) => a.more)) }
  }

  /** §11.4: decode and verify each record, drop what does not belong, keep the newest per identity. */
  verify(
    records: Buffer[],
    matches: (p: Profile) => boolean,
  ): { profiles: Profile[]; sources: Map<string, number> } {
    const now = this.opts.clock.wallNow()
    const newest = new Map<string, Profile>()
    const sources = new Map<string, number>()
    for (const raw of records) {
      const p = tryDecodeProfile(raw, (why) => this.counters.inc(why))
      if (p === null) continue
      if (!matches(p)) {
        this.counters.inc('unasked')
        continue
      }
      if (p.publishedAtMs < now - DIRECTORY_RETENTION_MS) {
        this.counters.inc('stale')
        continue
      }
      if (p.publishedAtMs > now + DIRECTORY_FUTURE_SKEW_MS) {
        this.counters.inc('future')
        continue
      }
      const id = p.identity.toString('hex')
      sources.set(id, (sources.get(id) ?? 0) + 1)
      const old = newest.get(id)
      if (old !== undefined && old.publishedAtMs >= p.publishedAtMs) {
        if (old.publishedAtMs > p.publishedAtMs) this.counters.inc('superseded')
        continue
      }
      if (old !== undefined) this.counters.inc('superseded')
      newest.set(id, p)
    }
    const profiles = [...newest.values()].sort(
      (a, b) => a.name.localeCompare(b.name) || Buffer.compare(a.identity, b.identity),
    )
    return { profiles, sources }
  }
}

/** How a verified record is shown (API, CLI --json). */
export function describeProfile(p: Profile, sources = 1): DirectoryEntry {
  return {
    id: encodeId(p.identity),
    name: p.name,
    fingerprint: safetyFingerprint(p.identity),
    published_at_ms: p.publishedAtMs,
    devices: p.devices.length,
    mailboxes: p.mailboxes.map((m) => ({
      key: m.publicKey.toString('hex'),
      host: m.host,
      port: m.port,
    })),
    sources,
  }
}
