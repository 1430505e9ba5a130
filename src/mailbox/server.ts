// The mailbox a supernode keeps for others (PROTOCOL.md §9.6): sealed blobs
// by recipient in SQLite (<home>/mailbox.db, 0600), stored before STORED is
// sent, bounded per recipient and in total, kept MAILBOX_RETENTION_MS. Only
// the recipient's own authenticated session can fetch or delete its blobs.

import type Database from 'better-sqlite3'
import { serveExchanges } from '../session/exchange.js'
import type { Session, SessionManager } from '../session/index.js'
import type { Clock } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { openSqlite } from '../util/sqlite.js'
import {
  MAILBOX_BLOBS_PER_RECIPIENT_MAX,
  MAILBOX_BLOBS_TOTAL_MAX,
  MAILBOX_FETCH_MAX,
  MAILBOX_PROTOCOL,
  MAILBOX_RETENTION_MS,
  STORED_FULL,
  STORED_OK,
} from './constants.js'
import { decodeMailboxFrame, encodeMailboxFrame, type MailboxFrame } from './frames.js'

export const MAILBOX_DB_FILE = 'mailbox.db'

export type MailboxDropReason = 'malformed' | 'unexpected' | 'full'

export class MailboxServer {
  readonly counters = new Counters<MailboxDropReason>()
  private readonly db: Database.Database
  private readonly clock: Clock

  constructor(opts: { sessions: SessionManager; path: string; clock: Clock }) {
    this.clock = opts.clock
    this.db = openSqlite(opts.path)
    this.db.exec(`CREATE TABLE IF NOT EXISTS blobs (
      recipient TEXT NOT NULL, id TEXT NOT NULL, blob BLOB NOT NULL, stored_ms INTEGER NOT NULL,
      PRIMARY KEY (recipient, id));
      CREATE INDEX IF NOT EXISTS blobs_age ON blobs (stored_ms);`)
    serveExchanges(opts.sessions, {
      protocol: MAILBOX_PROTOCOL,
      encode: encodeMailboxFrame,
      decode: decodeMailboxFrame,
      onBadFrame: () => this.counters.inc('malformed'),
      handle: (session, f) => (this.db.open ? this.handle(session, f) : []),
    })
  }

  close(): void {
    this.db.close()
  }

  stats() {
    const row = this.db
      .prepare('SELECT count(*) AS n, count(DISTINCT recipient) AS r FROM blobs')
      .get() as {
      n: number
      r: number
    }
    return { blobs: row.n, recipients: row.r, drops: this.counters.toJSON() }
  }

  private handle(session: Session, f: MailboxFrame): MailboxFrame[] {
    const me = session.remoteIdentityPublicKey?.toString('hex')
    if (me === undefined) return []
    const now = this.clock.wallNow()
    this.db.prepare('DELETE FROM blobs WHERE stored_ms < ?').run(now - MAILBOX_RETENTION_MS)
    switch (f.type) {
      case 'put': {
        const recipient = f.recipient.toString('hex')
        const mine = this.db
          .prepare('SELECT count(*) AS n FROM blobs WHERE recipient = ?')
          .get(recipient) as { n: number }
        const all = this.db.prepare('SELECT count(*) AS n FROM blobs').get() as { n: number }
        if (mine.n >= MAILBOX_BLOBS_PER_RECIPIENT_MAX || all.n >= MAILBOX_BLOBS_TOTAL_MAX) {
          this.counters.inc('full')
          return [{ type: 'stored', blobId: f.blobId, status: STORED_FULL }]
        }
        this.db
          .prepare(
            'INSERT OR IGNORE INTO blobs (recipient, id, blob, stored_ms) VALUES (?, ?, ?, ?)',
          )
          .run(recipient, f.blobId.toString('hex'), f.blob, now)
        return [{ type: 'stored', blobId: f.blobId, status: STORED_OK }]
      }
      case 'fetch': {
        const rows = this.db
          .prepare('SELECT id, blob FROM blobs WHERE recipient = ? ORDER BY stored_ms LIMIT ?')
          .all(me, MAILBOX_FETCH_MAX) as { id: string; blob: Buffer }[]
        const total = this.db
          .prepare('SELECT count(*) AS n FROM blobs WHERE recipient = ?')
          .get(me) as { n: number }
        return [
          ...rows.map((r) => ({
            type: 'blob' as const,
            blobId: Buffer.from(r.id, 'hex'),
            blob: r.blob,
          })),
          { type: 'end', remaining: total.n - rows.length },
        ]
      }
      case 'delete':
        this.db
          .prepare('DELETE FROM blobs WHERE recipient = ? AND id = ?')
          .run(me, f.blobId.toString('hex'))
        return []
      default:
        this.counters.inc('unexpected')
        return []
    }
  }
}
