// Contacts, presence and 1:1 chat over the `parley/chat` channel of each
// session (PROTOCOL.md §9). Outgoing envelopes are stored before they are
// sent and resent from the last cumulative ACK on every new session;
// incoming ones are committed before they are acknowledged.

import c from 'compact-encoding'
import type Protomux from 'protomux'
import type { Message } from 'protomux'
import { decodeId, encodeId, type IdentityKeys } from '../identity/index.js'
import { type MailboxClient, openSealed, sealTo } from '../mailbox/index.js'
import type { Session, SessionManager } from '../session/index.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import { Counters } from '../util/counters.js'
import { decodeDropReason, ParleyError } from '../util/errors.js'
import type { Random } from '../util/random.js'
import {
  CHAT_PROTOCOL,
  GROUP_MEMBERS_MAX,
  GROUP_NONCE_BYTES,
  MAILBOX_DEPOSIT_RETRY_MS,
  MAILBOX_DEPOSIT_RETRY_MS_MAX,
  MAILBOX_FIRST_CHECK_MS,
  MAILBOX_POLL_MS,
  MESSAGE_ID_BYTES,
  OUTBOX_PER_CONTACT_MAX,
  PRESENCE_AWAY,
  PRESENCE_BUSY,
  PRESENCE_OFFLINE,
  PRESENCE_ONLINE,
  SEND_WINDOW,
} from './constants.js'
import { decodeEnvelope, type Envelope, type EnvelopeBody, signEnvelope } from './envelope.js'
import { type ChatFrame, decodeChatFrame, encodeChatFrame } from './frames.js'
import { decodeGroupState, groupIdOf, signGroupState, sortMembers } from './group-state.js'
import type { GroupEffect, GroupMessageRow, GroupRow, GroupStore } from './groups.js'
import type { ChatStore, Contact, MessageRow } from './store.js'

export type Presence = 'online' | 'away' | 'busy' | 'invisible' | 'offline'
export const PRESENCE_VALUES: Presence[] = ['online', 'away', 'busy', 'invisible', 'offline']
const WIRE_PRESENCE: Record<Presence, number> = {
  online: PRESENCE_ONLINE,
  away: PRESENCE_AWAY,
  busy: PRESENCE_BUSY,
  // §9.5: invisible looks offline to everyone; messages still flow.
  invisible: PRESENCE_OFFLINE,
  offline: PRESENCE_OFFLINE,
}
const FROM_WIRE: Presence[] = ['offline', 'online', 'away', 'busy']

export type ChatDropReason =
  | 'malformed'
  | 'oversize'
  | 'unknown_type'
  | 'misaddressed'
  | 'gap'
  | 'blocked'
  | 'unauthorized'
  | 'rate_limited'
  | 'strangers_full'
  | 'not_contact'
  | 'channel_reopen'
  | 'mailbox_bad'

export interface ChatEvent {
  type: string
  [k: string]: unknown
}

export interface ChatServiceOptions {
  sessions: SessionManager
  store: ChatStore
  keys: IdentityKeys
  clock: Clock
  random: Random
  emit: (event: ChatEvent) => void
  debug?: (msg: string) => void
  /** Offline delivery through supernode mailboxes; none in tests without supernodes. */
  mailbox?: MailboxClient | null
}

interface Link {
  session: Session
  message: Message
  /** Highest seq written on this link (resent from the ack on a new link). */
  sentUpTo: number
  presence: Presence
}

const CHANNEL_REOPENS_MAX = 5

export class ChatService {
  readonly counters = new Counters<ChatDropReason>()
  private readonly opts: ChatServiceOptions
  private readonly links = new Map<string, Link>()
  private readonly me: Buffer
  private closed = false
  private readonly depositing = new Set<string>()
  /** Per contact: the retry of a deposit no mailbox took, and its next delay. */
  private readonly depositRetry = new Map<string, { timer: TimerHandle | null; delay_ms: number }>()
  private mailTimer: TimerHandle | null = null

  constructor(opts: ChatServiceOptions) {
    this.opts = opts
    this.me = opts.keys.identity.publicKey
    opts.sessions.on('session', (s: Session) => this.attach(s, 0))
    for (const s of opts.sessions.list()) this.attach(s, 0)
    for (const peer of opts.store.pendingPeers()) this.reach(peer)
    for (const ct of opts.store.contacts()) if (ct.state === 'accepted') this.reach(ct.id)
    if (opts.mailbox) this.scheduleMailCheck(MAILBOX_FIRST_CHECK_MS)
  }

