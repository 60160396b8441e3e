/**
 * Runs every case of bench/cases.ts in one measurement against the broker that bench/run.sh
 * started, then writes bench/RESULTS.md, bench/throughput.svg and bench/results.json.
 * Started by `npm run bench` (bench/run.sh), which passes the broker in BENCH_* variables.
 */
import { execFileSync } from 'node:child_process'
import { cpus, loadavg, totalmem } from 'node:os'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs'
import { CASES, type CompressionCase, type FreshnessCase, type HttpCase, type ProducerPerfCase, type ProfileCase, type WorkerCase } from './cases.js'
import type { CompressionResult } from './compression.js'
import { assetRegistry, canonicalEvents } from './generator.js'
import type { LoadResult, LoadSpec } from './load.js'
import { CpuWindow, freePort, killAll, MachineCpu, peakRssMiB, start, stop, waitExit, waitHttp, type Proc } from './procs.js'
import { summarize, type ProfileSummary } from './profile-summary.js'
import { writeReport } from './report.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BENCH = join(ROOT, 'bench')
const MAIN = join(ROOT, 'dist', 'services', 'main.js')
const DIST_BENCH = join(ROOT, 'dist', 'bench')

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set: run the suite with npm run bench`)
  return value
}
const BROKERS = env('BENCH_KAFKA_BROKERS')
const KAFKA_DIR = env('BENCH_KAFKA_DIR')
const TMP = env('BENCH_TMP')
const KAFKA_PID = Number(readFileSync(join(KAFKA_DIR, 'kafka.pid'), 'utf8').trim())
const RUN_ID = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)
const ONLY = process.env['BENCH_ONLY'] === undefined || process.env['BENCH_ONLY'] === '' ? undefined : new Set(process.env['BENCH_ONLY'].split(','))

// test/fixtures/tokens.json: fine for benchmarks; never deployed.
const TOKENS_FILE = join(ROOT, 'test', 'fixtures', 'tokens.json')
const SENSOR_TOKENS = ['test-sensor-astana', 'test-sensor-almaty', 'test-sensor-atyrau']
const ANALYST_TOKEN = 'test-analyst'
const ASSETS_FILE = join(TMP, 'assets.json')

// The whole suite must end by itself: past this, everything is killed and the run fails.
const WATCHDOG_MS = 14 * 60_000

export interface HttpFigure {
  name: string
  target: HttpCase['target']
  batch: number
  connections: number
  seconds: number
  eventsPerSecond: number
  requestsPerSecond: number
  latencyMs: LoadResult['latencyMs']
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  bodyBytes: number
  /** Percent of one core during the measured window. */
  cpu: { target?: number; broker?: number; load?: number; bench?: number | undefined; other?: number; machine: number }
  peakRssMiB: { target?: number; load: number }
  /** Messages that reached the topic during the measured window (a check on the 2xx count). */
  eventsInTopic?: number
  /** The collector's own metrics: events per Kafka send and the mean send time. */
  kafkaSends?: { sends: number; meanEvents: number; meanMs: number }
}

export interface ProducerPerfFigure {
  records: number
  recordSize: number
  recordsPerSecond: number
  mbPerSecond: number
  avgLatencyMs: number
  p50Ms: number
  p99Ms: number
  line: string
}

export interface WorkerFigure {
  events: number
  done: boolean
  committed: number
  /** Between the first and the last committed offset readings: the steady rate. */
  eventsPerSecond: number
  /** From spawning the process: includes chdb start, migrations, group join. */
  eventsPerSecondFromStart: number
  startupSeconds: number
  drainSeconds: number
  rowsInserted?: number
  inserts?: number
  meanInsertMs?: number
  insertShare?: number
  cpu: { worker?: number; broker?: number; bench?: number | undefined; other?: number; machine: number }
  peakRssMiB?: number
  fill: { seconds: number; eventsPerSecond: number; meanBytes: number }
}

export interface FreshnessFigure {
  targetEventsPerSecond: number
  probes: number
  seen: number
  lost: number
  failedProbes: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  minMs: number
  /** The same probes seen through an identical, repeated query (the answer cache may serve it). */
  repeated: { probes: number; seen: number; lost: number; p50Ms: number; p99Ms: number; maxMs: number; minMs: number }
  endpoint: string
  load: { eventsPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number; seconds: number }
  lagAtEnd?: number
  /** How fast the lag grew over the second half of the window, events/s (about 0 when the worker keeps up). */
  lagSlope: number
  lagMax: number
  lagSamples: number
  polls: number
  pollFailures: number
  lastPollProblem: string
  cpu: { collector?: number; workerQuery?: number; broker?: number; load?: number; bench?: number | undefined; other?: number; machine: number }
  peakRssMiB: { collector?: number; workerQuery?: number; load: number }
}

export interface ProfileFigure {
  name: string
  of: string
  file: string
  summary: ProfileSummary
}

export interface Results {
  startedAt: string
  finishedAt: string
  durationSeconds: number
  command: string
  machine: { cores: number; model: string; memoryGiB: number; kernel: string }
  versions: Record<string, string>
  git: string
  loadAverage?: string
  brokerHeap: string
  http: HttpFigure[]
  producerPerf?: ProducerPerfFigure
  compression?: CompressionResult[]
  compressionCase?: CompressionCase
  worker?: WorkerFigure
  freshness?: FreshnessFigure
  freshnessTimeoutSeconds?: number
  profiles: ProfileFigure[]
  problems: string[]
}

const kafka = new Kafka({ clientId: 'bench', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING })
let admin: Admin

function log(message: string): void {
  process.stderr.write(`bench ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits
