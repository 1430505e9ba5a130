import { describe, it } from 'node:test'
import { rejectsWith } from './helpers.js'

// Each message names the key, where the value came from, and what is allowed.

describe('validation messages', () => {
  it('booleans', async () => {
    await rejectsWith(
      { user: { supernode: 'yes' } },
      'config.json: "supernode" must be true or false, not "yes"',
    )
    await rejectsWith(
      { env: { PARLEY_SUPERNODE: 'maybe' } },
      'PARLEY_SUPERNODE: "supernode" must be one of 1, 0, true, false',
      'not "maybe"',
    )
    await rejectsWith(
      { flags: { udp: true, 'no-udp': true } },
      '--udp and --no-udp contradict each other',
    )
  })

  it('ports, with what 0 means for each', async () => {
    await rejectsWith(
      { env: { PARLEY_PORT: 'abc' } },
      'PARLEY_PORT: "port" must be an integer 0-65535 (0 picks a free port), not "abc"',
    )
    await rejectsWith(
      { flags: { port: '70000' } },
      '--port: "port" must be an integer 0-65535',
      'not 70000',
    )
    await rejectsWith(
      { user: { gateway_port: -1 } },
      '"gateway_port" must be an integer 0-65535 (0 turns the gateway off), not -1',
    )
    await rejectsWith(
      { user: { metrics_port: 1.5 } },
      '"metrics_port"',
      '(0 turns metrics off), not 1.5',
    )
    await rejectsWith(
      { user: { api_port: '8080' } },
      '"api_port"',
      '(0 picks an ephemeral port), not "8080"',
    )
    await rejectsWith({ env: { PARLEY_PORT: '-5' } }, 'PARLEY_PORT', 'not "-5"')
  })

  it('relay caps', async () => {
    await rejectsWith(
      { user: { relay: { sessions_max: 0 } } },
      '"relay.sessions_max" must be an integer 1-1000000 (to refuse all, turn relay off), not 0',
    )
    await rejectsWith(
      { env: { PARLEY_RELAY_TOTAL_BYTES_PER_S_MAX: '1e6' } },
      'PARLEY_RELAY_TOTAL_BYTES_PER_S_MAX: "relay.total_bytes_per_s_max"',
      'in bytes per second, not "1e6"',
    )
    await rejectsWith({ user: { relay: true } }, '"relay" must be an object like {"enabled": true')
  })

  it('proxy URLs', async () => {
    await rejectsWith(
      { flags: { proxy: 'ftp://proxy.example:21' } },
      '--proxy: "proxy"',
      'uses ftp://',
      'only http:// (HTTP CONNECT) and socks5://',
    )
    await rejectsWith({ user: { proxy: 'https://proxy.example:443' } }, '"proxy"', 'uses https://')
    await rejectsWith(
      { env: { PARLEY_PROXY: 'not a url' } },
      'PARLEY_PROXY: "proxy"',
      'is not a URL',
    )
    await rejectsWith(
      { user: { proxy: 'http://proxy.example:3128/path' } },
      'has a path, query or fragment',
    )
    await rejectsWith(
      { user: { proxy: 3128 } },
      '"proxy" must be an http:// or socks5:// URL string, or null, not 3128',
    )
  })

  it('never echoes a proxy password in an error', async () => {
    const messages = [
      await rejectsWith(
        { env: { PARLEY_PROXY: 'ftp://alice:hunter2@proxy.example:21' } },
        'alice:***@',
      ),
      await rejectsWith({ env: { PARLEY_PROXY: 'alice:hunter2@proxy:3128 x' } }, 'alice:***@'),
      await rejectsWith(
        { user: { proxy: 'http://alice:hun/ter2@proxy.example:3128/p' } },
        'alice:***@',
      ),
      await rejectsWith({ user: { supernode: 'http://alice:hunter2@x' } }, 'alice:***@'),
    ]
    for (const m of messages) {
      if (m.includes('hunter2') || m.includes('ter2')) throw new Error(`password leaked: ${m}`)
    }
  })

  it('bootstrap lists', async () => {
    await rejectsWith(
      { flags: { bootstrap: 'nohost' } },
      '--bootstrap: "bootstrap" has a bad entry: "nohost" is not HOST:PORT',
    )
    await rejectsWith(
      { user: { bootstrap: 'a:1' } },
      '"bootstrap" must be a list of "HOST:PORT" strings, or null',
    )
    await rejectsWith({ user: { bootstrap: [] } }, '"bootstrap" is an empty list')
    const many = Array.from({ length: 65 }, (_, i) => `10.0.0.${i}:1`)
    await rejectsWith({ user: { bootstrap: many } }, 'has 65 entries; at most 64')
  })

  it('unknown keys in files, with a suggestion and the allowed list', async () => {
    await rejectsWith(
      { user: { supernod: true } },
      'config.json: unknown key "supernod" (did you mean "supernode"?); allowed: supernode, relay, udp',
    )
    await rejectsWith(
      { user: { relay: { sesions_max: 3 } } },
      'unknown key "relay.sesions_max" (did you mean "relay.sessions_max"?)',
    )
    await rejectsWith({ user: { 'relay.enabled': true } }, 'unknown key "relay.enabled"')
    await rejectsWith(
      { user: { locked: ['udp'] } },
      '"locked" is only allowed in the system-wide file',
    )
  })

  it('typos in PARLEY_* variables; other PARLEY_* variables only warn', async () => {
    await rejectsWith(
      { env: { PARLEY_SUPERNOD: '1' } },
      'PARLEY_SUPERNOD: not a Parley setting (did you mean "PARLEY_SUPERNODE"?)',
    )
    await rejectsWith({ env: { PARLEY_UPD: '0' } }, 'did you mean "PARLEY_UDP"?')
  })

  it('files that are not config files', async () => {
    await rejectsWith(
      { userText: '{"port": 1,}' },
      'config.json: not valid JSON',
      'fix it or remove the file',
    )
    await rejectsWith({ userText: '[1]' }, 'config.json: must hold one JSON object')
    await rejectsWith({ userText: ' '.repeat(70 * 1024) }, 'larger than 65536 bytes')
    await rejectsWith({ system: { udp: 'off' } }, 'system-config.json: "udp" must be true or false')
  })
})
