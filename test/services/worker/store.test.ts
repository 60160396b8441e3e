import t from 'tap'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { RejectedRecord } from '../../../schemas/rejected.js'
import type { PartitionBatch } from '../../../services/kafka/index.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { createStore } from '../../../services/worker/store.js'
import { makeEvents } from '../../helpers/events.js'
import { MemoryEventStore, MemoryLedger, MemorySender, type StoredRow } from '../../helpers/memory.js'
import { sample } from '../../helpers/metric-sample.js'

const TOPIC = 'qalqan.events'
const MINUTE = 60_000
const DAY = 86_400_000
const LIMITS = { maxFutureMs: 5 * MINUTE, maxAgeMs: 30 * DAY }
const DUPLICATES = 'qalqan_events_discarded_total{stage="store",reason="duplicate_event_id"}'
const REJECTED = 'qalqan_events_discarded_total{stage="store",reason="rejected"}'

/**
 * ClickHouse and Kafka as the workers see them. `worker()` starts a worker over the same data: a
 * second one is the first after a crash, or another process of the group.
 */
function cluster(dedupWindow = 1000) {
  const events = new MemoryEventStore()
  const ledger = new MemoryLedger(events)
  const rejections = new MemorySender()
  let beats = 0
  const heartbeat = async () => {
    beats++
  }
  const worker = (isRunning = () => true) => {
    const metrics = new Metrics()
    const handle = createStore({
      logger: createLogger('silent'),
      metrics,
      events,
      ledger,
      rejections,
      isRunning,
      timeLimits: LIMITS,
      dedupWindow,
      retryDelayMs: 1,
    })
    return { metrics, store: (batch: PartitionBatch) => handle(batch, heartbeat) }
  }
  return { events, ledger, rejections, worker, beats: () => beats }
}

/** A fetched batch of partition 0 from offset `first` on: events as JSON, strings as they are, null as a null value. */
function batch(first: number, values: readonly (CanonicalEvent | string | null)[]): PartitionBatch {
  const messages = values.map((value, i) => ({
    offset: String(first + i),
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  }))
  return {
    topic: TOPIC,
    partition: 0,
    firstOffset: String(first),
    lastOffset: String(first + values.length - 1),
    messages,
  }
}

/** The rows that events read at consecutive offsets from `first` on make. */
function rows(first: number, events: readonly CanonicalEvent[]): StoredRow[] {
  return events.map((event, i) => ({ topic: TOPIC, partition: 0, offset: String(first + i), event }))
}

function row(offset: number, event: CanonicalEvent): StoredRow {
  return { topic: TOPIC, partition: 0, offset: String(offset), event }
}

function at(event: CanonicalEvent, occurredMs: number): CanonicalEvent {
  return { ...event, occurred_at: new Date(occurredMs).toISOString() }
}

t.test('a batch is planned in the ledger, then stored once with exactly its rows', async (t) => {
  const { events, ledger, worker } = cluster()
  const order: string[] = []
  const plan = ledger.plan.bind(ledger)
  ledger.plan = async (range) => {
    order.push(`plan ${range.firstOffset}-${range.lastOffset} with ${events.rows.length} rows stored`)
    await plan(range)
  }
  const insert = events.insert.bind(events)
  events.insert = async (offsetEvents, range) => {
    order.push(`insert ${offsetEvents.length} events as ${range.firstOffset}-${range.lastOffset}`)
    await insert(offsetEvents, range)
  }
  const { metrics, store } = worker()
  const sent = makeEvents(5, 1)

  t.equal(await store(batch(100, sent)), '104', 'the last offset stored')
  t.same(order, ['plan 100-104 with 0 rows stored', 'insert 5 events as 100-104'])
  t.same(events.rows, rows(100, sent))
  t.same([...events.tokens], [`${TOPIC}:0:100-104`])
  t.same([...ledger.planned], [[`${TOPIC}:0:100`, '104']])
  t.equal(await sample(metrics, 'qalqan_events_received_total{stage="store"}'), 5)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 5)
  t.equal(await sample(metrics, 'qalqan_clickhouse_rows_total'), 5)
  t.equal(await sample(metrics, 'qalqan_clickhouse_insert_seconds_count'), 1)
  t.equal(await sample(metrics, DUPLICATES), 0)
  t.equal(await sample(metrics, REJECTED), 0)
})

