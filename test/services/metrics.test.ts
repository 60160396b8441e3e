import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { register } from 'prom-client'
import { createServer, serveMetrics } from '../../services/http/server.js'
import { createLogger } from '../../services/logger.js'
import { METRIC_NAMES, Metrics } from '../../services/metrics.js'
import { PROJECT_ROOT } from '../../services/paths.js'

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL_VALUE = String.raw`(?:[^"\\\n]|\\[\\"n])*`
const LABEL_PAIR = new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)="(${LABEL_VALUE})"`, 'g')
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="${LABEL_VALUE}")(?:,[a-zA-Z_][a-zA-Z0-9_]*="${LABEL_VALUE}")*\\}`
// Prometheus reads a value with Go's ParseFloat, which takes NaN and Inf in any case; prom-client
// writes NaN as "Nan" (an event-loop mean before any sample).
const VALUE = String.raw`(?:[+-]?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+)|[+-]?[Ii][Nn][Ff]|[Nn][Aa][Nn])`
const SAMPLE = new RegExp(`^(${NAME})(${LABELS})? (${VALUE})$`)
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)

/** What every catalogue metric is; METRIC_NAMES must list exactly these. */
const CATALOGUE_TYPES: Record<string, string> = {
  qalqan_events_received_total: 'counter',
  qalqan_events_sent_total: 'counter',
  qalqan_events_discarded_total: 'counter',
  qalqan_errors_total: 'counter',
  qalqan_http_requests_total: 'counter',
  qalqan_sensor_last_seen_seconds: 'gauge',
  qalqan_kafka_pending_events: 'gauge',
  qalqan_kafka_produce_seconds: 'histogram',
  qalqan_clickhouse_insert_seconds: 'histogram',
  qalqan_clickhouse_rows_total: 'counter',
  qalqan_worker_retries_total: 'counter',
  qalqan_worker_lag_messages: 'gauge',
  qalqan_worker_dedup_evicted_total: 'counter',
  qalqan_collector_attribution_refused_total: 'counter',
  qalqan_sensor_events_total: 'counter',
  qalqan_sensor_clock_skew_seconds: 'histogram',
}

/** The histograms' bucket bounds, as services/metrics.ts sets them. */
const BUCKETS = [
  '0.001',
  '0.0025',
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.1',
  '0.25',
  '0.5',
  '1',
  '2.5',
  '5',
  '10',
  '+Inf',
]

interface Family {
  type: string
  help: string
}

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

function unescapeLabelValue(value: string): string {
  return value.replace(/\\(.)/g, (_match, escaped: string) => (escaped === 'n' ? '\n' : escaped))
}

/**
 * Checks the text exposition format line by line: HELP and TYPE once per family and before its
 * samples, every sample well formed and belonging to the family above it, no series twice.
 * Returns what is wrong and the families by name.
 */
