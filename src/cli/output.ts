import { isParleyError } from '../util/errors.js'

export interface Output {
  json: boolean
  /** One JSON document on stdout with --json; otherwise the human text. */
  result(value: unknown, human: string): void
  info(line: string): void
}

export function makeOutput(json: boolean): Output {
  return {
    json,
    result(value, human) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`)
    },
    info(line) {
      // Progress and chatter go to stderr so --json stdout stays one document.
      process.stderr.write(`${line}\n`)
    },
  }
}

/** Prints an error for a person (and its code for scripts) and returns the exit status. */
export function reportError(err: unknown, json: boolean): number {
  const code = isParleyError(err) ? err.code : 'INTERNAL'
  const message = err instanceof Error ? err.message : String(err)
  if (json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`)
  else process.stderr.write(`parley: ${message}\n`)
  if (!isParleyError(err) && process.env.PARLEY_DEBUG) console.error(err)
  return code === 'USAGE' ? 2 : 1
}