const CORES = cpus().length

/** CPU that none of the benchmark's processes used during the window (other people's work on this machine), percent of one core. */
function otherCpu(machinePercentOfAll: number, shares: Map<number, number>, extra = 0): number {
  let ours = extra
  for (const share of shares.values()) ours += share
  return Math.max(0, Math.round(machinePercentOfAll * CORES - ours))
}

async function topicEnd(topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic)
  return offsets.reduce((sum, partition) => sum + Number(partition.high), 0)
}

async function committed(groupId: string, topic: string): Promise<number> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return (entry?.partitions ?? []).reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0)
}

async function createTopic(topic: string, partitions: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
}

async function deleteTopic(topic: string): Promise<void> {
  await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch((err: unknown) => log(`could not delete ${topic}: ${(err as Error).message}`))
}

/** Qalqan's settings for a benchmark process: the broker, quiet logs, limits that never throttle the load. */
function qalqanEnv(extra: Record<string, string>): Record<string, string> {
  return {
    QALQAN_KAFKA_BROKERS: BROKERS,
    QALQAN_LOG_LEVEL: 'warn',
    QALQAN_TOKENS_FILE: TOKENS_FILE,
    QALQAN_ASSETS_FILE: ASSETS_FILE,
    QALQAN_KAFKA_TOPIC_REJECTED: 'bench.rejected',
    QALQAN_COLLECTOR_SENSOR_RATE: '100000000',
    QALQAN_COLLECTOR_SENSOR_BURST: '100000000',
    QALQAN_COLLECTOR_MAX_EVENTS: '10000',
    ...extra,
  }
}

function nodeArgs(profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
}

/** Runs bench/load.js in its own process; `onMeasuring` fires when its warm-up is over. */
async function runLoad(spec: LoadSpec, onMeasuring: () => void): Promise<LoadResult> {
  const proc = start('load', process.execPath, [join(DIST_BENCH, 'load.js'), JSON.stringify(spec)], {}, ROOT)
  proc.onLine((line) => {
    if (line === 'measuring') onMeasuring()
  })
  const code = await waitExit(proc, (spec.warmupSeconds + spec.durationSeconds + 90) * 1000)
  const line = proc.stdout.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !line.startsWith('{')) throw new Error(`the load generator failed (exit ${code}): ${proc.stderr.slice(-1500)}`)
  return JSON.parse(line) as LoadResult
}

async function scrape(url: string): Promise<Map<string, number>> {
  const values = new Map<string, number>()
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text()
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue
      const space = line.lastIndexOf(' ')
      const key = line.slice(0, space)
      values.set(key, (values.get(key) ?? 0) + Number(line.slice(space + 1)))
    }
  } catch {
    // Metrics are extra detail; a figure never depends on them.
  }
  return values
}

const metric = (values: Map<string, number>, prefix: string): number => {
  let total = 0
  for (const [key, value] of values) if (key === prefix || key.startsWith(`${prefix}{`)) total += value
  return total
}

