import { ApiClient } from '../../api/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'

// `parley group …` and `parley groups`: thin clients of /v1/groups
// (src/daemon/group-routes.ts).

const USAGE = `usage: parley group create NAME [CONTACT...] | invite GROUP CONTACT | remove GROUP MEMBER
       | leave GROUP | send GROUP TEXT | history GROUP [--limit N]`

interface GroupJson {
  id: string
  name: string
  admin: string
  seq: number
  members: string[]
  status: string
  you_are_admin?: boolean
}

interface GroupMessageJson {
  sender: string
  id: string
  dir: 'in' | 'out'
  text: string
  sent_at_ms: number
  delivered_to: number
}

function describe(g: GroupJson): string {
  return `${g.name.padEnd(20)} ${g.id.slice(0, 12)}  ${g.members.length} member(s), ${g.status}${g.you_are_admin ? ', you are admin' : ''}`
}

export async function cmdGroups(home: string, out: Output): Promise<void> {
  const client = await ApiClient.fromHome(home)
  const r = await client.request<{ groups: GroupJson[] }>('GET', '/v1/groups')
  out.result(r, r.groups.map(describe).join('\n') || 'no groups yet: parley group create NAME')
}

export async function cmdGroup(
  home: string,
  args: string[],
  flags: { limit?: string },
  out: Output,
): Promise<void> {
  const [sub, group, ...rest] = args
  if (sub === undefined || group === undefined) throw new ParleyError('USAGE', USAGE)
  const client = await ApiClient.fromHome(home)
  const post = <T>(path: string, body: Record<string, unknown>) =>
    client.request<T>('POST', `/v1/groups/${path}`, body)
  switch (sub) {
    case 'create': {
      const r = await post<{ group: GroupJson }>('create', { name: group, members: rest.join(',') })
      out.result(r, `created ${describe(r.group)}`)
      return
    }
    case 'invite':
    case 'remove': {
      if (rest.length !== 1) throw new ParleyError('USAGE', USAGE)
      const body = sub === 'invite' ? { group, contact: rest[0] } : { group, member: rest[0] }
      const r = await post<{ group: GroupJson }>(sub, body)
      out.result(r, describe(r.group))
      return
    }
    case 'leave': {
      const r = await post<{ group: GroupJson }>('leave', { group })
      out.result(r, `you left ${r.group.name}`)
      return
    }
    case 'send': {
      if (rest.length === 0) throw new ParleyError('USAGE', USAGE)
      const r = await post<{ message_id: string }>('send', { group, text: rest.join(' ') })
      out.result(r, `stored as ${r.message_id}; each member gets it as soon as they can be reached`)
      return
    }
    case 'history': {
      const limit = flags.limit === undefined ? 100 : Number(flags.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new ParleyError('USAGE', '--limit must be an integer from 1 to 10000')
      const r = await post<{ group: GroupJson; messages: GroupMessageJson[] }>('history', {
        group,
        limit,
      })
      const lines = r.messages.map((m) => {
        const time = new Date(m.sent_at_ms).toISOString().slice(11, 19)
        const who = m.dir === 'out' ? 'me' : m.sender.slice(0, 8)
        const marks = m.dir === 'out' ? `  ✓ ${m.delivered_to}/${r.group.members.length - 1}` : ''
        return `${time} ${who.padEnd(8)} ${m.text}${marks}`
      })
      out.result(r, lines.join('\n') || 'no messages yet')
      return
    }
    default:
      throw new ParleyError('USAGE', USAGE)
  }
}