t.test('a replay after a crash between the insert and the commit stores nothing twice', async (t) => {
  const { events, ledger, worker } = cluster()
  const sent = makeEvents(5, 2)
  const first = worker()
  t.equal(await first.store(batch(100, sent)), '104')

  // The offset commit was lost with the process: a new worker is handed the same batch.
  const restarted = worker()
  t.equal(await restarted.store(batch(100, sent)), '104', 'the replay may be committed')
  t.equal(events.calls, 2)
  t.equal(events.dropped, 1, 'inserted again under the same token, and dropped')
  t.same(events.rows, rows(100, sent), 'every event once')
  t.same([...ledger.planned], [[`${TOPIC}:0:100`, '104']])
  t.equal(await sample(restarted.metrics, DUPLICATES), 0, 'the events of the range itself are not taken for copies')

  // Only the commit failed, and Kafka hands the same worker its batch again.
  const more = makeEvents(2, 3)
  t.equal(await restarted.store(batch(105, more)), '106')
  t.equal(await restarted.store(batch(105, more)), '106')
  t.equal(events.dropped, 2)
  t.same(events.rows, [...rows(100, sent), ...rows(105, more)])
})

t.test('a crash after planning but before the insert: the replay stores the planned range, once', async (t) => {
  const { events, ledger, worker } = cluster()
  const sent = makeEvents(5, 4)
  events.failNext(1)
  const stopping = worker(() => false)
  await t.rejects(stopping.store(batch(100, sent.slice(0, 3))), {
    message: 'memory event store: insert failed (as told)',
  })
  t.same(events.rows, [])
  t.same([...ledger.planned], [[`${TOPIC}:0:100`, '102']], 'planned before the insert was tried')

  const restarted = worker()
  t.equal(await restarted.store(batch(100, sent)), '102', 'cut where the plan ended')
  t.same(events.rows, rows(100, sent.slice(0, 3)))
  t.equal(events.dropped, 0)
})

t.test(
  'a refetch longer than the planned range is cut at its last offset, and the rest is the next batch',
  async (t) => {
    const { events, ledger, worker } = cluster()
    const sent = makeEvents(5, 5)
    t.equal(await worker().store(batch(100, sent.slice(0, 3))), '102')

    // More arrived meanwhile: the refetch after the crash reaches further than the stored range.
    const restarted = worker()
    t.equal(await restarted.store(batch(100, sent)), '102', 'only the planned range is handled')
    t.equal(events.dropped, 1, 'and dropped as the copy it is')
    t.same(events.rows, rows(100, sent.slice(0, 3)))
    t.equal(
      await sample(restarted.metrics, 'qalqan_events_received_total{stage="store"}'),
      3,
      'messages after the cut are not counted',
    )
    t.same([...ledger.planned], [[`${TOPIC}:0:100`, '102']], 'the plan is not widened')

    t.equal(await restarted.store(batch(103, sent.slice(3))), '104')
    t.same(events.rows, rows(100, sent))
    t.same(
      [...ledger.planned],
      [
        [`${TOPIC}:0:100`, '102'],
        [`${TOPIC}:0:103`, '104'],
      ],
    )
    t.same([...events.tokens], [`${TOPIC}:0:100-102`, `${TOPIC}:0:103-104`])
    t.equal(await sample(restarted.metrics, 'qalqan_events_received_total{stage="store"}'), 5)
    t.equal(await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'), 5)
  },
)

t.test('a refetch shorter than the planned range throws, so that Kafka fetches again', async (t) => {
  const { events, ledger, rejections, worker } = cluster()
  const sent = makeEvents(5, 6)
  t.equal(await worker().store(batch(100, sent)), '104')
  const sends = rejections.calls

  const restarted = worker()
  await t.rejects(restarted.store(batch(100, sent.slice(0, 3))), {
    message: `replayed batch ${TOPIC}:0:100 was planned to end at 104 but the fetch ended at 102`,
  })
  t.equal(events.calls, 1, 'no insert was tried')
  t.equal(rejections.calls, sends, 'nothing was sent')
  t.same([...ledger.planned], [[`${TOPIC}:0:100`, '104']], 'the plan is not narrowed')
  t.equal(await sample(restarted.metrics, 'qalqan_events_received_total{stage="store"}'), 0)

  t.equal(await restarted.store(batch(100, sent)), '104', 'the whole refetch is handled')
  t.equal(events.dropped, 1)
  t.same(events.rows, rows(100, sent))
})

t.test('copies of an event id within the window are dropped and counted; older ones are not remembered', async (t) => {
  const { events, worker } = cluster(4)
  const { metrics, store } = worker()
  const [e0, e1, e2, e3, e4] = makeEvents(5, 7) as [
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
  ]

  t.equal(await store(batch(0, [e0, e1, e2, e3])), '3')
  t.equal(await store(batch(4, [e3, e0, e4, e4])), '7', 'copies of the last batch, and within the batch')
  t.same(events.rows, [...rows(0, [e0, e1, e2, e3]), row(6, e4)])
  t.equal(await sample(metrics, DUPLICATES), 3)
  t.equal(await sample(metrics, 'qalqan_events_received_total{stage="store"}'), 8)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 5)

  // The window holds the last 4 ids stored, e1 to e4: e0 has left it, e2 has not.
  t.equal(await store(batch(8, [e0, e2])), '9')
  t.same(events.rows, [...rows(0, [e0, e1, e2, e3]), row(6, e4), row(8, e0)])
  t.equal(await sample(metrics, DUPLICATES), 4)
})