/** Figures of one HTTP case; with `profileDir`, the product process runs under --cpu-prof. */
async function runHttp(spec: HttpCase, profileDir?: string): Promise<HttpFigure> {
  const port = await freePort()
  const topic = `bench.${spec.name}.${RUN_ID}${profileDir ? '.prof' : ''}`
  let target: Proc
  if (spec.target === 'collector') {
    target = start('collector', process.execPath, [...nodeArgs(profileDir), MAIN, '--role=collector'], qalqanEnv({
      QALQAN_COLLECTOR_PORT: String(port),
      QALQAN_KAFKA_TOPIC_EVENTS: topic,
      QALQAN_KAFKA_CLIENT_ID: 'bench-collector',
    }), ROOT)
  } else if (spec.target === 'ceiling') {
    target = start('ceiling', process.execPath, [...nodeArgs(profileDir), join(DIST_BENCH, 'ceiling-server.js'), String(port)], {}, ROOT)
  } else {
    await createTopic(topic, 6)
    target = start('naive', process.execPath, [...nodeArgs(profileDir), join(DIST_BENCH, 'naive-collector.js'), String(port), BROKERS, topic], {
      QALQAN_TOKENS_FILE: TOKENS_FILE,
      QALQAN_ASSETS_FILE: ASSETS_FILE,
    }, ROOT)
  }
  const url = `http://127.0.0.1:${port}`
  try {
    await waitHttp(`${url}/${spec.target === 'collector' ? 'readyz' : 'healthz'}`, 60_000, target)
    const cpu = new CpuWindow()
    const machine = new MachineCpu()
    let offsetsBefore: Promise<number> | undefined
    const hasTopic = spec.target !== 'ceiling'
    const result = await runLoad(
      {
        url,
        batch: spec.batch,
        connections: spec.connections,
        warmupSeconds: spec.warmupSeconds,
        durationSeconds: spec.durationSeconds,
        ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
        seed: spec.seed,
        tokens: SENSOR_TOKENS,
        bodiesPerToken: Math.min(200, Math.max(2, Math.ceil(2000 / spec.batch))),
      },
      () => {
        cpu.begin([target.pid, KAFKA_PID, process.pid])
        machine.begin()
        if (hasTopic) offsetsBefore = topicEnd(topic).catch(() => -1)
      },
    )
    // The window ends when the load process exits; it reports its own CPU.
    const shares = cpu.end()
    const machineShare = machine.end()
    let eventsInTopic: number | undefined
    if (hasTopic && offsetsBefore !== undefined) {
      const before = await offsetsBefore
      eventsInTopic = before < 0 ? undefined : (await topicEnd(topic)) - before
    }
    let kafkaSends: HttpFigure['kafkaSends']
    if (spec.target === 'collector') {
      const metrics = await scrape(`${url}/metrics`)
      const sends = metric(metrics, 'qalqan_kafka_produce_seconds_count')
      const sent = metric(metrics, 'qalqan_events_sent_total{stage="kafka"}')
      const secondsSum = metric(metrics, 'qalqan_kafka_produce_seconds_sum')
      if (sends > 0) kafkaSends = { sends, meanEvents: round(sent / sends, 1), meanMs: round((secondsSum / sends) * 1000, 1) }
    }
    const peak = peakRssMiB(target.pid)
    const figure: HttpFigure = {
      name: spec.name,
      target: spec.target,
      batch: spec.batch,
      connections: spec.connections,
      seconds: result.seconds,
      eventsPerSecond: Math.round((result.requests2xx * spec.batch) / result.seconds),
      requestsPerSecond: Math.round(result.requests2xx / result.seconds),
      latencyMs: result.latencyMs,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: result.statusCodes,
      bodyBytes: result.bodyBytes,
      cpu: {
        ...(shares.get(target.pid) !== undefined ? { target: shares.get(target.pid) } : {}),
        ...(shares.get(KAFKA_PID) !== undefined && hasTopic ? { broker: shares.get(KAFKA_PID) } : {}),
        load: result.cpuPercent,
        bench: shares.get(process.pid),
        other: otherCpu(machineShare, shares, result.cpuPercent),
        machine: machineShare,
      },
      peakRssMiB: { ...(peak !== undefined ? { target: peak } : {}), load: result.peakRssMiB },
      ...(eventsInTopic !== undefined ? { eventsInTopic } : {}),
      ...(kafkaSends ? { kafkaSends } : {}),
    }
    return figure
  } finally {
    await stop(target)
    if (spec.target !== 'ceiling') await deleteTopic(topic)
  }
}

