import { createInterface } from 'node:readline'
import { ApiClient } from '../../api/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'
import { resolveNameForAdd } from './directory.js'

// `parley contacts …`, `send`, `history`, `chat`, `presence`: thin clients of
// the daemon's chat API (src/daemon/chat-routes.ts).

interface ContactJson {
  id: string
  name: string
  state: string
  note: string
  presence: string
}

interface MessageJson {
  message_id: string
  direction: 'in' | 'out'
  text: string
  sent_at_ms: number
  edited: boolean
  deleted: boolean
  delivered: boolean
  read: boolean
}

/** `parley chat` sets you away after this long without a line typed (if you were online). */
const AWAY_AFTER_MS = Number(process.env.PARLEY_AWAY_AFTER_MS ?? 300_000)

const CONTACTS_USAGE =
  'usage: parley contacts add ID|NAME [--note TEXT] | list | accept ID | decline ID | remove ID | block ID'

export async function cmdContacts(
  home: string,
  args: string[],
  flags: { note?: string },
  out: Output,
) {
  const [sub, who] = args
  if (sub === undefined) throw new ParleyError('USAGE', CONTACTS_USAGE)
  const client = await ApiClient.fromHome(home)
  if (sub === 'list') {
    const r = await client.request<{ contacts: ContactJson[] }>('GET', '/v1/contacts')
    const lines = r.contacts.map(
      (c) =>
        `${(c.name || '?').padEnd(16)} ${c.id}  ${c.state}${c.state === 'accepted' ? `, ${c.presence}` : ''}${c.note && c.state === 'incoming' ? `  "${c.note}"` : ''}`,
    )
    out.result(r, lines.length ? lines.join('\n') : 'no contacts yet: parley contacts add ID')
    return
  }
  if (!['add', 'accept', 'decline', 'remove', 'block'].includes(sub) || who === undefined)
    throw new ParleyError('USAGE', CONTACTS_USAGE)
  const id = sub === 'add' ? await resolveNameForAdd(client, who, out) : who
  const body: Record<string, unknown> = { id }
  if (sub === 'add' && flags.note !== undefined) body.note = flags.note
  const r = await client.request<{ contact: ContactJson }>('POST', `/v1/contacts/${sub}`, body)
  const c = r.contact
  const said: Record<string, string> = {
    requested: 'contact request sent (delivered when they are online)',
    accepted: 'is your contact',
    declined: 'request declined',
    removed: 'removed',
    blocked: 'blocked: their requests and messages are dropped',
  }
  out.result(r, `${c.name || c.id}: ${said[c.state] ?? c.state}`)
}

export async function cmdSend(
  home: string,
  args: string[],
  flags: { 'message-id'?: string },
  out: Output,
) {
  const [contact, ...words] = args
  if (contact === undefined || words.length === 0)
    throw new ParleyError('USAGE', 'usage: parley send CONTACT TEXT')
  const client = await ApiClient.fromHome(home)
  const body: Record<string, unknown> = { contact, text: words.join(' ') }
  if (flags['message-id'] !== undefined) body.message_id = flags['message-id']
  const r = await client.request<{ message_id: string; seq: number }>('POST', '/v1/chat/send', body)
  out.result(r, `stored as ${r.message_id}; it is delivered as soon as they can be reached`)
}

