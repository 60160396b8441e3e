import t from 'tap'
import { CanonicalEvent, type SensorEvent } from '../../../schemas/event.js'
import { RejectedRecord } from '../../../schemas/rejected.js'
import type { DecodedRecord } from '../../../services/collector/decode/decoded.js'
import { ingest, type IngestDeps } from '../../../services/collector/ingest.js'
import { RateLimiter } from '../../../services/collector/rate-limit.js'
import { QalqanError } from '../../../services/errors.js'
import { hashToken, type Sensor } from '../../../services/http/tokens.js'
import { Metrics } from '../../../services/metrics.js'
import { MemorySender } from '../../helpers/memory.js'
import { sample } from '../../helpers/metric-sample.js'

const SENSOR: Sensor = {
  id: 'test-ids-astana',
  token_sha256: hashToken('test-sensor-astana'),
  type: 'ids',
  org: 'Test E-Gov Astana',
  sector: 'government',
  region: 'KZ-71',
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const ATTACK: SensorEvent = {
  event_id: '0b7c1a52-3f7e-4d1c-9a51-2a9c3f1e5b10',
  occurred_at: '2025-03-01T10:15:30+05:00',
  category: 'bruteforce',
  severity: 3,
  signature: 'SSH login failed',
  src_ip: '203.0.113.10',
  src_port: 40000,
  dst_ip: '198.51.100.20',
  dst_port: 22,
  protocol: 'TCP',
  count: 1,
}

/** The collector's dependencies around a MemorySender; enrich marks what it saw. */
function collector(limiter = new RateLimiter(1_000, 10_000)) {
  const kafka = new MemorySender()
  const metrics = new Metrics()
  const enriched: string[] = []
  const deps: IngestDeps = {
    kafka,
    metrics,
    rateLimiter: limiter,
    enrich: (event) => {
      enriched.push(event.event_id)
      return { ...event, src_country: 'CN' }
    },
    // The fixtures are dated 2025: a horizon that reaches them.
    timeLimits: { maxFutureMs: 3_600_000, maxAgeMs: 3650 * 86_400_000 },
  }
  return { kafka, metrics, enriched, deps }
}

/** Decoded records with their raw text `record N`, and which records' raw text was asked for. */
function records(decoded: readonly DecodedRecord['decoded'][]) {
  const rawAsked: number[] = []
  const list = decoded.map((d, index) => ({
    index,
    decoded: d,
    raw: () => {
      rawAsked.push(index)
      return `record ${index}`
    },
  }))
  return { list, rawAsked }
}

t.test(
  'events are normalized from the sensor, never the body, enriched, and sent with the rejections at once',
  async (t) => {
    const { kafka, metrics, enriched, deps } = collector()
    // A decoder cannot let these through (SensorEvent is strict); normalize must ignore them all the same.
    const claims = {
      ...ATTACK,
      event_id: undefined,
      protocol: undefined,
      sensor_id: 'evil',
      sensor_type: 'waf',
      org: 'Evil Org',
      sector: 'finance',
      region: 'KZ-75',
    } as SensorEvent
    const { list, rawAsked } = records([
      { kind: 'event', event: ATTACK },
      { kind: 'skipped', reason: 'a flow record, not an alert' },
      { kind: 'invalid', reason: 'src_ip: must be an IPv4 or IPv6 address' },
      { kind: 'event', event: { ...ATTACK, occurred_at: '2025-02-30T10:00:00Z' } },
      { kind: 'event', event: claims },
    ])
    const before = Date.now()
    const result = await ingest(list, SENSOR, 'suricata', deps)
    const after = Date.now()

    t.same(result, {
      accepted: 2,
      skipped: 1,
      rejected: [
        { index: 2, reason: 'src_ip: must be an IPv4 or IPv6 address' },
        { index: 3, reason: 'occurred_at: 2025-02-30T10:00:00Z is not a real date' },
      ],
    })
    t.equal(kafka.calls, 1, 'one send for events and rejections')
    t.equal(kafka.events.length, 2)
    const receivedAt = kafka.events[0]?.received_at ?? ''
    t.ok(Date.parse(receivedAt) >= before && Date.parse(receivedAt) <= after, 'received_at is when the request came')
    const generatedId = kafka.events[1]?.event_id ?? ''
    t.match(generatedId, UUID, 'an event without an id gets one derived from its record')
    t.not(generatedId, ATTACK.event_id)
    const canonical = {
      v: 1,
      received_at: receivedAt,
      sensor_id: 'test-ids-astana',
      sensor_type: 'ids',
      category: 'bruteforce',
      severity: 3,
      signature: 'SSH login failed',
      src_ip: '203.0.113.10',
      src_port: 40000,
      dst_ip: '198.51.100.20',
      dst_port: 22,
      src_country: 'CN',
      src_scope: 'public',
      org: 'Test E-Gov Astana',
      sector: 'government',
      region: 'KZ-71',
      count: 1,
      time_source: 'event',
    }
    t.same(kafka.events, [
      { ...canonical, event_id: ATTACK.event_id, occurred_at: '2025-03-01T05:15:30.000Z', protocol: 'tcp' },
      { ...canonical, event_id: generatedId, occurred_at: '2025-03-01T05:15:30.000Z' },
    ])
    for (const event of kafka.events) t.ok(CanonicalEvent.safeParse(event).success, `${event.event_id} is canonical`)
    t.same(enriched, [ATTACK.event_id, generatedId], 'every accepted event, and only those, was enriched')

    t.same(kafka.rejected, [
      {
        reason: 'src_ip: must be an IPv4 or IPv6 address',
        stage: 'decode',
        format: 'suricata',
        sensor_id: 'test-ids-astana',
        index: 2,
        received_at: receivedAt,
        raw: 'record 2',
        raw_bytes: 8,
        raw_sha256: '55f3858e9bf30865a06984a61ea4e7c0f078549cd1106a11281ab39ff8cd7801',
      },
      {
        reason: 'occurred_at: 2025-02-30T10:00:00Z is not a real date',
        stage: 'normalize',
        format: 'suricata',
        sensor_id: 'test-ids-astana',
        index: 3,
        received_at: receivedAt,
        raw: 'record 3',
        raw_bytes: 8,
        raw_sha256: '7322e1c393bf2dffd7c20450a6b421b8681388696b5faee4e5d21cf2d358eb58',
      },
    ])
    for (const record of kafka.rejected)
      t.ok(RejectedRecord.safeParse(record).success, `rejection ${record.index} is a valid rejected record`)
    t.same(rawAsked, [2, 3, 4], 'the raw text is made only for rejections and events without an id')

    t.equal(await sample(metrics, 'qalqan_events_received_total{stage="decode"}'), 5)
    t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="decode"}'), 2)
    t.equal(await sample(metrics, 'qalqan_events_discarded_total{stage="decode",reason="not_an_attack"}'), 1)
    t.equal(await sample(metrics, 'qalqan_errors_total{stage="decode",error_type="invalid_event"}'), 2)
    t.equal(
      await sample(metrics, 'qalqan_sensor_last_seen_seconds{sensor="test-ids-astana"}'),
      Math.floor(Date.parse(receivedAt) / 1000),
    )
    t.equal(await sample(metrics, 'qalqan_sensor_events_total{sensor="test-ids-astana",outcome="accepted"}'), 2)
    t.equal(await sample(metrics, 'qalqan_sensor_events_total{sensor="test-ids-astana",outcome="rejected"}'), 2)
  },
)

