import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { CLI_PATH } from '../../src/daemon/spawn.js'

// Processes inside lab namespaces. `ip netns exec` execs the command after
// entering the namespace, so the child's PID is the real process: it is the
// one we signal, and the only one.

export interface LabProcess {
  name: string
  child: ChildProcess
  pid: number
  stdout: () => string
  stderr: () => string
  stop(signal?: NodeJS.Signals): Promise<void>
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  elapsed_ms: number
}

const OUTPUT_KEPT_CHARS = 16_384

/** Starts `cmd args` inside `ns`; resolves once `ready(stdout)` returns non-null. */
export function startIn<T>(opts: {
  name: string
  ns: string
  cmd: string
  args: string[]
  ready: (stdout: string) => T | null
  timeout_ms?: number
  onSpawn?: (p: LabProcess) => void
}): Promise<{ proc: LabProcess; value: T }> {
  const child = spawn('ip', ['netns', 'exec', opts.ns, opts.cmd, ...opts.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const proc: LabProcess = {
    name: opts.name,
    child,
    pid: child.pid ?? -1,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
  opts.onSpawn?.(proc)
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-OUTPUT_KEPT_CHARS)
  })
  return new Promise((resolve, reject) => {
    let done = false
    const fail = (why: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`${opts.name} in ${opts.ns} ${why}: ${stderr.trim().slice(-2000)}`))
    }
    const timer = setTimeout(() => fail('did not become ready'), opts.timeout_ms ?? 30_000)
    child.stdout!.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString()).slice(-OUTPUT_KEPT_CHARS)
      if (done) return
      const value = opts.ready(stdout)
      if (value === null) return
      done = true
      clearTimeout(timer)
      resolve({ proc, value })
    })
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal})`))
    child.once('error', (err) => fail(`could not start (${err.message})`))
  })
}

/** The whole stdout as one JSON document, or null while it is still incomplete. */
export function jsonDocument<T>(stdout: string): T | null {
  try {
    return JSON.parse(stdout) as T
  } catch {
    return null
  }
}

/** Runs the parley CLI inside `ns` and waits for it to exit. */
export function cliIn(ns: string, args: string[], timeout_ms = 30_000): Promise<CliResult> {
  const started_ms = Date.now()
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, process.execPath, CLI_PATH, ...args],
      { timeout: timeout_ms },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
        resolve({ code, stdout, stderr, elapsed_ms: Date.now() - started_ms })
      },
    )
  })
}

/** A minimal tinyproxy configuration: CONNECT to any port, from anyone in the lab. */
export function tinyproxyConfig(opts: { host: string; port: number; pid_file: string }): string {
  return [
    'User nobody',
    'Group nogroup',
    `Port ${opts.port}`,
    `Listen ${opts.host}`,
    'Timeout 600',
    'MaxClients 100',
    'LogLevel Info',
    `PidFile "${opts.pid_file}"`,
    // No Allow lines: every client may connect. No ConnectPort lines: CONNECT
    // may reach any port (a real deployment would limit it to 443).
    '',
  ].join('\n')
}