t.test(
  'after a restart, copies are recognised from the ids stored at the window of offsets before the batch',
  async (t) => {
    const { events, worker } = cluster(4)
    const [e0, e1, e2, e3, e4, e5, e6] = makeEvents(7, 8) as [
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
    ]
    const first = worker()
    t.equal(await first.store(batch(0, [e0, e1, e2, e3])), '3')
    t.equal(await first.store(batch(4, [e4, e5])), '5')

    // Offsets 2 to 5 are recalled, e2 to e5; e1 is older than the window.
    const restarted = worker()
    t.equal(await restarted.store(batch(6, [e2, e1, e5, e6])), '9')
    t.same(events.rows, [...rows(0, [e0, e1, e2, e3, e4, e5]), row(7, e1), row(9, e6)])
    t.equal(await sample(restarted.metrics, DUPLICATES), 2)
    t.equal(await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'), 2)
  },
)

t.test('a partition back from another worker recalls what that worker stored meanwhile', async (t) => {
  const { events, worker } = cluster()
  const [e0, e1, e2, e3, e4] = makeEvents(5, 9) as [
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
  ]
  const a = worker()
  const b = worker()
  t.equal(await a.store(batch(0, [e0, e1])), '1')
  t.equal(await b.store(batch(2, [e2, e3])), '3')
  t.equal(await a.store(batch(4, [e3, e4])), '5')
  t.same(events.rows, [...rows(0, [e0, e1, e2, e3]), row(5, e4)])
  t.equal(await sample(a.metrics, DUPLICATES), 1)
})

t.test('unreadable messages go to the rejected topic with their raw text, and the rest is stored', async (t) => {
  const { events, rejections, worker } = cluster()
  const { metrics, store } = worker()
  const [e0, e1, e2] = makeEvents(3, 10) as [CanonicalEvent, CanonicalEvent, CanonicalEvent]
  const proto = `{"__proto__":{"polluted":true},${JSON.stringify(e2).slice(1)}`
  const before = Date.now()
  t.equal(await store(batch(100, [e0, 'not json', null, '{"v":2}', proto, e1])), '105')
  const after = Date.now()

  t.same(events.rows, [row(100, e0), row(105, e1)])
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype was polluted')
  t.equal(rejections.calls, 1, 'all in one send')
  t.same(rejections.events, [])
  t.same(
    rejections.rejected.map(({ reason, raw }) => ({ reason, raw })),
    [
      { reason: `not valid JSON: Unexpected token 'o', "not json" is not valid JSON`, raw: 'not json' },
      { reason: 'not valid JSON: Unexpected end of JSON input', raw: '' },
      {
        reason:
          'not a canonical event: v: Invalid input: expected 1; event_id: Invalid input: expected string, received undefined; occurred_at: Invalid input: expected string, received undefined; received_at: Invalid input: expected string, received undefined; sensor_id: Invalid input: expected string, received undefined; and 9 more',
        raw: '{"v":2}',
      },
      { reason: 'not a canonical event: unknown field(s) "__proto__"', raw: proto },
    ],
  )
  for (const record of rejections.rejected) {
    t.ok(RejectedRecord.safeParse(record).success, `a valid rejected record: ${record.raw.slice(0, 20)}`)
    t.match(record, { stage: 'store', format: 'canonical', sensor_id: null, index: null })
    const received = Date.parse(record.received_at)
    t.ok(received >= before && received <= after, 'received_at is when the worker refused it')
  }
  t.equal(await sample(metrics, 'qalqan_events_received_total{stage="store"}'), 6)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 2)
  t.equal(await sample(metrics, REJECTED), 4)
  t.equal(await sample(metrics, DUPLICATES), 0)
})

