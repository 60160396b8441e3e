import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PROJECT_ROOT } from '../../services/paths.js'
import { TOKENS_FILE } from '../helpers/stack.js'
import { freePort } from '../helpers/free-port.js'

const MAIN = join(PROJECT_ROOT, 'dist', 'services', 'main.js')
const KAFKA_SH = join(PROJECT_ROOT, 'deploy', 'kafka', 'kafka.sh')
const LOG_DIR = join(PROJECT_ROOT, '.tap', 'faults')

/** Settings of one fault case: topics, group and an embedded ClickHouse folder of its own. */
export interface CaseSettings {
  readonly name: string
  readonly brokers: string
  readonly env: Record<string, string>
  readonly topics: { events: string; rejected: string }
  readonly group: string
  /** The embedded engine's folder: one process at a time may open it. */
  readonly clickhousePath: string
}

export function caseSettings(name: string, brokers: string, extra: Record<string, string> = {}): CaseSettings {
  const id = `${name}.${randomBytes(3).toString('hex')}`
  const clickhousePath = join(mkdtempSync(join(tmpdir(), `qalqan-faults-${name}-`)), 'clickhouse')
  const topics = { events: `faults.${id}.events`, rejected: `faults.${id}.rejected` }
  const group = `faults-${id}`
  return {
    name,
    brokers,
    topics,
    group,
    clickhousePath,
    env: {
      // info: the start and the stop are in the log, and nothing per event.
      QALQAN_LOG_LEVEL: 'info',
      QALQAN_KAFKA_BROKERS: brokers,
      QALQAN_KAFKA_TOPIC_EVENTS: topics.events,
      QALQAN_KAFKA_TOPIC_REJECTED: topics.rejected,
      QALQAN_KAFKA_TOPIC_PARTITIONS: '3',
      // A sensor hears 503 within this when Kafka is away, rather than after the default 10 s.
      QALQAN_KAFKA_TIMEOUT_MS: '3000',
      QALQAN_WORKER_GROUP: group,
      QALQAN_WORKER_SESSION_TIMEOUT_MS: '6000',
      QALQAN_WORKER_FETCH_BYTES: '262144',
      QALQAN_CLICKHOUSE_URL: `chdb:${clickhousePath}`,
      QALQAN_TOKENS_FILE: TOKENS_FILE,
      ...extra,
    },
  }
}

/**
 * One Qalqan process (`node dist/services/main.js`) running the given roles: started, killed with
 * any signal, and watched for exits nobody asked for. Its log goes to .tap/faults/<name>.log.
 */
export class RoleProcess {
  child: ChildProcess | undefined
  /** Exits that were not asked for (a crash): a fault case wants none. */
  readonly crashes: string[] = []
  /** Stops asked for that did not end the process within 30 s. */
  readonly hung: string[] = []
  private log = ''
  private expectingExit = false
  starts = 0

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {}

  start(): void {
    if (!existsSync(MAIN))
      throw new Error(`${MAIN} is missing: run the fault suite with npm run faults (it builds dist/)`)
    this.expectingExit = false
    this.starts++
    mkdirSync(LOG_DIR, { recursive: true })
    const base: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env))
      if (value !== undefined && !key.startsWith('QALQAN_')) base[key] = value
    // A process that will not stop is asked for Node's diagnostic report (its handles, its stack) first.
    const report = ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${LOG_DIR}`]
    const child = spawn(process.execPath, [...report, MAIN], {
      cwd: PROJECT_ROOT,
      env: { ...base, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const keep = (chunk: Buffer) => {
      this.log += chunk.toString('utf8')
      if (this.log.length > 2_000_000) this.log = this.log.slice(-1_000_000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    child.once('exit', (code, signal) => {
      if (!this.expectingExit) this.crashes.push(`${this.name} exited by itself (code ${code}, signal ${signal})`)
    })
    this.child = child
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Sends a signal and waits for the exit; past 30 s, a diagnostic report and SIGKILL. */
  async kill(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child
    if (child === undefined || !this.running) return child?.exitCode ?? null
    this.expectingExit = true
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    this.log += `[fault suite] ${signal} at ${new Date().toISOString()} (${Date.now()})\n`
    child.kill(signal)
    const timer = setTimeout(() => {
      this.log += `\n[fault suite] ${this.name} did not exit within 30 s of ${signal}; a report (SIGUSR2), then SIGKILL\n`
      this.hung.push(`${this.name} did not exit within 30 s of ${signal} (its report: ${LOG_DIR}/report.*.json)`)
      child.kill('SIGUSR2')
      setTimeout(() => child.kill('SIGKILL'), 2_000)
    }, 30_000)
    const code = await exited
    clearTimeout(timer)
    this.log += `[fault suite] exited with code ${code} at ${new Date().toISOString()}\n`
    return code
  }

  saveLog(): string {
    mkdirSync(LOG_DIR, { recursive: true })
    const file = join(LOG_DIR, `${this.name}.log`)
    writeFileSync(file, this.log)
    return file
  }
}

/** Polls `url` until it answers 200, or throws after `timeoutMs` with what it answered last. */
export async function waitFor200(url: string, timeoutMs: number, proc?: RoleProcess): Promise<number> {
  const started = Date.now()
  let last = 'no answer'
  while (Date.now() - started < timeoutMs) {
    if (proc !== undefined && !proc.running) throw new Error(`${proc.name} exited: ${proc.crashes.join('; ')}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      last = `${res.status} ${await res.text()}`
      if (res.status === 200) return Date.now() - started
    } catch (err) {
      last = (err as Error).message
    }
    await sleep(200)
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`)
}

export interface Stack {
  readonly collector: RoleProcess
  readonly worker: RoleProcess
  /** The collector's base URL. */
  readonly url: string
  readonly workerUrl: string
  /** Starts the worker again (after a kill), and waits until it listens. */
  restartWorker(): Promise<void>
  /**
   * Stops both (SIGTERM), saves their logs, and returns what went wrong: exits nobody asked for,
   * and stops that took over 30 s or ended with a code other than 0.
   */
  stop(): Promise<string[]>
}

/** A collector and a worker, each its own process, on the case's topics; resolves once both answer. */
export async function startStack(settings: CaseSettings): Promise<Stack> {
  const collectorPort = await freePort()
  const workerPort = await freePort()
  const collector = new RoleProcess(`${settings.name}-collector`, {
    ...settings.env,
    QALQAN_ROLE: 'collector',
    QALQAN_COLLECTOR_PORT: String(collectorPort),
    QALQAN_OPS_PORT: String(await freePort()),
  })
  const worker = new RoleProcess(`${settings.name}-worker`, {
    ...settings.env,
    QALQAN_ROLE: 'worker',
    QALQAN_WORKER_PORT: String(workerPort),
  })
  const url = `http://127.0.0.1:${collectorPort}`
  const workerUrl = `http://127.0.0.1:${workerPort}`
  collector.start()
  await waitFor200(`${url}/readyz`, 60_000, collector)
  const startWorker = async () => {
    worker.start()
    await waitFor200(`${workerUrl}/healthz`, 60_000, worker)
  }
  await startWorker()
  return {
    collector,
    worker,
    url,
    workerUrl,
    restartWorker: startWorker,
    stop: async () => {
      const running = [collector, worker].filter((role) => role.running)
      const codes = await Promise.all(running.map((role) => role.kill('SIGTERM')))
      collector.saveLog()
      worker.saveLog()
      const unclean = running
        .map((role, i) => (codes[i] === 0 ? undefined : `${role.name} exited with code ${codes[i]} on SIGTERM`))
        .filter((problem): problem is string => problem !== undefined)
      return [...collector.crashes, ...worker.crashes, ...collector.hung, ...worker.hung, ...unclean]
    },
  }
}

