import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../api/index.js'
import { ParleyError } from '../util/errors.js'

// Runs real `parley daemon` processes (demo, tests, benchmarks) and waits
// until their API answers. Only processes started here are ever signalled.

export const CLI_PATH = fileURLToPath(new URL('../cli/main.js', import.meta.url))

export interface DaemonProcess {
  home: string
  child: ChildProcess
  client: ApiClient
  stderr: () => string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export async function spawnDaemon(opts: {
  home: string
  args: string[]
  env?: NodeJS.ProcessEnv
  ready_timeout_ms?: number
}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [CLI_PATH, 'daemon', '--home', opts.home, ...opts.args], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192)
  })
  child.stdout!.resume()
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  const deadline_ms = Date.now() + (opts.ready_timeout_ms ?? 30_000)
  let client: ApiClient | null = null
  while (client === null) {
    if (child.exitCode !== null) {
      throw new ParleyError(
        'DAEMON_NOT_RUNNING',
        `the daemon for ${opts.home} exited (${child.exitCode}): ${stderr.trim()}`,
      )
    }
    if (Date.now() > deadline_ms) {
      child.kill('SIGKILL')
      throw new ParleyError(
        'TIMEOUT',
        `the daemon for ${opts.home} did not become ready: ${stderr.trim()}`,
      )
    }
    try {
      const c = await ApiClient.fromHome(opts.home)
      const status = await c.request<{ id: string }>('GET', '/v1/status', undefined, {
        timeout_ms: 2000,
      })
      if (status.id) client = c
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    home: opts.home,
    child,
    client,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