t.test('an absurd time, measured against received_at, is rejected; the limits themselves are not', async (t) => {
  const { events, rejections, worker } = cluster()
  const { metrics, store } = worker()
  const [base] = makeEvents(1, 11) as [CanonicalEvent]
  const received = Date.parse(base.received_at)
  t.ok(Date.now() - received > LIMITS.maxAgeMs, 'the events are older than the horizon, counted from now')
  const [e0, e1, e2, e3] = makeEvents(4, 12).map((e) => ({ ...e, received_at: base.received_at })) as [
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
  ]
  const future = at(e0, received + LIMITS.maxFutureMs + 1)
  const latest = at(e1, received + LIMITS.maxFutureMs)
  const old = at(e2, received - LIMITS.maxAgeMs - 1)
  const oldest = at(e3, received - LIMITS.maxAgeMs)

  t.equal(await store(batch(0, [future, latest, old, oldest])), '3')
  t.same(events.rows, [row(1, latest), row(3, oldest)])
  t.same(
    rejections.rejected.map(({ reason, sensor_id, raw }) => ({ reason, sensor_id, raw })),
    [
      {
        reason: `occurred_at ${future.occurred_at} is more than 300 s after the event was received (${base.received_at}): the sensor's clock is wrong (QALQAN_WORKER_MAX_FUTURE_SECONDS)`,
        sensor_id: 'test-sensor',
        raw: JSON.stringify(future),
      },
      {
        reason: `occurred_at ${old.occurred_at} is more than 30 days before the event was received (${base.received_at}): older than the horizon (QALQAN_WORKER_MAX_AGE_DAYS)`,
        sensor_id: 'test-sensor',
        raw: JSON.stringify(old),
      },
    ],
  )
  for (const record of rejections.rejected) {
    t.ok(RejectedRecord.safeParse(record).success, 'a valid rejected record')
    t.match(record, { stage: 'store', format: 'canonical', index: null })
  }
  t.equal(await sample(metrics, REJECTED), 2)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 2)
})

t.test('a failing insert is tried again until ClickHouse takes it, keeping the group membership', async (t) => {
  const { events, ledger, worker, beats } = cluster()
  const { metrics, store } = worker()
  const sent = makeEvents(3, 13)
  events.failNext(3)
  t.equal(await store(batch(100, sent)), '102')
  t.equal(events.calls, 4)
  t.same(events.rows, rows(100, sent))
  t.same([...ledger.planned], [[`${TOPIC}:0:100`, '102']])
  t.equal(beats(), 3, 'a heartbeat after each wait')
  t.equal(await sample(metrics, 'qalqan_worker_retries_total{what="writing events to ClickHouse"}'), 3)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 3)
})

t.test('a failing insert stops being tried once the process stops, and nothing is counted', async (t) => {
  const { events, worker } = cluster()
  const { metrics, store } = worker(() => events.calls < 3)
  events.failNext(100)
  await t.rejects(store(batch(100, makeEvents(3, 14))), { message: 'memory event store: insert failed (as told)' })
  t.equal(events.calls, 3, 'tried until the process stopped')
  t.same(events.rows, [])
  t.equal(await sample(metrics, 'qalqan_worker_retries_total{what="writing events to ClickHouse"}'), 2)
  t.equal(await sample(metrics, 'qalqan_events_received_total{stage="store"}'), 0)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 0)
})

