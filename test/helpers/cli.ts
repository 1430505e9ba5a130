import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { CLI_PATH, type DaemonProcess } from '../../src/daemon/spawn.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  elapsed_ms: number
}

/** The daemons' captured stderr, each headed by its home's name: what a failing test prints. */
export function daemonLogs(daemons: Iterable<DaemonProcess>): string {
  return [...daemons].map((d) => `--- ${basename(d.home)}:\n${d.stderr()}`).join('\n')
}

/** Runs the real `parley` CLI as a child process. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeout_ms?: number } = {},
): Promise<CliResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { env: { ...process.env, ...opts.env }, timeout: opts.timeout_ms ?? 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
        resolve({ code, stdout, stderr, elapsed_ms: Date.now() - started })
      },
    )
  })
}

export async function tempDir(prefix: string): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `parley-${prefix}-`))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

export interface TestnetProcess {
  bootstrap: string
  child: ChildProcess
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** Starts `parley testnet` as a separate process and returns its bootstrap H:P. */
export function startTestnetProcess(args: string[] = []): Promise<TestnetProcess> {
  const child = spawn(process.execPath, [CLI_PATH, 'testnet', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`testnet did not start: ${stderr}`)), 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString()
      try {
        const parsed = JSON.parse(stdout) as { bootstrap: string }
        clearTimeout(timer)
        resolve({
          bootstrap: parsed.bootstrap,
          child,
          async stop(signal: NodeJS.Signals = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal)
            await exited
          },
        })
      } catch {
        // not a whole JSON document yet
      }
    })
    child.once('exit', (code) => reject(new Error(`testnet exited ${code}: ${stderr}`)))
  })
}

/** `parley init --no-passphrase` for each name under root; returns name → ID. */
export async function initUsers(root: string, names: string[]): Promise<Record<string, string>> {
  const ids: Record<string, string> = {}
  for (const name of names) {
    const home = join(root, name)
    const init = await runCli(['init', '--home', home, '--name', name, '--no-passphrase', '--json'])
    if (init.code !== 0) throw new Error(`parley init for ${name} failed: ${init.stderr}`)
    ids[name] = (JSON.parse(init.stdout) as { id: string }).id
  }
  return ids
}

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** `parley status --json` for a home, parsed; fails the test when the CLI fails. */
export async function statusJson<T>(home: string): Promise<T> {
  const r = await runCli(['status', '--home', home, '--json'])
  if (r.code !== 0) throw new Error(`parley status failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}
