import t, { type Test } from 'tap'
import { Metrics } from '../../services/metrics.js'

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL_VALUE = String.raw`(?:[^"\\\n]|\\[\\"n])*`
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="${LABEL_VALUE}")(?:,[a-zA-Z_][a-zA-Z0-9_]*="${LABEL_VALUE}")*\\}`
const VALUE = String.raw`(?:[+-]?(?:\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+)|[+-]Inf|NaN)`
const SAMPLE = new RegExp(`^(${NAME})(${LABELS})? (${VALUE})$`)
const HELP = new RegExp(`^# HELP (${NAME}) (.*)$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)

/**
 * Checks the text exposition format line by line: HELP and TYPE once per family and before its
 * samples, every sample well formed and belonging to the family above it, no series twice.
 */
function assertValidExposition(t: Test, text: string): void {
  t.ok(text.endsWith('\n'), 'ends with a newline')
  const lines = text.split('\n').slice(0, -1)
  const families = new Map<string, string>()
  const series = new Set<string>()
  let current: { name: string; type: string } | undefined
  const problems: string[] = []
  for (const line of lines) {
    if (line === '') continue // the format ignores empty lines
    const help = HELP.exec(line)
    const type = TYPE.exec(line)
    const sample = SAMPLE.exec(line)
    if (help !== null) {
      const [, name = ''] = help
      if (families.has(name)) problems.push(`HELP for ${name} again`)
      current = { name, type: '' }
    } else if (type !== null) {
      const [, name = '', kind = ''] = type
      if (current?.name !== name || current.type !== '') problems.push(`TYPE for ${name} not right after its HELP`)
      families.set(name, kind)
      current = { name, type: kind }
    } else if (sample !== null) {
      const [, name = '', labels = ''] = sample
      const allowed = current?.type === 'histogram' ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`] : [current?.name]
      if (!allowed.includes(name)) problems.push(`sample ${name} outside its family`)
      // Prometheus reads labels as a set: the same pairs in another order are the same series.
      const pairs = [...labels.matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)="(${LABEL_VALUE})"`, 'g'))].map((m) => `${m[1]}=${m[2]}`)
      const key = `${name}{${pairs.sort().join(',')}}`
      if (series.has(key)) problems.push(`series ${key} twice`)
      series.add(key)
    } else {
      problems.push(`not a valid line: ${JSON.stringify(line.slice(0, 200))}`)
    }
  }
  t.same(problems.slice(0, 10), [], 'valid Prometheus text')
}

/** The value of one sample line, found by its exact name and label text. */
function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('an empty registry renders an empty exposition', async (t) => {
  const text = new Metrics().render()
  t.equal(text.trim(), '')
  assertValidExposition(t, text)
})

t.test('counters add, with HELP and TYPE lines', async (t) => {
  const metrics = new Metrics()
  metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: '/v1/events' })
  metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: '/v1/events' }, 4)
  metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: '/services/collector' })
  metrics.inc('qalqan_unlabelled_total', 'No labels.', {}, 2.5)
  const text = metrics.render()
  assertValidExposition(t, text)
  t.equal(
    text,
    [
      '# HELP qalqan_http_requests_total Ingest requests by route.',
      '# TYPE qalqan_http_requests_total counter',
      'qalqan_http_requests_total{route="/v1/events"} 5',
      'qalqan_http_requests_total{route="/services/collector"} 1',
      '# HELP qalqan_unlabelled_total No labels.',
      '# TYPE qalqan_unlabelled_total counter',
      'qalqan_unlabelled_total 2.5',
      '',
    ].join('\n'),
  )
})

t.test('gauges are set, not added', async (t) => {
  const metrics = new Metrics()
  const help = 'When each sensor last sent events (Unix time).'
  metrics.set('qalqan_sensor_last_seen_seconds', help, { sensor: 'astana-ids-01' }, 1_740_816_930)
  metrics.set('qalqan_sensor_last_seen_seconds', help, { sensor: 'astana-ids-01' }, 1_740_816_990)
  metrics.set('qalqan_sensor_last_seen_seconds', help, { sensor: 'almaty-hp-02' }, 0)
  const text = metrics.render()
  assertValidExposition(t, text)
  t.match(text, '# TYPE qalqan_sensor_last_seen_seconds gauge\n')
  t.equal(sampleValue(text, 'qalqan_sensor_last_seen_seconds{sensor="astana-ids-01"}'), 1_740_816_990)
  t.equal(sampleValue(text, 'qalqan_sensor_last_seen_seconds{sensor="almaty-hp-02"}'), 0, 'a gauge at zero is still rendered')
  metrics.set('qalqan_sensor_last_seen_seconds', help, { sensor: 'astana-ids-01' }, -1)
  t.equal(sampleValue(metrics.render(), 'qalqan_sensor_last_seen_seconds{sensor="astana-ids-01"}'), -1, 'and may go down')
})

