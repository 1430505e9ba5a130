// Group chat state in chat.db (PROTOCOL.md §11.7–§11.9): each group's newest
// verified state, our own status in it, the messages, and group messages
// that arrived before the state that admits their sender (kept until it
// comes). Everything here runs inside the chat store's transactions, so a
// group envelope is applied exactly when its 1:1 stream acknowledges it.

import type Database from 'better-sqlite3'
import { encodeId } from '../identity/index.js'
import { GROUP_PENDING_PER_GROUP_MAX, GROUPS_MAX, HISTORY_LIMIT_MAX } from './constants.js'
import type { Envelope } from './envelope.js'
import { decodeGroupState, type GroupState, groupIdOf } from './group-state.js'

export type GroupStatus = 'member' | 'removed' | 'left'

export interface GroupRow {
  id: string
  admin: string
  name: string
  seq: number
  members: string[]
  status: GroupStatus
  updated_ms: number
}

export interface GroupMessageRow {
  group_id: string
  sender: string
  id: string
  dir: 'in' | 'out'
  text: string
  sent_at_ms: number
  received_at_ms: number | null
}

/** What one incoming group envelope did (for events and follow-ups). */
export type GroupEffect =
  | { type: 'updated'; group: GroupRow; released: GroupMessageRow[] }
  | { type: 'message'; message: GroupMessageRow }
  | { type: 'pending' }
  | { type: 'left'; group: GroupRow; member: string }

export type GroupVerdict = { drop: string } | { effect: GroupEffect }

const SCHEMA = `
CREATE TABLE IF NOT EXISTS groups (
  id TEXT PRIMARY KEY, admin TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
  state BLOB NOT NULL, members TEXT NOT NULL, status TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS group_left (grp TEXT NOT NULL, member TEXT NOT NULL,
  PRIMARY KEY (grp, member));
CREATE TABLE IF NOT EXISTS group_messages (
  grp TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL, dir TEXT NOT NULL,
  text TEXT NOT NULL, sent_at_ms INTEGER NOT NULL, received_at_ms INTEGER,
  PRIMARY KEY (grp, sender, id));
CREATE TABLE IF NOT EXISTS group_pending (
  grp TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL, state_seq INTEGER NOT NULL,
  text TEXT NOT NULL, sent_at_ms INTEGER NOT NULL, received_at_ms INTEGER NOT NULL,
  PRIMARY KEY (grp, sender, id));
`

const MESSAGE_COLUMNS = 'grp AS group_id, sender, id, dir, text, sent_at_ms, received_at_ms'

export class GroupStore {
  private readonly db: Database.Database

  constructor(db: Database.Database) {
    this.db = db
    db.exec(SCHEMA)
  }

  get(id: string): GroupRow | null {
    const r = this.db
      .prepare('SELECT id, admin, name, seq, members, status, updated_ms FROM groups WHERE id = ?')
      .get(id) as (Omit<GroupRow, 'members'> & { members: string }) | undefined
    return r === undefined ? null : { ...r, members: JSON.parse(r.members) as string[] }
  }

  rawState(id: string): Buffer | null {
    const r = this.db.prepare('SELECT state FROM groups WHERE id = ?').get(id) as
      | { state: Buffer }
      | undefined
    return r?.state ?? null
  }

  list(): GroupRow[] {
    return (
      this.db.prepare('SELECT id FROM groups ORDER BY name, id').all() as { id: string }[]
    ).map((r) => this.get(r.id)!)
  }

  /** Members we send to: everyone in our state but us and those who said they left. */
  recipients(id: string, me: string): string[] {
    const g = this.get(id)
    if (g === null) return []
    const left = new Set(
      (
        this.db.prepare('SELECT member FROM group_left WHERE grp = ?').all(id) as {
          member: string
        }[]
      ).map((r) => r.member),
    )
    return g.members.filter((m) => m !== me && !left.has(m))
  }

  /** Stores a verified state (ours or the admin's); our status follows from the member list. */
  save(st: GroupState, raw: Buffer, gid: string, me: string, now_ms: number): GroupRow {
    const members = st.members.map((m) => encodeId(m))
    const old = this.get(gid)
    const status: GroupStatus = members.includes(me)
      ? old?.status === 'left'
        ? 'left'
        : 'member'
      : 'removed'
    this.db
      .prepare(
        `INSERT INTO groups (id, admin, name, seq, state, members, status, updated_ms)
         VALUES (@id, @admin, @name, @seq, @state, @members, @status, @now)
         ON CONFLICT(id) DO UPDATE SET name = @name, seq = @seq, state = @state,
           members = @members, status = @status, updated_ms = @now`,
      )
      .run({
        id: gid,
        admin: encodeId(st.admin),
        name: st.name,
        seq: st.seq,
        state: raw,
        members: JSON.stringify(members),
        status,
        now: now_ms,
      })
    this.db.prepare('DELETE FROM group_left WHERE grp = ?').run(gid)
    return this.get(gid)!
  }

  setStatus(id: string, status: GroupStatus, now_ms: number): void {
    this.db
      .prepare('UPDATE groups SET status = ?, updated_ms = ? WHERE id = ?')
      .run(status, now_ms, id)
  }