function checkExposition(text: string): { problems: string[]; families: Map<string, Family> } {
  const problems: string[] = []
  if (!text.endsWith('\n')) problems.push('does not end with a newline')
  const lines = text.split('\n').slice(0, -1)
  const families = new Map<string, Family>()
  const series = new Set<string>()
  let current: { name: string; type: string; help: string } | undefined
  for (const line of lines) {
    if (line === '') continue // the format ignores empty lines
    const help = HELP.exec(line)
    const type = TYPE.exec(line)
    const sample = SAMPLE.exec(line)
    if (help !== null) {
      const [, name = '', helpText = ''] = help
      if (families.has(name)) problems.push(`HELP for ${name} again`)
      current = { name, type: '', help: helpText }
    } else if (type !== null) {
      const [, name = '', kind = ''] = type
      if (current?.name !== name || current.type !== '') problems.push(`TYPE for ${name} not right after its HELP`)
      families.set(name, { type: kind, help: current?.help ?? '' })
      current = { name, type: kind, help: current?.help ?? '' }
    } else if (sample !== null) {
      const [, name = '', labels = ''] = sample
      const allowed =
        current?.type === 'histogram'
          ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`]
          : [current?.name]
      if (!allowed.includes(name)) problems.push(`sample ${name} outside its family`)
      // Prometheus reads labels as a set: the same pairs in another order are the same series.
      const pairs = [...labels.matchAll(LABEL_PAIR)].map((m) => `${m[1]}=${m[2]}`)
      const key = `${name}{${pairs.sort().join(',')}}`
      if (series.has(key)) problems.push(`series ${key} twice`)
      series.add(key)
    } else {
      problems.push(`not a valid line: ${JSON.stringify(line.slice(0, 200))}`)
    }
  }
  return { problems, families }
}

function assertValidExposition(t: Test, text: string): Map<string, Family> {
  const { problems, families } = checkExposition(text)
  t.same(problems.slice(0, 10), [], 'valid Prometheus text')
  return families
}

/** Every sample of one metric name, its labels unescaped. */
function samples(text: string, name: string): Sample[] {
  const found: Sample[] = []
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line)
    if (match === null || match[1] !== name) continue
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(LABEL_PAIR)) labels[pair[1] ?? ''] = unescapeLabelValue(pair[2] ?? '')
    found.push({ name, labels, value: Number(match[3]) })
  }
  return found
}

/** The value of one sample line, found by its exact name and label text. */
function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('the validator finds what Prometheus would refuse', async (t) => {
  const family = '# HELP qalqan_x_total X.\n# TYPE qalqan_x_total counter\n'
  t.same(
    checkExposition(`${family}qalqan_x_total{a="1"} 2\nqalqan_x_total{a="2"} Nan\n`).problems,
    [],
    'a valid text passes',
  )
  const broken: Record<string, string> = {
    'no final newline': `${family}qalqan_x_total 1`,
    'an unescaped quote': `${family}qalqan_x_total{sensor="a"b"} 1\n`,
    'a raw newline in a value': `${family}qalqan_x_total{sensor="a\nb"} 1\n`,
    'a lone backslash': `${family}qalqan_x_total{sensor="a\\b"} 1\n`,
    'a series twice': `${family}qalqan_x_total{a="1",b="2"} 1\nqalqan_x_total{b="2",a="1"} 1\n`,
    'a sample of another family': `${family}qalqan_y_total 1\n`,
    'TYPE without HELP': '# TYPE qalqan_x_total counter\nqalqan_x_total 1\n',
    'HELP twice': `${family}${family}`,
    'a value that is no number': `${family}qalqan_x_total one\n`,
  }
  for (const [what, text] of Object.entries(broken)) t.not(checkExposition(text).problems.length, 0, what)
})

t.test('a fresh Metrics renders every catalogue family and the Node.js runtime metrics', async (t) => {
  const metrics = new Metrics()
  t.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8')
  const text = await metrics.render()
  const families = assertValidExposition(t, text)

  t.same([...METRIC_NAMES].sort(), Object.keys(CATALOGUE_TYPES).sort(), 'METRIC_NAMES lists the catalogue')
  for (const name of METRIC_NAMES) {
    t.equal(families.get(name)?.type, CATALOGUE_TYPES[name], `${name} has HELP and TYPE ${CATALOGUE_TYPES[name]}`)
    t.ok((families.get(name)?.help.length ?? 0) > 0, `${name} has a help text`)
  }
  t.equal(sampleValue(text, 'qalqan_clickhouse_rows_total'), 0, 'an unlabelled counter starts at zero')
  t.equal(sampleValue(text, 'qalqan_kafka_pending_events'), 0, 'an unlabelled gauge starts at zero')
  t.equal(sampleValue(text, 'qalqan_kafka_produce_seconds_count'), 0)
  t.equal(sampleValue(text, 'qalqan_kafka_produce_seconds_bucket{le="+Inf"}'), 0)
  t.same(samples(text, 'qalqan_events_received_total'), [], 'a labelled family has no series before its first count')
  t.same(samples(text, 'qalqan_sensor_last_seen_seconds'), [])

  const runtime: Record<string, string> = {
    nodejs_eventloop_lag_seconds: 'gauge',
    nodejs_heap_size_used_bytes: 'gauge',
    nodejs_heap_size_total_bytes: 'gauge',
    nodejs_gc_duration_seconds: 'histogram',
    nodejs_version_info: 'gauge',
    process_cpu_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    process_start_time_seconds: 'gauge',
  }
  for (const [name, type] of Object.entries(runtime)) t.equal(families.get(name)?.type, type, `${name} is a ${type}`)
  t.ok((sampleValue(text, 'nodejs_heap_size_used_bytes') ?? 0) > 0, 'the heap in use is measured')
  t.ok((sampleValue(text, 'process_resident_memory_bytes') ?? 0) > 0, 'the RSS is measured')
  t.ok((sampleValue(text, 'process_cpu_seconds_total') ?? -1) >= 0, 'the CPU time is measured')
  t.ok((sampleValue(text, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'the event loop lag is measured')
  const version = samples(text, 'nodejs_version_info')
  t.equal(version.length, 1)
  t.equal(version[0]?.labels.version, process.version)
  t.equal(version[0]?.value, 1)
})

t.test('stage() sums received, sent and discarded under the stage label', async (t) => {
  const metrics = new Metrics()
  metrics.stage('decode', { received: 10, sent: 7, discarded: 2, discardReason: 'not_an_attack' })
  metrics.stage('decode', { received: 5, sent: 5 })
  metrics.stage('decode', { discarded: 4, discardReason: 'not_an_attack' })
  metrics.stage('store', { received: 3, sent: 2 })
  metrics.stage('store', { discarded: 1, discardReason: 'duplicate_event_id' })
  metrics.stage('store', { discarded: 6 })
  metrics.stage('kafka', { received: 0, sent: 0, discarded: 0 })
  const text = await metrics.render()
  assertValidExposition(t, text)
  t.equal(sampleValue(text, 'qalqan_events_received_total{stage="decode"}'), 15)
  t.equal(sampleValue(text, 'qalqan_events_sent_total{stage="decode"}'), 12)
  t.equal(sampleValue(text, 'qalqan_events_discarded_total{stage="decode",reason="not_an_attack"}'), 6)
  t.equal(sampleValue(text, 'qalqan_events_received_total{stage="store"}'), 3)
  t.equal(sampleValue(text, 'qalqan_events_sent_total{stage="store"}'), 2)
  t.equal(sampleValue(text, 'qalqan_events_discarded_total{stage="store",reason="duplicate_event_id"}'), 1)
  t.equal(
    sampleValue(text, 'qalqan_events_discarded_total{stage="store",reason="unknown"}'),
    6,
    'a discard without a reason is labelled unknown',
  )
  t.notMatch(text, 'stage="kafka"', 'zero counts make no series')
  t.notMatch(text, 'stage="http"', 'a stage never counted makes no series')
  t.equal(
    samples(text, 'qalqan_events_received_total').reduce((sum, s) => sum + s.value, 0),
    18,
    'nothing else was received',
  )
  t.equal(samples(text, 'qalqan_events_discarded_total').length, 3)
})

t.test('error() counts by stage and a bounded error type', async (t) => {
  const metrics = new Metrics()
  metrics.error('http', 'rate_limited')
  metrics.error('http', 'rate_limited')
  metrics.error('decode', 'invalid_event', 3)
  metrics.error('decode', 'invalid_event', 2)
  metrics.error('kafka', 'invalid_event')
  const text = await metrics.render()
  assertValidExposition(t, text)
  t.equal(sampleValue(text, 'qalqan_errors_total{stage="http",error_type="rate_limited"}'), 2)
  t.equal(sampleValue(text, 'qalqan_errors_total{stage="decode",error_type="invalid_event"}'), 5)
  t.equal(
    sampleValue(text, 'qalqan_errors_total{stage="kafka",error_type="invalid_event"}'),
    1,
    'the same type in another stage is its own series',
  )
  t.equal(samples(text, 'qalqan_errors_total').length, 3)
})

t.test('requests, retries, lag and pending events have exact values', async (t) => {
  const metrics = new Metrics()
  metrics.httpRequest('/v1/events')
  metrics.httpRequest('/v1/events')
  metrics.httpRequest('/services/collector/event')
  metrics.workerRetry('events')
  metrics.workerRetry('events')
  metrics.workerRetry('rejected')
  metrics.workerLag('qalqan.events.v1', 0, 120)
  metrics.workerLag('qalqan.events.v1', 0, 40)
  metrics.workerLag('qalqan.events.v1', 11, 7)
  metrics.kafkaPending(500)
  metrics.kafkaPending(3)
  const text = await metrics.render()
  assertValidExposition(t, text)
  t.equal(sampleValue(text, 'qalqan_http_requests_total{route="/v1/events"}'), 2)
  t.equal(sampleValue(text, 'qalqan_http_requests_total{route="/services/collector/event"}'), 1)
  t.equal(sampleValue(text, 'qalqan_worker_retries_total{what="events"}'), 2)
  t.equal(sampleValue(text, 'qalqan_worker_retries_total{what="rejected"}'), 1)
  t.equal(
    sampleValue(text, 'qalqan_worker_lag_messages{topic="qalqan.events.v1",partition="0"}'),
    40,
    'a gauge is set, not added',
  )
  t.equal(sampleValue(text, 'qalqan_worker_lag_messages{topic="qalqan.events.v1",partition="11"}'), 7)
  t.equal(sampleValue(text, 'qalqan_kafka_pending_events'), 3, 'and may go down')
})

t.test('hostile sensor ids are escaped and cannot forge a series or a label', async (t) => {
  const metrics = new Metrics()
  const at = new Date('2025-03-01T08:15:30.900Z')
  const hostile = [
    'a"b',
    'C:\\path\\',
    'line1\nline2',
    '\\"\n',
    'Қазақстан 🛡️ {x="y"}',
    'x"} 1000\nqalqan_sensor_last_seen_seconds{sensor="forged',
    'x",admin="true',
    '',
  ]
  for (const id of hostile) metrics.sensorSeen(id, at)
  const text = await metrics.render()
  assertValidExposition(t, text)
  const seconds = Math.floor(at.getTime() / 1000)
  t.match(text, `qalqan_sensor_last_seen_seconds{sensor="a\\"b"} ${seconds}\n`)
  t.match(text, `qalqan_sensor_last_seen_seconds{sensor="C:\\\\path\\\\"} ${seconds}\n`)
  t.match(text, `qalqan_sensor_last_seen_seconds{sensor="line1\\nline2"} ${seconds}\n`)
  t.match(
    text,
    `qalqan_sensor_last_seen_seconds{sensor="\\\\\\"\\n"} ${seconds}\n`,
    'a backslash before a quote is escaped on its own',
  )
  t.match(
    text,
    `qalqan_sensor_last_seen_seconds{sensor="Қазақстан 🛡️ {x=\\"y\\"}"} ${seconds}\n`,
    'UTF-8 is kept as it is',
  )
  const lines = text.split('\n').filter((line) => line.startsWith('qalqan_sensor_last_seen_seconds{'))
  t.equal(lines.length, hostile.length, 'one line per sensor: no value adds a line')
  t.notMatch(text, /^qalqan_sensor_last_seen_seconds\{sensor="forged"/m, 'no forged series')
  const read = samples(text, 'qalqan_sensor_last_seen_seconds')
  t.same(
    read.map((s) => Object.keys(s.labels)),
    hostile.map(() => ['sensor']),
    'no forged label',
  )
  t.same(read.map((s) => s.labels.sensor).sort(), [...hostile].sort(), 'every id reads back as it was')
  t.ok(
    read.every((s) => s.value === seconds),
    'whole seconds since the epoch',
  )
})

t.test('sensorSeen keeps at most 10,000 distinct sensors', async (t) => {
  const metrics = new Metrics()
  const first = new Date('2025-03-01T00:00:00Z')
  const later = new Date('2025-03-01T01:00:00Z')
  for (let i = 0; i < 10_000; i++) metrics.sensorSeen(`sensor-${i}`, first)
  metrics.sensorSeen('sensor-10000', later)
  metrics.sensorSeen('sensor-0', later)
  metrics.sensorSeen('sensor-10001', later)
  const text = await metrics.render()
  assertValidExposition(t, text)
  t.equal(text.split('\n').filter((line) => line.startsWith('qalqan_sensor_last_seen_seconds{')).length, 10_000)
  t.equal(
    sampleValue(text, 'qalqan_sensor_last_seen_seconds{sensor="sensor-10000"}'),
    undefined,
    'the 10,001st sensor is not added',
  )
  t.equal(sampleValue(text, 'qalqan_sensor_last_seen_seconds{sensor="sensor-10001"}'), undefined)
  t.equal(
    sampleValue(text, 'qalqan_sensor_last_seen_seconds{sensor="sensor-0"}'),
    later.getTime() / 1000,
    'a known sensor is still updated',
  )
  t.equal(sampleValue(text, 'qalqan_sensor_last_seen_seconds{sensor="sensor-9999"}'), first.getTime() / 1000)
})

t.test('the per-sensor series of clock skew and refused attribution keep to the 10,000 sensors too', async (t) => {
  const metrics = new Metrics()
  for (let i = 0; i < 10_000; i++) metrics.sensorSeen(`sensor-${i}`, new Date(0))
  metrics.sensorClockSkew('sensor-10000', [1, 2])
  metrics.sensorClockSkew('sensor-0', [-30])
  metrics.attributionRefused('sensor-10000')
  metrics.attributionRefused('sensor-10001')
  metrics.attributionRefused('sensor-1')
  const text = await metrics.render()
  assertValidExposition(t, text)
  t.equal(sampleValue(text, 'qalqan_sensor_clock_skew_seconds_count{sensor="sensor-10000"}'), undefined)
  t.equal(sampleValue(text, 'qalqan_sensor_clock_skew_seconds_count{sensor="sensor-0"}'), 1)
  t.equal(sampleValue(text, 'qalqan_sensor_clock_skew_seconds_bucket{le="-5",sensor="sensor-0"}'), 1)
  t.equal(sampleValue(text, 'qalqan_sensor_clock_skew_seconds_bucket{le="-60",sensor="sensor-0"}'), 0)
  t.equal(sampleValue(text, 'qalqan_collector_attribution_refused_total{sensor="sensor-1"}'), 1)
  t.equal(
    sampleValue(text, 'qalqan_collector_attribution_refused_total{sensor=""}'),
    2,
    'refusals past the most sensors are still counted, under no sensor',
  )
})

t.test('histograms: cumulative buckets, +Inf, _sum and _count', async (t) => {
  const metrics = new Metrics()
  const produced = [0.0005, 0.003, 0.003, 0.2, 1, 7, 30]
  for (const seconds of produced) metrics.kafkaProduced(seconds)
  metrics.clickhouseInserted(100, 0.02)
  metrics.clickhouseInserted(250, 0.5)
  metrics.clickhouseInserted(1, 0.0001)
  const text = await metrics.render()
  assertValidExposition(t, text)

  const bucket = (name: string, le: string) => sampleValue(text, `${name}_bucket{le="${le}"}`)
  const kafka = 'qalqan_kafka_produce_seconds'
  t.equal(bucket(kafka, '0.001'), 1)
  t.equal(bucket(kafka, '0.0025'), 1)
  t.equal(bucket(kafka, '0.005'), 3)
  t.equal(bucket(kafka, '0.1'), 3)
  t.equal(bucket(kafka, '0.25'), 4)
  t.equal(bucket(kafka, '1'), 5, 'a value on a bound is in that bucket (le is less or equal)')
  t.equal(bucket(kafka, '5'), 5)
  t.equal(bucket(kafka, '10'), 6)
  t.equal(bucket(kafka, '+Inf'), 7, 'every observation is under +Inf')
  t.equal(sampleValue(text, `${kafka}_count`), 7)
  t.equal(
    sampleValue(text, `${kafka}_sum`),
    produced.reduce((sum, s) => sum + s, 0),
  )

  const insert = 'qalqan_clickhouse_insert_seconds'
  t.equal(bucket(insert, '0.001'), 1)
  t.equal(bucket(insert, '0.01'), 1)
  t.equal(bucket(insert, '0.025'), 2)
  t.equal(bucket(insert, '0.25'), 2)
  t.equal(bucket(insert, '0.5'), 3)
  t.equal(bucket(insert, '+Inf'), 3)
  t.equal(sampleValue(text, `${insert}_count`), 3)
  t.equal(sampleValue(text, `${insert}_sum`), 0.02 + 0.5 + 0.0001)
  t.equal(sampleValue(text, 'qalqan_clickhouse_rows_total'), 351, 'the rows of every insert')

  for (const name of [kafka, insert]) {
    const bounds = samples(text, `${name}_bucket`).map((s) => ({ le: s.labels.le ?? '', count: s.value }))
    t.same(
      bounds.map((b) => b.le),
      BUCKETS,
      `${name} has the catalogue's buckets, +Inf last`,
    )
    t.ok(
      bounds.every((b, i) => i === 0 || b.count >= (bounds[i - 1]?.count ?? 0)),
      `${name}: counts never fall`,
    )
  }
})

t.test('two Metrics in one process are independent', async (t) => {
  const one = new Metrics()
  const two = new Metrics()
  t.not(one.registry, two.registry, 'a registry each')
  one.stage('decode', { received: 3 })
  one.error('http', 'rate_limited')
  one.sensorSeen('only-on-one', new Date(0))
  one.kafkaProduced(0.003)
  two.stage('decode', { received: 5 })
  two.kafkaPending(9)
  const [textOne, textTwo] = await Promise.all([one.render(), two.render()])
  assertValidExposition(t, textOne)
  assertValidExposition(t, textTwo)
  t.equal(sampleValue(textOne, 'qalqan_events_received_total{stage="decode"}'), 3)
  t.equal(sampleValue(textTwo, 'qalqan_events_received_total{stage="decode"}'), 5)
  t.equal(sampleValue(textTwo, 'qalqan_errors_total{stage="http",error_type="rate_limited"}'), undefined)
  t.notMatch(textTwo, 'only-on-one')
  t.equal(sampleValue(textTwo, 'qalqan_kafka_produce_seconds_count'), 0)
  t.equal(sampleValue(textOne, 'qalqan_kafka_pending_events'), 0)
  t.equal(sampleValue(textTwo, 'qalqan_kafka_pending_events'), 9)
  for (const text of [textOne, textTwo])
    t.match(text, '# TYPE nodejs_heap_size_used_bytes gauge\n', 'both have the runtime metrics')
  t.equal(
    register.getSingleMetric('qalqan_events_received_total'),
    undefined,
    "nothing lands in prom-client's global registry",
  )
})

t.test('GET /metrics serves the rendered exposition', async (t) => {
  const metrics = new Metrics()
  metrics.stage('http', { received: 4, sent: 4 })
  const app = createServer(createLogger('silent'), 'test', { maxBodyBytes: 1024 })
  serveMetrics(app, metrics)
  t.teardown(() => app.close())
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], metrics.contentType)
  assertValidExposition(t, response.body)
  t.equal(sampleValue(response.body, 'qalqan_events_sent_total{stage="http"}'), 4)
  t.match(response.body, '# TYPE nodejs_eventloop_lag_seconds gauge\n')
})

t.test('the docs name every catalogue metric, and no metric that does not exist', async (t) => {
  const operations = readFileSync(join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8')
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')
  for (const name of METRIC_NAMES) {
    t.ok(operations.includes(`\`${name}\``) || readme.includes(`\`${name}\``), `${name} is documented`)
  }
  const docs = [
    readme,
    ...readdirSync(join(PROJECT_ROOT, 'docs'))
      .filter((file) => file.endsWith('.md'))
      .map((file) => readFileSync(join(PROJECT_ROOT, 'docs', file), 'utf8')),
  ]
  const named = new Set(docs.flatMap((doc) => doc.match(/\bqalqan_[a-z0-9_]+/g) ?? []))
  t.ok(named.size > 0, 'the docs name metrics')
  const known = new Set<string>(METRIC_NAMES)
  for (const name of METRIC_NAMES) {
    if (CATALOGUE_TYPES[name] === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) known.add(`${name}${suffix}`)
  }
  for (const name of named) t.ok(known.has(name), `${name} in the docs is a metric`)
})
