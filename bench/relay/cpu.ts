import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { cpus } from 'node:os'

// CPU time of another process, all its threads. /proc/<pid>/task/*/schedstat
// gives nanoseconds on CPU per thread; /proc/<pid>/stat utime+stime only
// 10 ms ticks, too coarse for a few-second window of a lightly loaded relay.
// Both are read so the report can say they agree.

const CLOCK_TICKS_PER_S = 100

export interface CpuReading {
  /** Sum of the threads' schedstat run time, seconds; null where the kernel has no schedstat. */
  schedstat_s: number | null
  /** utime + stime from /proc/<pid>/stat, seconds. */
  stat_s: number
  /** stime alone: the kernel's share (syscalls, and on loopback the delivery to the receiver). */
  system_s: number
}

export function readCpu(pid: number): CpuReading {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const system_s = Number(fields[12]) / CLOCK_TICKS_PER_S
  const stat_s = Number(fields[11]) / CLOCK_TICKS_PER_S + system_s
  let ns = 0
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {
        // the thread exited between the listing and the read
      }
    }
  } catch {
    return { schedstat_s: null, stat_s, system_s }
  }
  return { schedstat_s: ns / 1e9, stat_s, system_s }
}

/** CPU seconds between two readings: schedstat when both have it, else stat. */
export function cpuBetween(before: CpuReading, after: CpuReading): number {
  if (before.schedstat_s !== null && after.schedstat_s !== null) {
    return after.schedstat_s - before.schedstat_s
  }
  return after.stat_s - before.stat_s
}

export interface UdpDrops {
  /** Datagrams the kernel dropped at the relay process's own sockets (receive buffer full). */
  relay: number
  /** The same at every other UDP socket on the machine: here, the load generators'. */
  others: number
}

/** Cumulative receive drops of IPv4 UDP sockets (/proc/net/udp), split by owner. */
export function readUdpDrops(pid: number): UdpDrops {
  const mine = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      if (target.startsWith('socket:[')) mine.add(target.slice(8, -1))
    } catch {
      // closed meanwhile
    }
  }
  const drops = { relay: 0, others: 0 }
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 13) continue
    const n = Number(cols.at(-1))
    if (mine.has(cols[9]!)) drops.relay += n
    else drops.others += n
  }
  return drops
}

/**
 * Pins every thread of a process to one CPU (`taskset -a -p`); threads it
 * creates later inherit that. Returns false when that is not possible here.
 */
export function pinToCpu(pid: number, cpu: number): boolean {
  // cpus(), not availableParallelism(): the latter shrinks once this process is pinned.
  if (cpus().length <= cpu) return false
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