export async function cmdHistory(
  home: string,
  args: string[],
  flags: { limit?: string },
  out: Output,
) {
  const [contact] = args
  if (contact === undefined)
    throw new ParleyError('USAGE', 'usage: parley history CONTACT [--limit N] [--json]')
  const limit = flags.limit === undefined ? 100 : Number(flags.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new ParleyError('USAGE', '--limit must be an integer from 1 to 10000')
  const client = await ApiClient.fromHome(home)
  const r = await client.request<{ messages: MessageJson[] }>('POST', '/v1/chat/history', {
    contact,
    limit,
  })
  out.result(r, r.messages.map(formatMessage).join('\n') || 'no messages yet')
}

export function formatMessage(m: MessageJson): string {
  const time = new Date(m.sent_at_ms).toISOString().slice(11, 19)
  const who = m.direction === 'out' ? 'me' : 'them'
  const marks =
    m.direction === 'out' ? (m.read ? ' ✓✓ read' : m.delivered ? ' ✓ delivered' : ' … pending') : ''
  const text = m.deleted ? '(deleted)' : `${m.text}${m.edited ? ' (edited)' : ''}`
  return `${time} ${who.padEnd(4)} ${text}${marks}`
}

export async function cmdPresence(home: string, args: string[], out: Output) {
  const client = await ApiClient.fromHome(home)
  if (args[0] !== undefined) {
    const r = await client.request('POST', '/v1/presence', { status: args[0] })
    out.result(r, `you are ${args[0]}`)
    return
  }
  const r = await client.request<{ status: string; contacts: ContactJson[] }>('GET', '/v1/presence')
  out.result(
    r,
    [
      `you: ${r.status}`,
      ...r.contacts.map((c) => `${(c.name || '?').padEnd(16)} ${c.presence}`),
    ].join('\n'),
  )
}

/** Interactive chat: shows history, presence, typing and receipts; each line typed is sent. */
export async function cmdChat(home: string, args: string[], out: Output) {
  const [contact] = args
  if (contact === undefined) throw new ParleyError('USAGE', 'usage: parley chat CONTACT')
  const client = await ApiClient.fromHome(home)
  const h = await client.request<{ contact: string; presence: string; messages: MessageJson[] }>(
    'POST',
    '/v1/chat/history',
    { contact, limit: 20 },
  )
  const id = h.contact
  for (const m of h.messages) out.info(formatMessage(m))
  out.info(`-- ${contact} is ${h.presence}; type a line and Enter to send, Ctrl-D to leave --`)
  await client.request('POST', '/v1/chat/read', { contact: id })
  const events = await client.events((e) => {
    if (e.contact !== id && e.id !== id) return
    if (e.type === 'chat.message') {
      out.info(formatMessage({ ...(e as unknown as MessageJson), delivered: true, read: false }))
      void client.request('POST', '/v1/chat/read', { contact: id }).catch(() => {})
    } else if (e.type === 'presence') out.info(`-- ${contact} is ${String(e.status)}`)
    else if (e.type === 'chat.typing' && e.typing === true) out.info(`-- ${contact} is typing…`)
    else if (e.type === 'chat.delivered') out.info('   ✓ delivered')
    else if (e.type === 'chat.read') out.info('   ✓✓ read')
    else if (e.type === 'chat.edited' || e.type === 'chat.deleted')
      out.info(formatMessage({ ...(e as unknown as MessageJson), delivered: true, read: true }))
  })
  // Away after idle: this client can tell (no typing here for AWAY_AFTER_MS); the daemon cannot.
  const me = await client.request<{ status: string }>('GET', '/v1/presence')
  let idleTimer: NodeJS.Timeout | null = null
  let wentAway = false
  const active = () => {
    if (idleTimer !== null) clearTimeout(idleTimer)
    if (wentAway) {
      wentAway = false
      void client.request('POST', '/v1/presence', { status: 'online' }).catch(() => {})
    }
    if (me.status !== 'online') return
    idleTimer = setTimeout(() => {
      wentAway = true
      void client.request('POST', '/v1/presence', { status: 'away' }).catch(() => {})
    }, AWAY_AFTER_MS)
    idleTimer.unref()
  }
  active()
  const rl = createInterface({ input: process.stdin })
  for await (const line of rl) {
    active()
    if (line.trim() === '') continue
    try {
      await client.request('POST', '/v1/chat/send', { contact: id, text: line })
    } catch (err) {
      out.info(`parley: ${(err as Error).message}`)
    }
  }
  if (idleTimer !== null) clearTimeout(idleTimer)
  if (wentAway) await client.request('POST', '/v1/presence', { status: 'online' }).catch(() => {})
  events.close()
}