t.test('label values escape quotes, backslashes and newlines', async (t) => {
  const metrics = new Metrics()
  metrics.inc('qalqan_test_total', 'Escaping.', { route: 'a"b' })
  metrics.inc('qalqan_test_total', 'Escaping.', { route: 'C:\\path\\' })
  metrics.inc('qalqan_test_total', 'Escaping.', { route: 'line1\nline2' })
  metrics.inc('qalqan_test_total', 'Escaping.', { route: '\\"\n' })
  metrics.inc('qalqan_test_total', 'Escaping.', { route: 'Қазақстан 🛡️ {x="y"}' })
  const text = metrics.render()
  assertValidExposition(t, text)
  t.match(text, 'qalqan_test_total{route="a\\"b"} 1\n')
  t.match(text, 'qalqan_test_total{route="C:\\\\path\\\\"} 1\n')
  t.match(text, 'qalqan_test_total{route="line1\\nline2"} 1\n')
  t.match(text, 'qalqan_test_total{route="\\\\\\"\\n"} 1\n', 'a backslash before a quote is escaped on its own')
  t.match(text, 'qalqan_test_total{route="Қазақстан 🛡️ {x=\\"y\\"}"} 1\n', 'UTF-8 is kept as it is')
  t.equal(text.split('\n').length, 2 + 5 + 1, 'no label value adds a line')
})

t.test('a label value cannot forge another series or label', async (t) => {
  const metrics = new Metrics()
  metrics.inc('qalqan_test_total', 'Forgery.', { sensor: 'x"} 1000\nqalqan_test_total{sensor="y' })
  metrics.inc('qalqan_test_total', 'Forgery.', { sensor: 'x",admin="true' })
  const text = metrics.render()
  assertValidExposition(t, text)
  t.equal(text.split('\n').filter((line) => line.startsWith('qalqan_test_total')).length, 2)
  t.notMatch(text, /^qalqan_test_total\{sensor="y"/m)
})

t.test('histograms: cumulative buckets, +Inf, _sum and _count', async (t) => {
  const metrics = new Metrics()
  const help = 'Seconds a request took.'
  for (const seconds of [0.0005, 0.003, 0.003, 0.2, 1, 7, 30]) metrics.observe('qalqan_request_seconds', help, { route: '/v1/events' }, seconds)
  metrics.observe('qalqan_request_seconds', help, { route: '/services/collector' }, 0.01)
  const text = metrics.render()
  assertValidExposition(t, text)
  t.match(text, '# TYPE qalqan_request_seconds histogram\n')
  const bucket = (le: string) => sampleValue(text, `qalqan_request_seconds_bucket{route="/v1/events",le="${le}"}`)
  t.equal(bucket('0.001'), 1)
  t.equal(bucket('0.0025'), 1)
  t.equal(bucket('0.005'), 3)
  t.equal(bucket('0.25'), 4)
  t.equal(bucket('1'), 5, 'a value on a bound is in that bucket (le is less or equal)')
  t.equal(bucket('5'), 5)
  t.equal(bucket('10'), 6)
  t.equal(bucket('+Inf'), 7, 'every observation is under +Inf')
  t.equal(sampleValue(text, 'qalqan_request_seconds_count{route="/v1/events"}'), 7)
  t.equal(sampleValue(text, 'qalqan_request_seconds_sum{route="/v1/events"}'), 0.0005 + 0.003 + 0.003 + 0.2 + 1 + 7 + 30)
  t.equal(sampleValue(text, 'qalqan_request_seconds_bucket{route="/services/collector",le="0.005"}'), 0)
  t.equal(sampleValue(text, 'qalqan_request_seconds_bucket{route="/services/collector",le="0.01"}'), 1)

  const bounds = text
    .split('\n')
    .filter((line) => line.startsWith('qalqan_request_seconds_bucket{route="/v1/events"'))
    .map((line) => {
      const match = /le="([^"]+)"\} (\d+)$/.exec(line)
      return { le: match?.[1] === '+Inf' ? Infinity : Number(match?.[1]), count: Number(match?.[2]) }
    })
  t.equal(bounds.at(-1)?.le, Infinity, '+Inf is the last bucket')
  t.ok(bounds.every((b, i) => i === 0 || (b.le > (bounds[i - 1]?.le ?? 0) && b.count >= (bounds[i - 1]?.count ?? 0))), 'bounds rise and counts never fall')
})

