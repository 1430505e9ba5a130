import type { MailboxAddress } from '../directory/index.js'
import type { NetworkNode } from '../net/index.js'
import type { Session, SessionManager } from '../session/index.js'
import { GoodbyeCode, HELLO_FLAG_SUPERNODE } from '../wire/index.js'

/**
 * Sessions to up to `max` supernodes for mailbox deposits and fetches and
 * for the directory: the `prefer`red ones first (the supernodes a recipient
 * lists in its directory record, PROTOCOL.md §9.6), then the supernodes
 * announced on the network, best round trip first.
 */
export async function supernodeSessions(
  net: NetworkNode | null,
  sessions: SessionManager,
  max: number,
  prefer: MailboxAddress[] = [],
): Promise<{ sessions: Session[]; done(): void }> {
  // Without UDP the only supernode within reach is the gateway we are linked to.
  if (net === null) {
    const links = sessions
      .list()
      .filter((s) => !s.closed && (s.remoteFlags & HELLO_FLAG_SUPERNODE) !== 0)
      .slice(0, max)
    return { sessions: links, done() {} }
  }
  if (net.supernodes.ranked().length === 0) await net.refreshSupernodes().catch(() => {})
  const out: Session[] = []
  const opened: Session[] = []
  const seen = new Set<string>()
  const candidates = [...prefer, ...net.supernodes.ranked()].filter((sn) => {
    const key = sn.publicKey.toString('hex')
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  for (const sn of candidates) {
    if (out.length >= max) break
    const open = sessions
      .list()
      .find((s) => !s.closed && s.remoteDevicePublicKey.equals(sn.publicKey))
    if (open !== undefined) {
      out.push(open)
      // Opened here for another caller still at work: hold it too.
      const users = temporaryUsers.get(open)
      if (users !== undefined) {
        temporaryUsers.set(open, users + 1)
        opened.push(open)
      }
      continue
    }
    try {
      const stream = await net.connectSupernode(sn)
      const s = sessions.current(await sessions.adopt(stream, null))
      out.push(s)
      temporaryUsers.set(s, (temporaryUsers.get(s) ?? 0) + 1)
      opened.push(s)
    } catch {
      // unreachable now: the next supernode is asked
    }
  }
  // Sessions opened only for the mailbox or the directory are not kept (idle
  // sessions cost keep-alives), but only the last caller using one closes it:
  // a deposit must not lose its session to a directory publish that ended first.
  let released = false
  const done = () => {
    if (released) return
    released = true
    for (const s of opened) {
      const users = (temporaryUsers.get(s) ?? 1) - 1
      if (users > 0) {
        temporaryUsers.set(s, users)
        continue
      }
      temporaryUsers.delete(s)
      s.close(GoodbyeCode.Normal, 'mailbox done')
    }
  }
  return { sessions: out, done }
}

/** Sessions supernodeSessions opened, and how many callers are using each. */
const temporaryUsers = new WeakMap<Session, number>()
