import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runCli } from '../helpers/cli.js'

// The README's quick start is `npm ci && npm run demo`: the demo must keep
// passing every step (ping, call, chat with offline delivery, file transfer)
// as the layers under it change. A merge once broke its transfer step.
test('parley demo passes every step', { timeout: 240_000 }, async () => {
  const r = await runCli(['demo', '--json'], { timeout_ms: 230_000 })
  const report = JSON.parse(r.stdout) as { ok: boolean }
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  assert.equal(report.ok, true)
})
