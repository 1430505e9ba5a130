import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { inspect } from 'node:util'
import {
  describeConfig,
  formatConfigLines,
  parseProxyUrl,
  redactProxyUrl,
} from '../../../src/config/index.js'
import { resolveWith } from './helpers.js'

describe('proxy URLs and redaction', () => {
  it('parses http and socks5 with default ports and decoded credentials', () => {
    assert.deepEqual(parseProxyUrl('http://bob:p%40ss@proxy.example:3128'), {
      protocol: 'http',
      host: 'proxy.example',
      port: 3128,
      username: 'bob',
      password: 'p@ss',
    })
    assert.equal(parseProxyUrl('http://proxy.example').port, 80)
    assert.equal(parseProxyUrl('socks5://[2001:db8::1]').port, 1080)
    assert.equal(parseProxyUrl('socks5://[2001:db8::1]').host, '2001:db8::1')
  })

  it('redacts the password and keeps the user, host and port', () => {
    assert.equal(
      redactProxyUrl('http://user:secret@proxy.example:3128'),
      'http://user:***@proxy.example:3128',
    )
    assert.equal(redactProxyUrl('socks5://user@s.example:1080'), 'socks5://user@s.example:1080')
    assert.equal(redactProxyUrl('http://p.example:8080/'), 'http://p.example:8080')
    assert.equal(redactProxyUrl('socks5://u:x@[2001:db8::1]:1'), 'socks5://u:***@[2001:db8::1]:1')
  })

  it('describeConfig, formatConfigLines, JSON and inspect never show the password', async () => {
    const r = await resolveWith({
      user: { proxy: 'http://user:secret@proxy.example:3128' },
      userMode: 0o600,
    })
    assert.equal(describeConfig(r.config).proxy, 'http://user:***@proxy.example:3128')
    const printed = [
      JSON.stringify(describeConfig(r.config)),
      formatConfigLines(describeConfig(r.config), r.sources, r.locked).join('\n'),
      JSON.stringify(r.config),
      JSON.stringify({ status: { config: r.config } }),
      inspect(r.config),
      inspect({ nested: r.config }, { depth: 5 }),
    ]
    for (const text of printed) {
      assert.ok(!text.includes('secret'), `leaked: ${text}`)
      assert.ok(text.includes('user:***@proxy.example:3128'), text)
    }
    // The config itself keeps the real URL: the gateway needs it to talk to the proxy.
    assert.equal(r.config.proxy, 'http://user:secret@proxy.example:3128')
  })

  it('formats one line per key with its source and lock', async () => {
    const r = await resolveWith({
      system: { udp: false, locked: ['udp'] },
      flags: { port: '5000' },
    })
    const lines = formatConfigLines(describeConfig(r.config), r.sources, r.locked)
    assert.ok(lines.includes('udp = false (system, locked)'))
    assert.ok(lines.includes('port = 5000 (flag)'))
    assert.ok(lines.includes('bootstrap = public network (default)'))
    assert.ok(lines.includes('relay.sessions_max = 64 (default)'))
  })
})
