import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCli, tempDir } from '../helpers/cli.js'

const env = { PARLEY_PASSPHRASE: 'correct horse battery staple' }

test('keystore through the CLI: permissions, wrong passphrase, damage, no overwrite', async () => {
  const root = await tempDir('keystore-cli')
  const home = join(root.path, 'home')
  try {
    const init = await runCli(['init', '--home', home, '--name', 'alice', '--json'], { env })
    assert.equal(init.code, 0, init.stderr)
    const { id, fingerprint } = JSON.parse(init.stdout)
    assert.match(fingerprint, /^\d{5}( \d{5}){5}$/)
    assert.equal((await stat(home)).mode & 0o777, 0o700)
    const file = join(home, 'identity.json')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const original = await readFile(file)

    const idOut = await runCli(['id', '--home', home, '--json'])
    assert.equal(idOut.code, 0, 'id needs no passphrase')
    assert.equal(JSON.parse(idOut.stdout).id, id)

    const wrong = await runCli(['daemon', '--home', home, '--bootstrap', '127.0.0.1:9'], {
      env: { PARLEY_PASSPHRASE: 'wrong' },
    })
    assert.notEqual(wrong.code, 0)
    assert.match(wrong.stderr, /wrong passphrase/)
    assert.deepEqual(await readFile(file), original)

    const again = await runCli(['init', '--home', home, '--no-passphrase'])
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /already exists/)
    assert.deepEqual(await readFile(file), original)

    const truncated = original.subarray(0, Math.floor(original.length / 2))
    await writeFile(file, truncated)
    for (const args of [['id'], ['daemon', '--bootstrap', '127.0.0.1:9']]) {
      const r = await runCli([...args, '--home', home], { env })
      assert.notEqual(r.code, 0, `${args[0]} must fail on a truncated keystore`)
      assert.match(r.stderr, /damaged|corrupt/)
      assert.deepEqual(await readFile(file), truncated, 'the damaged file is left untouched')
    }
  } finally {
    await root.cleanup()
  }
})

test('init without a terminal or PARLEY_PASSPHRASE says how to give one', async () => {
  const root = await tempDir('keystore-nopass')
  try {
    const r = await runCli(['init', '--home', join(root.path, 'h')], {
      env: { PARLEY_PASSPHRASE: '' },
    })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /PARLEY_PASSPHRASE/)
  } finally {
    await root.cleanup()
  }
})

test('bad usage is a clear message and exit status 2', async () => {
  const r = await runCli(['pign'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /unknown command "pign"/)
  const flag = await runCli(['status', '--frobnicate'])
  assert.equal(flag.code, 2)
  assert.match(flag.stderr, /frobnicate/)
})