t.test('the answer lists the first 100 rejections; every rejection is sent', async (t) => {
  const { kafka, metrics, deps } = collector()
  const decoded: DecodedRecord['decoded'][] = Array.from({ length: 150 }, (_, i) => ({
    kind: 'invalid',
    reason: `bad record ${i}`,
  }))
  decoded.push({ kind: 'event', event: ATTACK })
  const result = await ingest(records(decoded).list, SENSOR, 'cef', deps)

  t.equal(result.accepted, 1)
  t.equal(result.skipped, 0)
  t.same(
    result.rejected,
    Array.from({ length: 100 }, (_, i) => ({ index: i, reason: `bad record ${i}` })),
  )
  t.same(
    kafka.rejected.map((r) => [r.index, r.reason, r.raw, r.stage, r.format]),
    Array.from({ length: 150 }, (_, i) => [i, `bad record ${i}`, `record ${i}`, 'decode', 'cef']),
  )
  t.same(
    kafka.events.map((e) => e.event_id),
    [ATTACK.event_id],
  )
  t.equal(await sample(metrics, 'qalqan_errors_total{stage="decode",error_type="invalid_event"}'), 150)
  t.equal(await sample(metrics, 'qalqan_sensor_events_total{sensor="test-ids-astana",outcome="rejected"}'), 150)
  t.equal(await sample(metrics, 'qalqan_sensor_events_total{sensor="test-ids-astana",outcome="accepted"}'), 1)
})

