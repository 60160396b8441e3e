/**
 * The benchmark cases, as data (Vector's regression cases: goal, rate, duration, seed per case).
 * bench/run.ts runs them in this order in one measurement, so every ratio compares figures taken
 * on the same machine, broker and build within minutes of each other.
 */

/** Who answers the HTTP load. */
export type Target =
  | 'collector' // node dist/services/main.js --role=collector: the product, 202 after Kafka's ack
  | 'ceiling' // bench/ceiling-server.ts: JSON.parse + decodeCanonical (zod), no auth, no Kafka
  | 'naive' // bench/naive-collector.ts: the same decoding, then one awaited kafkajs send per event
  | 'reference' // bench/reference-server/: Go + franz-go, token + JSON well-formedness, acks=all: HTTP -> Kafka's limit here

export interface HttpCase {
  kind: 'http'
  name: string
  goal: string
  target: Target
  /** Events per POST /v1/events body: 1 is a JSON object, more is a JSON array. */
  batch: number
  connections: number
  /** Seconds of load before the measured window (JIT, connections, topic metadata). */
  warmupSeconds: number
  durationSeconds: number
  /** Requests a second over all connections; absent: as fast as the target answers. */
  overallRate?: number
  seed: number
}

export interface ProducerPerfCase {
  kind: 'producer-perf'
  name: string
  goal: string
  records: number
  recordSize: number
  partitions: number
}

export interface CompressionCase {
  kind: 'compression'
  name: string
  goal: string
  codecs: readonly ('none' | 'lz4' | 'zstd')[]
  events: number
  /** Messages per kafkajs send, and sends in flight at once: as the collector's sink does under load. */
  batch: number
  concurrency: number
  seed: number
}

export interface WorkerCase {
  kind: 'worker'
  name: string
  goal: string
  /** Canonical events written to a fresh topic before the worker starts. */
  events: number
  /** Events of one partition per message, a line each, as the collector writes them. */
  eventsPerMessage: number
  partitions: number
  timeoutSeconds: number
  seed: number
}

export interface EngineCase {
  kind: 'engine'
  name: string
  goal: string
  /** Rows inserted per format, with the views and again without. */
  events: number
  /** Rows per insert: about what the worker sends per partition batch. */
  batch: number
  timeoutSeconds: number
  seed: number
}

export interface FreshnessCase {
  kind: 'freshness'
  name: string
  goal: string
  /** Sustained load: `eventsPerSecond` in batches of `batch`, paced by autocannon's overallRate. */
  eventsPerSecond: number
  batch: number
  connections: number
  warmupSeconds: number
  durationSeconds: number
  /** One single-event probe every this many ms, each dated in a minute of its own. */
  probeEveryMs: number
  /** How often the query API is asked which probes are visible. */
  pollEveryMs: number
  /** A probe not visible this long after its 202 counts as lost (and as this long in the percentiles). */
  probeTimeoutSeconds: number
  seed: number
}

export interface ProfileCase {
  kind: 'profile'
  name: string
  goal: string
  /** The case re-run with `node --cpu-prof` on the product process (figures of this run are not reported as results). */
  of: string
  durationSeconds: number
}

export type Case = HttpCase | ProducerPerfCase | CompressionCase | WorkerCase | EngineCase | FreshnessCase | ProfileCase

const http = (
  target: Target,
  batch: number,
  connections: number,
  seed: number,
  goal: string,
  durationSeconds = 12,
): HttpCase => ({
  kind: 'http',
  name: `${target}-${batch === 1 ? 'single' : `batch-${batch}`}`,
  goal,
  target,
  batch,
  connections,
  warmupSeconds: 3,
  durationSeconds,
  seed,
})