  addMessage(m: GroupMessageRow): GroupMessageRow {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO group_messages (grp, sender, id, dir, text, sent_at_ms, received_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(m.group_id, m.sender, m.id, m.dir, m.text, m.sent_at_ms, m.received_at_ms)
    return m
  }

  /** Newest `limit` messages, oldest first; outgoing ones with how many members stored them. */
  history(id: string, limit = HISTORY_LIMIT_MAX): (GroupMessageRow & { delivered_to: number })[] {
    const rows = this.db
      .prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM group_messages WHERE grp = ?
         ORDER BY COALESCE(received_at_ms, sent_at_ms) DESC, sender, id LIMIT ?`,
      )
      .all(id, Math.min(limit, HISTORY_LIMIT_MAX)) as GroupMessageRow[]
    const delivered = this.db.prepare(
      `SELECT count(*) AS n FROM messages m JOIN contacts c ON c.id = m.peer
       WHERE m.dir = 'out' AND m.id = ? AND m.kind = 'group-text' AND m.seq <= c.acked_seq`,
    )
    return rows.reverse().map((m) => ({
      ...m,
      delivered_to: m.dir === 'out' ? (delivered.get(m.id) as { n: number }).n : 0,
    }))
  }

  /** §11.9: applies one group envelope from `sender` (inside the store's transaction). */
  apply(
    sender: string,
    senderIsContact: boolean,
    e: Envelope,
    me: string,
    now_ms: number,
  ): GroupVerdict {
    switch (e.kind) {
      case 'group-state':
        return this.applyState(sender, senderIsContact, e.state, me, now_ms)
      case 'group-text': {
        const gid = e.group.toString('hex')
        const g = this.get(gid)
        const row: GroupMessageRow = {
          group_id: gid,
          sender,
          id: e.id.toString('hex'),
          dir: 'in',
          text: e.text,
          sent_at_ms: e.sentAtMs,
          received_at_ms: now_ms,
        }
        // The state that admits the sender has not reached us yet: keep it until it does.
        if (g === null || g.seq < e.stateSeq) {
          const n = this.db
            .prepare('SELECT count(*) AS n FROM group_pending WHERE grp = ?')
            .get(gid) as {
            n: number
          }
          if (n.n >= GROUP_PENDING_PER_GROUP_MAX) return { drop: 'group_pending_full' }
          this.db
            .prepare(
              `INSERT OR IGNORE INTO group_pending (grp, sender, id, state_seq, text, sent_at_ms, received_at_ms)
               VALUES (?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(gid, sender, row.id, e.stateSeq, e.text, e.sentAtMs, now_ms)
          return { effect: { type: 'pending' } }
        }
        if (!this.admits(g, sender)) return { drop: 'not_member' }
        return { effect: { type: 'message', message: this.addMessage(row) } }
      }
      case 'group-leave': {
        const g = this.get(e.group.toString('hex'))
        if (g === null || !g.members.includes(sender)) return { drop: 'not_member' }
        this.db
          .prepare('INSERT OR IGNORE INTO group_left (grp, member) VALUES (?, ?)')
          .run(g.id, sender)
        return { effect: { type: 'left', group: g, member: sender } }
      }
      default:
        return { drop: 'unauthorized' }
    }
  }

  /** A group we are in that lists `sender`, who has not said they left. */
  private admits(g: GroupRow, sender: string): boolean {
    if (g.status !== 'member' || !g.members.includes(sender)) return false
    return (
      this.db.prepare('SELECT 1 FROM group_left WHERE grp = ? AND member = ?').get(g.id, sender) ===
      undefined
    )
  }

  private applyState(
    sender: string,
    senderIsContact: boolean,
    raw: Buffer,
    me: string,
    now_ms: number,
  ): GroupVerdict {
    let st: GroupState
    try {
      st = decodeGroupState(raw)
    } catch {
      return { drop: 'group_forged' }
    }
    // Only the admin signs states, and only the admin sends them (§11.9).
    if (encodeId(st.admin) !== sender) return { drop: 'group_forged' }
    const gid = groupIdHex(st)
    const old = this.get(gid)
    if (old === null) {
      // An invitation: only from someone we accepted as a contact, and only if it names us.
      if (!senderIsContact) return { drop: 'unauthorized' }
      if (!st.members.some((m) => encodeId(m) === me)) return { drop: 'not_member' }
      const n = this.db.prepare('SELECT count(*) AS n FROM groups').get() as { n: number }
      if (n.n >= GROUPS_MAX) return { drop: 'groups_full' }
    } else if (st.seq <= old.seq) return { drop: 'group_stale' }
    const group = this.save(st, raw, gid, me, now_ms)
    const released: GroupMessageRow[] = []
    const waiting = this.db
      .prepare(
        'SELECT sender, id, text, sent_at_ms, received_at_ms FROM group_pending WHERE grp = ? AND state_seq <= ?',
      )
      .all(gid, st.seq) as {
      sender: string
      id: string
      text: string
      sent_at_ms: number
      received_at_ms: number
    }[]
    for (const w of waiting) {
      if (this.admits(group, w.sender))
        released.push(this.addMessage({ ...w, group_id: gid, dir: 'in' }))
      this.db
        .prepare('DELETE FROM group_pending WHERE grp = ? AND sender = ? AND id = ?')
        .run(gid, w.sender, w.id)
    }
    return { effect: { type: 'updated', group, released } }
  }
}

export function groupIdHex(st: Pick<GroupState, 'admin' | 'nonce'>): string {
  return groupIdOf(st.admin, st.nonce).toString('hex')
}
