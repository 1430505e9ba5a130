import assert from 'node:assert/strict'
import { access, readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import type { ApiEvent } from '../../src/api/index.js'
import { spawnDaemon } from '../../src/daemon/spawn.js'
import { initUsers, startTestnetProcess, tempDir } from '../helpers/cli.js'

interface Reply {
  status: number
  body: { error?: { code: string; message: string } }
}

function call(
  port: number,
  opts: { headers?: Record<string, string>; body?: string; path?: string },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.body === undefined ? 'GET' : 'POST',
        path: opts.path ?? '/v1/status',
        headers: opts.headers,
      },
      (res) => {
        let text = ''
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
      },
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

// Acceptance: the real daemon's API refuses what it must, streams events,
// and a SIGTERM shuts it down cleanly (exit 0, daemon.json gone, cache kept).
test('the daemon API: token, Host/Origin checks, validation, events, clean shutdown', async () => {
  const root = await tempDir('daemon-api')
  const testnet = await startTestnetProcess(['--nodes', '3'])
  const args = ['--bootstrap', testnet.bootstrap, '--port', '0']
  try {
    const ids = await initUsers(root.path, ['alice', 'bob'])
    const alice = await spawnDaemon({ home: join(root.path, 'alice'), args })
    const bob = await spawnDaemon({ home: join(root.path, 'bob'), args })
    const home = join(root.path, 'alice')
    const { port } = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8'))
    const token = (await readFile(join(home, 'api-token'), 'utf8')).trim()
    const auth = { Authorization: `Bearer ${token}`, Host: `127.0.0.1:${port}` }

    assert.equal((await call(port, {})).status, 401, 'no token')
    assert.equal(
      (await call(port, { headers: { Authorization: 'Bearer wrong' } })).status,
      401,
      'wrong token',
    )
    const rebinding = await call(port, { headers: { ...auth, Host: `attacker.example:${port}` } })
    assert.equal(rebinding.status, 403, 'foreign Host')
    const crossSite = await call(port, { headers: { ...auth, Origin: 'https://attacker.example' } })
    assert.equal(crossSite.status, 403, 'foreign Origin')
    const json = { ...auth, 'Content-Type': 'application/json' }
    const malformed = await call(port, { path: '/v1/ping', headers: json, body: '{"id":' })
    assert.equal(malformed.status, 400)
    assert.match(malformed.body.error!.message, /JSON/)
    const badField = await call(port, {
      path: '/v1/ping',
      headers: json,
      body: '{"id":"x","count":"many"}',
    })
    assert.equal(badField.status, 400)
    assert.match(badField.body.error!.message, /count/)
    const badId = await call(port, { path: '/v1/ping', headers: json, body: '{"id":"not-an-id"}' })
    assert.equal(badId.status, 400)
    assert.match(badId.body.error!.message, /not a Parley ID/)

    const events: ApiEvent[] = []
    const sub = await alice.client.events((e) => events.push(e))
    await alice.client.request('POST', '/v1/ping', { id: ids.bob, count: 1 })
    for (let i = 0; i < 50 && !events.some((e) => e.type === 'session.opened'); i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    sub.close()
    const opened = events.find((e) => e.type === 'session.opened')
    assert.equal(opened?.id, ids.bob, `events: ${JSON.stringify(events)}`)

    assert.equal(await alice.stop('SIGTERM'), 0, `clean exit: ${alice.stderr()}`)
    await assert.rejects(access(join(home, 'daemon.json')), 'daemon.json removed on shutdown')
    await access(join(home, 'host-cache.json'))
    await bob.stop()
  } finally {
    await testnet.stop()
    await root.cleanup()
  }
})
