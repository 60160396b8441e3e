import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { clusterMetrics } from './cluster-metrics.js'

/**
 * Every metric Qalqan exposes, declared once: name, help text and labels. Every stage counts the
 * same four things (received, sent, errors by a bounded error type, discarded); stage labels are
 * the steps' names: http, decode, kafka, store.
 */
const CATALOGUE = {
  received: {
    type: 'counter',
    name: 'qalqan_events_received_total',
    help: 'Events a stage took in.',
    labels: ['stage'],
  },
  sent: { type: 'counter', name: 'qalqan_events_sent_total', help: 'Events a stage passed on.', labels: ['stage'] },
  discarded: {
    type: 'counter',
    name: 'qalqan_events_discarded_total',
    help: 'Events a stage did not pass on, on purpose or not.',
    labels: ['stage', 'reason'],
  },
  errors: {
    type: 'counter',
    name: 'qalqan_errors_total',
    help: 'Errors by stage and a bounded error type.',
    labels: ['stage', 'error_type'],
  },
  httpRequests: {
    type: 'counter',
    name: 'qalqan_http_requests_total',
    help: 'Ingest requests by route.',
    labels: ['route'],
  },
  sensorLastSeen: {
    type: 'gauge',
    name: 'qalqan_sensor_last_seen_seconds',
    help: 'When each sensor last sent events (Unix time).',
    labels: ['sensor'],
    // Several collector processes: the latest of them, not their sum.
    aggregator: 'max',
  },
  kafkaPending: {
    type: 'gauge',
    name: 'qalqan_kafka_pending_events',
    help: 'Events and rejections waiting for Kafka.',
    labels: [],
  },
  kafkaProduce: {
    type: 'histogram',
    name: 'qalqan_kafka_produce_seconds',
    help: 'Time from a send to its acknowledgement.',
    labels: [],
  },
  clickhouseInsert: {
    type: 'histogram',
    name: 'qalqan_clickhouse_insert_seconds',
    help: 'Time of one insert into ClickHouse.',
    labels: [],
  },
  clickhouseRows: {
    type: 'counter',
    name: 'qalqan_clickhouse_rows_total',
    help: 'Rows inserted into events_raw.',
    labels: [],
  },
  workerRetries: {
    type: 'counter',
    name: 'qalqan_worker_retries_total',
    help: 'Retries of a failed write, by what was written.',
    labels: ['what'],
  },
  workerLag: {
    type: 'gauge',
    name: 'qalqan_worker_lag_messages',
    help: 'Messages of a partition not yet written (each holds one or more events), as of the last batch.',
    labels: ['topic', 'partition'],
  },
  sensorEvents: {
    type: 'counter',
    name: 'qalqan_sensor_events_total',
    help: "Each sensor's events the collector accepted or rejected (outcome), once Kafka has them.",
    labels: ['sensor', 'outcome'],
  },
  attributionRefused: {
    type: 'counter',
    name: 'qalqan_collector_attribution_refused_total',
    help: "Events whose target the asset registry places in an organisation their sensor may not file under; they keep the sensor's own.",
    labels: ['sensor'],
  },
  sensorClockSkew: {
    type: 'histogram',
    name: 'qalqan_sensor_clock_skew_seconds',
    help: "Receive time minus the event's own time, per sensor; negative: the sensor's clock is ahead.",
    labels: ['sensor'],
    buckets: [-3600, -600, -60, -5, 5, 60, 600, 3600, 18_000],
  },
  dedupEvicted: {
    type: 'counter',
    name: 'qalqan_worker_dedup_evicted_total',
    help: 'Event ids forgotten before the copies window ended, to stay within its most entries.',
    labels: [],
  },
} as const

export const METRIC_NAMES = Object.values(CATALOGUE).map((metric) => metric.name)

/** Stages whose four counters are kept; the steps' names. */
export type Stage = 'http' | 'decode' | 'kafka' | 'store'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A label that outside input could multiply (a sensor id) never grows memory without bound. */
const MAX_SENSORS = 10_000

type Catalogue = typeof CATALOGUE
type Instrument<K extends keyof Catalogue> = Catalogue[K]['type'] extends 'counter'
  ? Counter<string>
  : Catalogue[K]['type'] extends 'gauge'
    ? Gauge<string>
    : Histogram<string>

