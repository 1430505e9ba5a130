// The directory a supernode keeps for others (PROTOCOL.md §11.3): the
// newest signed profile record of each identity that published to it, in
// SQLite (<home>/directory.db, 0600), looked up by normalised name or by
// identity, kept DIRECTORY_RETENTION_MS after the record's own date. Each
// identity publishes only its own record, over its own authenticated session.

import type Database from 'better-sqlite3'
import { serveExchanges } from '../session/exchange.js'
import type { Session, SessionManager } from '../session/index.js'
import type { Clock } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { decodeDropReason } from '../util/errors.js'
import { openSqlite } from '../util/sqlite.js'
import {
  DIRECTORY_FUTURE_SKEW_MS,
  DIRECTORY_PROTOCOL,
  DIRECTORY_RECORDS_MAX,
  DIRECTORY_RESULTS_MAX,
  DIRECTORY_RETENTION_MS,
  PUBLISH_FULL,
  PUBLISH_REJECTED,
  PUBLISH_STALE,
  PUBLISH_STORED,
} from './constants.js'
import { type DirectoryFrame, decodeDirectoryFrame, encodeDirectoryFrame } from './frames.js'
import { normaliseName, tryDecodeProfile } from './record.js'

export const DIRECTORY_DB_FILE = 'directory.db'

export type DirectoryServerDrop =
  | 'malformed'
  | 'oversize'
  | 'unknown_type'
  | 'unexpected'
  | 'forged'
  | 'not_own'
  | 'future'
  | 'stale'
  | 'full'

const EXPIRE_EVERY_MS = 60_000

export class DirectoryServer {
  readonly counters = new Counters<DirectoryServerDrop>()
  private readonly db: Database.Database
  private readonly clock: Clock
  private lastExpiry = 0

  private readonly tamper: ((record: Buffer) => Buffer) | null

  constructor(opts: {
    sessions: SessionManager
    path: string
    clock: Clock
    /** Test double of a hostile supernode: alters every record it returns. */
    tamper?: ((record: Buffer) => Buffer) | null
  }) {
    this.clock = opts.clock
    this.tamper = opts.tamper ?? null
    this.db = openSqlite(opts.path)
    this.db.exec(`CREATE TABLE IF NOT EXISTS profiles (
      identity TEXT PRIMARY KEY, norm_name TEXT NOT NULL, published_at_ms INTEGER NOT NULL,
      record BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS profiles_name ON profiles (norm_name, published_at_ms);
      CREATE INDEX IF NOT EXISTS profiles_age ON profiles (published_at_ms);`)
    serveExchanges(opts.sessions, {
      protocol: DIRECTORY_PROTOCOL,
      encode: encodeDirectoryFrame,
      decode: decodeDirectoryFrame,
      onBadFrame: (err) => this.counters.inc(decodeDropReason(err)),
      handle: (session, f) => (this.db.open ? this.handle(session, f) : []),
    })
  }

  close(): void {
    this.db.close()
  }

  stats() {
    const row = this.db.prepare('SELECT count(*) AS n FROM profiles').get() as { n: number }
    return { records: row.n, drops: this.counters.toJSON() }
  }

  /** One request from `session`'s identity; returns the replies in order. Exposed for tests. */
  handle(session: Pick<Session, 'remoteIdentityPublicKey'>, f: DirectoryFrame): DirectoryFrame[] {
    const me = session.remoteIdentityPublicKey
    if (me === null) return []
    const now = this.clock.wallNow()
    if (now - this.lastExpiry >= EXPIRE_EVERY_MS) {
      this.lastExpiry = now
      this.db
        .prepare('DELETE FROM profiles WHERE published_at_ms < ?')
        .run(now - DIRECTORY_RETENTION_MS)
    }
    switch (f.type) {
      case 'publish':
        return [{ type: 'published', status: this.publish(me, f.record, now) }]
      case 'find-name':
        return this.reply('FROM profiles WHERE norm_name = ? AND published_at_ms >= ?', [
          normaliseName(f.name),
          now - DIRECTORY_RETENTION_MS,
        ])
      case 'find-id':
        return this.reply('FROM profiles WHERE identity = ? AND published_at_ms >= ?', [
          f.identity.toString('hex'),
          now - DIRECTORY_RETENTION_MS,
        ])
      default:
        this.counters.inc('unexpected')
        return []
    }
  }

  private publish(me: Buffer, raw: Buffer, now: number): number {
    const p = tryDecodeProfile(raw, (why) => this.counters.inc(why))
    if (p === null) return PUBLISH_REJECTED
    if (!p.identity.equals(me)) {
      this.counters.inc('not_own')
      return PUBLISH_REJECTED
    }
    if (p.publishedAtMs > now + DIRECTORY_FUTURE_SKEW_MS) {
      this.counters.inc('future')
      return PUBLISH_REJECTED
    }
    const id = p.identity.toString('hex')
    return this.db.transaction(() => {
      const old = this.db
        .prepare('SELECT published_at_ms, record FROM profiles WHERE identity = ?')
        .get(id) as { published_at_ms: number; record: Buffer } | undefined
      if (old?.record.equals(raw)) return PUBLISH_STORED
      if (
        p.publishedAtMs < now - DIRECTORY_RETENTION_MS ||
        (old !== undefined && old.published_at_ms >= p.publishedAtMs)
      ) {
        this.counters.inc('stale')
        return PUBLISH_STALE
      }
      if (old === undefined) {
        const all = this.db.prepare('SELECT count(*) AS n FROM profiles').get() as { n: number }
        if (all.n >= DIRECTORY_RECORDS_MAX) {
          this.counters.inc('full')
          return PUBLISH_FULL
        }
      }
      this.db
        .prepare(
          `INSERT INTO profiles (identity, norm_name, published_at_ms, record) VALUES (?, ?, ?, ?)
           ON CONFLICT(identity) DO UPDATE SET norm_name = excluded.norm_name,
             published_at_ms = excluded.published_at_ms, record = excluded.record`,
        )
        .run(id, normaliseName(p.name), p.publishedAtMs, raw)
      return PUBLISH_STORED
    })()
  }

  private reply(where: string, args: unknown[]): DirectoryFrame[] {
    const rows = this.db
      .prepare(`SELECT record ${where} ORDER BY published_at_ms DESC LIMIT ?`)
      .all(...args, DIRECTORY_RESULTS_MAX) as { record: Buffer }[]
    const total = this.db.prepare(`SELECT count(*) AS n ${where}`).get(...args) as { n: number }
    return [
      ...rows.map((r) => ({
        type: 'record' as const,
        record: this.tamper === null ? r.record : this.tamper(r.record),
      })),
      { type: 'done' as const, more: total.n - rows.length },
    ]
  }
}