  // ---- offline delivery ------------------------------------------------------

  private scheduleMailCheck(delay_ms: number): void {
    this.mailTimer = this.opts.clock.setTimeout(() => {
      this.mailTimer = null
      this.checkMail().then(
        () => !this.closed && this.scheduleMailCheck(MAILBOX_POLL_MS),
        () => !this.closed && this.scheduleMailCheck(MAILBOX_POLL_MS),
      )
    }, delay_ms)
  }

  /**
   * Fetches what mailboxes hold for us, opens and verifies each blob, applies
   * them in each sender's order, then deletes them. A blob that is not a
   * valid envelope sealed to us and signed by its sender is counted and deleted.
   */
  async checkMail(): Promise<{ fetched: number; stored: number }> {
    const mailbox = this.opts.mailbox
    // Someone with no contacts and no requests out expects no mail; strangers'
    // requests then wait for their sender to reach us directly (§9.6).
    if (!mailbox || this.closed || this.opts.store.contacts().length === 0)
      return { fetched: 0, stored: 0 }
    const { blobs, done } = await mailbox.fetch()
    if (this.closed) {
      done()
      return { fetched: blobs.length, stored: 0 }
    }
    const envelopes: Envelope[] = []
    for (const b of blobs) {
      const opened = openSealed(this.opts.keys.identity, b.blob)
      let e: Envelope | null = null
      try {
        if (opened !== null) e = decodeEnvelope(opened)
      } catch {}
      if (e === null) this.counters.inc('mailbox_bad')
      else envelopes.push(e)
    }
    envelopes.sort((x, y) => Buffer.compare(x.sender, y.sender) || x.seq - y.seq)
    let stored = 0
    for (const e of envelopes) {
      const before = this.opts.store.contact(encodeId(e.sender))?.recv_seq ?? 0
      this.deliver(e)
      if ((this.opts.store.contact(encodeId(e.sender))?.recv_seq ?? 0) > before) stored++
    }
    // Only now, with everything committed: a crash before this fetches them again.
    for (const b of blobs) b.remove()
    done()
    if (envelopes.length > 0)
      this.opts.emit({ type: 'mailbox.fetched', blobs: blobs.length, stored })
    return { fetched: blobs.length, stored }
  }

  /**
   * No mailbox took the deposit (none reachable, or each failed): try again
   * later, backing off, so what the peer is owed still reaches a mailbox
   * while it is away — not only when something else happens to retry.
   */
  private retryDeposit(id: string): void {
    const r = this.depositRetry.get(id) ?? { timer: null, delay_ms: MAILBOX_DEPOSIT_RETRY_MS }
    if (r.timer !== null) return
    this.depositRetry.set(id, r)
    r.timer = this.opts.clock.setTimeout(() => {
      r.timer = null
      r.delay_ms = Math.min(r.delay_ms * 2, MAILBOX_DEPOSIT_RETRY_MS_MAX)
      if (this.owes(id)) void this.depositPending(id).catch(() => {})
    }, r.delay_ms)
  }

  /** Seals what the peer has not acknowledged and leaves it in supernode mailboxes. */
  private async depositPending(id: string): Promise<void> {
    const mailbox = this.opts.mailbox
    if (!mailbox || this.closed || this.depositing.has(id) || this.links.has(id)) return
    this.depositing.add(id)
    try {
      // Loop: messages stored while a deposit was in flight go in the next round.
      for (let round = 0; round < 100 && !this.closed && !this.links.has(id); round++) {
        const rows = this.opts.store.undeposited(id)
        if (rows.length === 0) return
        const pk = decodeId(id)
        const copies = await mailbox.deposit(
          pk,
          rows.map((r) => sealTo(pk, r.envelope)),
        )
        this.opts.debug?.(
          `chat: ${rows.length} envelope(s) for ${id.slice(0, 8)} left in ${copies} mailbox(es)`,
        )
        if (this.closed) return
        if (copies === 0) {
          this.retryDeposit(id)
          return
        }
        this.depositRetry.delete(id)
        this.opts.store.markDeposited(
          id,
          rows.map((r) => r.seq),
        )
        this.opts.emit({
          type: 'chat.mailboxed',
          contact: id,
          count: rows.length,
          mailboxes: copies,
        })
      }
    } finally {
      this.depositing.delete(id)
    }
  }