t.test('stage() counts received, sent and discarded under the stage label', async (t) => {
  const metrics = new Metrics()
  metrics.stage('decode', { received: 10, sent: 7, discarded: 2, discardReason: 'not_an_attack' })
  metrics.stage('decode', { received: 5, sent: 5 })
  metrics.stage('enrich', { received: 3, sent: 3, discarded: 1 })
  metrics.stage('idle', { received: 0, sent: 0, discarded: 0 })
  const text = metrics.render()
  assertValidExposition(t, text)
  t.equal(sampleValue(text, 'qalqan_events_received_total{stage="decode"}'), 15)
  t.equal(sampleValue(text, 'qalqan_events_sent_total{stage="decode"}'), 12)
  t.equal(sampleValue(text, 'qalqan_events_discarded_total{stage="decode",reason="not_an_attack"}'), 2)
  t.equal(sampleValue(text, 'qalqan_events_received_total{stage="enrich"}'), 3)
  t.equal(sampleValue(text, 'qalqan_events_discarded_total{stage="enrich",reason="unknown"}'), 1, 'a discard without a reason is labelled unknown')
  t.notMatch(text, 'stage="idle"', 'zero counts make no series')
  for (const name of ['qalqan_events_received_total', 'qalqan_events_sent_total', 'qalqan_events_discarded_total']) {
    t.match(text, `# TYPE ${name} counter\n`)
  }
})

t.test('error() counts by stage and a bounded error type', async (t) => {
  const metrics = new Metrics()
  metrics.error('http', 'rate_limited')
  metrics.error('decode', 'invalid_event', 3)
  metrics.error('decode', 'invalid_event', 2)
  const text = metrics.render()
  assertValidExposition(t, text)
  t.match(text, '# TYPE qalqan_errors_total counter\n')
  t.equal(sampleValue(text, 'qalqan_errors_total{stage="http",error_type="rate_limited"}'), 1)
  t.equal(sampleValue(text, 'qalqan_errors_total{stage="decode",error_type="invalid_event"}'), 5)
})

t.test('the same labels in another order are the same series', async (t) => {
  const metrics = new Metrics()
  metrics.inc('qalqan_test_total', 'Order.', { stage: 'decode', reason: 'x' })
  metrics.inc('qalqan_test_total', 'Order.', { reason: 'x', stage: 'decode' })
  const text = metrics.render()
  assertValidExposition(t, text)
  t.equal(text.split('\n').filter((line) => line.startsWith('qalqan_test_total{')).length, 1)
})

t.test('at most 10,000 series per family: hostile label values cannot grow memory', async (t) => {
  const metrics = new Metrics()
  metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: 'first' })
  for (let i = 0; i < 50_000; i++) metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: `/hostile/${i}` })
  metrics.inc('qalqan_http_requests_total', 'Ingest requests by route.', { route: 'first' }, 9)
  metrics.inc('qalqan_other_total', 'Another family.', { route: 'kept' })
  for (let i = 0; i < 20_000; i++) metrics.observe('qalqan_request_seconds', 'Seconds.', { route: `/hostile/${i}` }, 0.1)
  const text = metrics.render()
  const lines = text.split('\n')
  t.equal(lines.filter((line) => line.startsWith('qalqan_http_requests_total{')).length, 10_000)
  t.equal(sampleValue(text, 'qalqan_http_requests_total{route="first"}'), 10, 'a series made before the cap still counts')
  t.equal(sampleValue(text, 'qalqan_http_requests_total{route="/hostile/9998"}'), 1)
  t.equal(sampleValue(text, 'qalqan_http_requests_total{route="/hostile/9999"}'), undefined, 'series past the cap are not made')
  t.equal(sampleValue(text, 'qalqan_other_total{route="kept"}'), 1, 'the cap is per family')
  t.equal(lines.filter((line) => line.startsWith('qalqan_request_seconds_count{')).length, 10_000, 'histograms are capped too')
  const internals = metrics as unknown as { families: Map<string, { series: Map<string, unknown> }> }
  t.equal(internals.families.get('qalqan_http_requests_total')?.series.size, 10_000, 'nothing past the cap is held')
  t.equal(internals.families.get('qalqan_request_seconds')?.series.size, 10_000)
  assertValidExposition(t, text)
})
