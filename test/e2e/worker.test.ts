import t, { type Test } from 'tap'
import { createClickHouse } from '../../services/clickhouse/client.js'
import { StoreDataError } from '../../services/clickhouse/errors.js'
import { ClickHouseEventStore } from '../../services/clickhouse/events.js'
import { connectKafka } from '../../services/kafka/index.js'
import type { Config } from '../../services/config.js'
import { createLogger } from '../../services/logger.js'
import { startRoles, type Running } from '../../services/roles.js'
import { attackTotals, rawEventCount } from '../helpers/clickhouse.js'
import { makeEvents, produceEvents, totalsByKey } from '../helpers/events.js'
import { readTopic, testKafka, waitForGroupCaughtUp } from '../helpers/kafka.js'
import { testConfig } from '../helpers/stack.js'

const logger = createLogger('warn')
const reader = await createClickHouse(testConfig())
t.teardown(() => reader.close())

async function workerConfig(settings: Record<string, string> = {}): Promise<Config> {
  const config = testConfig({ QALQAN_ROLE: 'worker', QALQAN_WORKER_SESSION_TIMEOUT_MS: '6000', ...settings })
  await connectKafka(config, logger).ensureTopics()
  return config
}

async function startWorker(t: Test, config: Config): Promise<Running> {
  const running = await startRoles(config, logger)
  t.teardown(() => running.close())
  return running
}

t.test('the same events produced twice (same event ids) are counted once, also across a restart', async (t) => {
  const config = await workerConfig()
  const start = Date.parse('2025-04-01T00:00:00Z')
  const events = makeEvents(3000, 11, start)
  await produceEvents(config.kafka.topics.events, events)
  await produceEvents(config.kafka.topics.events, events.slice(0, 1500))
  const first = await startWorker(t, config)
  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)
  await first.close()

  // A resend after the worker restarted: the copies' originals are recalled from ClickHouse.
  await produceEvents(config.kafka.topics.events, events.slice(2000))
  await startWorker(t, config)
  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)

  const window = ['2025-04-01 00:00:00', '2025-04-02 00:00:00'] as const
  t.same(await attackTotals(reader, 'attacks_1m', ...window), totalsByKey(events))
  t.same(await attackTotals(reader, 'attacks_1h', ...window), totalsByKey(events), 'the hourly rollup agrees')
  t.same(await attackTotals(reader, 'attacks_1d', ...window), totalsByKey(events), 'the daily rollup agrees')
  t.equal(await rawEventCount(reader, config.kafka.topics.events), events.length, 'one raw row per event')
})

t.test(
  'late and out-of-order events land in their own window; absurd times and unreadable messages are rejected with a reason',
  async (t) => {
    const config = await workerConfig({ QALQAN_WORKER_MAX_AGE_DAYS: '7', QALQAN_WORKER_MAX_FUTURE_SECONDS: '600' })
    const [base] = makeEvents(1, 5, Date.parse('2025-05-01T00:00:00Z'), 1)
    if (base === undefined) throw new Error('no event')
    const at = (occurred: string, received: string, count: number) => ({
      ...base,
      event_id: crypto.randomUUID(),
      occurred_at: occurred,
      received_at: received,
      count,
    })
    const inOrder = at('2025-05-01T10:05:00.000Z', '2025-05-01T10:05:01.000Z', 3)
    const late = at('2025-05-01T10:01:00.000Z', '2025-05-01T11:30:00.000Z', 5)
    const daysLate = at('2025-04-27T10:00:00.000Z', '2025-05-01T10:06:00.000Z', 7)
    const future = at('2025-05-01T12:00:00.000Z', '2025-05-01T10:06:00.000Z', 11)
    const ancient = at('2025-04-01T10:00:00.000Z', '2025-05-01T10:06:00.000Z', 13)
    const producer = testKafka().producer()
    await producer.connect()
    await producer.send({
      topic: config.kafka.topics.events,
      messages: [
        ...[inOrder, late, daysLate, future, ancient].map((e) => ({ key: e.event_id, value: JSON.stringify(e) })),
        { key: 'x', value: '{not json' },
        { key: 'y', value: JSON.stringify({ ...inOrder, severity: 9 }) },
        {
          key: 'z',
          value: `{"__proto__":{"polluted":true},${JSON.stringify({ ...inOrder, event_id: crypto.randomUUID() }).slice(1)}`,
        },
        { key: 'w', value: null },
      ],
    })
    await producer.disconnect()
    await startWorker(t, config)
    await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)

    const minute = (start: string) => {
      const end = new Date(Date.parse(`${start.replace(' ', 'T')}Z`) + 60_000)
        .toISOString()
        .slice(0, 19)
        .replace('T', ' ')
      return attackTotals(reader, 'attacks_1m', start, end)
    }
    const key = `${base.sector}|${base.region}|${base.category}|${base.severity}|${base.src_country}`
    t.same(await minute('2025-05-01 10:05:00'), { [key]: 3 }, 'in order')
    t.same(await minute('2025-05-01 10:01:00'), { [key]: 5 }, 'late by an hour, in its own minute')
    t.same(await minute('2025-04-27 10:00:00'), { [key]: 7 }, 'late by days, within the horizon')

    const rejected = (await readTopic(config.kafka.topics.rejected, 6)).map((value) => JSON.parse(value))
    const reasons = rejected.map((r) => r.reason as string)
    t.equal(rejected.length, 6)
    t.ok(
      reasons.some((r) => /more than 600 s after the event was received.*QALQAN_WORKER_MAX_FUTURE_SECONDS/.test(r)),
      'the future',
    )
    t.ok(
      reasons.some((r) => /more than 7 days before.*QALQAN_WORKER_MAX_AGE_DAYS/.test(r)),
      'beyond the horizon',
    )
    t.ok(
      reasons.some((r) => /^not valid JSON/.test(r)),
      'not JSON',
    )
    t.ok(
      reasons.some((r) => /^not a canonical event: severity/.test(r)),
      'not canonical',
    )
    t.ok(
      reasons.some((r) => /^not a canonical event: .*__proto__/.test(r)),
      'hostile keys',
    )
    t.ok(
      rejected.every((r) => r.stage === 'store' && typeof r.raw === 'string'),
      'each keeps its original text',
    )
    t.equal(({} as Record<string, unknown>)['polluted'], undefined)
  },
)

