// This node's side of the directory (PROTOCOL.md §11.3): publish our own
// signed profile at start and every DIRECTORY_REFRESH_MS (checked every
// DIRECTORY_CHECK_MS: sooner when the mailbox list changed; a publish that
// reached nobody is retried after DIRECTORY_RETRY_MS), and look others up —
// by name for people, by ID for the mailboxes a recipient lists (cached).

import type { IdentityKeys } from '../identity/index.js'
import type { Clock, TimerHandle } from '../util/clock.js'
import type { DirectoryClient } from './client.js'
import {
  DIRECTORY_CACHE_MS,
  DIRECTORY_CHECK_MS,
  DIRECTORY_FIRST_PUBLISH_MS,
  DIRECTORY_REFRESH_MS,
  DIRECTORY_RETRY_MS,
} from './constants.js'
import { type MailboxAddress, type Profile, signProfile } from './record.js'

export interface DirectoryServiceOptions {
  keys: IdentityKeys
  client: DirectoryClient
  clock: Clock
  /** The supernodes whose mailboxes we fetch from, best first (listed in our record). */
  mailboxes(): MailboxAddress[]
  debug?: (msg: string) => void
  /** Called after each publish (the daemon broadcasts it). */
  onPublished?: (r: { stored: number; asked: number; published_at_ms: number }) => void
}

export class DirectoryService {
  private readonly opts: DirectoryServiceOptions
  private timer: TimerHandle | null = null
  private closed = false
  private readonly cache = new Map<string, { profile: Profile | null; at_ms: number }>()
  last: { stored: number; asked: number; published_at_ms: number } | null = null
  /** The mailbox list of the last record that reached a supernode. */
  private publishedMailboxes = ''

  constructor(opts: DirectoryServiceOptions) {
    this.opts = opts
  }

  start(): void {
    this.schedule(DIRECTORY_FIRST_PUBLISH_MS)
  }

  close(): void {
    this.closed = true
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer)
  }

  /** Our record as of now, signed. */
  ownRecord(): Buffer {
    const keys = this.opts.keys
    return signProfile(
      {
        identity: keys.identity.publicKey,
        publishedAtMs: this.opts.clock.wallNow(),
        name: keys.name,
        devices: [keys.certificate],
        mailboxes: this.opts.mailboxes(),
      },
      keys.identity.secretKey,
    )
  }

  async publish(): Promise<{ stored: number; asked: number; published_at_ms: number }> {
    const mailboxes = mailboxKey(this.opts.mailboxes())
    const record = this.ownRecord()
    const r = await this.opts.client.publish(record)
    const published_at_ms = record.readBigUInt64LE(33)
    const out = { ...r, published_at_ms: Number(published_at_ms) }
    if (r.stored > 0) {
      this.last = out
      this.publishedMailboxes = mailboxes
    }
    this.opts.debug?.(`directory: record stored by ${r.stored} of ${r.asked} supernode(s)`)
    this.opts.onPublished?.(out)
    return out
  }

  /** Whether our record is due: never stored, older than the refresh period, or mailboxes moved. */
  private due(): boolean {
    if (this.last === null) return true
    if (this.opts.clock.wallNow() - this.last.published_at_ms >= DIRECTORY_REFRESH_MS) return true
    return mailboxKey(this.opts.mailboxes()) !== this.publishedMailboxes
  }

  private schedule(delay_ms: number): void {
    if (this.closed) return
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null
      if (!this.due()) return this.schedule(DIRECTORY_CHECK_MS)
      this.publish().then(
        (r) => this.schedule(r.stored > 0 ? DIRECTORY_CHECK_MS : DIRECTORY_RETRY_MS),
        () => this.schedule(DIRECTORY_RETRY_MS),
      )
    }, delay_ms)
  }

  /** A recipient's record for its mailbox list; cached DIRECTORY_CACHE_MS (misses too). */
  async profileOf(identity: Buffer): Promise<Profile | null> {
    const key = identity.toString('hex')
    const now = this.opts.clock.wallNow()
    const hit = this.cache.get(key)
    if (hit !== undefined && now - hit.at_ms < DIRECTORY_CACHE_MS) return hit.profile
    const { profile } = await this.opts.client.findId(identity)
    if (this.cache.size >= 1000) this.cache.clear()
    this.cache.set(key, { profile, at_ms: now })
    return profile
  }
}

function mailboxKey(list: MailboxAddress[]): string {
  return list.map((m) => m.publicKey.toString('hex')).join(',')
}
