import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FieldSpec } from '../../../src/api/index.js'
import { validateBody } from '../../../src/api/schema.js'
import { statusForCode } from '../../../src/api/status.js'
import { isParleyError } from '../../../src/util/errors.js'

const schema: Record<string, FieldSpec> = {
  id: { type: 'string', required: true, pattern: /^[a-z]+$/g, description: 'an id' },
  n: { type: 'integer', min: 0, description: 'a count' },
}

test('validateBody returns only the declared fields, in a fresh object', () => {
  const input = JSON.parse('{"id":"abc","n":3}')
  const out = validateBody(input, schema)
  assert.deepEqual(out, { id: 'abc', n: 3 })
  assert.notEqual(out, input)
})

test('a /g pattern gives the same answer every time', () => {
  for (let i = 0; i < 3; i++) assert.deepEqual(validateBody({ id: 'abc' }, schema), { id: 'abc' })
})

test('an overlong unknown field name is shortened in the message', () => {
  const name = 'x'.repeat(10_000)
  assert.throws(
    () => validateBody({ id: 'a', [name]: 1 }, schema),
    (err) => isParleyError(err, 'BAD_REQUEST') && err.message.length < 200,
  )
})

test('statusForCode covers the table and the patterns for codes added later', () => {
  assert.equal(statusForCode('INVALID_ID'), 400)
  assert.equal(statusForCode('ABORTED'), 503)
  assert.equal(statusForCode('CONTACT_EXISTS'), 409)
  assert.equal(statusForCode('ALREADY_IN_CALL'), 409)
  assert.equal(statusForCode('TRANSFER_NOT_FOUND'), 404)
  assert.equal(statusForCode('SOMETHING_NEW'), 500)
})