t.test('a sensor over its rate limit is refused with Retry-After before anything is sent', async (t) => {
  const now = 1_740_800_000_000
  const { kafka, metrics, enriched, deps } = collector(new RateLimiter(2, 4, () => now))
  const four = records(
    Array.from({ length: 4 }, () => ({ kind: 'event', event: { ...ATTACK, event_id: undefined } }) as const),
  )
  t.equal((await ingest(four.list, SENSOR, 'canonical-json', deps)).accepted, 4, 'the burst is taken')

  // Three records, one of them skipped: every record counts against the limit.
  const three = records([
    { kind: 'event', event: ATTACK },
    { kind: 'skipped', reason: 'not an attack' },
    { kind: 'invalid', reason: 'bad' },
  ])
  const refused = ingest(three.list, SENSOR, 'canonical-json', deps)
  await t.rejects(refused, {
    name: 'QalqanError',
    code: 'QLQ_ERR_RATE_LIMITED',
    status: 429,
    retryAfterSeconds: 2,
    message: 'sensor test-ids-astana sends faster than its rate limit: retry in 2 s',
  })
  t.ok((await refused.catch((err: unknown) => err)) instanceof QalqanError)
  t.equal(kafka.calls, 1, 'nothing more was sent')
  t.equal(kafka.events.length, 4)
  t.same(kafka.rejected, [])
  t.equal(enriched.length, 4)
  t.same(three.rawAsked, [])
  t.equal(await sample(metrics, 'qalqan_errors_total{stage="http",error_type="rate_limited"}'), 1)
  t.equal(
    await sample(metrics, 'qalqan_events_received_total{stage="decode"}'),
    4,
    'the refused records are not counted as received',
  )
  t.equal(await sample(metrics, 'qalqan_errors_total{stage="decode",error_type="invalid_event"}'), 0)
})

t.test('a failing send propagates its error: nothing is accepted, and the sensor is not marked seen', async (t) => {
  const { kafka, metrics, deps } = collector()
  const { list } = records([
    { kind: 'event', event: ATTACK },
    { kind: 'invalid', reason: 'bad' },
  ])
  kafka.failNext(1)
  await t.rejects(ingest(list, SENSOR, 'cowrie', deps), {
    name: 'QalqanError',
    code: 'QLQ_ERR_KAFKA_UNAVAILABLE',
    message: 'memory sender: send failed (as told)',
  })
  t.equal(kafka.calls, 1)
  t.same(kafka.events, [])
  t.same(kafka.rejected, [])
  t.equal(await sample(metrics, 'qalqan_sensor_last_seen_seconds{sensor="test-ids-astana"}'), 0)
  t.equal(
    await sample(metrics, 'qalqan_sensor_events_total{sensor="test-ids-astana",outcome="rejected"}'),
    0,
    'a request answered 503 is not counted: it is sent again',
  )

  // The sensor sends the request again: its event keeps its id, so the worker can drop a copy.
  t.same(await ingest(list, SENSOR, 'cowrie', deps), {
    accepted: 1,
    skipped: 0,
    rejected: [{ index: 1, reason: 'bad' }],
  })
  t.same(
    kafka.events.map((e) => e.event_id),
    [ATTACK.event_id],
  )
  t.equal(kafka.rejected.length, 1)
})