  get presence(): Presence {
    return (this.opts.store.setting('presence') as Presence | null) ?? 'online'
  }

  setPresence(p: Presence): void {
    this.opts.store.setSetting('presence', p)
    for (const [id, link] of this.links) if (this.isContact(id)) this.sendPresence(link)
    this.opts.emit({ type: 'presence.self', status: p })
  }

  /** Presence of a contact as this node sees it. */
  presenceOf(id: string): Presence {
    return this.links.get(id)?.presence ?? 'offline'
  }

  close(): void {
    this.closed = true
    if (this.mailTimer !== null) this.opts.clock.clearTimeout(this.mailTimer)
    for (const r of this.depositRetry.values())
      if (r.timer !== null) this.opts.clock.clearTimeout(r.timer)
    this.depositRetry.clear()
  }

  // ---- people ------------------------------------------------------------

  contacts(): (Contact & { presence: Presence })[] {
    return this.opts.store.contacts().map((ct) => ({ ...ct, presence: this.presenceOf(ct.id) }))
  }

  /** Adds by ID: sends a request, or accepts theirs if they asked first. */
  add(id: string, note: string): Contact {
    this.checkId(id)
    const ct = this.opts.store.contact(id)
    if (ct?.state === 'incoming') return this.accept(id)
    if (ct?.state === 'accepted') return ct
    const now = this.opts.clock.wallNow()
    this.opts.store.setContactState(id, 'requested', now)
    this.enqueue(id, { kind: 'request', name: this.opts.keys.name, note })
    return this.opts.store.contact(id)!
  }

  accept(id: string): Contact {
    const ct = this.require(id, ['incoming', 'declined'], 'has not asked to be your contact')
    this.opts.store.setContactState(ct.id, 'accepted', this.opts.clock.wallNow())
    this.enqueue(id, { kind: 'accept', name: this.opts.keys.name })
    return this.opts.store.contact(id)!
  }

  decline(id: string): Contact {
    this.require(id, ['incoming'], 'has no pending request')
    return this.opts.store.setContactState(id, 'declined', this.opts.clock.wallNow())
  }

  remove(id: string): Contact {
    this.require(id, ['requested', 'incoming', 'accepted', 'declined'], 'is not in your contacts')
    this.opts.sessions.release(decodeId(id), 'chat')
    return this.opts.store.setContactState(id, 'removed', this.opts.clock.wallNow())
  }

  block(id: string): Contact {
    this.checkId(id)
    this.opts.sessions.release(decodeId(id), 'chat')
    return this.opts.store.setContactState(id, 'blocked', this.opts.clock.wallNow())
  }

  // ---- messages ------------------------------------------------------------

  send(id: string, text: string, clientId?: Buffer): MessageRow {
    this.require(id, ['accepted'], 'has not accepted you as a contact yet')
    return this.enqueue(id, { kind: 'text', text }, clientId)
  }

  edit(id: string, target: string, text: string): MessageRow {
    this.require(id, ['accepted'], 'has not accepted you as a contact yet')
    this.ownMessage(id, target)
    return this.enqueue(id, { kind: 'edit', target: Buffer.from(target, 'hex'), text })
  }

  delete(id: string, target: string): MessageRow {
    this.require(id, ['accepted'], 'has not accepted you as a contact yet')
    this.ownMessage(id, target)
    return this.enqueue(id, { kind: 'delete', target: Buffer.from(target, 'hex') })
  }

  history(id: string, limit?: number) {
    this.checkId(id)
    const ct = this.opts.store.contact(id)
    return this.opts.store.history(id, limit).map((m) => ({
      ...describeMessage(m),
      delivered: m.dir === 'out' ? m.seq <= (ct?.acked_seq ?? 0) : true,
      read: m.dir === 'out' ? m.seq <= (ct?.peer_read_seq ?? 0) : m.seq <= (ct?.read_seq ?? 0),
    }))
  }

  markRead(id: string): number {
    this.checkId(id)
    const seq = this.opts.store.markRead(id)
    const link = this.links.get(id)
    if (link !== undefined && seq > 0) this.write(link, { type: 'read', seq })
    return seq
  }

  typing(id: string, typing: boolean): boolean {
    this.require(id, ['accepted'], 'is not your contact')
    const link = this.links.get(id)
    if (link === undefined) return false
    this.write(link, { type: 'typing', typing })
    return true
  }