t.test('a batch that failed while stopping and is handed to the same worker again is stored whole', async (t) => {
  // kafkajs tries a batch again when its handler throws, until the consumer is closed.
  const { events, worker } = cluster()
  const { metrics, store } = worker(() => false)
  const [e0, e1, e2] = makeEvents(3, 16) as [CanonicalEvent, CanonicalEvent, CanonicalEvent]
  t.equal(await store(batch(0, [e0])), '0')
  events.failNext(1)
  await t.rejects(store(batch(1, [e1, e2, e0])), { message: 'memory event store: insert failed (as told)' })
  t.equal(await store(batch(1, [e1, e2, e0])), '3')
  t.same(events.rows, [row(0, e0), row(1, e1), row(2, e2)], 'not taken for copies of themselves')
  t.equal(await sample(metrics, DUPLICATES), 1, 'the copy of e0 is still recognised')
})

t.test('a failing send of rejections is tried again, and each rejection is sent once', async (t) => {
  const { events, rejections, worker } = cluster()
  const { metrics, store } = worker()
  const [e0] = makeEvents(1, 15) as [CanonicalEvent]
  rejections.failNext(2)
  t.equal(await store(batch(0, [e0, 'not json'])), '1')
  t.equal(rejections.calls, 3)
  t.same(
    rejections.rejected.map((r) => r.raw),
    ['not json'],
  )
  t.same(events.rows, [row(0, e0)])
  t.equal(await sample(metrics, 'qalqan_worker_retries_total{what="writing rejected events to Kafka"}'), 2)
})

t.test('rows ClickHouse refuses are found by halving and rejected with its reason; the rest is stored', async (t) => {
  const { events, rejections, worker } = cluster()
  const { metrics, store } = worker()
  const sent = makeEvents(8, 17)
  const bad = new Set([sent[2]?.event_id, sent[5]?.event_id])
  events.refuses = (event) => bad.has(event.event_id)

  t.equal(await store(batch(100, sent)), '107')
  t.same(
    events.rows,
    rows(100, sent).filter((r) => !bad.has(r.event.event_id)),
    'every other event, once',
  )
  const range = `${TOPIC}:0:100-107`
  t.same(
    events.tried,
    [
      range,
      `${range}/100-103`,
      `${range}/100-101`,
      `${range}/102-103`,
      `${range}/102-102`,
      `${range}/103-103`,
      `${range}/104-107`,
      `${range}/104-105`,
      `${range}/104-104`,
      `${range}/105-105`,
      `${range}/106-107`,
    ],
    'each part under a token of its own, named by the range and its offsets',
  )
  t.same(
    rejections.rejected.map(({ reason, stage, sensor_id, raw }) => ({ reason, stage, sensor_id, raw })),
    [102, 105].map((offset) => ({
      reason: `ClickHouse refused the event (INCORRECT_DATA): memory event store: refused the row at offset ${offset}`,
      stage: 'store',
      sensor_id: 'test-sensor',
      raw: JSON.stringify(sent[offset - 100]),
    })),
  )
  t.equal(await sample(metrics, 'qalqan_events_received_total{stage="store"}'), 8)
  t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 6)
  t.equal(await sample(metrics, 'qalqan_clickhouse_rows_total'), 6)
  t.equal(await sample(metrics, REJECTED), 2)
  t.equal(
    await sample(metrics, 'qalqan_worker_retries_total{what="writing events to ClickHouse"}'),
    0,
    'a refusal is not retried',
  )
})

t.test('a lone event that ClickHouse refuses is rejected without a part', async (t) => {
  const { events, rejections, worker } = cluster()
  const [e0, e1] = makeEvents(2, 18) as [CanonicalEvent, CanonicalEvent]
  events.refuses = (event) => event.event_id === e1.event_id
  const { store } = worker()
  t.equal(await store(batch(0, [e0, 'not json'])), '1')
  t.equal(await store(batch(2, [e1, 'not json'])), '3')
  t.same(events.rows, [row(0, e0)])
  t.same(events.tried, [`${TOPIC}:0:0-1`, `${TOPIC}:0:2-3`])
  t.same(
    rejections.rejected.map((r) => r.raw),
    ['not json', 'not json', JSON.stringify(e1)],
  )
})

