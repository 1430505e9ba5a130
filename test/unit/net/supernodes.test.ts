import assert from 'node:assert/strict'
import { test } from 'node:test'
import type DHT from 'hyperdht'
import { SupernodeDirectory } from '../../../src/net/supernodes.js'

// Failover (issue 3 §7): a relay that died is also one of the few DHT nodes
// storing its peers' announcements, and hyperdht tries those nodes in order,
// waiting ~4 s on one that does not answer. The directory puts supernodes
// known to be silent last, until a ping answers again.

const key = (b: number) => Buffer.alloc(32, b)
const at = (port: number) => ({ host: '127.0.0.1', port })

function directory() {
  return new SupernodeDirectory(key(0), [
    { public_key: key(1).toString('hex'), ...at(1001) },
    { public_key: key(2).toString('hex'), ...at(1002) },
  ])
}

/** A DHT whose ping answers only the given ports. */
function dhtAnswering(ports: number[]): DHT {
  const ping = async (to: { port: number }) => {
    if (!ports.includes(to.port)) throw new Error('REQUEST_TIMEOUT')
    return {}
  }
  return { ping } as unknown as DHT
}

const record = [at(1001), at(9000), at(1002)]

test('a relay that lost a session goes last among the nodes a dial goes through', () => {
  const dir = directory()
  assert.deepEqual(dir.aliveFirst(record), record, 'nothing is known to be silent')
  dir.suspect(key(1))
  assert.deepEqual(dir.aliveFirst(record), [at(9000), at(1002), at(1001)])
  assert.deepEqual(
    dir.ranked().map((s) => s.port),
    [1002],
    'and it is skipped as a relay',
  )
})

test('a ping decides: an answer clears the suspicion, silence keeps it', async () => {
  const dir = directory()
  dir.suspect(key(1))
  dir.suspect(key(2))
  await dir.remeasure(dhtAnswering([1002]))
  assert.deepEqual(dir.aliveFirst(record), [at(9000), at(1002), at(1001)])
  await dir.remeasure(dhtAnswering([1001, 1002]))
  assert.deepEqual(dir.aliveFirst(record), record)
})

test('a supernode whose ping went unanswered also goes last', async () => {
  const dir = directory()
  await dir.remeasure(dhtAnswering([1001]))
  assert.deepEqual(dir.aliveFirst(record), [at(1001), at(9000), at(1002)])
})
