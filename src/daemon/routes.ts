import type { Route } from '../api/index.js'
import { decodeId } from '../identity/index.js'
import type { Session } from '../session/index.js'
import { percentile } from '../util/stats.js'
import { buildCallRoutes } from './call-routes.js'
import { buildChatRoutes } from './chat-routes.js'
import type { Daemon } from './daemon.js'
import { buildDirectoryRoutes } from './directory-glue.js'
import { buildGroupRoutes } from './group-routes.js'
import { transferRoutes } from './transfer-routes.js'

export const PING_COUNT_MAX = 1000

export function buildRoutes(daemon: Daemon): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/status',
      handler: async () => daemon.status(),
    },
    {
      method: 'POST',
      path: '/v1/ping',
      body: {
        id: {
          type: 'string',
          required: true,
          max_length: 128,
          description: 'the Parley ID to ping',
        },
        count: {
          type: 'integer',
          min: 1,
          max: PING_COUNT_MAX,
          description: 'round trips to measure (default 5)',
        },
      },
      handler: async (body, signal) => {
        const identity = decodeId(String(body.id))
        const started_ms = performance.now()
        const reused = daemon.sessions.get(identity) !== undefined
        const session = await daemon.sessions.connect(identity, { signal })
        const connect_ms = reused ? 0 : performance.now() - started_ms
        const count = typeof body.count === 'number' ? body.count : 5
        const samples: number[] = []
        for (let i = 0; i < count; i++) samples.push(await pingOnce(daemon, session))
        return {
          id: String(body.id).trim().toLowerCase(),
          path: daemon.sessions.current(session).path,
          connect_ms: round2(connect_ms),
          rtt_ms: round2(percentile(samples, 50)),
          rtt_ms_p99: round2(percentile(samples, 99)),
          pings: count,
          reused_session: reused,
        }
      },
    },
    {
      method: 'POST',
      path: '/v1/shutdown',
      body: {},
      handler: async () => {
        setImmediate(() => daemon.emit('shutdown-requested'))
        return { stopping: true }
      },
    },
    ...buildCallRoutes(daemon),
    ...buildChatRoutes(() => daemon.chat!),
    ...transferRoutes(daemon),
    ...buildDirectoryRoutes(() => daemon.directory),
    ...buildGroupRoutes(() => daemon.chat!),
  ]
}

const round2 = (x: number) => Math.round(x * 100) / 100

/** One round trip; follows the session if a simultaneous connect replaced it meanwhile. */
async function pingOnce(daemon: Daemon, session: Session): Promise<number> {
  try {
    return await daemon.sessions.current(session).ping()
  } catch (err) {
    const now = daemon.sessions.current(session)
    if (now === session || now.closed) throw err
    return now.ping()
  }
}
