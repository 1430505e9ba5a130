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
    let s = sessions.list().find((x) => !x.closed && x.remoteDevicePublicKey.equals(sn.publicKey))
    if (s === undefined) {
      try {
        s = await sharedSupernodeDial(net, sessions, sn)
      } catch {
        continue // unreachable now: the next supernode is asked
      }
    }
    out.push(s)
    // Opened here, perhaps for another caller still at work: hold it too.
    const users = temporaryUsers.get(s)
    if (users !== undefined) {
      temporaryUsers.set(s, users + 1)
      opened.push(s)
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
/** Per session manager, the supernode dials under way, by supernode key. */
const dialing = new WeakMap<SessionManager, Map<string, Promise<Session>>>()

/**
 * Callers that need the same supernode at once (a directory publish, a
 * mailbox deposit and a fetch at login) share one dial, as
 * SessionManager.connect shares dials to an identity (supernodes are dialled
 * by device key at their DHT address, outside it). Two dials would make
 * two sessions, and the supernode keeps only the newer (PROTOCOL.md §5.8):
 * the exchanges on the other would fail with it.
 */
function sharedSupernodeDial(
  net: NetworkNode,
  sessions: SessionManager,
  sn: MailboxAddress,
): Promise<Session> {
  let byKey = dialing.get(sessions)
  if (byKey === undefined) {
    byKey = new Map()
    dialing.set(sessions, byKey)
  }
  const key = sn.publicKey.toString('hex')
  const pending = byKey.get(key)
  if (pending !== undefined) return pending
  const dial = (async () => {
    const adopted = await sessions.adopt(await net.connectSupernode(sn), null)
    const s = sessions.current(adopted)
    // Only the session dialled here is ours to close; one it lost to is not.
    if (s === adopted) temporaryUsers.set(s, 0)
    return s
  })()
  byKey.set(key, dial)
  const forget = () => byKey.delete(key)
  dial.then(forget, forget)
  return dial
}
