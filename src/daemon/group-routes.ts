import type { FieldSpec, Route } from '../api/index.js'
import { type ChatService, GROUP_NAME_BYTES_MAX } from '../chat/index.js'
import { ParleyError } from '../util/errors.js'
import { checkText, contactField, resolveContact } from './chat-routes.js'

// Local API of group chat (README "Groups"). GROUP is a group id, a unique
// id prefix (4+ hex digits) or a unique group name.

const groupField: FieldSpec = {
  type: 'string',
  required: true,
  max_length: 128,
  description: 'a group id, a unique id prefix or a unique group name',
}

export function buildGroupRoutes(chat: () => ChatService): Route[] {
  return [
    { method: 'GET', path: '/v1/groups', handler: async () => ({ groups: chat().groups() }) },
    {
      method: 'POST',
      path: '/v1/groups/create',
      body: {
        name: {
          type: 'string',
          required: true,
          max_length: GROUP_NAME_BYTES_MAX * 4,
          description: `the group's name (1 to ${GROUP_NAME_BYTES_MAX} bytes)`,
        },
        members: {
          type: 'string',
          max_length: 99 * 129,
          description: 'contacts to invite now: IDs or names, separated by commas',
        },
      },
      handler: async (b) => {
        const name = String(b.name).trim()
        if (name === '' || Buffer.byteLength(name) > GROUP_NAME_BYTES_MAX)
          throw new ParleyError(
            'USAGE',
            `a group name is 1 to ${GROUP_NAME_BYTES_MAX} bytes of UTF-8`,
          )
        const members = String(b.members ?? '')
          .split(',')
          .filter((m) => m.trim() !== '')
          .map((m) => resolveContact(chat(), m))
        return { group: chat().createGroup(name, [...new Set(members)]) }
      },
    },
    {
      method: 'POST',
      path: '/v1/groups/invite',
      body: { group: groupField, contact: contactField },
      handler: async (b) => ({
        group: chat().invite(String(b.group), resolveContact(chat(), String(b.contact))),
      }),
    },
    {
      method: 'POST',
      path: '/v1/groups/remove',
      body: {
        group: groupField,
        member: { ...contactField, description: 'a member ID or contact name' },
      },
      handler: async (b) => ({
        group: chat().removeMember(String(b.group), resolveContact(chat(), String(b.member))),
      }),
    },
    {
      method: 'POST',
      path: '/v1/groups/leave',
      body: { group: groupField },
      handler: async (b) => ({ group: chat().leaveGroup(String(b.group)) }),
    },
    {
      method: 'POST',
      path: '/v1/groups/send',
      body: {
        group: groupField,
        text: { type: 'string', required: true, max_length: 16384, description: 'the message' },
        message_id: {
          type: 'string',
          max_length: 32,
          pattern: /^[0-9a-f]{32}$/,
          description: 'a message id: 32 lowercase hex digits (a repeated one is stored once)',
        },
      },
      handler: async (b) => {
        const clientId =
          b.message_id === undefined ? undefined : Buffer.from(String(b.message_id), 'hex')
        const m = chat().sendGroup(String(b.group), checkText(String(b.text)), clientId)
        return { group: m.group_id, message_id: m.id, sent_at_ms: m.sent_at_ms }
      },
    },
    {
      method: 'POST',
      path: '/v1/groups/history',
      body: {
        group: groupField,
        limit: { type: 'integer', min: 1, max: 10_000, description: 'newest messages to return' },
      },
      handler: async (b) =>
        chat().groupHistory(String(b.group), typeof b.limit === 'number' ? b.limit : undefined),
    },
  ]
}
