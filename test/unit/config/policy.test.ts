import assert from 'node:assert/strict'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { defaultSystemConfigFile, resolveConfig } from '../../../src/config/index.js'
import { isParleyError } from '../../../src/util/errors.js'
import { rejectsWith, resolveWith } from './helpers.js'

describe('system-wide policy and locked keys', () => {
  it('a locked key keeps the system value and shows source "system"', async () => {
    const r = await resolveWith({ system: { filetransfer: false, locked: ['filetransfer'] } })
    assert.equal(r.config.filetransfer, false)
    assert.equal(r.sources.filetransfer, 'system')
    assert.deepEqual(r.locked, ['filetransfer'])
  })

  it('a locked key without a value is locked at its default', async () => {
    const r = await resolveWith({ system: { locked: ['supernode'] } })
    assert.equal(r.config.supernode, false)
    assert.equal(r.sources.supernode, 'system')
    await rejectsWith(
      { system: { locked: ['supernode'] }, env: { PARLEY_SUPERNODE: '1' } },
      'PARLEY_SUPERNODE: "supernode" is locked to false',
    )
  })

  it('refuses a different value from a flag, env or the user file, naming both places', async () => {
    const system = { udp: false, locked: ['udp'] }
    const m = await rejectsWith(
      { system, flags: { udp: true } },
      '--udp: "udp" is locked to false by the administrator in ',
      'system-config.json',
      'remove true from --udp, or ask your administrator',
    )
    assert.ok(m.length > 0)
    await rejectsWith({ system, env: { PARLEY_UDP: '1' } }, 'PARLEY_UDP: "udp" is locked')
    await rejectsWith({ system, user: { udp: true } }, 'config.json: "udp" is locked')
  })

  it('accepts the same value from other sources', async () => {
    const r = await resolveWith({
      system: { udp: false, locked: ['udp'] },
      flags: { 'no-udp': true },
      user: { udp: false },
    })
    assert.equal(r.config.udp, false)
    assert.equal(r.sources.udp, 'system')
  })

  it('"relay" locks the whole group; unlocked keys stay overridable', async () => {
    const r = await resolveWith({
      system: { port: 5000, locked: ['relay'] },
      flags: { port: '6000' },
    })
    assert.deepEqual(r.locked, [
      'relay.enabled',
      'relay.sessions_max',
      'relay.session_bytes_per_s_max',
      'relay.total_bytes_per_s_max',
    ])
    assert.equal(r.config.port, 6000)
    await rejectsWith(
      { system: { locked: ['relay'] }, user: { relay: { sessions_max: 5 } } },
      '"relay.sessions_max" is locked to 64',
    )
  })

  it('a locked proxy is shown redacted in the error', async () => {
    const m = await rejectsWith(
      {
        system: { proxy: 'http://corp:s3cret@proxy.corp:3128', locked: ['proxy'] },
        flags: { proxy: 'none' },
      },
      'is locked to "http://corp:***@proxy.corp:3128"',
    )
    assert.ok(!m.includes('s3cret'))
  })

  it('refuses unknown names in "locked" and a malformed list', async () => {
    await rejectsWith(
      { system: { locked: ['supernodes'] } },
      '"locked" names unknown key "supernodes" (did you mean "supernode"?)',
    )
    await rejectsWith({ system: { locked: 'udp' } }, '"locked" must be a list of key names')
  })

  it('fails closed when the system file cannot be read', async () => {
    // A directory in its place fails to read even as root (EISDIR), like EACCES does for users.
    const dir = await mkdtemp(join(tmpdir(), 'parley-sys-'))
    const file = join(dir, 'config.json')
    await mkdir(file)
    await assert.rejects(
      resolveConfig({ home: dir, env: {}, systemFile: file }),
      (err: unknown) => {
        assert.ok(isParleyError(err, 'USAGE'))
        assert.match(
          (err as Error).message,
          /config\.json: cannot be read \(EISDIR\); fix its permissions/,
        )
        return true
      },
    )
  })

  it('uses /etc/parley/config.json on POSIX and %ProgramData% on Windows', () => {
    assert.equal(defaultSystemConfigFile('linux', {}), '/etc/parley/config.json')
    assert.match(
      defaultSystemConfigFile('win32', { ProgramData: 'D:\\PD' }),
      /^D:\\PD.parley.config\.json$/,
    )
  })
})