  private ownMessage(id: string, target: string): void {
    if (!/^[0-9a-f]{32}$/.test(target) || this.opts.store.message(id, 'out', target) === null) {
      throw new ParleyError('NOT_FOUND', `no message ${target} of yours in this conversation`)
    }
  }

  private enqueue(id: string, body: EnvelopeBody, clientId?: Buffer): MessageRow {
    const pending = this.opts.store.contact(id)
    if (pending !== null && pending.send_seq - pending.acked_seq >= OUTBOX_PER_CONTACT_MAX) {
      throw new ParleyError(
        'RATE_LIMITED',
        `${OUTBOX_PER_CONTACT_MAX} messages to this contact are still undelivered; wait until they are online`,
      )
    }
    const msgId = clientId ?? Buffer.from(this.opts.random.bytes(MESSAGE_ID_BYTES))
    const message = this.store(id, body, msgId, this.opts.clock.wallNow())
    this.pump(id)
    this.reach(id)
    return message
  }

  /** Signs and stores one envelope to `id` under its next seq (the 1:1 outbox). */
  private store(id: string, body: EnvelopeBody, msgId: Buffer, now: number): MessageRow {
    const recipient = decodeId(id)
    return this.opts.store.enqueue(id, body, msgId, now, (seq) =>
      signEnvelope(
        { sender: this.me, recipient, id: msgId, seq, sentAtMs: now, ...body },
        this.opts.keys.identity.secretKey,
      ),
    ).message
  }

  /**
   * §11.9: one envelope to each of `ids` through their 1:1 outboxes, all
   * stored in one transaction with `also` (our own copy), then sent.
   */
  private fanOut(ids: string[], body: EnvelopeBody, msgId: Buffer, also?: () => void): void {
    const now = this.opts.clock.wallNow()
    for (const id of ids) {
      const ct = this.opts.store.contact(id)
      if (ct?.state === 'blocked') continue
      if (ct !== null && ct.send_seq - ct.acked_seq >= OUTBOX_PER_CONTACT_MAX)
        throw new ParleyError(
          'RATE_LIMITED',
          `${OUTBOX_PER_CONTACT_MAX} messages to ${id.slice(0, 8)}… are still undelivered`,
        )
    }
    this.opts.store.db.transaction(() => {
      for (const id of ids)
        if (this.opts.store.contact(id)?.state !== 'blocked') this.store(id, body, msgId, now)
      also?.()
    })()
    for (const id of ids) {
      this.pump(id)
      this.reach(id)
    }
  }

  // ---- groups (§11.7-§11.9) -------------------------------------------------

  groups(): (GroupRow & { you_are_admin: boolean })[] {
    return this.opts.store.groups
      .list()
      .map((g) => ({ ...g, you_are_admin: g.admin === this.myId }))
  }

  /** A group by its id, a unique id prefix (4+ hex digits) or a unique name. */
  group(ref: string): GroupRow {
    const t = ref.trim()
    const all = this.opts.store.groups.list()
    const byId = /^[0-9a-f]{4,64}$/.test(t) ? all.filter((g) => g.id.startsWith(t)) : []
    const matches =
      byId.length > 0 ? byId : all.filter((g) => g.name.toLowerCase() === t.toLowerCase())
    if (matches.length === 1) return matches[0]!
    if (matches.length === 0)
      throw new ParleyError('NOT_FOUND', `no group "${t}"; see \`parley groups\``)
    throw new ParleyError(
      'USAGE',
      `${matches.length} groups match "${t}": ${matches.map((g) => g.id.slice(0, 12)).join(', ')}; use the id`,
    )
  }

  createGroup(name: string, members: string[]): GroupRow {
    for (const m of members)
      this.require(m, ['accepted'], 'is not your contact (only contacts can be invited)')
    if (members.length + 1 > GROUP_MEMBERS_MAX)
      throw new ParleyError('USAGE', `a group has at most ${GROUP_MEMBERS_MAX} members`)
    const nonce = Buffer.from(this.opts.random.bytes(GROUP_NONCE_BYTES))
    return this.publishState({ admin: this.me, nonce, seq: 1, name }, [this.myId, ...members], [])
  }

  invite(ref: string, id: string): GroupRow {
    const g = this.adminOf(ref)
    this.require(id, ['accepted'], 'is not your contact (only contacts can be invited)')
    if (g.members.includes(id)) throw new ParleyError('USAGE', 'already a member of this group')
    if (g.members.length >= GROUP_MEMBERS_MAX)
      throw new ParleyError('USAGE', `the group is full (${GROUP_MEMBERS_MAX} members)`)
    return this.nextState(g, [...g.members, id], [])
  }

