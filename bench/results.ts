/**
 * The figures of one run, as results.json holds them and report.ts renders them. Types only: the
 * report can be written again from results.json without starting anything.
 */
import type { CompressionCase, HttpCase } from './cases.js'
import type { CompressionResult } from './compression.js'
import type { LoadResult } from './load.js'
import type { ProfileSummary } from './profile-summary.js'

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
  recordsInTopic?: number
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
  fill: { seconds: number; eventsPerSecond: number; meanBytes: number; eventsPerMessage?: number }
}

/** How long accepted probes took to show in the query API; a lost probe counts as the timeout. */
export interface ProbeDelays {
  probes: number
  seen: number
  lost: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  minMs: number
}

export interface FreshnessFigure extends ProbeDelays {
  targetEventsPerSecond: number
  failedProbes: number
  /** The same probes seen through an identical, repeated query (the answer cache may serve it). */
  repeated: ProbeDelays
  endpoint: string
  load: { eventsPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number; seconds: number }
  lagAtEnd?: number
  /**
   * How fast the lag grew over the second half of the window (about 0 when the worker keeps up), in
   * Kafka messages/s; in events/s in runs without writeRate (one event per message then).
   */
  lagSlope: number
  /** Messages written to the topic per second over the same samples. */
  writeRate?: number
  lagMax: number
  lagSamples: number
  polls: number
  pollFailures: number
  lastPollProblem: string
  cpu: {
    collector?: number
    workerQuery?: number
    broker?: number
    load?: number
    bench?: number | undefined
    other?: number
    machine: number
  }
  peakRssMiB: { collector?: number; workerQuery?: number; load: number }
}

/** The engine's own insert limit: pre-built rows into events_raw, rows/s. */
export interface EngineFigure {
  events: number
  batch: number
  /** The cheapest format measured, and its rates with and without the materialized views. */
  format: string
  withViews: { rowsPerSecond: number }
  withoutViews: { rowsPerSecond: number }
  /** Every format measured: rows/s with and without the views. */
  formats: Record<string, { views: number; noViews: number }>
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
  engine?: EngineFigure
  freshness?: FreshnessFigure
  freshnessTimeoutSeconds?: number
  profiles: ProfileFigure[]
  problems: string[]
}
