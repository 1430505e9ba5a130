// The chat store: one SQLite database per home (better-sqlite3, WAL,
// synchronous=FULL, file mode 0600). Every state change that the protocol
// acknowledges is one transaction, committed before the ack is sent, so a
// SIGKILL at any moment leaves either the old or the new state.

import type Database from 'better-sqlite3'
import { encodeId } from '../identity/index.js'
import { assert } from '../util/errors.js'
import { openSqlite } from '../util/sqlite.js'
import {
  HISTORY_LIMIT_MAX,
  PENDING_REQUESTS_MAX,
  REQUEST_WINDOW_MS,
  REQUESTS_PER_SENDER_MAX,
} from './constants.js'
import type { Envelope, EnvelopeBody } from './envelope.js'
import { type GroupEffect, GroupStore } from './groups.js'

export const CHAT_DB_FILE = 'chat.db'

/** Local relation to another identity (never sent on the wire as such). */
export type ContactState =
  | 'stranger' // only a sequence counter: they wrote, we kept nothing
  | 'requested' // we asked them
  | 'incoming' // they asked us
  | 'accepted'
  | 'declined'
  | 'blocked'
  | 'removed'

export interface Contact {
  id: string
  name: string
  state: ContactState
  note: string
  send_seq: number
  acked_seq: number
  recv_seq: number
  read_seq: number
  peer_read_seq: number
  updated_ms: number
}

export interface MessageRow {
  id: string
  peer: string
  dir: 'in' | 'out'
  seq: number
  kind: EnvelopeBody['kind']
  text: string
  target: string | null
  sent_at_ms: number
  received_at_ms: number | null
  edited_at_ms: number | null
  deleted: number
}