  removeMember(ref: string, id: string): GroupRow {
    const g = this.adminOf(ref)
    if (id === this.myId) throw new ParleyError('USAGE', 'the admin cannot remove themself')
    if (!g.members.includes(id)) throw new ParleyError('NOT_FOUND', 'not a member of this group')
    // The removed member gets the new state too, so they know.
    return this.nextState(
      g,
      g.members.filter((m) => m !== id),
      [id],
    )
  }

  leaveGroup(ref: string): GroupRow {
    const g = this.group(ref)
    if (g.admin === this.myId)
      throw new ParleyError('USAGE', 'you created this group: remove the others instead of leaving')
    if (g.status !== 'member')
      throw new ParleyError('USAGE', `you are not in this group (${g.status})`)
    const msgId = Buffer.from(this.opts.random.bytes(MESSAGE_ID_BYTES))
    this.fanOut(
      this.opts.store.groups.recipients(g.id, this.myId),
      { kind: 'group-leave', group: Buffer.from(g.id, 'hex') },
      msgId,
      () => this.opts.store.groups.setStatus(g.id, 'left', this.opts.clock.wallNow()),
    )
    return this.opts.store.groups.get(g.id)!
  }

  sendGroup(ref: string, text: string, clientId?: Buffer): GroupMessageRow {
    const g = this.group(ref)
    if (g.status !== 'member')
      throw new ParleyError('USAGE', `you are not in this group (${g.status})`)
    const msgId = clientId ?? Buffer.from(this.opts.random.bytes(MESSAGE_ID_BYTES))
    const now = this.opts.clock.wallNow()
    const row: GroupMessageRow = {
      group_id: g.id,
      sender: this.myId,
      id: msgId.toString('hex'),
      dir: 'out',
      text,
      sent_at_ms: now,
      received_at_ms: null,
    }
    this.fanOut(
      this.opts.store.groups.recipients(g.id, this.myId),
      { kind: 'group-text', group: Buffer.from(g.id, 'hex'), stateSeq: g.seq, text },
      msgId,
      () => this.opts.store.groups.addMessage(row),
    )
    return row
  }

  groupHistory(ref: string, limit?: number) {
    const g = this.group(ref)
    return { group: g, messages: this.opts.store.groups.history(g.id, limit) }
  }

  private adminOf(ref: string): GroupRow {
    const g = this.group(ref)
    if (g.admin !== this.myId)
      throw new ParleyError('USAGE', "only the group's creator can invite or remove members")
    return g
  }

  private nextState(g: GroupRow, members: string[], alsoTo: string[]): GroupRow {
    const st = decodeGroupStateRow(this.opts.store.groups, g.id)
    return this.publishState(
      { admin: this.me, nonce: st.nonce, seq: g.seq + 1, name: g.name },
      members,
      alsoTo,
    )
  }

  /** Signs a new state, stores it and sends it to every member (and `alsoTo`) in one go. */
  private publishState(
    f: { admin: Buffer; nonce: Buffer; seq: number; name: string },
    members: string[],
    alsoTo: string[],
  ): GroupRow {
    const now = this.opts.clock.wallNow()
    const fields = { ...f, changedAtMs: now, members: sortMembers(members.map((m) => decodeId(m))) }
    const raw = signGroupState(fields, this.opts.keys.identity.secretKey)
    const gid = groupIdOf(f.admin, f.nonce).toString('hex')
    const msgId = Buffer.from(this.opts.random.bytes(MESSAGE_ID_BYTES))
    const to = [...members, ...alsoTo].filter((m) => m !== this.myId)
    this.fanOut(to, { kind: 'group-state', state: raw }, msgId, () => {
      this.opts.store.groups.save(
        { ...fields, signature: raw.subarray(raw.length - 64) },
        raw,
        gid,
        this.myId,
        now,
      )
    })
    const g = this.opts.store.groups.get(gid)!
    this.opts.emit({ type: 'group.updated', group: g })
    return g
  }

  private get myId(): string {
    return encodeId(this.me)
  }

