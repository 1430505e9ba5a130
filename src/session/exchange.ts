// Request/answer exchanges on a per-session channel that the client opens
// and a server pairs (the mailbox §9.6 and directory §11.2 channels): one
// exchange at a time per channel, each with a deadline, frames decoded by the
// caller's codec (a broken frame is ignored: the exchange times out).

import c from 'compact-encoding'
import type Protomux from 'protomux'
import type { Clock } from '../util/clock.js'
import { ParleyError } from '../util/errors.js'
import type { SessionManager } from './manager.js'
import type { Session } from './session.js'

export interface ExchangeChannel<F> {
  send(f: F): void
  /** The frame handler of the one exchange running on this channel. */
  listener: ((f: F) => void) | null
  busy: Promise<unknown>
  /** Ends the running exchange at once: the channel (its session) closed under it. */
  abort: ((err: Error) => void) | null
  /** The channel closed: an exchange queued behind the running one fails at once. */
  closed: boolean
}

export interface ExchangeOptions<F> {
  protocol: string
  encode(f: F): Buffer
  decode(raw: Buffer): F
  clock: Clock
  timeout_ms: number
  /** For people: what did not answer ("the mailbox"). */
  what: string
}

export class Exchanges<F> {
  private readonly opts: ExchangeOptions<F>
  private readonly channels = new WeakMap<Session, Promise<ExchangeChannel<F>>>()

  constructor(opts: ExchangeOptions<F>) {
    this.opts = opts
  }

  /** Runs one exchange on the session's channel, after the ones before it, with a deadline. */
  async run<T>(
    session: Session,
    start: (ch: ExchangeChannel<F>, done: (v: T) => void) => void,
  ): Promise<T> {
    const ch = await this.channel(session)
    const result = ch.busy
      .catch(() => {})
      .then(
        () =>
          new Promise<T>((resolve, reject) => {
            const end = () => {
              this.opts.clock.clearTimeout(timer)
              ch.listener = null
              ch.abort = null
            }
            const timer = this.opts.clock.setTimeout(() => {
              end()
              reject(new ParleyError('TIMEOUT', `${this.opts.what} did not answer`))
            }, this.opts.timeout_ms)
            if (ch.closed) {
              end()
              reject(new ParleyError('SESSION_CLOSED', `the session to ${this.opts.what} closed`))
              return
            }
            ch.abort = (err) => {
              end()
              reject(err)
            }
            start(ch, (v) => {
              end()
              resolve(v)
            })
          }),
      )
    ch.busy = result
    return result
  }

  private channel(session: Session): Promise<ExchangeChannel<F>> {
    const known = this.channels.get(session)
    if (known !== undefined) return known
    const opened = new Promise<ExchangeChannel<F>>((resolve, reject) => {
      const mux = session.mux as Protomux
      const ch: ExchangeChannel<F> = {
        send: () => {},
        listener: null,
        busy: Promise.resolve(),
        abort: null,
        closed: false,
      }
      const channel = mux.createChannel({
        protocol: this.opts.protocol,
        onopen: () => resolve(ch),
        onclose: () => {
          this.channels.delete(session)
          ch.closed = true
          reject(new ParleyError('SESSION_CLOSED', `the supernode has no ${this.opts.what} for us`))
          // Without this an exchange running now would wait out its whole deadline.
          ch.abort?.(new ParleyError('SESSION_CLOSED', `the session to ${this.opts.what} closed`))
        },
      })
      if (channel === null) {
        reject(new ParleyError('SESSION_CLOSED', `a ${this.opts.protocol} channel is already open`))
        return
      }
      const message = channel.addMessage({
        encoding: c.raw,
        onmessage: (raw: Buffer) => {
          let f: F
          try {
            f = this.opts.decode(raw)
          } catch {
            return // a broken answer: the exchange times out and the next server is asked
          }
          ch.listener?.(f)
        },
      })
      ch.send = (f) => message.send(this.opts.encode(f))
      channel.open()
    })
    opened.catch(() => this.channels.delete(session))
    this.channels.set(session, opened)
    return opened
  }
}

/**
 * The server side: on every session (present and future), accept the
 * channel the client opens and answer each decoded frame with `handle`'s
 * replies, in order. A frame that does not decode goes to `onBadFrame`.
 */
export function serveExchanges<F>(
  sessions: Pick<SessionManager, 'on' | 'list'>,
  opts: {
    protocol: string
    encode(f: F): Buffer
    decode(raw: Buffer): F
    onBadFrame(err: unknown): void
    handle(session: Session, f: F): F[]
  },
): void {
  const serve = (session: Session) => {
    const mux = session.mux as Protomux
    mux.pair({ protocol: opts.protocol }, () => {
      const channel = mux.createChannel({ protocol: opts.protocol })
      if (channel === null) return
      const message = channel.addMessage({
        encoding: c.raw,
        onmessage: (raw: Buffer) => {
          let frame: F
          try {
            frame = opts.decode(raw)
          } catch (err) {
            opts.onBadFrame(err)
            return
          }
          for (const reply of opts.handle(session, frame)) message.send(opts.encode(reply))
        },
      })
      channel.open()
    })
  }
  sessions.on('session', serve)
  for (const s of sessions.list()) serve(s)
}
