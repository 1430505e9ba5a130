import type { FieldSpec, Route } from '../api/index.js'
import { type ChatService, PRESENCE_VALUES, type Presence, TEXT_BYTES_MAX } from '../chat/index.js'
import { decodeId, encodeId, looksLikeId } from '../identity/index.js'
import { ParleyError } from '../util/errors.js'

// Local API of contacts, presence and chat (README "Chat"). A CONTACT is an ID
// or the name of a contact; a name two contacts share is refused, never guessed.

export const contactField: FieldSpec = {
  type: 'string',
  required: true,
  max_length: 128,
  description: "a contact's Parley ID or name",
}
const idField: FieldSpec = {
  type: 'string',
  required: true,
  max_length: 128,
  description: 'a Parley ID',
}
const messageIdField: FieldSpec = {
  type: 'string',
  max_length: 32,
  pattern: /^[0-9a-f]{32}$/,
  description: 'a message id: 32 lowercase hex digits',
}
// Length is checked in bytes by the service; this only bounds the request.
const textField: FieldSpec = {
  type: 'string',
  required: true,
  max_length: TEXT_BYTES_MAX * 2,
  description: `the message text (at most ${TEXT_BYTES_MAX} bytes of UTF-8)`,
}

export function resolveContact(chat: ChatService, text: string): string {
  const t = text.trim()
  if (looksLikeId(t)) return encodeId(decodeId(t))
  const matches = chat.contacts().filter((c) => c.name.toLowerCase() === t.toLowerCase())
  if (matches.length === 1) return matches[0]!.id
  if (matches.length === 0)
    throw new ParleyError(
      'NOT_FOUND',
      `no contact named "${t}"; use their ID, or see \`parley contacts list\``,
    )
  throw new ParleyError(
    'USAGE',
    `${matches.length} contacts are named "${t}": ${matches.map((m) => m.id).join(', ')}; use the ID`,
  )
}

export function checkText(text: string): string {
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > TEXT_BYTES_MAX)
    throw new ParleyError(
      'USAGE',
      `the message is ${bytes} bytes; the limit is ${TEXT_BYTES_MAX} bytes of UTF-8 — split it`,
    )
  if (bytes === 0) throw new ParleyError('USAGE', 'the message is empty')
  return text
}

export function buildChatRoutes(chat: () => ChatService): Route[] {
  const contactOp = (path: string, op: 'accept' | 'decline' | 'remove' | 'block'): Route => ({
    method: 'POST',
    path: `/v1/contacts/${path}`,
    body: { id: contactField },
    handler: async (b) => ({ contact: chat()[op](resolveContact(chat(), String(b.id))) }),
  })
  return [
    {
      method: 'GET',
      path: '/v1/contacts',
      handler: async () => ({ contacts: chat().contacts() }),
    },
    {
      method: 'POST',
      path: '/v1/contacts/add',
      body: {
        id: idField,
        note: { type: 'string', max_length: 512, description: 'a note to show with the request' },
      },
      handler: async (b) => {
        const id = String(b.id).trim().toLowerCase()
        decodeId(id)
        const note = String(b.note ?? '')
        if (Buffer.byteLength(note) > 512)
          throw new ParleyError('USAGE', 'the note is over 512 bytes of UTF-8')
        return { contact: chat().add(id, note) }
      },
    },
    contactOp('accept', 'accept'),
    contactOp('decline', 'decline'),
    contactOp('remove', 'remove'),
    contactOp('block', 'block'),
    {
      method: 'POST',
      path: '/v1/chat/send',
      body: { contact: contactField, text: textField, message_id: messageIdField },
      handler: async (b) => {
        const id = resolveContact(chat(), String(b.contact))
        const clientId =
          b.message_id === undefined ? undefined : Buffer.from(String(b.message_id), 'hex')
        const m = chat().send(id, checkText(String(b.text)), clientId)
        return { contact: id, message_id: m.id, seq: m.seq, sent_at_ms: m.sent_at_ms }
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/edit',
      body: {
        contact: contactField,
        message_id: { ...messageIdField, required: true },
        text: textField,
      },
      handler: async (b) => {
        const id = resolveContact(chat(), String(b.contact))
        const m = chat().edit(id, String(b.message_id), checkText(String(b.text)))
        return { contact: id, message_id: m.id, seq: m.seq }
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/delete',
      body: { contact: contactField, message_id: { ...messageIdField, required: true } },
      handler: async (b) => {
        const id = resolveContact(chat(), String(b.contact))
        const m = chat().delete(id, String(b.message_id))
        return { contact: id, message_id: m.id, seq: m.seq }
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/history',
      body: {
        contact: contactField,
        limit: { type: 'integer', min: 1, max: 10_000, description: 'newest messages to return' },
      },
      handler: async (b) => {
        const id = resolveContact(chat(), String(b.contact))
        const limit = typeof b.limit === 'number' ? b.limit : undefined
        return { contact: id, presence: chat().presenceOf(id), messages: chat().history(id, limit) }
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/read',
      body: { contact: contactField },
      handler: async (b) => {
        const id = resolveContact(chat(), String(b.contact))
        return { contact: id, read_seq: chat().markRead(id) }
      },
    },
    {
      method: 'POST',
      path: '/v1/chat/typing',
      body: {
        contact: contactField,
        typing: { type: 'boolean', required: true, description: 'typing now?' },
      },
      handler: async (b) => {
        const id = resolveContact(chat(), String(b.contact))
        return { contact: id, sent: chat().typing(id, b.typing === true) }
      },
    },
    {
      method: 'GET',
      path: '/v1/presence',
      handler: async () => ({
        status: chat().presence,
        contacts: chat()
          .contacts()
          .filter((c) => c.state === 'accepted')
          .map((c) => ({ id: c.id, name: c.name, presence: c.presence })),
      }),
    },
    {
      method: 'POST',
      path: '/v1/presence',
      body: {
        status: {
          type: 'string',
          required: true,
          pattern: /^(online|away|busy|invisible)$/,
          description: 'online, away, busy or invisible',
        },
      },
      handler: async (b) => {
        const status = String(b.status) as Presence
        if (!PRESENCE_VALUES.includes(status)) throw new ParleyError('USAGE', 'unknown status')
        chat().setPresence(status)
        return { status }
      },
    },
  ]
}
