import type { NetworkNode } from '../net/index.js'
import type { Session, SessionManager } from '../session/index.js'
import { GoodbyeCode, HELLO_FLAG_SUPERNODE } from '../wire/index.js'

/**
 * Sessions to up to `max` supernodes, best first, for mailbox deposits and
 * fetches. Until the directory publishes the supernodes each user lists, both
 * sides use the supernodes announced on the network (PROTOCOL.md §9.6).
 */
export async function supernodeSessions(
  net: NetworkNode | null,
  sessions: SessionManager,
  max: number,
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
  for (const sn of net.supernodes.ranked().slice(0, max)) {
    const open = sessions
      .list()
      .find((s) => !s.closed && s.remoteDevicePublicKey.equals(sn.publicKey))
    if (open !== undefined) {
      out.push(open)
      continue
    }
    try {
      const stream = await net.connect({
        publicKey: sn.publicKey,
        relayAddresses: [{ host: sn.host, port: sn.port }],
      })
      const s = sessions.current(await sessions.adopt(stream, null))
      out.push(s)
      opened.push(s)
    } catch {
      // unreachable now: the next supernode is asked
    }
  }
  // Sessions opened only for the mailbox are not kept: idle sessions cost keep-alives.
  const done = () => {
    for (const s of opened) s.close(GoodbyeCode.Normal, 'mailbox done')
  }
  return { sessions: out, done }
}