/**
 * `count` consecutive free ports on 127.0.0.1 below the kernel's ephemeral range: a client that
 * keeps reconnecting to a killed node's port could otherwise be given that very port as its own
 * (a TCP self-connect) and hold it, and the node could not listen there again.
 */
export async function freePortRange(count: number): Promise<number> {
  const low = ephemeralLow()
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * (low - 10_000 - count))
    let free = true
    for (let port = base; port < base + count && free; port++) free = await portFree(port)
    if (free) return base
  }
  throw new Error(`found no ${count} consecutive free ports below ${low}`)
}

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 11_000 ? low : 32_768
  } catch {
    return 32_768
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * Runs deploy/kafka/kafka.sh with the given environment, without blocking the event loop (a
 * sensor keeps sending meanwhile); resolves with what it printed, throws with it when it fails.
 */
export function kafkaScript(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [KAFKA_SH, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolve(stderr) : reject(new Error(`kafka.sh ${args.join(' ')} failed (${code}): ${stderr}`)),
    )
  })
}

/**
 * The single broker test/faults/run.sh started (LOCAL_KAFKA_* in the environment): the cases that
 * kill it run one at a time, and start it again before they end.
 */
export const suiteBroker = {
  get brokers(): string {
    const port = process.env['LOCAL_KAFKA_PORT']
    if (process.env['LOCAL_KAFKA_DIR'] === undefined || port === undefined) {
      throw new Error('LOCAL_KAFKA_DIR and LOCAL_KAFKA_PORT are not set: run the fault suite with npm run faults')
    }
    return `127.0.0.1:${port}`
  },
  kill: () => kafkaScript(['kill'], {}),
  start: () => kafkaScript(['start'], {}),
}

/** A three-node KRaft cluster of a case's own (deploy/kafka/kafka.sh cluster-start). */
export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'qalqan-faults-cluster-'))
  private env: Record<string, string> = {}
  basePort = 0

  async start(): Promise<string> {
    this.basePort = await freePortRange(6)
    this.env = {
      LOCAL_KAFKA_DIR: this.dir,
      LOCAL_KAFKA_PORT: String(this.basePort),
      LOCAL_KAFKA_CONTROLLER_PORT: String(this.basePort + 3),
      LOCAL_KAFKA_NODES: '3',
    }
    await kafkaScript(['cluster-start'], this.env)
    return this.brokers
  }

  get brokers(): string {
    return [0, 1, 2].map((n) => `127.0.0.1:${this.basePort + n}`).join(',')
  }

  killNode(node: number): Promise<string> {
    return kafkaScript(['kill-node', String(node)], this.env)
  }

  startNode(node: number): Promise<string> {
    return kafkaScript(['start-node', String(node)], this.env)
  }

  status(): Promise<string> {
    return kafkaScript(['cluster-status'], this.env).catch((err: Error) => err.message)
  }

  async stop(): Promise<void> {
    await kafkaScript(['cluster-stop'], this.env)
  }
}
