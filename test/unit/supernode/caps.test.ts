import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { RelayAccounting } from '../../../src/supernode/caps.js'
import { RELAY_BURST_S } from '../../../src/supernode/constants.js'
import { formatPrometheus } from '../../../src/supernode/metrics.js'
import { isParleyError } from '../../../src/util/errors.js'

function fakeClock() {
  let now_ms = 0
  return { now: () => now_ms, advance: (ms: number) => (now_ms += ms) }
}

const caps = { sessions_max: 2, session_bytes_per_s_max: 1000, total_bytes_per_s_max: 1500 }

describe('relay accounting', () => {
  test('admits up to the session cap, refuses with RELAY_FULL, frees on release', () => {
    const a = new RelayAccounting(caps, fakeClock())
    assert.equal(a.admit('t1'), null)
    assert.equal(a.admit('t1'), null, 'the second half of a pair takes no new slot')
    assert.equal(a.admit('t2'), null)
    const refused = a.admit('t3')
    assert.ok(isParleyError(refused, 'RELAY_FULL'), String(refused))
    a.release('t1')
    assert.equal(a.admit('t3'), null)
    assert.deepEqual(a.counters(), {
      sessions_active: 2,
      sessions_accepted: 3,
      sessions_refused: 1,
      sessions_rate_limited: 0,
      bytes_relayed: 0,
    })
  })

  test('a session within its rate is kept; one over it past the burst is cut', () => {
    const clock = fakeClock()
    const a = new RelayAccounting(caps, clock)
    a.admit('calm')
    a.admit('greedy')
    let calm = 0
    let greedy = 0
    const cuts: string[] = []
    for (let i = 0; i < 10 && cuts.length === 0; i++) {
      clock.advance(1000)
      calm += 400
      greedy += 1000 + RELAY_BURST_S * 1000
      cuts.push(
        ...a.sample(
          new Map([
            ['calm', calm],
            ['greedy', greedy],
          ]),
        ),
      )
    }
    assert.deepEqual(cuts, ['greedy'])
    assert.equal(a.has('greedy'), false)
    assert.equal(a.has('calm'), true)
    assert.equal(a.counters().sessions_rate_limited, 1)
  })

  test('over the total rate, the heaviest sessions of the sample are cut first', () => {
    const clock = fakeClock()
    const a = new RelayAccounting({ ...caps, total_bytes_per_s_max: 1000 }, clock)
    a.admit('light')
    a.admit('heavy')
    clock.advance(1000)
    // Each is within its own bucket; together they overdraw the relay's.
    const cut = a.sample(
      new Map([
        ['light', 900],
        ['heavy', 1900],
      ]),
    )
    assert.deepEqual(cut, ['heavy'])
    assert.equal(a.counters().bytes_relayed, 2800)
  })

  test('counters never go backwards when a stream is replaced', () => {
    const clock = fakeClock()
    const a = new RelayAccounting(caps, clock)
    a.admit('t')
    clock.advance(1000)
    a.sample(new Map([['t', 500]]))
    clock.advance(1000)
    a.sample(new Map([['t', 100]]))
    assert.equal(a.counters().bytes_relayed, 500)
  })
})

describe('prometheus text', () => {
  test('HELP, TYPE and one sample per metric', () => {
    const text = formatPrometheus([
      { name: 'parley_relay_sessions_active', help: 'Active.', type: 'gauge', value: 3 },
      { name: 'parley_relay_bytes_total', help: 'a\nb', type: 'counter', value: Number.NaN },
    ])
    assert.equal(
      text,
      '# HELP parley_relay_sessions_active Active.\n# TYPE parley_relay_sessions_active gauge\nparley_relay_sessions_active 3\n' +
        '# HELP parley_relay_bytes_total a\\nb\n# TYPE parley_relay_bytes_total counter\nparley_relay_bytes_total 0\n',
    )
  })
})
