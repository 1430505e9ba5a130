import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeId, generateKeyPair } from '../../../src/identity/index.js'
import { rejectsWith, resolveWith } from '../config/helpers.js'

describe('auto_accept_from', () => {
  const a = encodeId(generateKeyPair().publicKey)
  const b = encodeId(generateKeyPair().publicKey)

  test('takes IDs from the environment, a file or a flag', async () => {
    const env = await resolveWith({ env: { PARLEY_AUTO_ACCEPT_FROM: `${a}, ${b.toUpperCase()}` } })
    assert.deepEqual(env.config.auto_accept_from, [a, b])
    const file = await resolveWith({ user: { auto_accept_from: [b] } })
    assert.deepEqual(file.config.auto_accept_from, [b])
    assert.equal(file.sources.auto_accept_from, 'file')
    const flag = await resolveWith({ flags: { 'auto-accept-from': a } })
    assert.deepEqual(flag.config.auto_accept_from, [a])
  })

  test('a typo in an ID is an error naming it', async () => {
    await rejectsWith(
      { user: { auto_accept_from: ['not-an-id'] } },
      'auto_accept_from',
      'not-an-id',
    )
    await rejectsWith({ user: { auto_accept_from: 'x' } }, 'auto_accept_from', 'list')
  })
})