  /** Events (and, as admin, the removal that follows a leave) after a group envelope applied. */
  private afterGroup(effect: GroupEffect): void {
    switch (effect.type) {
      case 'updated':
        this.opts.emit({ type: 'group.updated', group: effect.group })
        for (const m of effect.released) this.opts.emit({ type: 'group.message', ...m })
        return
      case 'message':
        this.opts.emit({ type: 'group.message', ...effect.message })
        return
      case 'left':
        this.opts.emit({ type: 'group.left', group: effect.group.id, member: effect.member })
        if (effect.group.admin === this.myId && effect.group.members.includes(effect.member))
          this.removeMember(effect.group.id, effect.member)
        return
    }
  }

  // ---- sessions and the channel -------------------------------------------

  /** Keeps a session to a peer we owe envelopes or presence; dials now if none. */
  private reach(id: string): void {
    if (this.closed || this.links.has(id)) return
    const pk = decodeId(id)
    this.opts.sessions.maintain(pk, 'chat')
    this.opts.sessions.connect(pk).catch((err) => {
      this.opts.debug?.(`chat: cannot reach ${id.slice(0, 8)}: ${err.message}`)
      if (this.owes(id)) void this.depositPending(id).catch(() => {})
    })
  }

  private attach(session: Session, attempt: number): void {
    const pk = session.remoteIdentityPublicKey
    if (pk === null || session.closed || this.closed) return
    const id = encodeId(pk)
    const mux = session.mux as Protomux
    // The peer may open its side before ours exists (its hello and its open can
    // arrive in one read): protomux then asks us through pair() instead of rejecting.
    mux.pair({ protocol: CHAT_PROTOCOL }, () => this.attach(session, attempt))
    let link: Link | null = null
    const channel = mux.createChannel({
      protocol: CHAT_PROTOCOL,
      onopen: () => {
        this.opts.debug?.(`chat: channel open with ${id.slice(0, 8)} (attempt ${attempt})`)
        const prev = this.links.get(id)
        link = { session, message, sentUpTo: 0, presence: 'online' }
        this.links.set(id, link)
        const ct = this.opts.store.contact(id)
        if (this.isContact(id)) this.sendPresence(link)
        if (ct !== null && ct.read_seq > 0) this.write(link, { type: 'read', seq: ct.read_seq })
        this.pump(id)
        if (prev === undefined && this.isContact(id))
          this.opts.emit({ type: 'presence', id, status: this.presenceOf(id) })
      },
      onclose: () => {
        this.opts.debug?.(`chat: channel closed with ${id.slice(0, 8)} (opened: ${link !== null})`)
        if (link !== null && this.links.get(id) === link) {
          this.links.delete(id)
          if (this.isContact(id)) this.opts.emit({ type: 'presence', id, status: 'offline' })
        }
        // Rejected before the peer had created its side (a race at session start): try again.
        if (link === null && !session.closed && attempt < CHANNEL_REOPENS_MAX) {
          this.counters.inc('channel_reopen')
          this.opts.clock.setTimeout(() => this.attach(session, attempt + 1), 250 * (attempt + 1))
        }
      },
    })
    if (channel === null) return
    const message = channel.addMessage({
      encoding: c.raw,
      onmessage: (b: Buffer) => this.onFrame(id, session, b),
    })
    channel.open()
  }

  private write(link: Link, frame: ChatFrame): void {
    if (link.session.closed) return
    link.message.send(encodeChatFrame(frame))
  }

  private sendPresence(link: Link): void {
    this.write(link, { type: 'presence', status: WIRE_PRESENCE[this.presence] })
  }

  /** Sends what is stored and not yet written on the current link, within the window. */
  private pump(id: string): void {
    const link = this.links.get(id)
    const ct = this.opts.store.contact(id)
    if (link === undefined || ct === null) return
    const from = Math.max(link.sentUpTo, ct.acked_seq)
    const room = SEND_WINDOW - (from - ct.acked_seq)
    if (room <= 0) return
    for (const row of this.opts.store.outgoing(id, from, room)) {
      this.write(link, { type: 'envelope', envelope: row.envelope })
      link.sentUpTo = row.seq
    }
  }