export const CASES: readonly Case[] = [
  // The ceiling: what one process that only parses and validates takes (DESIGN.md: ~600k events/s
  // at batches of 500, ~60k single-event requests/s on 2 cores).
  http('ceiling', 1, 64, 101, 'ceiling for single-event posts: parse + validate only', 10),
  http('ceiling', 100, 16, 102, 'ceiling, batches of 100', 10),
  http('ceiling', 500, 8, 103, 'ceiling, batches of 500 (the DESIGN.md figure)', 10),
  http('ceiling', 1000, 8, 104, 'ceiling, batches of 1,000', 10),
  // The reference server: the least an HTTP -> Kafka server can do (one record per event, acks=all),
  // as the measured limit of HTTP -> Kafka on this machine and broker.
  http('reference', 1, 64, 701, 'reference server, single-event posts'),
  http('reference', 100, 16, 702, 'reference server, batches of 100'),
  http('reference', 500, 8, 703, 'reference server, batches of 500'),
  http('reference', 1000, 8, 704, 'reference server, batches of 1,000'),
  // The product, end to end into the real broker: every 202 is after Kafka's acks=all.
  http('collector', 1, 64, 201, 'single-event posts >= 1/2 of the single-event ceiling'),
  http('collector', 100, 16, 202, 'batches of 100 >= 40% of the reference server, p99 < 100 ms, <= 8 µs CPU per event'),
  http('collector', 500, 8, 203, 'batches of 500 >= 40% of the reference server, <= 8 µs CPU per event'),
  http('collector', 1000, 8, 204, 'batches of 1,000 >= 40% of the reference server, <= 8 µs CPU per event'),
  // The naive baseline: one awaited send per event; the ratio is what the batching sink buys.
  http('naive', 1, 64, 301, 'baseline for single-event posts'),
  http('naive', 100, 16, 302, 'baseline for batches of 100'),
  {
    kind: 'producer-perf',
    name: 'kafka-producer-perf',
    goal: "Kafka's own producer on the same broker: 400-byte records, acks=all",
    records: 1_000_000,
    recordSize: 400,
    partitions: 6,
  },
  {
    kind: 'compression',
    name: 'compression',
    goal: 'kafkajs producer with none, LZ4 and ZSTD: events/s and bytes on disk',
    codecs: ['none', 'lz4', 'zstd'],
    events: 150_000,
    batch: 500,
    concurrency: 4,
    seed: 401,
  },
  {
    kind: 'worker',
    name: 'worker',
    goal: 'worker >= 70,000 events/s per process and >= 70% of the engine limit, from a pre-filled topic into ClickHouse',
    events: 300_000,
    eventsPerMessage: 40,
    partitions: 6,
    timeoutSeconds: 150,
    seed: 501,
  },
  {
    kind: 'engine',
    name: 'engine-limit',
    goal: "the embedded engine's own limit: pre-built rows into events_raw, with and without its views",
    events: 120_000,
    batch: 10_000,
    timeoutSeconds: 120,
    seed: 801,
  },
  {
    kind: 'freshness',
    name: 'freshness',
    goal: 'p99 from 202 to visible in the query API <= 2 s at a sustained 50,000 events/s, fresh and repeated queries',
    eventsPerSecond: 50_000,
    batch: 500,
    // autocannon paces each connection, and a connection waits for its answer: enough of them
    // that the rate holds when answers slow down.
    connections: 32,
    warmupSeconds: 5,
    durationSeconds: 40,
    probeEveryMs: 250,
    pollEveryMs: 100,
    probeTimeoutSeconds: 20,
    seed: 601,
  },
  // Where the time goes, for the figures that miss their target.
  {
    kind: 'profile',
    name: 'profile-collector-batch-500',
    goal: 'CPU profile of the collector at batches of 500',
    of: 'collector-batch-500',
    durationSeconds: 10,
  },
  {
    kind: 'profile',
    name: 'profile-collector-single',
    goal: 'CPU profile of the collector on single-event posts',
    of: 'collector-single',
    durationSeconds: 10,
  },
  {
    kind: 'profile',
    name: 'profile-worker',
    goal: 'CPU profile of the worker draining the pre-filled topic',
    of: 'worker',
    durationSeconds: 0,
  },
]

/** The hot path's targets, checked in RESULTS.md: ratios to references measured in the same run. */
export const TARGETS = {
  /** Collector events/s at batches of 100-1,000, as a share of the reference server's at the same batch. */
  batchedShareOfReference: 0.4,
  /** p99 at batches of 100. */
  batchedP99Ms: 100,
  /** Collector CPU (all its processes) per accepted event, at batches of 100-1,000. */
  batchedCpuMicrosPerEvent: 8,
  /** Single-event posts, as a share of the single-event ceiling. */
  singleShareOfCeiling: 0.5,
  workerEventsPerSecond: 70_000,
  /** Worker events/s as a share of the engine's own insert limit measured in the same run. */
  workerShareOfEngine: 0.7,
  freshnessP99Ms: 2_000,
  freshnessRate: 50_000,
  collectorPeakRssMiB: 256,
  workerPeakRssMiB: 1024,
} as const