describe('HTTPS_PROXY is opt-in', () => {
  const env = { HTTPS_PROXY: 'http://envproxy.example:3128' }

  it('is ignored unless use_env_proxy is true', async () => {
    const r = await resolveWith({ env })
    assert.equal(r.config.proxy, null)
    assert.equal(r.sources.proxy, 'default')
  })

  it('is used when use_env_proxy is on, from any source', async () => {
    for (const setup of [
      { user: { use_env_proxy: true } },
      { flags: { 'use-env-proxy': true } },
      { env: { PARLEY_USE_ENV_PROXY: 'true' } },
    ]) {
      const r = await resolveWith({
        ...setup,
        env: { ...env, ...('env' in setup ? setup.env : {}) },
      })
      assert.equal(r.config.proxy, 'http://envproxy.example:3128')
      assert.equal(r.sources.proxy, 'env')
    }
  })

  it('prefers https_proxy, takes a bare HOST:PORT as http, and loses to PARLEY_PROXY and flags', async () => {
    const both = {
      HTTPS_PROXY: 'http://upper:1',
      https_proxy: 'lower.example:3128',
      PARLEY_USE_ENV_PROXY: '1',
    }
    assert.equal((await resolveWith({ env: both })).config.proxy, 'http://lower.example:3128')
    const parley = await resolveWith({ env: { ...both, PARLEY_PROXY: 'socks5://s.example:1080' } })
    assert.equal(parley.config.proxy, 'socks5://s.example:1080')
    const flag = await resolveWith({ env: both, flags: { proxy: 'none' } })
    assert.equal(flag.config.proxy, null)
    assert.equal(flag.sources.proxy, 'flag')
  })

  it('beats the user file (it is environment) but not a locked proxy', async () => {
    const on = { ...env, PARLEY_USE_ENV_PROXY: '1' }
    const r = await resolveWith({ env: on, user: { proxy: 'http://file.example:8080' } })
    assert.equal(r.config.proxy, 'http://envproxy.example:3128')
    const locked = await resolveWith({ env: on, system: { proxy: null, locked: ['proxy'] } })
    assert.equal(locked.config.proxy, null)
    assert.match(
      locked.warnings.join('\n'),
      /HTTPS_PROXY is ignored: the administrator fixed "proxy"/,
    )
  })

  it('names the variable in its errors, without the password', async () => {
    const m = await rejectsWith(
      { env: { HTTPS_PROXY: 'ftp://u:pw123@x:1', PARLEY_USE_ENV_PROXY: '1' } },
      'HTTPS_PROXY (read because use_env_proxy is true): "proxy"',
      'u:***@',
    )
    assert.ok(!m.includes('pw123'))
  })

  it('warns about unknown PARLEY_* variables and readable files with a proxy password', async () => {
    const r = await resolveWith({
      env: { PARLEY_SOMETHING_ELSE_ENTIRELY: '1' },
      user: { proxy: 'http://a:b@p:1' },
      userMode: 0o644,
    })
    assert.match(
      r.warnings.join('\n'),
      /PARLEY_SOMETHING_ELSE_ENTIRELY is set but is not a Parley setting/,
    )
    if (process.platform !== 'win32')
      assert.match(
        r.warnings.join('\n'),
        /holds a proxy password and other users can read it; run: chmod 600/,
      )
    const quiet = await resolveWith({ user: { proxy: 'http://a:b@p:1' }, userMode: 0o600 })
    assert.deepEqual(quiet.warnings, [])
  })
})
