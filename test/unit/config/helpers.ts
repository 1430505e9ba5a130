import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { type ResolvedConfig, resolveConfig } from '../../../src/config/index.js'
import { isParleyError } from '../../../src/util/errors.js'

// A fresh home and system-file path per test; files are written only when given.

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

export interface Setup {
  user?: unknown
  system?: unknown
  env?: Record<string, string>
  flags?: Record<string, string | boolean>
  /** Raw text instead of JSON for the user file. */
  userText?: string
  userMode?: number
}

export async function resolveWith(
  s: Setup,
): Promise<ResolvedConfig & { home: string; systemFile: string }> {
  const home = await mkdtemp(join(tmpdir(), 'parley-config-'))
  dirs.push(home)
  const systemFile = join(home, 'system-config.json')
  if (s.system !== undefined) await writeFile(systemFile, JSON.stringify(s.system))
  if (s.user !== undefined || s.userText !== undefined) {
    const path = join(home, 'config.json')
    await writeFile(path, s.userText ?? JSON.stringify(s.user))
    if (s.userMode !== undefined) await chmod(path, s.userMode)
  }
  const resolved = await resolveConfig({
    home,
    flags: s.flags ?? {},
    env: s.env ?? {},
    systemFile,
  })
  return { ...resolved, home, systemFile }
}

/** Asserts a USAGE error whose message contains every fragment (strings are literal). */
export async function rejectsWith(s: Setup, ...fragments: (string | RegExp)[]): Promise<string> {
  let message = ''
  await assert.rejects(resolveWith(s), (err: unknown) => {
    assert.ok(isParleyError(err, 'USAGE'), `expected a USAGE ParleyError, got ${String(err)}`)
    message = (err as Error).message
    return true
  })
  for (const f of fragments) {
    if (typeof f === 'string') assert.ok(message.includes(f), `"${message}" should contain "${f}"`)
    else assert.match(message, f)
  }
  return message
}