t.test('two workers in one group, one stopped in the middle of the stream: exact totals', async (t) => {
  const config = await workerConfig({ QALQAN_KAFKA_TOPIC_PARTITIONS: '4', QALQAN_WORKER_FETCH_BYTES: '65536' })
  const events = makeEvents(20_000, 23, Date.parse('2025-06-01T00:00:00Z'))
  const a = await startWorker(t, config)
  await startWorker(t, config)
  const streaming = produceEvents(config.kafka.topics.events, events, { batch: 500, pauseMs: 50 })
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await a.close()
  await streaming
  await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)
  t.same(await attackTotals(reader, 'attacks_1m', '2025-06-01 00:00:00', '2025-06-02 00:00:00'), totalsByKey(events))
  t.equal(await rawEventCount(reader, config.kafka.topics.events), events.length)
})

t.test('the engine refuses a lone surrogate as a data error, not one to retry', async (t) => {
  // The collector's and the worker's schemas refuse such a string now; the wing must still tell it apart.
  const [base] = makeEvents(1, 37, Date.parse('2025-07-01T00:00:00Z'))
  if (base === undefined) throw new Error('no event')
  const event = JSON.parse(JSON.stringify(base).replace('"signature":"generated"', '"signature":"x\\ud800"'))
  t.equal(event.signature, 'x\ud800')
  const range = { topic: 'surrogate-probe', partition: 0, firstOffset: '0', lastOffset: '0' }
  const err = await new ClickHouseEventStore(reader).insert([{ offset: '0', event }], range).catch((e: unknown) => e)
  t.type(err, StoreDataError)
  t.match(err, { code: 'CANNOT_PARSE_ESCAPE_SEQUENCE', message: /surrogate/ })
  t.equal(await rawEventCount(reader, range.topic), 0, 'nothing of the insert was stored')
})

t.test(
  'a row ClickHouse refuses, in the middle of a stream, is rejected with its reason; the rest is stored',
  async (t) => {
    const config = await workerConfig()
    const events = makeEvents(2000, 29, Date.parse('2025-07-01T00:00:00Z'))
    // A row that the worker's schema takes and the engine refuses: a CHECK constraint, as the lone
    // surrogate that once did so is now refused by the schema before it reaches the engine.
    const poisonSignature = `e2e-poison-${config.worker.groupId}`
    await reader.command({
      query: `ALTER TABLE events_raw ADD CONSTRAINT IF NOT EXISTS e2e_poison CHECK signature != '${poisonSignature}'`,
    })
    t.teardown(() => reader.command({ query: 'ALTER TABLE events_raw DROP CONSTRAINT IF EXISTS e2e_poison' }))
    const [base] = makeEvents(1, 31, Date.parse('2025-07-01T00:00:00Z'))
    if (base === undefined) throw new Error('no event')
    const poison = JSON.stringify({ ...base, signature: poisonSignature })
    // Another sensor reusing an event id is its own event; the same sensor's copy is not.
    const other = { ...events[7]!, sensor_id: 'other-sensor' }
    const producer = testKafka().producer()
    await producer.connect()
    const send = (messages: { key: string; value: string }[]) =>
      producer.send({ topic: config.kafka.topics.events, acks: -1, messages })
    const message = (e: (typeof events)[number]) => ({ key: e.event_id, value: JSON.stringify(e) })
    await send(events.slice(0, 1000).map(message))
    await send([{ key: base.event_id, value: poison }, message(other), message(events[8]!)])
    await send(events.slice(1000).map(message))
    await producer.disconnect()
    await startWorker(t, config)
    await waitForGroupCaughtUp(config.worker.groupId, config.kafka.topics.events)

    const window = ['2025-07-01 00:00:00', '2025-07-02 00:00:00'] as const
    const stored = [...events, other]
    t.same(await attackTotals(reader, 'attacks_1m', ...window), totalsByKey(stored))
    t.same(await attackTotals(reader, 'attacks_1d', ...window), totalsByKey(stored), 'the daily rollup agrees')
    t.equal(await rawEventCount(reader, config.kafka.topics.events), stored.length, 'one raw row per event')

    const rejected = (await readTopic(config.kafka.topics.rejected, 2, 5000)).map((value) => JSON.parse(value))
    t.equal(rejected.length, 1, 'only the poison')
    t.match(rejected[0], {
      stage: 'store',
      sensor_id: base.sensor_id,
      reason: /^ClickHouse refused the event \(VIOLATED_CONSTRAINT\): .*e2e_poison/,
      raw: poison,
    })
  },
)