/** One registry per process of roles: the catalogue's metrics and Node.js's runtime metrics. */
export class Metrics {
  readonly registry = new Registry()
  private readonly instruments: { [K in keyof Catalogue]: Instrument<K> }
  private readonly sensors = new Set<string>()
  private readonly fromAllProcesses: (() => Promise<string>) | undefined

  constructor() {
    const registers = [this.registry]
    const make = (spec: Catalogue[keyof Catalogue]) => {
      const options = { name: spec.name, help: spec.help, labelNames: [...spec.labels], registers }
      if (spec.type === 'counter') return new Counter(options)
      if (spec.type === 'gauge')
        return new Gauge({ ...options, ...('aggregator' in spec && { aggregator: spec.aggregator }) })
      return new Histogram({ ...options, buckets: 'buckets' in spec ? [...spec.buckets] : BUCKETS })
    }
    this.instruments = Object.fromEntries(Object.entries(CATALOGUE).map(([key, spec]) => [key, make(spec)])) as never
    collectDefaultMetrics({ register: this.registry })
    this.fromAllProcesses = clusterMetrics(this.registry)
  }

  /** The four stage counters, summed by the caller and emitted once per unit of work. */
  stage(stage: Stage, counts: { received?: number; sent?: number; discarded?: number; discardReason?: string }): void {
    if (counts.received) this.instruments.received.inc({ stage }, counts.received)
    if (counts.sent) this.instruments.sent.inc({ stage }, counts.sent)
    if (counts.discarded)
      this.instruments.discarded.inc({ stage, reason: counts.discardReason ?? 'unknown' }, counts.discarded)
  }

  error(stage: Stage, errorType: string, by = 1): void {
    this.instruments.errors.inc({ stage, error_type: errorType }, by)
  }

  httpRequest(route: string): void {
    this.instruments.httpRequests.inc({ route })
  }

  sensorSeen(sensorId: string, at: Date): void {
    if (!this.tracks(sensorId)) return
    this.instruments.sensorLastSeen.set({ sensor: sensorId }, Math.floor(at.getTime() / 1000))
  }

  /** A request's accepted and rejected events, for the share a sensor gets rejected. */
  sensorEvents(sensorId: string, accepted: number, rejected: number): void {
    const sensor = this.tracks(sensorId) ? sensorId : ''
    if (accepted > 0) this.instruments.sensorEvents.inc({ sensor, outcome: 'accepted' }, accepted)
    if (rejected > 0) this.instruments.sensorEvents.inc({ sensor, outcome: 'rejected' }, rejected)
  }

  /** The clock skews of one request's events, in seconds (receive time minus event time). */
  sensorClockSkew(sensorId: string, seconds: readonly number[]): void {
    if (seconds.length === 0 || !this.tracks(sensorId)) return
    const histogram = this.instruments.sensorClockSkew.labels({ sensor: sensorId })
    for (const value of seconds) histogram.observe(value)
  }

  /** Past the most sensors tracked, refusals are still counted, under an empty sensor. */
  attributionRefused(sensorId: string): void {
    this.instruments.attributionRefused.inc({ sensor: this.tracks(sensorId) ? sensorId : '' })
  }

  kafkaPending(events: number): void {
    this.instruments.kafkaPending.set(events)
  }

  kafkaProduced(seconds: number): void {
    this.instruments.kafkaProduce.observe(seconds)
  }

  clickhouseInserted(rows: number, seconds: number): void {
    this.instruments.clickhouseInsert.observe(seconds)
    this.instruments.clickhouseRows.inc(rows)
  }

  workerRetry(what: string): void {
    this.instruments.workerRetries.inc({ what })
  }

  workerLag(topic: string, partition: number, messages: number): void {
    this.instruments.workerLag.set({ topic, partition: String(partition) }, messages)
  }

  dedupEvicted(ids: number): void {
    this.instruments.dedupEvicted.inc(ids)
  }

  /** Whether a sensor has, or may still get, series of its own. */
  private tracks(sensorId: string): boolean {
    if (this.sensors.has(sensorId)) return true
    if (this.sensors.size >= MAX_SENSORS) return false
    this.sensors.add(sensorId)
    return true
  }

  /** The Prometheus text exposition. */
  /** Every collector process's metrics when several share the port (summed by the primary), else this one's. */
  render(): Promise<string> {
    return this.fromAllProcesses?.() ?? this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