/** What happened to one incoming envelope; `ack` is the cumulative seq to acknowledge (or null). */
export type Inbound =
  | { outcome: 'duplicate' | 'dropped'; ack: number | null; reason?: string }
  | {
      outcome: 'stored'
      ack: number
      message: MessageRow
      contact: Contact
      /** A contact event this envelope caused. */
      event: 'request' | 'accepted' | null
      /** We owe an ACCEPT (a request from someone we already accepted or asked ourselves). */
      sendAccept: boolean
      /** What a group envelope did (§11.9). */
      group?: GroupEffect
    }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS contacts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  send_seq INTEGER NOT NULL DEFAULT 0,
  acked_seq INTEGER NOT NULL DEFAULT 0,
  recv_seq INTEGER NOT NULL DEFAULT 0,
  read_seq INTEGER NOT NULL DEFAULT 0,
  peer_read_seq INTEGER NOT NULL DEFAULT 0,
  req_window_ms INTEGER NOT NULL DEFAULT 0,
  req_count INTEGER NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  peer TEXT NOT NULL,
  dir TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL DEFAULT '',
  target TEXT,
  sent_at_ms INTEGER NOT NULL,
  received_at_ms INTEGER,
  edited_at_ms INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  envelope BLOB,
  mailboxed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (peer, dir, id),
  UNIQUE (peer, dir, seq)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`

const CONTACT_COLUMNS =
  'id, name, state, note, send_seq, acked_seq, recv_seq, read_seq, peer_read_seq, updated_ms'
const MESSAGE_COLUMNS =
  'id, peer, dir, seq, kind, text, target, sent_at_ms, received_at_ms, edited_at_ms, deleted'

export class ChatStore {
  readonly db: Database.Database
  readonly groups: GroupStore

  constructor(path: string) {
    this.db = openSqlite(path)
    this.db.exec(SCHEMA)
    this.groups = new GroupStore(this.db)
  }

  close(): void {
    this.db.close()
  }

  setting(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      | { value: string }
      | undefined
    return row?.value ?? null
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value)
  }

  contact(id: string): Contact | null {
    return (
      (this.db.prepare(`SELECT ${CONTACT_COLUMNS} FROM contacts WHERE id = ?`).get(id) as
        | Contact
        | undefined) ?? null
    )
  }

  contacts(): Contact[] {
    return this.db
      .prepare(
        `SELECT ${CONTACT_COLUMNS} FROM contacts WHERE state != 'stranger' ORDER BY name, id`,
      )
      .all() as Contact[]
  }

  /** Contacts we have unacknowledged envelopes for. */
  pendingPeers(): string[] {
    return (
      this.db.prepare('SELECT id FROM contacts WHERE send_seq > acked_seq').all() as {
        id: string
      }[]
    ).map((r) => r.id)
  }

  setContactState(id: string, state: ContactState, now_ms: number, name?: string): Contact {
    this.db
      .prepare(
        `INSERT INTO contacts (id, name, state, updated_ms) VALUES (@id, @name, @state, @now)
         ON CONFLICT(id) DO UPDATE SET state = @state, updated_ms = @now,
           name = CASE WHEN @name != '' THEN @name ELSE name END`,
      )
      .run({ id, name: name ?? '', state, now: now_ms })
    return this.contact(id)!
  }

  /**
   * Stores one outgoing envelope under the next seq for `peer`. `seal` signs
   * the fields; it runs inside the transaction so seq and row agree.
   * With a `clientId` already stored, returns the stored row (idempotent send).
   */
  enqueue(
    peer: string,
    body: EnvelopeBody,
    id: Buffer,
    now_ms: number,
    seal: (seq: number) => Buffer,
  ): { message: MessageRow; envelope: Buffer; fresh: boolean } {
    return this.db.transaction(() => {
      const idHex = id.toString('hex')
      const existing = this.message(peer, 'out', idHex)
      if (existing !== null) {
        const env = this.db
          .prepare("SELECT envelope FROM messages WHERE peer = ? AND dir = 'out' AND id = ?")
          .get(peer, idHex) as { envelope: Buffer | null }
        return { message: existing, envelope: env.envelope ?? Buffer.alloc(0), fresh: false }
      }
      if (this.contact(peer) === null) this.setContactState(peer, 'stranger', now_ms)
      const seq = this.contact(peer)!.send_seq + 1
      const envelope = seal(seq)
      this.insertMessage(peer, 'out', idHex, seq, body, now_ms, null, envelope)
      this.db
        .prepare('UPDATE contacts SET send_seq = ?, updated_ms = ? WHERE id = ?')
        .run(seq, now_ms, peer)
      if (body.kind === 'edit' || body.kind === 'delete') this.apply(peer, 'out', body, now_ms)
      return { message: this.message(peer, 'out', idHex)!, envelope, fresh: true }
    })()
  }

  private insertMessage(
    peer: string,
    dir: 'in' | 'out',
    id: string,
    seq: number,
    body: EnvelopeBody,
    sent_at_ms: number,
    received_at_ms: number | null,
    envelope: Buffer | null,
  ): void {
    const text =
      body.kind === 'text' || body.kind === 'edit'
        ? body.text
        : body.kind === 'request'
          ? body.note
          : ''
    const target =
      body.kind === 'edit' || body.kind === 'delete' ? body.target.toString('hex') : null
    this.db
      .prepare(
        `INSERT INTO messages (peer, dir, id, seq, kind, text, target, sent_at_ms, received_at_ms, envelope)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(peer, dir, id, seq, body.kind, text, target, sent_at_ms, received_at_ms, envelope)
  }

  /** An edit or delete changes the text message it targets (same peer and direction). */
  private apply(peer: string, dir: 'in' | 'out', body: EnvelopeBody, now_ms: number): void {
    if (body.kind === 'edit') {
      this.db
        .prepare(
          `UPDATE messages SET text = ?, edited_at_ms = ? WHERE peer = ? AND dir = ? AND id = ? AND kind = 'text' AND deleted = 0`,
        )
        .run(body.text, now_ms, peer, dir, body.target.toString('hex'))
    } else if (body.kind === 'delete') {
      this.db
        .prepare(
          `UPDATE messages SET text = '', deleted = 1 WHERE peer = ? AND dir = ? AND id = ? AND kind = 'text'`,
        )
        .run(peer, dir, body.target.toString('hex'))
    }
  }

  message(peer: string, dir: 'in' | 'out', id: string): MessageRow | null {
    return (
      (this.db
        .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE peer = ? AND dir = ? AND id = ?`)
        .get(peer, dir, id) as MessageRow | undefined) ?? null
    )
  }

  /** Unacknowledged envelopes to `peer` after `afterSeq`, in seq order. */
  outgoing(peer: string, afterSeq: number, limit: number): { seq: number; envelope: Buffer }[] {
    return this.db
      .prepare(
        `SELECT m.seq, m.envelope FROM messages m JOIN contacts c ON c.id = m.peer
         WHERE m.peer = ? AND m.dir = 'out' AND m.seq > ? AND m.seq > c.acked_seq
         ORDER BY m.seq LIMIT ?`,
      )
      .all(peer, afterSeq, limit) as { seq: number; envelope: Buffer }[]
  }

  /** Unacknowledged envelopes to `peer` not yet left in any mailbox. */
  undeposited(peer: string): { seq: number; envelope: Buffer }[] {
    return this.db
      .prepare(
        `SELECT m.seq, m.envelope FROM messages m JOIN contacts c ON c.id = m.peer
         WHERE m.peer = ? AND m.dir = 'out' AND m.seq > c.acked_seq AND m.mailboxed = 0
           AND m.envelope IS NOT NULL ORDER BY m.seq LIMIT 500`,
      )
      .all(peer) as { seq: number; envelope: Buffer }[]
  }

  markDeposited(peer: string, seqs: number[]): void {
    const mark = this.db.prepare(
      `UPDATE messages SET mailboxed = 1 WHERE peer = ? AND dir = 'out' AND seq = ?`,
    )
    this.db.transaction(() => {
      for (const seq of seqs) mark.run(peer, seq)
    })()
  }

  /** Records a cumulative ACK; returns the ids newly acknowledged (delivered). */
  acknowledge(peer: string, seq: number): { id: string; seq: number }[] {
    return this.db.transaction(() => {
      const c = this.contact(peer)
      if (c === null || seq <= c.acked_seq) return []
      // An ack beyond what we sent is a confused or hostile peer: believe only what we sent.
      const upTo = Math.min(seq, c.send_seq)
      const ids = this.db
        .prepare(
          `SELECT id, seq FROM messages WHERE peer = ? AND dir = 'out' AND seq > ? AND seq <= ? AND kind = 'text' ORDER BY seq`,
        )
        .all(peer, c.acked_seq, upTo) as { id: string; seq: number }[]
      this.db.prepare('UPDATE contacts SET acked_seq = ? WHERE id = ?').run(upTo, peer)
      this.db
        .prepare(`UPDATE messages SET envelope = NULL WHERE peer = ? AND dir = 'out' AND seq <= ?`)
        .run(peer, upTo)
      return ids
    })()
  }

  setPeerRead(peer: string, seq: number): boolean {
    const c = this.contact(peer)
    if (c === null || seq <= c.peer_read_seq) return false
    this.db
      .prepare('UPDATE contacts SET peer_read_seq = ? WHERE id = ?')
      .run(Math.min(seq, c.send_seq), peer)
    return true
  }

  /** Marks everything received from `peer` as read; returns the seq to announce. */
  markRead(peer: string): number {
    const c = this.contact(peer)
    if (c === null) return 0
    this.db.prepare('UPDATE contacts SET read_seq = recv_seq WHERE id = ?').run(peer)
    return c.recv_seq
  }

  history(peer: string, limit = HISTORY_LIMIT_MAX): MessageRow[] {
    assert(limit > 0, 'history limit must be positive')
    const rows = this.db
      .prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE peer = ? AND kind = 'text'
         ORDER BY COALESCE(received_at_ms, sent_at_ms) DESC, dir, seq DESC LIMIT ?`,
      )
      .all(peer, Math.min(limit, HISTORY_LIMIT_MAX)) as MessageRow[]
    return rows.reverse()
  }

  /**
   * Applies one verified envelope from `peer` (the envelope's sender) in one
   * transaction: the order and authorization rules of PROTOCOL.md §9.4.
   */
  receive(peer: string, e: Envelope, now_ms: number): Inbound {
    return this.db.transaction((): Inbound => {
      let c = this.contact(peer)
      if (c === null) {
        const strangers = this.db
          .prepare(
            "SELECT count(*) AS n FROM contacts WHERE state IN ('stranger', 'incoming', 'declined')",
          )
          .get() as { n: number }
        // Unacknowledged, so the sender retries once we have room.
        if (strangers.n >= PENDING_REQUESTS_MAX)
          return { outcome: 'dropped', ack: null, reason: 'strangers_full' }
        c = this.setContactState(peer, 'stranger', now_ms)
      }
      if (e.seq <= c.recv_seq) return { outcome: 'duplicate', ack: c.recv_seq }
      // A gap: an earlier envelope is still on its way; the sender resends in order.
      if (e.seq !== c.recv_seq + 1) return { outcome: 'dropped', ack: null, reason: 'gap' }
      this.db.prepare('UPDATE contacts SET recv_seq = ? WHERE id = ?').run(e.seq, peer)
      const verdict = this.authorize(c, e, now_ms)
      if (verdict.drop !== null) return { outcome: 'dropped', ack: e.seq, reason: verdict.drop }
      const idHex = e.id.toString('hex')
      if (this.message(peer, 'in', idHex) !== null)
        return { outcome: 'duplicate', ack: e.seq, reason: 'id' }
      this.insertMessage(peer, 'in', idHex, e.seq, e, e.sentAtMs, now_ms, null)
      this.apply(peer, 'in', e, now_ms)
      return {
        outcome: 'stored',
        ack: e.seq,
        message: this.message(peer, 'in', idHex)!,
        contact: this.contact(peer)!,
        event: verdict.event,
        sendAccept: verdict.sendAccept,
        group: verdict.group,
      }
    })()
  }

  private authorize(
    c: Contact,
    e: Envelope,
    now_ms: number,
  ): {
    drop: string | null
    event: 'request' | 'accepted' | null
    sendAccept: boolean
    group?: GroupEffect
  } {
    const ok = (event: 'request' | 'accepted' | null = null, sendAccept = false) => ({
      drop: null,
      event,
      sendAccept,
    })
    const drop = (why: string) => ({ drop: why, event: null, sendAccept: false })
    if (c.state === 'blocked') return drop('blocked')
    switch (e.kind) {
      case 'group-state':
      case 'group-text':
      case 'group-leave': {
        const v = this.groups.apply(c.id, c.state === 'accepted', e, encodeId(e.recipient), now_ms)
        return 'drop' in v ? drop(v.drop) : { ...ok(), group: v.effect }
      }
      case 'request': {
        if (c.state === 'accepted') return ok(null, true)
        if (c.state === 'requested') {
          this.setContactState(c.id, 'accepted', now_ms, e.name)
          return ok('accepted', true)
        }
        if (!this.countRequest(c.id, now_ms)) return drop('rate_limited')
        this.db.prepare('UPDATE contacts SET note = ? WHERE id = ?').run(e.note, c.id)
        this.setContactState(c.id, 'incoming', now_ms, e.name)
        return ok('request')
      }
      case 'accept':
        if (c.state !== 'requested') return c.state === 'accepted' ? ok() : drop('unauthorized')
        this.setContactState(c.id, 'accepted', now_ms, e.name)
        return ok('accepted')
      default:
        return c.state === 'accepted' ? ok() : drop('unauthorized')
    }
  }

  /** §9.4: at most REQUESTS_PER_SENDER_MAX requests per sender per window. */
  private countRequest(id: string, now_ms: number): boolean {
    const row = this.db
      .prepare('SELECT req_window_ms, req_count FROM contacts WHERE id = ?')
      .get(id) as { req_window_ms: number; req_count: number }
    const fresh = now_ms - row.req_window_ms >= REQUEST_WINDOW_MS
    const count = fresh ? 0 : row.req_count
    if (count >= REQUESTS_PER_SENDER_MAX) return false
    this.db
      .prepare('UPDATE contacts SET req_window_ms = ?, req_count = ? WHERE id = ?')
      .run(fresh ? now_ms : row.req_window_ms, count + 1, id)
    return true
  }
}
