import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DaemonProcess, spawnDaemon } from '../../daemon/spawn.js'
import { createKeystore, encodeId, ensureHome, generateIdentity } from '../../identity/index.js'
import { startTestnet } from '../../net/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'
import { demoCall } from './demo-call.js'
import { demoChat } from './demo-chat.js'
import { demoTransfer } from './demo-transfer.js'
import type { PingResult } from './peers.js'

interface Step {
  name: string
  ok: boolean
  detail: string
}

/**
 * An embedded private DHT on loopback and two users, alice and bob, each a
 * real `parley daemon` process over real UDP. Exits 0 only if every step worked.
 */
export async function cmdDemo(flags: { pings?: string }, out: Output): Promise<number> {
  const pings = flags.pings === undefined ? 100 : Number(flags.pings)
  if (!Number.isInteger(pings) || pings < 1 || pings > 1000) {
    throw new ParleyError('USAGE', '--pings must be an integer from 1 to 1000')
  }
  const root = await mkdtemp(join(tmpdir(), 'parley-demo-'))
  const steps: Step[] = []
  const daemons: DaemonProcess[] = []
  const report: Record<string, unknown> = { steps }
  const testnet = await startTestnet({ host: '127.0.0.1', nodes: 3 })
  const bootstrap = `127.0.0.1:${testnet.nodes[0]!.address().port}`
  out.info(`demo: private DHT at ${bootstrap} (3 nodes), homes under ${root}`)
  try {
    const ids: Record<string, string> = {}
    for (const name of ['alice', 'bob']) {
      const home = join(root, name)
      await ensureHome(home)
      const keys = generateIdentity({ name, deviceName: 'demo', now_ms: Date.now() })
      await createKeystore(home, keys, null)
      ids[name] = encodeId(keys.identity.publicKey)
      out.info(`demo: ${name} is ${ids[name]}`)
    }
    for (const name of ['alice', 'bob']) {
      const d = await spawnDaemon({
        home: join(root, name),
        args: ['--bootstrap', bootstrap, '--port', '0'],
      })
      daemons.push(d)
      const s = await d.client.request<{ bootstrap_ms: number; reachability: string }>(
        'GET',
        '/v1/status',
      )
      steps.push({
        name: `${name} joins the network`,
        ok: true,
        detail: `bootstrap ${s.bootstrap_ms} ms, reachability ${s.reachability}`,
      })
      report[`${name}_bootstrap_ms`] = s.bootstrap_ms
    }
    const alice = daemons[0]!
    const first = await alice.client.request<PingResult>(
      'POST',
      '/v1/ping',
      { id: ids.bob, count: 1 },
      { timeout_ms: 15_000 },
    )
    steps.push({
      name: 'alice finds bob by key and connects',
      ok: true,
      detail: `${first.path}, connect ${first.connect_ms} ms`,
    })
    report.connect_ms = first.connect_ms
    report.path = first.path
    const many = await alice.client.request<PingResult>(
      'POST',
      '/v1/ping',
      { id: ids.bob, count: pings },
      { timeout_ms: 60_000 },
    )
    steps.push({
      name: `${pings} pings over the encrypted session`,
      ok: true,
      detail: `rtt p50 ${many.rtt_ms} ms, p99 ${many.rtt_ms_p99} ms`,
    })
    report.rtt_ms_p50 = many.rtt_ms
    report.rtt_ms_p99 = many.rtt_ms_p99
    const bobStatus = await daemons[1]!.client.request<{ peers: { id: string }[] }>(
      'GET',
      '/v1/status',
    )
    const sees = bobStatus.peers.some((p) => p.id === ids.alice)
    steps.push({
      name: 'bob sees an authenticated session from alice',
      ok: sees,
      detail: sees ? 'identity verified by device certificate' : "alice missing from bob's peers",
    })
    const call = await demoCall(alice, daemons[1]!, ids.bob!, root)
    steps.push({ name: 'alice calls bob playing speech; bob records it', ...call })
    Object.assign(report, call.report)
    await demoChat({ root, bootstrap, ids, daemons, steps, report })
    const transfer = await demoTransfer(root, alice, daemons[1]!, ids.bob!)
    steps.push(transfer.step)
    Object.assign(report, transfer.report)
  } catch (err) {
    steps.push({
      name: 'demo step failed',
      ok: false,
      detail: err instanceof Error ? err.message : String(err),
    })
  } finally {
    await Promise.all(daemons.map((d) => d.stop()))
    await testnet.destroy()
    await rm(root, { recursive: true, force: true })
  }
  const ok = steps.length > 0 && steps.every((s) => s.ok)
  report.ok = ok
  const lines = [
    'Parley demo report',
    ...steps.map((s) => `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.name}: ${s.detail}`),
    ok ? 'all steps passed' : 'the demo FAILED',
  ]
  out.result(report, lines.join('\n'))
  return ok ? 0 : 1
}
