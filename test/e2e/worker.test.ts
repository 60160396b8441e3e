import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { CanonicalEvent } from '../../schemas/event.js'
import { createClickHouse } from '../../services/clickhouse/client.js'
import { StoreDataError } from '../../services/clickhouse/errors.js'
import { ClickHouseEventStore } from '../../services/clickhouse/events.js'
import { openClickHouse } from '../../services/clickhouse/index.js'
import { connectKafka, type PartitionBatch } from '../../services/kafka/index.js'
import type { Config } from '../../services/config.js'
import { createLogger } from '../../services/logger.js'
import { Metrics } from '../../services/metrics.js'
import { startRoles, type Running } from '../../services/roles.js'
import { createStore } from '../../services/worker/store.js'
import { attackTotals, rawEventCount } from '../helpers/clickhouse.js'
import { makeEvents, produceEvents, totalsByKey } from '../helpers/events.js'
import { readTopic, testKafka, waitForGroupCaughtUp } from '../helpers/kafka.js'
import { Lockstep, MemorySender } from '../helpers/memory.js'
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

t.test('the wing refuses a lone surrogate as a data error, not one to retry', async (t) => {
  // The collector's and the worker's schemas refuse such a string; the wing must still not store it,
  // as the engine would read it as U+FFFD from the rows' UTF-8.
  const [base] = makeEvents(1, 37, Date.parse('2025-07-01T00:00:00Z'))
  if (base === undefined) throw new Error('no event')
  const event = JSON.parse(JSON.stringify(base).replace('"signature":"generated"', '"signature":"x\\ud800"'))
  t.equal(event.signature, 'x\ud800')
  const range = { topic: 'surrogate-probe', partition: 0, firstOffset: '0', lastOffset: '0' }
  const err = await new ClickHouseEventStore(reader).insert([{ offset: '0', event }], range).catch((e: unknown) => e)
  t.type(err, StoreDataError)
  t.match(err, { code: 'NOT_WELL_FORMED', message: /surrogate/ })
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

t.test(
  'plans longer than every fetch (commits lost, then a smaller fetch size): each event stored once, and the worker moves on',
  async (t) => {
    const config = await workerConfig({ QALQAN_KAFKA_TOPIC_PARTITIONS: '1', QALQAN_WORKER_FETCH_BYTES: '65536' })
    const topic = config.kafka.topics.events
    const events = makeEvents(3000, 43, Date.parse('2025-08-01T00:00:00Z'))
    // Sends of 100 events: Kafka returns whole record batches, so a fetch holds about one of them.
    await produceEvents(topic, events, { batch: 100 })
    // What a worker fetching 8 MiB at a time left before it died with its commits unsent: 0-1999
    // planned and stored, 2000-2999 planned only. This worker fetches about a hundred at a time.
    const clickhouse = await openClickHouse(config)
    t.teardown(() => clickhouse.close())
    await clickhouse.migrate()
    const stored = { topic, partition: 0, firstOffset: '0', lastOffset: '1999' }
    await clickhouse.ledger.plan(stored)
    await clickhouse.events.insert(
      events.slice(0, 2000).map((event, i) => ({ offset: String(i), event })),
      stored,
    )
    await clickhouse.ledger.plan({ topic, partition: 0, firstOffset: '2000', lastOffset: '2999' })

    await startWorker(t, config)
    await waitForGroupCaughtUp(config.worker.groupId, topic, 90_000)
    const window = ['2025-08-01 00:00:00', '2025-08-02 00:00:00'] as const
    t.same(await attackTotals(reader, 'attacks_1m', ...window), totalsByKey(events))
    t.equal(await rawEventCount(reader, topic), events.length, 'one raw row per event')
    const plans = await clickhouse.reader.rows<{ n: string | number }>(
      'SELECT count() AS n FROM worker_batches WHERE topic = {topic:String} AND first_offset < 3000',
      { topic },
    )
    t.ok(Number(plans[0]?.n) > 2, 'the two plans were split where the fetches ended')
  },
)

t.test(
  'the ledger reads the plan written first at an offset, whatever its end, and where a later plan cuts it',
  async (t) => {
    const clickhouse = await openClickHouse(testConfig())
    t.teardown(() => clickhouse.close())
    await clickhouse.migrate()
    // As a ledger from before schema step 3: every plan at an offset kept, so the reader's order decides.
    await reader.command({ query: 'SYSTEM STOP MERGES worker_batches' })
    await reader.command({
      query: 'ALTER TABLE worker_batches MODIFY SETTING non_replicated_deduplication_window = 0',
    })
    t.teardown(async () => {
      await reader.command({
        query: 'ALTER TABLE worker_batches MODIFY SETTING non_replicated_deduplication_window = 10000',
      })
      await reader.command({ query: 'SYSTEM START MERGES worker_batches' })
    })
    const topic = `ledger.${randomBytes(4).toString('hex')}`
    const plan = (first: number, last: number) =>
      clickhouse.ledger.plan({ topic, partition: 0, firstOffset: String(first), lastOffset: String(last) })
    const planned = (first: number) => clickhouse.ledger.planned({ topic, partition: 0, firstOffset: String(first) })
    await plan(100, 104)
    await plan(100, 102)
    await plan(200, 202)
    await plan(200, 204)
    await plan(203, 204)
    await plan(205, 300)
    t.same(await planned(100), { lastOffset: '104' }, 'the longer, written first')
    t.same(await planned(200), { lastOffset: '202' }, 'the shorter, written first')
    t.same(await planned(203), { lastOffset: '204' })
    t.same(await planned(150), undefined)
    await plan(250, 300)
    t.same(await planned(205), { lastOffset: '300', cutAt: '250' }, 'a plan inside another cuts it')
  },
)

/** Two stores over one engine, whose every call to it waits for the test's step. */
async function racingStores(t: Test, topic: string) {
  const config = testConfig()
  const clickhouse = await openClickHouse(config)
  t.teardown(() => clickhouse.close())
  await clickhouse.migrate()
  const lock = new Lockstep()
  const store = (name: string) => {
    const seen = lock.wrap(name, clickhouse.ledger, clickhouse.events)
    const handle = createStore({
      logger,
      metrics: new Metrics(),
      ...seen,
      rejections: new MemorySender(),
      isRunning: () => true,
      timeLimits: config.worker.timeLimits,
      dedup: config.worker.dedup,
      retryDelayMs: 1,
    })
    return (batch: PartitionBatch) => handle(batch, async () => undefined)
  }
  const steps = async (list: readonly string[]) => {
    for (const step of list) {
      const [worker = '', call = ''] = step.split(' ')
      await lock.step(worker, call)
    }
  }
  const batch = (first: number, events: readonly CanonicalEvent[]): PartitionBatch => ({
    topic,
    partition: 0,
    firstOffset: String(first),
    lastOffset: String(first + events.length - 1),
    messages: events.map((event, i) => ({ offset: String(first + i), value: Buffer.from(JSON.stringify(event)) })),
  })
  const rowsPerOffset = async () =>
    (
      await clickhouse.reader.rows<{ offset: string; n: string | number }>(
        `SELECT toString(kafka_offset) AS offset, count() AS n FROM events_raw WHERE kafka_topic = {topic:String}
         GROUP BY kafka_offset ORDER BY kafka_offset`,
        { topic },
      )
    ).map((row) => `${row.offset}:${row.n}`)
  return { clickhouse, store, steps, batch, rowsPerOffset }
}

t.test(
  'two workers that both found no plan, against the engine: B follows A, written first, and each event is stored once',
  async (t) => {
    const topic = `race.${randomBytes(4).toString('hex')}`
    const { clickhouse, store, steps, batch, rowsPerOffset } = await racingStores(t, topic)
    // A ledger from before schema step 3 keeps every plan at an offset, and a merge keeps the later:
    // both are set up here (no window, merges held off), so that the reader's own order is tested.
    await reader.command({ query: 'SYSTEM STOP MERGES worker_batches' })
    await reader.command({
      query: 'ALTER TABLE worker_batches MODIFY SETTING non_replicated_deduplication_window = 0',
    })
    t.teardown(async () => {
      await reader.command({
        query: 'ALTER TABLE worker_batches MODIFY SETTING non_replicated_deduplication_window = 10000',
      })
      await reader.command({ query: 'SYSTEM START MERGES worker_batches' })
    })
    const sent = makeEvents(7, 47, Date.parse('2025-08-02T00:00:00Z'))
    const a = store('A')
    const b = store('B')
    const storedA = a(batch(100, sent.slice(0, 5)))
    const storedB = b(batch(100, sent))
    await steps([
      'A planned',
      'B planned',
      'A plan',
      'B plan',
      'A planned',
      'B planned',
      'A recallEventIds',
      'B recallEventIds',
      'A insert',
      'B insert',
      'A planned',
      'B planned',
    ])
    t.equal(await storedA, '104')
    t.equal(await storedB, '104', "B's longer fetch is cut where A's plan ends")
    t.same(await rowsPerOffset(), ['100:1', '101:1', '102:1', '103:1', '104:1'])
    t.same(await clickhouse.ledger.planned({ topic, partition: 0, firstOffset: '100' }), { lastOffset: '104' })
  },
)

for (const first of ['A', 'B'] as const) {
  t.test(
    `against the engine, a worker with a shorter fetch splits the plan it follows; ${first} inserts first, each event once`,
    async (t) => {
      const topic = `race.${randomBytes(4).toString('hex')}`
      const { clickhouse, store, steps, batch, rowsPerOffset } = await racingStores(t, topic)
      // Schema step 3 keeps only the first plan at an offset, as the migrated table here does.
      const sent = makeEvents(5, 53, Date.parse('2025-08-03T00:00:00Z'))
      const a = store('A')
      const b = store('B')
      const storedA = a(batch(100, sent))
      const storedB = b(batch(100, sent.slice(0, 3)))
      await steps([
        'A planned',
        'B planned',
        'A plan',
        'B plan',
        'A planned',
        'B planned',
        'B plan',
        'B planned',
        'A recallEventIds',
        'B recallEventIds',
        ...(first === 'A' ? ['A insert', 'B insert'] : ['B insert', 'A insert']),
        'A planned',
        'B planned',
      ])
      t.equal(await storedA, '102', 'A sees the split after its insert')
      t.equal(await storedB, '102')
      const plans = await clickhouse.reader.rows<{ first: string; last: string }>(
        `SELECT toString(first_offset) AS first, toString(last_offset) AS last FROM worker_batches
       WHERE topic = {topic:String} ORDER BY first_offset`,
        { topic },
      )
      t.same(
        plans,
        [
          { first: '100', last: '104' },
          { first: '103', last: '104' },
        ],
        "B's plan at 100 was dropped as a copy of A's",
      )

      const rest = a(batch(103, sent.slice(3)))
      await steps([
        'A planned',
        'A plannedBefore',
        'A storedPositions',
        ...(first === 'B' ? ['A insert'] : []),
        'A planned',
      ])
      t.equal(await rest, '104')
      t.same(await rowsPerOffset(), ['100:1', '101:1', '102:1', '103:1', '104:1'])
    },
  )
}