t.test('transport errors while halving are retried and counted; the refusals are not', async (t) => {
  const { events, rejections, worker } = cluster()
  const { metrics, store } = worker()
  const sent = makeEvents(4, 19)
  events.refuses = (event) => event.event_id === sent[3]?.event_id
  const insert = events.insert.bind(events)
  events.insert = async (...args) => {
    // ClickHouse goes away after the first refusal, for two tries.
    if (events.calls === 1) events.failNext(2)
    return insert(...args)
  }
  t.equal(await store(batch(0, sent)), '3')
  t.same(events.rows, rows(0, sent.slice(0, 3)))
  t.same(
    rejections.rejected.map((r) => r.raw),
    [JSON.stringify(sent[3])],
  )
  t.equal(await sample(metrics, 'qalqan_worker_retries_total{what="writing events to ClickHouse"}'), 2)
})

t.test('a crash in the middle of the halving: the replay tries the same parts and stores nothing twice', async (t) => {
  const { events, rejections, worker } = cluster()
  const sent = makeEvents(8, 20)
  events.refuses = (event) => event.event_id === sent[6]?.event_id
  const insert = events.insert.bind(events)
  let calls = 0
  events.insert = async (...args) => {
    // The process dies at the fourth insert: after 100-103 was stored, while 104-107 is being halved.
    if (++calls === 4) throw new Error('the process died')
    return insert(...args)
  }
  await t.rejects(worker(() => false).store(batch(100, sent)), { message: 'the process died' })
  const range = `${TOPIC}:0:100-107`
  t.same(events.tried, [range, `${range}/100-103`, `${range}/104-107`])
  t.same(events.rows, rows(100, sent.slice(0, 4)), 'the first half was stored')
  t.same(rejections.rejected, [])

  const restarted = worker()
  t.equal(await restarted.store(batch(100, sent)), '107')
  t.same(
    events.tried.slice(3),
    [
      range,
      `${range}/100-103`,
      `${range}/104-107`,
      `${range}/104-105`,
      `${range}/106-107`,
      `${range}/106-106`,
      `${range}/107-107`,
    ],
    'the same parts under the same tokens',
  )
  t.equal(events.dropped, 1, 'the half stored before the crash is dropped as a copy')
  t.same(events.rows, [...rows(100, sent.slice(0, 4)), ...rows(104, sent.slice(4, 6)), row(107, sent[7]!)])
  t.same(
    rejections.rejected.map((r) => r.raw),
    [JSON.stringify(sent[6])],
  )
})

t.test('a copy of a refused event is tried again, not dropped as a copy of something stored', async (t) => {
  const { events, rejections, worker } = cluster()
  const { metrics, store } = worker()
  const [e0, e1] = makeEvents(2, 21) as [CanonicalEvent, CanonicalEvent]
  events.refuses = (event) => event.event_id === e1.event_id
  t.equal(await store(batch(0, [e0, e1])), '1')
  t.equal(await store(batch(2, [e1, e0])), '3')
  t.same(events.rows, [row(0, e0)])
  t.same(
    rejections.rejected.map((r) => r.raw),
    [JSON.stringify(e1), JSON.stringify(e1)],
  )
  t.equal(await sample(metrics, DUPLICATES), 1, 'only the copy of e0')
})

t.test('copies are recognised by sensor and event id: another sensor may use the same id', async (t) => {
  const { events, worker } = cluster()
  const [e0, e1] = makeEvents(2, 22) as [CanonicalEvent, CanonicalEvent]
  const other = { ...e0, sensor_id: 'other-sensor' }
  const first = worker()
  t.equal(await first.store(batch(0, [e0, other, e0, e1])), '3')
  t.same(events.rows, [row(0, e0), row(1, other), row(3, e1)])
  t.equal(await sample(first.metrics, DUPLICATES), 1, 'the same sensor twice counts once')

  // After a restart, the recalled ids carry their sensor too.
  const restarted = worker()
  const third = { ...e0, sensor_id: 'third-sensor' }
  t.equal(await restarted.store(batch(4, [other, third, e0, { ...e1, sensor_id: 'other-sensor' }])), '7')
  t.same(events.rows, [
    row(0, e0),
    row(1, other),
    row(3, e1),
    row(5, third),
    row(7, { ...e1, sensor_id: 'other-sensor' }),
  ])
  t.equal(await sample(restarted.metrics, DUPLICATES), 2)
})