t.test('an event the sensor gave no id gets the same id when the record is sent again', async (t) => {
  const { kafka, deps } = collector()
  const unnamed = { ...ATTACK, event_id: undefined }
  const request = () =>
    records([
      { kind: 'event', event: unnamed },
      { kind: 'event', event: unnamed },
    ]).list
  await ingest(request(), SENSOR, 'suricata', deps)
  await ingest(request(), SENSOR, 'suricata', deps)
  await ingest(request(), { ...SENSOR, id: 'test-ids-almaty' }, 'suricata', deps)
  const ids = kafka.events.map((e) => e.event_id)
  for (const id of ids) t.match(id, UUID)
  t.same(ids.slice(2, 4), ids.slice(0, 2), 'the resend has the ids of the first send')
  t.not(ids[0], ids[1], 'records with other texts (record 0, record 1) are other events')
  t.not(ids[4], ids[0], "another sensor's record is another event")
})

t.test('with an Idempotency-Key, ids come from the key and the index, not the text', async (t) => {
  const { kafka, deps } = collector()
  const unnamed = { ...ATTACK, event_id: undefined }
  const same = (): DecodedRecord[] =>
    [0, 1].map((index) => ({ index, decoded: { kind: 'event', event: unnamed }, raw: () => 'the same line' }))
  await ingest(same(), SENSOR, 'cef', deps, { idempotencyKey: 'batch-42' })
  await ingest(same(), SENSOR, 'cef', deps, { idempotencyKey: 'batch-42' })
  await ingest(same(), SENSOR, 'cef', deps)
  const ids = kafka.events.map((e) => e.event_id)
  t.not(ids[0], ids[1], 'the same line twice in a keyed request counts twice')
  t.same(ids.slice(2, 4), ids.slice(0, 2), 'the request sent again under its key has the same ids')
  t.equal(ids[4], ids[5], 'without a key the same line twice is one event')
})

t.test('an event at a time the worker would drop is rejected at normalize, naming the setting', async (t) => {
  const { kafka, deps } = collector()
  const now = Date.now()
  const at = (ms: number) => ({ ...ATTACK, occurred_at: new Date(ms).toISOString() })
  const { list } = records([
    { kind: 'event', event: at(now) },
    { kind: 'event', event: at(now + 2 * 3_600_000) },
    { kind: 'event', event: { ...ATTACK, occurred_at: '0000-01-01T00:00:00Z' } },
    { kind: 'event', event: { ...ATTACK, occurred_at: new Date(now).toISOString().replace('Z', '+23:59') } },
  ])
  const result = await ingest(list, SENSOR, 'canonical-json', deps)
  t.equal(result.accepted, 1)
  t.match(result.rejected, [
    { index: 1, reason: /is more than 3600 s after the event was received .*QALQAN_WORKER_MAX_FUTURE_SECONDS/ },
    { index: 2, reason: /is more than 3650 days before the event was received .*QALQAN_WORKER_MAX_AGE_DAYS/ },
    { index: 3, reason: 'occurred_at: UTC offset +23:59 is beyond ±14:00, so the clock is not in any zone' },
  ])
  t.same(
    kafka.rejected.map((r) => [r.index, r.stage]),
    [
      [1, 'normalize'],
      [2, 'normalize'],
      [3, 'normalize'],
    ],
  )
})

t.test('enrich is handed the sensor that sent the event, whose registration says whom it may file under', async (t) => {
  const { kafka, deps } = collector()
  const handed: Sensor[] = []
  const { list } = records([{ kind: 'event', event: ATTACK }])
  await ingest(list, SENSOR, 'canonical-json', {
    ...deps,
    enrich: (event, sensor) => {
      handed.push(sensor)
      return event
    },
  })
  t.equal(handed.length, 1)
  t.equal(handed[0], SENSOR, 'the authenticated registration itself')
  t.equal(kafka.events.length, 1)
})

