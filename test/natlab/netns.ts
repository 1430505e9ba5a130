import { execFile, execFileSync, spawnSync } from 'node:child_process'

// Thin wrappers over `ip` and `iptables` for the NAT lab. Every namespace the
// lab creates is named `pl<pid>-<role>`, so a later run can tell its own
// leftovers (owner pid dead) from a lab that is still running.

export const NS_PREFIX = 'pl'
const NS_PATTERN = /^pl(\d+)-/

/** Runs a command and resolves with stdout; rejects with the command and its stderr. */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
    if (input !== undefined) child.stdin!.end(input)
  })
}

/** `ip -n <ns> …`: cheaper than `ip netns exec` because nothing is exec'd inside. */
export function ipIn(ns: string, ...args: string[]): Promise<string> {
  return run('ip', ['-n', ns, ...args])
}

/** Runs any command inside a namespace. */
export function execIn(ns: string, cmd: string, args: string[], input?: string): Promise<string> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], input)
}

export function sysctlIn(ns: string, key: string, value: string): Promise<string> {
  return execIn(ns, 'sysctl', ['-q', '-w', `${key}=${value}`])
}

/** Why the lab cannot run here, or null when it can. */
export function labUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'the NAT lab needs root (network namespaces, iptables)'
  for (const tool of ['ip', 'iptables', 'iptables-restore', 'sysctl']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`])
    if (r.status !== 0)
      return `the NAT lab needs \`${tool}\` (apt-get install iproute2 iptables procps)`
  }
  const probe = `${NS_PREFIX}${process.pid}-probe`
  const add = spawnSync('ip', ['netns', 'add', probe])
  if (add.status !== 0) return `cannot create network namespaces: ${add.stderr.toString().trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  return null
}

export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'])
  if (r.status !== 0) return []
  return r.stdout
    .toString()
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.length > 0)
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes namespaces left by lab runs that crashed (their owner pid is gone).
 * Processes still inside such a namespace were started by that lab run, so
 * they are killed by PID before the namespace is deleted.
 */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = []
  for (const ns of listNamespaces()) {
    const owner = NS_PATTERN.exec(ns)
    if (owner === null || pidAlive(Number(owner[1]))) continue
    deleteNamespaceSync(ns)
    removed.push(ns)
  }
  return removed
}

/** Kills what runs inside, then deletes the namespace (its interfaces go with it). */
export function deleteNamespaceSync(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns]).stdout?.toString() ?? ''
  for (const pid of pids.split('\n').filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // already gone
    }
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  } catch {
    // already gone
  }
}