  private onFrame(id: string, session: Session, raw: Buffer): void {
    if (this.closed) return
    let frame: ChatFrame
    try {
      frame = decodeChatFrame(raw)
    } catch (err) {
      this.countDecodeError(err)
      return
    }
    const link = this.links.get(id)
    if (link === undefined || link.session !== session) return
    switch (frame.type) {
      case 'envelope': {
        let e: Envelope
        try {
          e = decodeEnvelope(frame.envelope)
        } catch (err) {
          this.countDecodeError(err)
          return
        }
        // Online, the session proves who is talking: the envelope must be theirs, to us.
        if (encodeId(e.sender) !== id) {
          this.counters.inc('misaddressed')
          return
        }
        const ack = this.deliver(e)
        if (ack !== null) this.write(link, { type: 'ack', seq: ack })
        return
      }
      case 'ack':
        for (const m of this.opts.store.acknowledge(id, frame.seq))
          this.opts.emit({ type: 'chat.delivered', contact: id, message_id: m.id, seq: m.seq })
        this.pump(id)
        if (this.opts.store.contact(id)?.state !== 'accepted' && !this.owes(id))
          this.opts.sessions.release(decodeId(id), 'chat')
        return
      case 'read':
        if (this.opts.store.setPeerRead(id, frame.seq))
          this.opts.emit({ type: 'chat.read', contact: id, seq: frame.seq })
        return
      case 'typing':
        if (!this.isContact(id)) {
          this.counters.inc('not_contact')
          return
        }
        this.opts.emit({ type: 'chat.typing', contact: id, typing: frame.typing })
        return
      case 'presence': {
        if (!this.isContact(id)) {
          this.counters.inc('not_contact')
          return
        }
        const status = FROM_WIRE[frame.status] ?? 'offline'
        if (status === link.presence) return
        link.presence = status
        this.opts.emit({ type: 'presence', id, status })
        return
      }
    }
  }

  /**
   * Applies one verified envelope, from a session or a mailbox; returns the
   * cumulative seq to acknowledge (null: do not acknowledge, the sender retries).
   */
  deliver(e: Envelope): number | null {
    if (!e.recipient.equals(this.me)) {
      this.counters.inc('misaddressed')
      return null
    }
    const id = encodeId(e.sender)
    const r = this.opts.store.receive(id, e, this.opts.clock.wallNow())
    if (r.outcome === 'dropped') {
      if (r.reason !== undefined) this.counters.inc(r.reason as ChatDropReason)
      return r.ack
    }
    if (r.outcome !== 'stored') return r.ack
    const m = r.message
    if (r.event === 'request')
      this.opts.emit({ type: 'contact.request', id, name: r.contact.name, note: r.contact.note })
    if (r.event === 'accepted') {
      this.opts.emit({ type: 'contact.accepted', id, name: r.contact.name })
      this.reach(id)
    }
    if (r.sendAccept) this.enqueue(id, { kind: 'accept', name: this.opts.keys.name })
    if (r.group !== undefined) this.afterGroup(r.group)
    if (m.kind === 'text' || m.kind === 'edit' || m.kind === 'delete')
      this.opts.emit({
        type: `chat.${m.kind === 'text' ? 'message' : m.kind === 'edit' ? 'edited' : 'deleted'}`,
        contact: id,
        ...describeMessage(m),
      })
    return r.ack
  }

  private owes(id: string): boolean {
    const ct = this.opts.store.contact(id)
    return ct !== null && ct.send_seq > ct.acked_seq
  }

  private isContact(id: string): boolean {
    return this.opts.store.contact(id)?.state === 'accepted'
  }

  private countDecodeError(err: unknown): void {
    this.counters.inc(decodeDropReason(err))
  }

  private checkId(id: string): void {
    decodeId(id)
    if (id === encodeId(this.me)) throw new ParleyError('USAGE', 'that is your own ID')
  }

  private require(id: string, states: string[], what: string): Contact {
    this.checkId(id)
    const ct = this.opts.store.contact(id)
    if (ct === null || !states.includes(ct.state)) {
      const name = ct?.name ? `${ct.name} (${id.slice(0, 8)}…)` : `${id.slice(0, 12)}…`
      throw new ParleyError('NOT_FOUND', `${name} ${what}; see \`parley contacts list\``)
    }
    return ct
  }
}

export function describeMessage(m: MessageRow) {
  return {
    message_id: m.id,
    direction: m.dir,
    seq: m.seq,
    text: m.text,
    sent_at_ms: m.sent_at_ms,
    received_at_ms: m.received_at_ms,
    edited: m.edited_at_ms !== null,
    deleted: m.deleted === 1,
  }
}

/** The nonce of a stored group state (the admin needs it to sign the next one). */
function decodeGroupStateRow(groups: GroupStore, id: string) {
  return decodeGroupState(groups.rawState(id)!)
}
