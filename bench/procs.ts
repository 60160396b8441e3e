/**
 * The processes a benchmark starts: each tracked by pid, stopped by pid (SIGTERM, then SIGKILL
 * after a bounded wait), and read from /proc for peak memory and CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly pid: number
  stdout: string
  stderr: string
  exited: Promise<number | null>
  /** Calls back with each stdout or stderr line as it arrives. */
  onLine(listener: (line: string) => void): void
}

const running = new Set<Proc>()

/** Starts a process with the given environment (nothing of the parent's QALQAN_* leaks in). */
export function start(name: string, command: string, args: string[], env: Record<string, string>, cwd: string): Proc {
  const base: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && !key.startsWith('QALQAN_')) base[key] = value
  const child = spawn(command, args, { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  const listeners: ((line: string) => void)[] = []
  let partial = ''
  const feed = (chunk: string) => {
    partial += chunk
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) for (const listener of listeners) listener(line)
  }
  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    onLine: (listener) => void listeners.push(listener),
  }
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    proc.stdout += chunk
    feed(chunk)
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    // Keep the tail only: a chatty process must not grow the benchmark's memory.
    proc.stderr = (proc.stderr + chunk).slice(-20_000)
    feed(chunk)
  })
  running.add(proc)
  void proc.exited.then(() => running.delete(proc))
  return proc
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves with the exit code. */
export async function stop(proc: Proc, graceMs = 20_000): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.child.exitCode
  proc.child.kill('SIGTERM')
  const timer = sleep(graceMs).then(() => 'timeout' as const)
  if ((await Promise.race([proc.exited, timer])) === 'timeout') {
    process.stderr.write(`bench: ${proc.name} (pid ${proc.pid}) did not stop within ${graceMs / 1000}s; killing it\n`)
    proc.child.kill('SIGKILL')
  }
  return proc.exited
}

/** Kills whatever is still running (on a failure or a signal), each by its own pid. */
export function killAll(): void {
  for (const proc of running) proc.child.kill('SIGKILL')
}

/** Resolves with the process's exit code, or rejects after `ms` (and kills it). */
export async function waitExit(proc: Proc, ms: number): Promise<number | null> {
  const timer = sleep(ms).then(() => 'timeout' as const)
  const outcome = await Promise.race([proc.exited, timer])
  if (outcome === 'timeout') {
    proc.child.kill('SIGKILL')
    throw new Error(`${proc.name} did not finish within ${ms / 1000}s`)
  }
  return outcome
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Polls `url` until it answers 200, for at most `ms`; fails early if `proc` exits. */
export async function waitHttp(url: string, ms: number, proc?: Proc): Promise<void> {
  const deadline = Date.now() + ms
  let last = ''
  while (Date.now() < deadline) {
    if (proc !== undefined && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited while starting: ${proc.stderr.slice(-2000)}`)
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      if (response.status === 200) return
      last = `${response.status} ${(await response.text()).slice(0, 300)}`
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(100)
  }
  throw new Error(
    `${url} did not answer 200 within ${ms / 1000}s (last: ${last})${proc ? `; ${proc.name} said: ${proc.stderr.slice(-1500)}` : ''}`,
  )
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] === undefined ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

/** Peak resident memory so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number | undefined {
  const kb = statusField(pid, 'VmHWM')
  return kb === undefined ? undefined : Math.round((kb / 1024) * 10) / 10
}

const CLOCK_TICKS = 100

/** User + system CPU seconds the process has used so far; with `tree`, its descendants' too. */
export function cpuSeconds(pid: number, tree = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12, and
    // the reaped children's cutime (16) and cstime (17) at 13 and 14.
    let ticks = Number(fields[11]) + Number(fields[12])
    if (tree) {
      ticks += Number(fields[13]) + Number(fields[14])
      for (const child of childrenOf(pid)) ticks += (cpuSeconds(child, true) ?? 0) * CLOCK_TICKS
    }
    return ticks / CLOCK_TICKS
  } catch {
    return undefined
  }
}

/** The live children of a process (a clustered collector's workers), from every thread's list. */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
      if (list !== '') for (const child of list.split(' ')) children.push(Number(child))
    }
  } catch {
    // The process ended meanwhile: no children to add.
  }
  return children
}

/** Peak resident memory (VmHWM) of a process and each of its live descendants, in MiB: the largest. */
export function peakRssTreeMiB(pid: number): number | undefined {
  let peak = peakRssMiB(pid)
  for (const child of childrenOf(pid)) {
    const childPeak = peakRssTreeMiB(child)
    if (childPeak !== undefined && (peak === undefined || childPeak > peak)) peak = childPeak
  }
  return peak
}

/** CPU time of several processes over a window, as a share of one core. */
export class CpuWindow {
  private readonly before = new Map<number, number>()
  private trees = new Set<number>()
  private startedAt = 0
  /** `trees`: those of `pids` whose descendants count too (a collector with one process per core). */
  begin(pids: number[], trees: number[] = []): void {
    this.startedAt = performance.now()
    this.trees = new Set(trees)
    for (const pid of pids) this.before.set(pid, cpuSeconds(pid, this.trees.has(pid)) ?? 0)
  }
  /** Per pid: percent of one core used since begin (200% is both cores). */
  end(): Map<number, number> {
    const seconds = (performance.now() - this.startedAt) / 1000
    const shares = new Map<number, number>()
    for (const [pid, before] of this.before) {
      const now = cpuSeconds(pid, this.trees.has(pid))
      if (now !== undefined && seconds > 0) shares.set(pid, Math.round(((now - before) / seconds) * 100))
    }
    return shares
  }
}

/** Whole-machine CPU busy share over a window, from /proc/stat (100% = every core busy). */
export class MachineCpu {
  private before: number[] = []
  private static read(): number[] {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    return line.trim().split(/\s+/).slice(1).map(Number)
  }
  begin(): void {
    this.before = MachineCpu.read()
  }
  end(): number {
    const now = MachineCpu.read()
    const delta = now.map((value, i) => value - (this.before[i] ?? 0))
    const total = delta.reduce((sum, value) => sum + value, 0)
    const idle = (delta[3] ?? 0) + (delta[4] ?? 0)
    return total > 0 ? Math.round(((total - idle) / total) * 100) : 0
  }
}

const CORES = cpus().length

/**
 * CPU that none of the benchmark's processes used during the window (other people's work on this
 * machine), percent of one core: the machine's busy share less the `shares` of ours and `extra`.
 */
export function otherCpu(machinePercentOfAll: number, shares: Map<number, number>, extra = 0): number {
  let ours = extra
  for (const share of shares.values()) ours += share
  return Math.max(0, Math.round(machinePercentOfAll * CORES - ours))
}
