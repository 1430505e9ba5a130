// Depositing in and fetching from supernode mailboxes (PROTOCOL.md §9.6).
// The caller supplies sessions to supernodes; this speaks `parley/mailbox`
// on them. Nothing here trusts a mailbox: blobs it returns are opened and
// verified by the chat layer, which drops what does not check out.

import c from 'compact-encoding'
import type Protomux from 'protomux'
import type { Session } from '../session/index.js'
import type { Clock } from '../util/clock.js'
import { ParleyError } from '../util/errors.js'
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
   * out), and `done()` to close those opened only for this.
   */
  supernodeSessions(max: number): Promise<{ sessions: Session[]; done(): void }>
  clock: Clock
  random: Random
}

interface Channel {
  send(f: MailboxFrame): void
  /** The frame handler of the one operation running on this channel. */
  listener: ((f: MailboxFrame) => void) | null
  busy: Promise<unknown>
}

export interface FetchedBlob {
  blob: Buffer
  /** Deletes it from the mailbox it came from. */
  remove(): void
}

export class MailboxClient {
  private readonly opts: MailboxClientOptions
  private readonly channels = new WeakMap<Session, Promise<Channel>>()

  constructor(opts: MailboxClientOptions) {
    this.opts = opts
  }

  /** Puts every blob in up to MAILBOX_COPIES mailboxes; returns how many stored them all. */
  async deposit(recipient: Buffer, blobs: Buffer[]): Promise<number> {
    const { sessions, done } = await this.opts.supernodeSessions(MAILBOX_FETCH_FROM_MAX)
    let stored = 0
    try {
      for (const s of sessions) {
        if (stored >= MAILBOX_COPIES) break
        const ok = await this.run<boolean>(s, (ch, done) => {
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
        }).catch(() => false)
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
      const got = await this.run<FetchedBlob[]>(s, (ch, done) => {
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
      }).catch(() => [] as FetchedBlob[])
      out.push(...got)
    }
    return { blobs: out, done }
  }

  /** Runs one exchange on the session's mailbox channel, one at a time, with a deadline. */
  private async run<T>(
    session: Session,
    start: (ch: Channel, done: (v: T) => void) => void,
  ): Promise<T> {
    const ch = await this.channel(session)
    const previous = ch.busy
    const result = previous
      .catch(() => {})
      .then(
        () =>
          new Promise<T>((resolve, reject) => {
            const timer = this.opts.clock.setTimeout(() => {
              ch.listener = null
              reject(new ParleyError('TIMEOUT', 'the mailbox did not answer'))
            }, MAILBOX_OP_TIMEOUT_MS)
            start(ch, (v) => {
              this.opts.clock.clearTimeout(timer)
              ch.listener = null
              resolve(v)
            })
          }),
      )
    ch.busy = result
    return result
  }

  private channel(session: Session): Promise<Channel> {
    const known = this.channels.get(session)
    if (known !== undefined) return known
    const opened = new Promise<Channel>((resolve, reject) => {
      const mux = session.mux as Protomux
      const ch: Channel = { send: () => {}, listener: null, busy: Promise.resolve() }
      const channel = mux.createChannel({
        protocol: MAILBOX_PROTOCOL,
        onopen: () => resolve(ch),
        onclose: () => {
          this.channels.delete(session)
          reject(new ParleyError('SESSION_CLOSED', 'the supernode has no mailbox for us'))
        },
      })
      if (channel === null) {
        reject(new ParleyError('SESSION_CLOSED', 'a mailbox channel is already open'))
        return
      }
      const message = channel.addMessage({
        encoding: c.raw,
        onmessage: (raw: Buffer) => {
          let f: MailboxFrame
          try {
            f = decodeMailboxFrame(raw)
          } catch {
            return // a broken answer: the operation times out and the next mailbox is asked
          }
          ch.listener?.(f)
        },
      })
      ch.send = (f) => message.send(encodeMailboxFrame(f))
      channel.open()
    })
    opened.catch(() => this.channels.delete(session))
    this.channels.set(session, opened)
    return opened
  }
}
