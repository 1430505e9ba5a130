import { ApiRejection } from './status.js'
import type { FieldSpec } from './types.js'

// Validation of JSON request bodies against a route's FieldSpec table.
// Every message names the field and says what was expected, because the
// reader is a person at a CLI or a developer wiring up a client.

const NAME_CHARS_SHOWN_MAX = 64

export function validateBody(
  value: unknown,
  schema: Record<string, FieldSpec>,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`request body must be a JSON object, not ${describe(value)}`)
  }
  const input = value as Record<string, unknown>
  for (const name of Object.keys(input)) {
    // hasOwn, so that "toString" or "__proto__" never match something inherited.
    if (!Object.hasOwn(schema, name)) throw invalid(unknownFieldMessage(name, schema))
  }
  const out: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(schema)) {
    const field = Object.hasOwn(input, name) ? input[name] : undefined
    if (field === undefined) {
      if (spec.required) throw invalid(`field "${name}" is required: ${expected(spec)}`)
      continue
    }
    checkField(name, spec, field)
    out[name] = field
  }
  return out
}

function checkField(name: string, spec: FieldSpec, value: unknown): void {
  if (!hasType(spec, value)) {
    throw invalid(`field "${name}" must be ${expected(spec)}; got ${describe(value)}`)
  }
  if (typeof value === 'string') {
    if (spec.max_length !== undefined && value.length > spec.max_length) {
      throw invalid(
        `field "${name}" must be at most ${spec.max_length} characters (${spec.description}); got ${value.length}`,
      )
    }
    // search() ignores and restores lastIndex, so a /g pattern cannot make this flaky.
    if (spec.pattern !== undefined && value.search(spec.pattern) === -1) {
      throw invalid(`field "${name}" is not in the expected format: ${spec.description}`)
    }
  }
  if (typeof value === 'number') {
    if (spec.min !== undefined && value < spec.min) {
      throw invalid(
        `field "${name}" must be at least ${spec.min} (${spec.description}); got ${value}`,
      )
    }
    if (spec.max !== undefined && value > spec.max) {
      throw invalid(
        `field "${name}" must be at most ${spec.max} (${spec.description}); got ${value}`,
      )
    }
  }
}

function hasType(spec: FieldSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'string':
      return typeof value === 'string'
    case 'boolean':
      return typeof value === 'boolean'
    // JSON.parse turns 1e400 into Infinity, hence the finiteness checks.
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value)
  }
}

function expected(spec: FieldSpec): string {
  const article = spec.type === 'integer' ? 'an' : 'a'
  return `${article} ${spec.type} (${spec.description})`
}

function unknownFieldMessage(name: string, schema: Record<string, FieldSpec>): string {
  const shown = JSON.stringify(name.slice(0, NAME_CHARS_SHOWN_MAX))
  const known = Object.keys(schema)
  const accepted =
    known.length === 0 ? 'this endpoint takes no fields' : `accepted fields: ${known.join(', ')}`
  return `unknown field ${shown}: ${accepted}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number out of range'
  if (typeof value === 'number') return `the number ${value}`
  if (typeof value === 'string') return 'a string'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

function invalid(message: string): ApiRejection {
  return new ApiRejection(400, 'BAD_REQUEST', message)
}
