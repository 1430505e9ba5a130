import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ParleyError } from '../util/errors.js'
import { DAEMON_FILE, TOKEN_BYTES, TOKEN_FILE } from './constants.js'
import type { DaemonInfo } from './types.js'

// The two files through which a client finds the daemon: the API token and
// daemon.json (where it listens). Both are private to the user (0600) and
// written atomically, so a reader never sees half a file.

const TOKEN_PATTERN = /^[0-9a-f]{64}$/

/** A fresh token for each daemon start; the previous one stops working. */
export async function createToken(home: string): Promise<string> {
  const token = randomBytes(TOKEN_BYTES).toString('hex')
  await writePrivateFile(join(home, TOKEN_FILE), `${token}\n`)
  return token
}

export async function readToken(home: string): Promise<string> {
  const text = await readOrNull(join(home, TOKEN_FILE))
  if (text === null) throw notRunning(home, `there is no ${TOKEN_FILE} file`)
  const token = text.trim()
  if (!TOKEN_PATTERN.test(token)) {
    throw notRunning(home, `${TOKEN_FILE} is malformed; restarting the daemon rewrites it`)
  }
  return token
}

export async function writeDaemonInfo(home: string, info: DaemonInfo): Promise<void> {
  await writePrivateFile(join(home, DAEMON_FILE), `${JSON.stringify(info)}\n`)
}

/** null when no daemon.json exists; a malformed one is an error naming the file. */
export async function readDaemonInfo(home: string): Promise<DaemonInfo | null> {
  const text = await readOrNull(join(home, DAEMON_FILE))
  if (text === null) return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = null
  }
  if (!isDaemonInfo(value)) {
    throw notRunning(home, `${DAEMON_FILE} is malformed (delete it if no daemon is running)`)
  }
  return { pid: value.pid, host: value.host, port: value.port, started_at_ms: value.started_at_ms }
}

export async function removeDaemonInfo(home: string): Promise<void> {
  await rm(join(home, DAEMON_FILE), { force: true })
}

export function notRunning(home: string, detail?: string): ParleyError {
  const base = `no Parley daemon is running for ${home}: start one with \`parley daemon\` (or pass --home)`
  return new ParleyError('DAEMON_NOT_RUNNING', detail === undefined ? base : `${base}; ${detail}`)
}

/** Temp file created 0600 with O_EXCL beside the target, synced, then renamed over it. */
export async function writePrivateFile(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(data, 'utf8')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

function isDaemonInfo(value: unknown): value is DaemonInfo {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    Number.isSafeInteger(v.pid) &&
    typeof v.host === 'string' &&
    Number.isInteger(v.port) &&
    (v.port as number) > 0 &&
    (v.port as number) < 65536 &&
    typeof v.started_at_ms === 'number'
  )
}
