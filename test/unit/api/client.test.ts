import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ApiClient, type ApiEvent, createToken, writeDaemonInfo } from '../../../src/api/index.js'
import { isParleyError, ParleyError } from '../../../src/util/errors.js'
import { startServer, type TestServer } from './helpers.js'

const notRunningMessage = (home: string) =>
  `no Parley daemon is running for ${home}: start one with \`parley daemon\` (or pass --home)`

/** A port that was free a moment ago and now refuses connections. */
async function refusingPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  return port
}

describe('ApiClient', () => {
  let home: string
  let t: TestServer
  let client: ApiClient

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'parley-api-client-'))
    const token = await createToken(home)
    t = await startServer({ token })
    await writeDaemonInfo(home, {
      pid: process.pid,
      host: '127.0.0.1',
      port: t.port,
      started_at_ms: Date.now(),
    })
    client = await ApiClient.fromHome(home)
  })
  after(async () => {
    await t.server.close()
    await rm(home, { recursive: true, force: true })
  })

  test('round trip: GET and POST with a body', async () => {
    assert.deepEqual(await client.request('GET', '/v1/status'), { ok: true })
    const reply = await client.request<{ echo: unknown }>('POST', '/v1/echo', {
      text: 'hi',
      count: 3,
    })
    assert.deepEqual(reply, { echo: { text: 'hi', count: 3 } })
    assert.deepEqual(await client.request('POST', '/v1/noop'), {})
  })

  test("the daemon's errors come back as ParleyError with its code and message", async () => {
    await assert.rejects(client.request('POST', '/v1/fail', { code: 'PEER_NOT_FOUND' }), (err) => {
      assert.ok(err instanceof ParleyError)
      assert.equal(err.code, 'PEER_NOT_FOUND')
      assert.equal(err.message, 'failed with PEER_NOT_FOUND on purpose')
      return true
    })
    await assert.rejects(
      client.request('POST', '/v1/echo', { text: 7 }),
      (err) => isParleyError(err, 'BAD_REQUEST') && /field "text"/.test(err.message),
    )
    await assert.rejects(client.request('GET', '/v1/none'), (err) =>
      isParleyError(err, 'NOT_FOUND'),
    )
  })

  test('a wrong token is UNAUTHORIZED', async () => {
    const wrong = new ApiClient({ home, host: '127.0.0.1', port: t.port, token: 'ef'.repeat(32) })
    await assert.rejects(wrong.request('GET', '/v1/status'), (err) =>
      isParleyError(err, 'UNAUTHORIZED'),
    )
    await assert.rejects(
      wrong.events(() => {}),
      (err) => isParleyError(err, 'UNAUTHORIZED'),
    )
  })

  test('timeout_ms gives TIMEOUT and a fired signal gives ABORTED', async () => {
    await assert.rejects(client.request('GET', '/v1/slow', undefined, { timeout_ms: 50 }), (err) =>
      isParleyError(err, 'TIMEOUT'),
    )
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 20)
    await assert.rejects(
      client.request('GET', '/v1/slow', undefined, { signal: ac.signal }),
      (err) => isParleyError(err, 'ABORTED'),
    )
    await assert.rejects(
      client.request('GET', '/v1/status', undefined, { signal: AbortSignal.abort() }),
      (err) => isParleyError(err, 'ABORTED'),
    )
  })

  test('events() delivers broadcasts until closed', async () => {
    const events: ApiEvent[] = []
    const sub = await client.events((e) => events.push(e))
    for (let i = 0; i < 100 && t.server.stats.ws_clients === 0; i++)
      await new Promise((r) => setTimeout(r, 5))
    t.server.broadcast({ type: 'chat.message', text: 'hello' })
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    assert.deepEqual(events, [{ type: 'chat.message', text: 'hello' }])
    sub.close()
  })

  test('events() reports the end of the stream when the daemon stops', async () => {
    const own_home = await mkdtemp(join(tmpdir(), 'parley-api-client-'))
    const own = await startServer({ token: await createToken(own_home) })
    await writeDaemonInfo(own_home, {
      pid: process.pid,
      host: '127.0.0.1',
      port: own.port,
      started_at_ms: 0,
    })
    const own_client = await ApiClient.fromHome(own_home)
    const ended = new Promise<number>((resolve) => {
      void own_client.events(() => {}, { onClose: (code) => resolve(code) })
    })
    for (let i = 0; i < 100 && own.server.stats.ws_clients === 0; i++)
      await new Promise((r) => setTimeout(r, 5))
    await own.server.close()
    assert.equal(await ended, 1001)
    await rm(own_home, { recursive: true, force: true })
  })
})

describe('ApiClient without a daemon', () => {
  let home: string
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'parley-api-nodaemon-'))
  })
  after(() => rm(home, { recursive: true, force: true }))

  test('no daemon.json is DAEMON_NOT_RUNNING with what to do', async () => {
    await assert.rejects(ApiClient.fromHome(home), (err) => {
      assert.ok(isParleyError(err, 'DAEMON_NOT_RUNNING'))
      assert.equal(err.message, notRunningMessage(home))
      return true
    })
  })

  test('a stale daemon.json whose port refuses is DAEMON_NOT_RUNNING mentioning it', async () => {
    await createToken(home)
    const port = await refusingPort()
    await writeDaemonInfo(home, { pid: 999_999, host: '127.0.0.1', port, started_at_ms: 0 })
    const client = await ApiClient.fromHome(home)
    await assert.rejects(client.request('GET', '/v1/status'), (err) => {
      assert.ok(isParleyError(err, 'DAEMON_NOT_RUNNING'))
      assert.ok(err.message.startsWith(notRunningMessage(home)), err.message)
      assert.match(err.message, /daemon\.json.*stale/)
      return true
    })
    await assert.rejects(
      client.events(() => {}),
      (err) => isParleyError(err, 'DAEMON_NOT_RUNNING'),
    )
  })
})