async function runProducerPerf(spec: ProducerPerfCase): Promise<ProducerPerfFigure> {
  const topic = `bench.producer-perf.${RUN_ID}`
  await createTopic(topic, spec.partitions)
  const classpath = execFileSync('bash', [join(ROOT, 'deploy', 'kafka', 'kafka.sh'), 'classpath'], { encoding: 'utf8' }).trim()
  const proc = start('producer-perf', 'java', [
    '-Xmx512m',
    '-cp',
    classpath,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic', topic,
    '--num-records', String(spec.records),
    '--record-size', String(spec.recordSize),
    '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${BROKERS}`, 'acks=all',
  ], {}, ROOT)
  try {
    const code = await waitExit(proc, 180_000)
    const line = proc.stdout.trim().split('\n').filter((l) => l.includes('records sent')).at(-1) ?? ''
    const match = /([\d.]+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th/.exec(line)
    if (code !== 0 || match === null) throw new Error(`ProducerPerformance failed (exit ${code}): ${proc.stdout.slice(-800)} ${proc.stderr.slice(-800)}`)
    return {
      records: spec.records,
      recordSize: spec.recordSize,
      recordsPerSecond: Math.round(Number(match[2])),
      mbPerSecond: Number(match[3]),
      avgLatencyMs: Number(match[4]),
      p50Ms: Number(match[5]),
      p99Ms: Number(match[6]),
      line,
    }
  } finally {
    await deleteTopic(topic)
  }
}

async function runCompression(spec: CompressionCase): Promise<CompressionResult[]> {
  const proc = start('compression', process.execPath, [
    join(DIST_BENCH, 'compression.js'),
    JSON.stringify({ brokers: BROKERS, kafkaDataDir: join(KAFKA_DIR, 'data'), codecsDir: join(BENCH, 'codecs'), codecs: spec.codecs, events: spec.events, batch: spec.batch, concurrency: spec.concurrency, seed: spec.seed, partitions: 6 }),
  ], {}, ROOT)
  const code = await waitExit(proc, 240_000)
  const line = proc.stdout.trim().split('\n').at(-1) ?? ''
  if (code !== 0 || !line.startsWith('[')) throw new Error(`compression.js failed (exit ${code}): ${proc.stderr.slice(-1500)}`)
  return JSON.parse(line) as CompressionResult[]
}

let workerTopic: { topic: string; events: number; fill: WorkerFigure['fill'] } | undefined

/** Writes the worker case's canonical events to a fresh topic, as the collector would (key = event id). */
async function fillWorkerTopic(spec: WorkerCase): Promise<NonNullable<typeof workerTopic>> {
  if (workerTopic !== undefined) return workerTopic
  const topic = `bench.worker.${RUN_ID}`
  await createTopic(topic, spec.partitions)
  const events = canonicalEvents(spec.events, spec.seed)
  const messages = events.map((event) => ({ key: event.event_id, value: JSON.stringify(event) }))
  const meanBytes = messages.reduce((sum, m) => sum + m.value.length, 0) / messages.length
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const started = performance.now()
  let next = 0
  const sender = async () => {
    while (next < messages.length) {
      const from = next
      next += 2000
      await producer.send({ topic, acks: -1, messages: messages.slice(from, from + 2000) })
    }
  }
  await Promise.all(Array.from({ length: 4 }, sender))
  const seconds = (performance.now() - started) / 1000
  await producer.disconnect()
  const written = await topicEnd(topic)
  if (written !== spec.events) throw new Error(`the worker topic holds ${written} events, not ${spec.events}`)
  workerTopic = { topic, events: spec.events, fill: { seconds: round(seconds, 2), eventsPerSecond: Math.round(spec.events / seconds), meanBytes: Math.round(meanBytes) } }
  return workerTopic
}

let workerRuns = 0

async function runWorker(spec: WorkerCase, profileDir?: string): Promise<WorkerFigure> {
  const { topic, events, fill } = await fillWorkerTopic(spec)
  workerRuns++
  const groupId = `bench-worker-${RUN_ID}-${workerRuns}`
  const port = await freePort()
  const dataDir = join(TMP, `worker-${workerRuns}`)
  const spawnedAt = performance.now()
  const worker = start('worker', process.execPath, [...nodeArgs(profileDir), MAIN, '--role=worker'], qalqanEnv({
    QALQAN_KAFKA_TOPIC_EVENTS: topic,
    QALQAN_KAFKA_CLIENT_ID: 'bench-worker',
    QALQAN_WORKER_GROUP: groupId,
    QALQAN_WORKER_PORT: String(port),
    QALQAN_DATA_DIR: dataDir,
  }), ROOT)
  const cpu = new CpuWindow()
  const machine = new MachineCpu()
  try {
    const deadline = performance.now() + spec.timeoutSeconds * 1000
    let first: { at: number; committed: number } | undefined
    let last = { at: performance.now(), committed: 0 }
    while (performance.now() < deadline) {
      if (worker.child.exitCode !== null) throw new Error(`the worker exited: ${worker.stderr.slice(-2000)}`)
      const now = await committed(groupId, topic).catch(() => 0)
      const at = performance.now()
      if (now > 0 && first === undefined) {
        first = { at, committed: now }
        cpu.begin([worker.pid, KAFKA_PID, process.pid])
        machine.begin()
      }
      last = { at, committed: now }
      if (now >= events) break
      await sleep(100)
    }
    const shares = first === undefined ? new Map<number, number>() : cpu.end()
    const machineShare = first === undefined ? 0 : machine.end()
    const metrics = await scrape(`http://127.0.0.1:${port}/metrics`)
    const inserts = metric(metrics, 'qalqan_clickhouse_insert_seconds_count')
    const insertSeconds = metric(metrics, 'qalqan_clickhouse_insert_seconds_sum')
    const rows = metric(metrics, 'qalqan_clickhouse_rows_total')
    const drainSeconds = first === undefined ? 0 : (last.at - first.at) / 1000
    const peak = peakRssMiB(worker.pid)
    return {
      events,
      done: last.committed >= events,
      committed: last.committed,
      eventsPerSecond: first === undefined || drainSeconds === 0 ? 0 : Math.round((last.committed - first.committed) / drainSeconds),
      eventsPerSecondFromStart: Math.round(last.committed / ((last.at - spawnedAt) / 1000)),
      startupSeconds: round(((first?.at ?? last.at) - spawnedAt) / 1000, 2),
      drainSeconds: round(drainSeconds, 2),
      ...(rows > 0 ? { rowsInserted: rows } : {}),
      ...(inserts > 0 ? { inserts, meanInsertMs: round((insertSeconds / inserts) * 1000, 1), insertShare: drainSeconds > 0 ? round(insertSeconds / ((last.at - spawnedAt) / 1000), 2) : 0 } : {}),
      cpu: {
        ...(shares.get(worker.pid) !== undefined ? { worker: shares.get(worker.pid) } : {}),
        ...(shares.get(KAFKA_PID) !== undefined ? { broker: shares.get(KAFKA_PID) } : {}),
        bench: shares.get(process.pid),
        other: otherCpu(machineShare, shares),
        machine: machineShare,
      },
      ...(peak !== undefined ? { peakRssMiB: peak } : {}),
      fill,
    }
  } finally {
    await stop(worker, 30_000)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0
}

async function runFreshness(spec: FreshnessCase): Promise<FreshnessFigure> {
  const topic = `bench.freshness.${RUN_ID}`
  const groupId = `bench-freshness-${RUN_ID}`
  const [collectorPort, queryPort, workerPort] = [await freePort(), await freePort(), await freePort()]
  const dataDir = join(TMP, 'freshness')
  const collector = start('collector', process.execPath, [MAIN, '--role=collector'], qalqanEnv({
    QALQAN_COLLECTOR_PORT: String(collectorPort),
    QALQAN_KAFKA_TOPIC_EVENTS: topic,
    QALQAN_KAFKA_CLIENT_ID: 'bench-collector',
  }), ROOT)
  await waitHttp(`http://127.0.0.1:${collectorPort}/readyz`, 60_000, collector)
  const workerQuery = start('worker,query', process.execPath, [MAIN, '--role=worker,query'], qalqanEnv({
    QALQAN_KAFKA_TOPIC_EVENTS: topic,
    QALQAN_KAFKA_CLIENT_ID: 'bench-worker',
    QALQAN_WORKER_GROUP: groupId,
    QALQAN_WORKER_PORT: String(workerPort),
    QALQAN_QUERY_PORT: String(queryPort),
    QALQAN_DATA_DIR: dataDir,
  }), ROOT)
  try {
    await waitHttp(`http://127.0.0.1:${queryPort}/healthz`, 90_000, workerQuery)
    await waitHttp(`http://127.0.0.1:${workerPort}/healthz`, 90_000, workerQuery)

    // Each probe is dated in a minute of its own, days back, where no load event falls.
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 3 * 86_400_000
    const maxProbes = Math.ceil((spec.durationSeconds * 1000) / spec.probeEveryMs) + 5
    const acceptedAt: (number | undefined)[] = []
    const visibleAt: (number | undefined)[] = []
    let failedProbes = 0
    let probing = false
    let measuring = false
    const probes: Promise<void>[] = []
    const probeLoop = async () => {
      for (let i = 0; probing && i < maxProbes; i++) {
        const index = i
        const occurred = new Date(base + index * 60_000 + 30_000).toISOString()
        probes.push(
          fetch(`http://127.0.0.1:${collectorPort}/v1/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SENSOR_TOKENS[2]}`, 'content-type': 'application/json' },
            body: JSON.stringify({ occurred_at: occurred, category: 'scan', severity: 1, signature: 'bench freshness probe', src_ip: '203.0.113.7', count: 1 }),
            signal: AbortSignal.timeout(30_000),
          })
            .then(async (response) => {
              await response.text()
              if (response.status === 202) acceptedAt[index] = performance.now()
              else failedProbes++
            })
            .catch(() => void failedProbes++),
        )
        await sleep(spec.probeEveryMs)
      }
    }
    // Two pollers of the query API. "fresh" makes every query unique (its range ends one second
    // later each time), so the answer cache (QALQAN_QUERY_CACHE_SECONDS) never answers it: what the
    // pipeline delivers. "repeated" asks the identical question every time, as a dashboard does,
    // so its answers may come from the cache: what an analyst staring at one panel sees.
    let polling = true
    const pollStats = { polls: 0, failures: 0, lastProblem: '' }
    let endpoint: 'timeseries' | 'aggregates' = 'timeseries'
    const visibleRepeated: (number | undefined)[] = []
    const pollLoop = async (seen: (number | undefined)[], unique: boolean) => {
      const from = new Date(base).toISOString()
      let counter = 0
      while (polling) {
        const to = new Date(base + (maxProbes + 1) * 60_000 + (unique ? (counter++ % 20_000) * 1000 : 0)).toISOString()
        const url =
          endpoint === 'timeseries'
            ? `http://127.0.0.1:${queryPort}/v1/timeseries?from=${from}&to=${to}&step=1m`
            : `http://127.0.0.1:${queryPort}/v1/aggregates?from=${from}&to=${to}`
        try {
          const response = await fetch(url, { headers: { authorization: `Bearer ${ANALYST_TOKEN}` }, signal: AbortSignal.timeout(10_000) })
          const at = performance.now()
          pollStats.polls++
          if (response.status === 200) {
            // /v1/timeseries answers points [{time, events}]; the older /v1/aggregates rows [{window_start, events}].
            const body = (await response.json()) as { points?: { time: string; events: number }[]; rows?: { window_start: string; events: number }[] }
            const rows = body.points?.map((p) => ({ at: p.time, events: p.events })) ?? body.rows?.map((r) => ({ at: r.window_start, events: r.events })) ?? []
            for (const row of rows) {
              const index = Math.round((Date.parse(row.at) - base) / 60_000)
              if (row.events > 0 && seen[index] === undefined) seen[index] = at
            }
          } else {
            pollStats.failures++
            pollStats.lastProblem = `${response.status} ${(await response.text()).slice(0, 300)}`
            if (response.status === 404 && endpoint === 'timeseries') endpoint = 'aggregates'
          }
        } catch (err) {
          // A slow answer under load is part of what is measured: try again.
          pollStats.failures++
          pollStats.lastProblem = (err as Error).message
        }
        await sleep(spec.pollEveryMs)
      }
    }
    // The worker's lag, every second of the measured window: a lag that keeps growing means the
    // pipeline does not sustain the rate, and freshness would grow with the length of the run.
    const lagSamples: { at: number; lag: number }[] = []
    let sampling = false
    const lagLoop = async () => {
      while (sampling) {
        try {
          const [end, done] = await Promise.all([topicEnd(topic), committed(groupId, topic)])
          lagSamples.push({ at: performance.now(), lag: end - done })
        } catch {
          // A missed sample is fine.
        }
        await sleep(1_000)
      }
    }
    let lagSampler: Promise<void> | undefined
    const cpu = new CpuWindow()
    const machine = new MachineCpu()
    const poller = Promise.all([pollLoop(visibleAt, true), pollLoop(visibleRepeated, false)])
    let prober: Promise<void> | undefined
    const loadRun = runLoad(
      {
        url: `http://127.0.0.1:${collectorPort}`,
        batch: spec.batch,
        connections: spec.connections,
        warmupSeconds: spec.warmupSeconds,
        durationSeconds: spec.durationSeconds,
        overallRate: Math.round(spec.eventsPerSecond / spec.batch),
        seed: spec.seed,
        tokens: SENSOR_TOKENS,
        bodiesPerToken: 20,
      },
      () => {
        measuring = true
        cpu.begin([collector.pid, workerQuery.pid, KAFKA_PID, process.pid])
        machine.begin()
        probing = true
        prober = probeLoop()
        sampling = true
        lagSampler = lagLoop()
      },
    )
    const result = await loadRun
    probing = false
    sampling = false
    await lagSampler
    const shares = cpu.end()
    const machineShare = machine.end()
    if (!measuring) throw new Error('the load generator never started measuring')
    const lagAtEnd = (await topicEnd(topic)) - (await committed(groupId, topic).catch(() => 0))
    await prober
    await Promise.all(probes)
    // The last probes get up to probeTimeoutSeconds to show.
    const deadline = performance.now() + spec.probeTimeoutSeconds * 1000
    while (performance.now() < deadline && acceptedAt.some((t, i) => t !== undefined && (visibleAt[i] === undefined || visibleRepeated[i] === undefined))) await sleep(100)
    polling = false
    await poller
    const timeoutMs = spec.probeTimeoutSeconds * 1000
    const freshnessOf = (seenAt: (number | undefined)[]) => {
      const delays: number[] = []
      let lost = 0
      acceptedAt.forEach((t, i) => {
        if (t === undefined) return
        const seen = seenAt[i]
        if (seen === undefined) {
          lost++
          delays.push(timeoutMs)
        } else delays.push(seen - t)
      })
      delays.sort((a, b) => a - b)
      return {
        probes: delays.length,
        seen: delays.length - lost,
        lost,
        p50Ms: Math.round(percentile(delays, 50)),
        p99Ms: Math.round(percentile(delays, 99)),
        maxMs: Math.round(delays.at(-1) ?? 0),
        minMs: Math.round(delays[0] ?? 0),
      }
    }
    // Least-squares slope of the lag over the second half of the window, in events/s.
    const half = lagSamples.slice(Math.floor(lagSamples.length / 2))
    let lagSlope = 0
    if (half.length >= 3) {
      const mx = half.reduce((sum, p) => sum + p.at, 0) / half.length
      const my = half.reduce((sum, p) => sum + p.lag, 0) / half.length
      const sxy = half.reduce((sum, p) => sum + (p.at - mx) * (p.lag - my), 0)
      const sxx = half.reduce((sum, p) => sum + (p.at - mx) ** 2, 0)
      lagSlope = sxx > 0 ? Math.round((sxy / sxx) * 1000) : 0
    }
    const fresh = freshnessOf(visibleAt)
    const repeated = freshnessOf(visibleRepeated)
    const peakCollector = peakRssMiB(collector.pid)
    const peakWorkerQuery = peakRssMiB(workerQuery.pid)
    return {
      targetEventsPerSecond: spec.eventsPerSecond,
      ...fresh,
      repeated,
      endpoint: `/v1/${endpoint}`,
      failedProbes,
      load: { eventsPerSecond: Math.round((result.requests2xx * spec.batch) / result.seconds), p50Ms: result.latencyMs.p50, p99Ms: result.latencyMs.p99, non2xx: result.non2xx, seconds: result.seconds },
      lagAtEnd,
      lagSlope,
      lagMax: Math.max(0, ...lagSamples.map((p) => p.lag)),
      lagSamples: lagSamples.length,
      polls: pollStats.polls,
      pollFailures: pollStats.failures,
      lastPollProblem: pollStats.lastProblem,
      cpu: {
        ...(shares.get(collector.pid) !== undefined ? { collector: shares.get(collector.pid) } : {}),
        ...(shares.get(workerQuery.pid) !== undefined ? { workerQuery: shares.get(workerQuery.pid) } : {}),
        ...(shares.get(KAFKA_PID) !== undefined ? { broker: shares.get(KAFKA_PID) } : {}),
        load: result.cpuPercent,
        bench: shares.get(process.pid),
        other: otherCpu(machineShare, shares, result.cpuPercent),
        machine: machineShare,
      },
      peakRssMiB: {
        ...(peakCollector !== undefined ? { collector: peakCollector } : {}),
        ...(peakWorkerQuery !== undefined ? { workerQuery: peakWorkerQuery } : {}),
        load: result.peakRssMiB,
      },
    }
  } finally {
    await stop(collector)
    await stop(workerQuery, 30_000)
    await deleteTopic(topic)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function runProfile(spec: ProfileCase, results: Results): Promise<ProfileFigure> {
  const dir = join(BENCH, 'profiles', `${spec.name}.tmp`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const of = CASES.find((c) => c.name === spec.of)
  if (of === undefined) throw new Error(`profile ${spec.name}: no case named ${spec.of}`)
  if (of.kind === 'http') await runHttp({ ...of, durationSeconds: spec.durationSeconds }, dir)
  else if (of.kind === 'worker') await runWorker(of, dir)
  else throw new Error(`profile ${spec.name}: cannot profile a ${of.kind} case`)
  const [written] = readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'))
  if (written === undefined) throw new Error(`profile ${spec.name}: the process wrote no .cpuprofile (did it exit cleanly?)`)
  const file = join(BENCH, 'profiles', `${spec.name}.cpuprofile`)
  renameSync(join(dir, written), file)
  rmSync(dir, { recursive: true, force: true })
  void results
  return { name: spec.name, of: spec.of, file: file.slice(ROOT.length + 1), summary: summarize(file, 15) }
}

function machineInfo(): Results['machine'] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  let kernel = ''
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()
  } catch {
    kernel = 'unknown'
  }
  return { cores: cpus().length, model, memoryGiB: round(totalmem() / 1024 ** 3, 1), kernel }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

function versions(): Record<string, string> {
  const classpath = execFileSync('bash', [join(ROOT, 'deploy', 'kafka', 'kafka.sh'), 'classpath'], { encoding: 'utf8' })
  let java = ''
  try {
    java = execFileSync('java', ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    java = String((err as { stderr?: string }).stderr ?? '')
  }
  const javaVersion = execFileSync('bash', ['-c', 'java -version 2>&1 | head -n1'], { encoding: 'utf8' }).trim() || java
  const codec = (name: string) => {
    try {
      return (JSON.parse(readFileSync(join(BENCH, 'codecs', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
    } catch {
      return 'not installed'
    }
  }
  return {
    node: process.version,
    kafka: /kafka-clients-([\d.]+)\.jar/.exec(classpath)?.[1] ?? 'unknown',
    java: javaVersion,
    kafkajs: packageVersion('kafkajs'),
    fastify: packageVersion('fastify'),
    zod: packageVersion('zod'),
    chdb: packageVersion('chdb'),
    '@clickhouse/client': packageVersion('@clickhouse/client'),
    autocannon: packageVersion('autocannon'),
    'kafkajs-lz4': codec('kafkajs-lz4'),
    '@kafkajs/zstd': codec('@kafkajs/zstd'),
  }
}

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services', 'schemas'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty === '' ? head : `${head} (services/ or schemas/ with uncommitted changes)`
  } catch {
    return 'unknown'
  }
}

async function main(): Promise<void> {
  const startedAt = new Date()
  const watchdog = setTimeout(() => {
    log(`the suite ran past ${WATCHDOG_MS / 60_000} minutes: stopping everything`)
    killAll()
    process.exit(1)
  }, WATCHDOG_MS)
  watchdog.unref()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(130)
    })
  }
  writeFileSync(ASSETS_FILE, JSON.stringify(assetRegistry(), null, 2))
  mkdirSync(join(BENCH, 'profiles'), { recursive: true })
  admin = kafka.admin()
  await admin.connect()

  const results: Results = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    command: process.env['BENCH_COMMAND'] ?? 'npm run bench',
    machine: machineInfo(),
    versions: versions(),
    git: gitDescription(),
    loadAverage: loadavg().map((n) => n.toFixed(2)).join(', '),
    brokerHeap: process.env['LOCAL_KAFKA_HEAP'] ?? '-Xms256m -Xmx768m (kafka.sh default)',
    http: [],
    profiles: [],
    problems: [],
  }
  const suiteStarted = performance.now()
  for (const spec of CASES) {
    if (ONLY !== undefined && !ONLY.has(spec.name)) continue
    log(`${spec.name}: ${spec.goal}`)
    const caseStarted = performance.now()
    try {
      if (spec.kind === 'http') {
        const figure = await runHttp(spec)
        results.http.push(figure)
        log(`  ${figure.eventsPerSecond} events/s, p50 ${figure.latencyMs.p50} ms, p99 ${figure.latencyMs.p99} ms, non-2xx ${figure.non2xx}`)
      } else if (spec.kind === 'producer-perf') {
        results.producerPerf = await runProducerPerf(spec)
        log(`  ${results.producerPerf.line}`)
      } else if (spec.kind === 'compression') {
        results.compression = await runCompression(spec)
        results.compressionCase = spec
        for (const c of results.compression) log(`  ${c.codec}: ${c.ok ? `${c.eventsPerSecond} events/s, ${c.bytesPerEvent} B/event on disk` : c.problem}`)
      } else if (spec.kind === 'worker') {
        results.worker = await runWorker(spec)
        log(`  ${results.worker.eventsPerSecond} events/s (${results.worker.committed}/${results.worker.events} committed)`)
      } else if (spec.kind === 'freshness') {
        results.freshnessTimeoutSeconds = spec.probeTimeoutSeconds
        results.freshness = await runFreshness(spec)
        log(`  freshness p50 ${results.freshness.p50Ms} ms, p99 ${results.freshness.p99Ms} ms at ${results.freshness.load.eventsPerSecond} events/s`)
      } else {
        const profile = await runProfile(spec, results)
        results.profiles.push(profile)
        log(`  top: ${profile.summary.top.slice(0, 3).map((f) => `${f.name} ${f.share}%`).join(', ')}`)
      }
    } catch (err) {
      const message = `${spec.name}: ${(err as Error).message}`.slice(0, 2000)
      results.problems.push(message)
      log(`  FAILED ${message}`)
    }
    log(`  (${round((performance.now() - caseStarted) / 1000, 1)} s)`)
  }
  if (workerTopic !== undefined) await deleteTopic(workerTopic.topic)
  await admin.disconnect()
  results.finishedAt = new Date().toISOString()
  results.durationSeconds = Math.round((performance.now() - suiteStarted) / 1000 + Number(process.env['BENCH_SETUP_SECONDS'] ?? 0))

  // A partial run (BENCH_ONLY=case,case) never overwrites the report of a whole run.
  const out = ONLY === undefined ? BENCH : join(BENCH, 'partial')
  mkdirSync(out, { recursive: true })
  const previousFile = join(out, 'results.json')
  const previous = existsSync(previousFile) ? (JSON.parse(readFileSync(previousFile, 'utf8')) as Results) : undefined
  writeFileSync(previousFile, `${JSON.stringify(results, null, 2)}\n`)
  writeReport(out, results, previous)
  clearTimeout(watchdog)
  log(`wrote ${out.slice(ROOT.length + 1)}/RESULTS.md, throughput.svg and results.json (${results.durationSeconds} s${results.problems.length > 0 ? `, ${results.problems.length} problem(s)` : ''})`)
  // Nothing may keep the process (and so the broker) alive after the report.
  process.exit(results.problems.length > 0 ? 1 : 0)
}

await main()
