import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CONFIG_KEYS, resolveConfig } from '../../../src/config/index.js'
import { rejectsWith, resolveWith } from './helpers.js'

describe('resolveConfig precedence', () => {
  it('gives the documented defaults with nothing configured', async () => {
    const { config, sources } = await resolveWith({})
    assert.deepEqual(config, {
      supernode: false,
      relay: {
        enabled: false,
        sessions_max: 64,
        session_bytes_per_s_max: 262_144,
        total_bytes_per_s_max: 8_388_608,
      },
      udp: true,
      port: 49737,
      gateway_port: 0,
      metrics_port: 0,
      api_port: 0,
      filetransfer: true,
      auto_accept_from: [],
      proxy: null,
      use_env_proxy: false,
      bootstrap: null,
      gateways: [],
    })
    for (const key of CONFIG_KEYS) assert.equal(sources[key], 'default', key)
  })

  it('takes flag over env over user file over system file', async () => {
    const system = { port: 1001, api_port: 2001, metrics_port: 3001, filetransfer: false }
    const user = { port: 1002, api_port: 2002, metrics_port: 3002 }
    const env = { PARLEY_PORT: '1003', PARLEY_API_PORT: '2003' }
    const flags = { port: '1004' }
    const { config, sources } = await resolveWith({ system, user, env, flags })
    assert.equal(config.port, 1004)
    assert.equal(sources.port, 'flag')
    assert.equal(config.api_port, 2003)
    assert.equal(sources.api_port, 'env')
    assert.equal(config.metrics_port, 3002)
    assert.equal(sources.metrics_port, 'file')
    assert.equal(config.filetransfer, false)
    assert.equal(sources.filetransfer, 'system')
    assert.equal(sources.udp, 'default')
  })

  it('derives relay.enabled and gateway_port from supernode unless set', async () => {
    const on = await resolveWith({ env: { PARLEY_SUPERNODE: '1' } })
    assert.equal(on.config.supernode, true)
    assert.equal(on.sources.supernode, 'env')
    assert.equal(on.config.relay.enabled, true)
    assert.equal(on.sources['relay.enabled'], 'default')
    // The gateway is opt-in even on a supernode.
    assert.equal(on.config.gateway_port, 0)
    const noRelay = await resolveWith({
      flags: { supernode: true, 'no-relay': true, 'gateway-port': '0' },
    })
    assert.equal(noRelay.config.relay.enabled, false)
    assert.equal(noRelay.config.gateway_port, 0)
    assert.equal(noRelay.sources['relay.enabled'], 'flag')
  })

  it('reads nested relay caps from files, env and flags', async () => {
    const { config, sources } = await resolveWith({
      user: { supernode: true, relay: { sessions_max: 10, total_bytes_per_s_max: 5_000_000 } },
      env: { PARLEY_RELAY_SESSIONS_MAX: '20' },
      flags: { 'relay-session-bytes-per-s-max': '64000' },
    })
    assert.equal(config.relay.sessions_max, 20)
    assert.equal(sources['relay.sessions_max'], 'env')
    assert.equal(config.relay.total_bytes_per_s_max, 5_000_000)
    assert.equal(sources['relay.total_bytes_per_s_max'], 'file')
    assert.equal(config.relay.session_bytes_per_s_max, 64_000)
  })

  it('lets --no-x beat a true from a file, and PARLEY_UDP=0 turn UDP off', async () => {
    const r = await resolveWith({
      user: { filetransfer: true },
      flags: { 'no-filetransfer': true },
    })
    assert.equal(r.config.filetransfer, false)
    const u = await resolveWith({ env: { PARLEY_UDP: '0' } })
    assert.equal(u.config.udp, false)
  })

  it('parses bootstrap lists, "public" and null', async () => {
    const r = await resolveWith({
      user: { bootstrap: ['10.0.0.1:49737', '[::1]:5000'] },
    })
    assert.deepEqual(r.config.bootstrap, [
      { host: '10.0.0.1', port: 49737 },
      { host: '::1', port: 5000 },
    ])
    const pub = await resolveWith({
      user: { bootstrap: ['10.0.0.1:1'] },
      flags: { bootstrap: 'public' },
    })
    assert.equal(pub.config.bootstrap, null)
    assert.equal(pub.sources.bootstrap, 'flag')
    const env = await resolveWith({ env: { PARLEY_BOOTSTRAP: 'a.example:1,b.example:2' } })
    assert.equal(env.config.bootstrap?.length, 2)
  })

  it('treats an empty variable as unset and ignores unrelated flags', async () => {
    const r = await resolveWith({
      user: { port: 7000 },
      env: { PARLEY_PORT: '', PARLEY_HOME: '/x', PARLEY_PASSPHRASE: 'secret' },
      flags: { home: '/x', json: true },
    })
    assert.equal(r.config.port, 7000)
    assert.deepEqual(r.warnings, [])
  })

  it('ignores "//" comment keys in files', async () => {
    const r = await resolveWith({ user: { '// why': 'the lab needs a fixed port', port: 7001 } })
    assert.equal(r.config.port, 7001)
  })

  it('reports which files it used, and needs no system file', async () => {
    const r = await resolveWith({})
    assert.equal(r.files.user, `${r.home}/config.json`)
    assert.equal(r.files.system, r.systemFile)
    const none = await resolveConfig({ home: r.home, env: {}, systemFile: null })
    assert.equal(none.files.system, null)
  })

  it('returns a frozen config', async () => {
    const { config } = await resolveWith({})
    assert.ok(Object.isFrozen(config))
  })
})

describe('combinations', () => {
  it('refuses a supernode without UDP, naming both sources', async () => {
    await rejectsWith(
      { user: { supernode: true }, env: { PARLEY_UDP: '0' } },
      'supernode is true (',
      'config.json)',
      'udp is false (PARLEY_UDP)',
      'turn one of them off',
    )
  })

  it('refuses relay or gateway without supernode', async () => {
    await rejectsWith(
      { flags: { relay: true } },
      'relay.enabled is true (--relay)',
      'supernode is false (default)',
    )
    await rejectsWith(
      { env: { PARLEY_GATEWAY_PORT: '8443' } },
      'gateway_port is 8443 (PARLEY_GATEWAY_PORT)',
      'gateway_port to 0',
    )
  })

  it('refuses two TCP services on one port', async () => {
    await rejectsWith(
      { flags: { 'api-port': '9000', 'metrics-port': '9000' } },
      'metrics_port is 9000 (--metrics-port)',
      'api_port is 9000 (--api-port)',
      'cannot share a port',
    )
  })
})