t.test('an event standing for more occurrences than QALQAN_COLLECTOR_MAX_COUNT is rejected, naming it', async (t) => {
  const { kafka, enriched, deps } = collector()
  const { list } = records([
    { kind: 'event', event: { ...ATTACK, count: 100 } },
    { kind: 'event', event: { ...ATTACK, event_id: '7d1b8f0e-8a4c-4f0e-9a51-2a9c3f1e5b11', count: 101 } },
    { kind: 'event', event: { ...ATTACK, event_id: '7d1b8f0e-8a4c-4f0e-9a51-2a9c3f1e5b12', count: 1_000_000 } },
  ])
  const result = await ingest(list, SENSOR, 'canonical-json', { ...deps, maxCount: 100 })
  t.equal(result.accepted, 1, 'a count at the ceiling is accepted')
  const reason = (count: number) =>
    `count: ${count} is above 100, the most one event may stand for (QALQAN_COLLECTOR_MAX_COUNT): send it as several events, or ask the operator to raise the ceiling`
  t.same(result.rejected, [
    { index: 1, reason: reason(101) },
    { index: 2, reason: reason(1_000_000) },
  ])
  t.same(
    kafka.rejected.map((r) => [r.index, r.stage, r.raw]),
    [
      [1, 'normalize', 'record 1'],
      [2, 'normalize', 'record 2'],
    ],
  )
  t.same(
    kafka.events.map((e) => e.count),
    [100],
  )
  t.same(enriched, [ATTACK.event_id], 'a rejected event is not enriched (nor counted as refused attribution)')

  const unlimited = collector()
  await ingest(records([{ kind: 'event', event: { ...ATTACK, count: 1_000_000 } }]).list, SENSOR, 'cef', unlimited.deps)
  t.same(
    unlimited.kafka.events.map((e) => e.count),
    [1_000_000],
    'without a ceiling, the schema bounds count',
  )
})

t.test('each sensor clock skew is observed: receive time minus event time, negative when ahead', async (t) => {
  const { metrics, deps } = collector()
  const receivedAt = new Date('2025-03-01T12:00:00.000Z')
  /** A record whose time is `skew` seconds before its arrival. */
  const skewed = (skew: number, timeSource?: 'header' | 'envelope' | 'received') =>
    ({
      kind: 'event',
      event: {
        ...ATTACK,
        event_id: undefined,
        occurred_at: new Date(receivedAt.getTime() - skew * 1000).toISOString(),
      },
      ...(timeSource === undefined ? {} : { timeSource }),
    }) as const
  const { list } = records([
    skewed(-30), // the sensor's clock 30 s ahead
    skewed(2),
    skewed(120, 'header'),
    skewed(4000, 'envelope'),
    skewed(-7200), // two hours ahead: rejected by the time rule, observed all the same
    skewed(0, 'received'), // a time the collector filled in says nothing of the sensor's clock
    { kind: 'invalid', reason: 'occurred_at: missing' },
    {
      kind: 'event',
      event: { ...ATTACK, occurred_at: '2025-03-01T12:00:00+23:00' }, // refused for its offset, within the limits
    },
  ])
  const result = await ingest(list, SENSOR, 'cef', deps, { receivedAt })
  t.equal(result.accepted, 5)
  t.same(
    result.rejected.map((r) => r.index),
    [4, 6, 7],
  )

  const series = 'qalqan_sensor_clock_skew_seconds'
  const bucket = (le: string) => sample(metrics, `${series}_bucket{sensor="test-ids-astana",le="${le}"}`)
  const cumulative: [string, number][] = [
    ['-3600', 1],
    ['-600', 1],
    ['-60', 1],
    ['-5', 2],
    ['5', 3],
    ['60', 3],
    ['600', 4],
    ['3600', 4],
    ['18000', 5],
    ['+Inf', 5],
  ]
  for (const [le, count] of cumulative) t.equal(await bucket(le), count, `le=${le}`)
  t.equal(await sample(metrics, `${series}_count{sensor="test-ids-astana"}`), 5)
  t.equal(await sample(metrics, `${series}_sum{sensor="test-ids-astana"}`), -30 + 2 + 120 + 4000 - 7200)
})

t.test('no clock skew is observed for a request Kafka did not take', async (t) => {
  const { kafka, metrics, deps } = collector()
  kafka.failNext(1)
  const { list } = records([{ kind: 'event', event: ATTACK }])
  await t.rejects(ingest(list, SENSOR, 'cef', deps))
  t.equal(await sample(metrics, 'qalqan_sensor_clock_skew_seconds_count{sensor="test-ids-astana"}'), 0)
  await ingest(list, SENSOR, 'cef', deps)
  t.equal(
    await sample(metrics, 'qalqan_sensor_clock_skew_seconds_count{sensor="test-ids-astana"}'),
    1,
    'the resend is observed once',
  )
})
