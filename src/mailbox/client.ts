// Depositing in and fetching from supernode mailboxes (PROTOCOL.md §9.6).
// The caller supplies sessions to supernodes; this speaks `parley/mailbox`
// on them. Nothing here trusts a mailbox: blobs it returns are opened and
// verified by the chat layer, which drops what does not check out.

import { Exchanges } from '../session/exchange.js'
import type { Session } from '../session/index.js'
import type { Clock } from '../util/clock.js'
import type { Random } from '../util/random.js'
import {
  BLOB_ID_BYTES,
  MAILBOX_COPIES,
  MAILBOX_FETCH_FROM_MAX,
  MAILBOX_OP_TIMEOUT_MS,
  MAILBOX_PROTOCOL,
  STORED_OK,
} from './constants.js'
import { decodeMailboxFrame, encodeMailboxFrame, type MailboxFrame } from './frames.js'

export interface MailboxClientOptions {
  /**
   * Sessions to up to `max` supernodes, best first (unreachable ones left
   * out), and `done()` to close those opened only for this. With a
   * `recipient` (a deposit), the mailboxes that recipient lists come first;
   * without (a fetch), the ones we list ourselves.
   */
  supernodeSessions(max: number, recipient?: Buffer): Promise<{ sessions: Session[]; done(): void }>
  clock: Clock
  random: Random
}

export interface FetchedBlob {
  blob: Buffer
  /** Deletes it from the mailbox it came from. */
  remove(): void
}

export class MailboxClient {
  private readonly opts: MailboxClientOptions
  private readonly exchanges: Exchanges<MailboxFrame>

  constructor(opts: MailboxClientOptions) {
    this.opts = opts
    this.exchanges = new Exchanges({
      protocol: MAILBOX_PROTOCOL,
      encode: encodeMailboxFrame,
      decode: decodeMailboxFrame,
      clock: opts.clock,
      timeout_ms: MAILBOX_OP_TIMEOUT_MS,
      what: 'the mailbox',
    })
  }

  /** Puts every blob in up to MAILBOX_COPIES mailboxes; returns how many stored them all. */
  async deposit(recipient: Buffer, blobs: Buffer[]): Promise<number> {
    const { sessions, done } = await this.opts.supernodeSessions(MAILBOX_FETCH_FROM_MAX, recipient)
    let stored = 0
    try {
      for (const s of sessions) {
        if (stored >= MAILBOX_COPIES) break
        const ok = await this.exchanges
          .run<boolean>(s, (ch, done) => {
            const waiting = new Set<string>()
            let failed = false
            ch.listener = (f) => {
              if (f.type !== 'stored') return
              if (f.status !== STORED_OK) failed = true
              waiting.delete(f.blobId.toString('hex'))
              if (waiting.size === 0) done(!failed)
            }
            for (const blob of blobs) {
              const blobId = Buffer.from(this.opts.random.bytes(BLOB_ID_BYTES))
              waiting.add(blobId.toString('hex'))
              ch.send({ type: 'put', recipient, blobId, blob })
            }
          })
          .catch(() => false)
        if (ok) stored++
      }
    } finally {
      done()
    }
    return stored
  }

  /**
   * Everything waiting for us in up to MAILBOX_FETCH_FROM_MAX mailboxes; call
   * `done()` after removing what was applied (it closes sessions opened for this).
   */
  async fetch(): Promise<{ blobs: FetchedBlob[]; done(): void }> {
    const { sessions, done } = await this.opts.supernodeSessions(MAILBOX_FETCH_FROM_MAX)
    const out: FetchedBlob[] = []
    for (const s of sessions) {
      const got = await this.exchanges
        .run<FetchedBlob[]>(s, (ch, done) => {
          const blobs: FetchedBlob[] = []
          ch.listener = (f) => {
            if (f.type === 'blob')
              blobs.push({
                blob: f.blob,
                remove: () => ch.send({ type: 'delete', blobId: f.blobId }),
              })
            else if (f.type === 'end') done(blobs)
          }
          ch.send({ type: 'fetch' })
        })
        .catch(() => [] as FetchedBlob[])
      out.push(...got)
    }
    return { blobs: out, done }
  }
}
