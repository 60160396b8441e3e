import t from 'tap'
import { CanonicalEvent } from '../../../schemas/event.js'
import { RejectedRecord } from '../../../schemas/rejected.js'
import type { EventStore, Ledger } from '../../../services/clickhouse/index.js'
import type { PartitionBatch } from '../../../services/kafka/index.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import { createStore } from '../../../services/worker/store.js'
import { makeEvents } from '../../helpers/events.js'
import { Lockstep, MemoryEventStore, MemoryLedger, MemorySender, type StoredRow } from '../../helpers/memory.js'
import { sample } from '../../helpers/metric-sample.js'

const TOPIC = 'qalqan.events'
const MINUTE = 60_000
const DAY = 86_400_000
const LIMITS = { maxFutureMs: 5 * MINUTE, maxAgeMs: 30 * DAY }
const DUPLICATES = 'qalqan_events_discarded_total{stage="store",reason="duplicate_event_id"}'
const REJECTED = 'qalqan_events_discarded_total{stage="store",reason="rejected"}'
const EVICTED = 'qalqan_worker_dedup_evicted_total'

/**
 * ClickHouse and Kafka as the workers see them. `worker()` starts a worker over the same data: a
 * second one is the first after a crash, or another process of the group. The workers' clock stands
 * still until `tick` moves it.
 */
function cluster(dedup = { windowMs: 10 * MINUTE, maxEntries: 1000 }) {
  const events = new MemoryEventStore()
  const ledger = new MemoryLedger(events)
  const rejections = new MemorySender()
  let beats = 0
  let clock = Date.parse('2026-01-01T00:00:00Z')
  const heartbeat = async () => {
    beats++
  }
  const worker = (isRunning = () => true, seen: { ledger: Ledger; events: EventStore } = { ledger, events }) => {
    const metrics = new Metrics()
    const handle = createStore({
      logger: createLogger('silent'),
      metrics,
      events: seen.events,
      ledger: seen.ledger,
      rejections,
      isRunning,
      timeLimits: LIMITS,
      dedup,
      retryDelayMs: 1,
      now: () => clock,
    })
    return { metrics, store: (batch: PartitionBatch) => handle(batch, heartbeat) }
  }
  const tick = (ms: number) => {
    clock += ms
  }
  return { events, ledger, rejections, worker, tick, beats: () => beats }
}

/** The ledger's plans as `first-last`, in the order written. */
function plans(ledger: MemoryLedger): string[] {
  return ledger.plans.map((plan) => `${plan.firstOffset}-${plan.lastOffset}`)
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

/** The rows that events read at consecutive offsets from `first` on make, as the worker reads each event. */
function rows(first: number, events: readonly CanonicalEvent[]): StoredRow[] {
  return events.map((event, i) => row(first + i, event))
}

function row(offset: number, event: CanonicalEvent): StoredRow {
  return { topic: TOPIC, partition: 0, offset: String(offset), index: 0, event: CanonicalEvent.parse(event) }
}

function at(event: CanonicalEvent, occurredMs: number): CanonicalEvent {
  return { ...event, occurred_at: new Date(occurredMs).toISOString() }
}

function arrived(event: CanonicalEvent, receivedMs: number): CanonicalEvent {
  return { ...event, occurred_at: new Date(receivedMs).toISOString(), received_at: new Date(receivedMs).toISOString() }
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
  t.same(plans(ledger), ['100-104'])
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
  t.same(plans(ledger), ['100-104'])
  t.equal(await sample(restarted.metrics, DUPLICATES), 0, 'the events of the range itself are not taken for copies')
  t.equal(await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'), 5, 'they are stored')

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
  t.same(plans(ledger), ['100-102'], 'planned before the insert was tried')

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
    t.same(plans(ledger), ['100-102'], 'the plan is not widened')

    t.equal(await restarted.store(batch(103, sent.slice(3))), '104')
    t.same(events.rows, rows(100, sent))
    t.same(plans(ledger), ['100-102', '103-104'])
    t.same([...events.tokens], [`${TOPIC}:0:100-102`, `${TOPIC}:0:103-104`])
    t.equal(await sample(restarted.metrics, 'qalqan_events_received_total{stage="store"}'), 5)
    t.equal(await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'), 5)
  },
)

t.test(
  'a refetch shorter than the planned range, after a crash that stored the range: the part is found stored, the rest too',
  async (t) => {
    const { events, ledger, rejections, worker } = cluster()
    const sent = makeEvents(5, 6)
    t.equal(await worker().store(batch(100, sent)), '104')
    const sends = rejections.calls

    // The commit was lost, and the refetch (a smaller fetch size, say) ends before the plan does.
    const restarted = worker()
    t.equal(await restarted.store(batch(100, sent.slice(0, 3))), '102', 'what the fetch holds is handled')
    t.same(plans(ledger), ['100-104', '103-104'], 'the rest of the plan is planned as a range of its own')
    t.same(events.tried, [`${TOPIC}:0:100-104`], 'the part finds its events stored, and inserts nothing')
    t.equal(events.dropped, 0)
    t.equal(await restarted.store(batch(103, sent.slice(3))), '104')
    t.equal(events.calls, 1, 'the rest finds its events stored under the whole plan, and inserts nothing')
    t.same(events.rows, rows(100, sent), 'every event once')
    t.equal(rejections.calls, sends + 2, 'an empty send of rejections per batch')
    t.equal(await sample(restarted.metrics, 'qalqan_events_received_total{stage="store"}'), 5)
    t.equal(await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'), 5)
    t.equal(await sample(restarted.metrics, DUPLICATES), 0)
  },
)

t.test(
  'a refetch shorter than the planned range, after a crash before the insert: the part goes in under the plan, the rest as its own range',
  async (t) => {
    const { events, ledger, worker } = cluster()
    const sent = makeEvents(5, 24)
    events.failNext(1)
    await t.rejects(worker(() => false).store(batch(100, sent)), {
      message: 'memory event store: insert failed (as told)',
    })

    const restarted = worker()
    t.equal(await restarted.store(batch(100, sent.slice(0, 3))), '102')
    t.same(plans(ledger), ['100-104', '103-104'])
    t.same(events.rows, rows(100, sent.slice(0, 3)))
    t.same([...events.tokens], [`${TOPIC}:0:100-104`], "the part carries the whole plan's token")

    // A worker still holding the whole range inserts it under the same token: dropped.
    await events.insert(
      sent.map((event, i) => ({ offset: String(100 + i), event })),
      { topic: TOPIC, partition: 0, firstOffset: '100', lastOffset: '104' },
    )
    t.equal(events.dropped, 1)

    // The commit of 103 is lost too: the whole range comes again, cut where the rest was planned.
    t.equal(await restarted.store(batch(100, sent)), '102', 'cut at the rest')
    t.equal(await restarted.store(batch(103, sent.slice(3))), '104')
    t.same(events.rows, rows(100, sent), 'every event once')
    t.same([...events.tokens], [`${TOPIC}:0:100-104`, `${TOPIC}:0:103-104`])
    t.equal(
      await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'),
      8,
      'the replayed part counted again',
    )
    t.equal(await sample(restarted.metrics, DUPLICATES), 0)
  },
)

t.test('a refetch shorter than the plan again and again moves on a fetch at a time', async (t) => {
  const { events, ledger, worker } = cluster()
  const sent = makeEvents(6, 25)
  await ledger.plan({ topic: TOPIC, partition: 0, firstOffset: '0', lastOffset: '5' })
  const { store } = worker()
  for (let first = 0; first < 6; first += 2)
    t.equal(await store(batch(first, sent.slice(first, first + 2))), String(first + 1))
  t.same(plans(ledger), ['0-5', '2-5', '4-5'])
  t.same(events.rows, rows(0, sent))
})

t.test('copies within the window are dropped and counted; ids first seen longer ago are forgotten', async (t) => {
  const { events, worker, tick } = cluster()
  const { metrics, store } = worker()
  const [e0, e1, e2, e3, e4] = makeEvents(5, 7) as [
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
    CanonicalEvent,
  ]

  t.equal(await store(batch(0, [e0, e1, e2, e3])), '3')
  tick(5 * MINUTE)
  t.equal(await store(batch(4, [e3, e0, e4, e4])), '7', 'copies of the last batch, and within the batch')
  t.same(events.rows, [...rows(0, [e0, e1, e2, e3]), row(6, e4)])
  t.equal(await sample(metrics, DUPLICATES), 3)

  // 11.5 minutes after e0 to e3 were first seen (their copies did not renew them), 6.5 after e4.
  tick(6.5 * MINUTE)
  t.equal(await store(batch(8, [e0, e4, e2])), '10')
  t.same(events.rows, [...rows(0, [e0, e1, e2, e3]), row(6, e4), row(8, e0), row(10, e2)])
  t.equal(await sample(metrics, DUPLICATES), 4)
})

t.test('past the most ids the window holds, the oldest are forgotten early and counted', async (t) => {
  // Slices of 125 ids: the window holds between 875 and 1,000.
  const { events, worker } = cluster({ windowMs: 10 * MINUTE, maxEntries: 1000 })
  const { metrics, store } = worker()
  const sent = makeEvents(1200, 26)
  t.equal(await store(batch(0, sent)), '1199')
  t.equal(await sample(metrics, EVICTED), 250, 'two slices forgotten early')
  t.equal(await store(batch(1200, [sent[0]!, sent[300]!])), '1201')
  t.same(events.rows.slice(1200), [row(1200, sent[0]!)], 'the window was shorter than configured: a copy got in')
  t.equal(await sample(metrics, DUPLICATES), 1)
})

t.test(
  'after a restart, copies are recognised from the ids stored within the window before the earliest arrival',
  async (t) => {
    const { events, worker } = cluster()
    const ten = Date.parse('2025-03-01T10:00:00Z')
    const [e0, e1, e2, e3, e4, e5, e6] = makeEvents(7, 8).map((e, i) =>
      arrived(e, i < 2 ? ten : ten + 20 * MINUTE),
    ) as [
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

    // Resent a minute later: e2 to e5 arrived within the ten minutes before, e0 and e1 earlier.
    const resent = (e: CanonicalEvent) => arrived(e, ten + 21 * MINUTE)
    const restarted = worker()
    t.equal(await restarted.store(batch(6, [resent(e2), resent(e1), resent(e5), resent(e6)])), '9')
    t.same(events.rows, [...rows(0, [e0, e1, e2, e3, e4, e5]), row(7, resent(e1)), row(9, resent(e6))])
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

/** A fetched batch of partition 0 from offset `first` on whose messages hold several events, a line each. */
function lines(first: number, messages: readonly (readonly (CanonicalEvent | string)[])[]): PartitionBatch {
  return {
    topic: TOPIC,
    partition: 0,
    firstOffset: String(first),
    lastOffset: String(first + messages.length - 1),
    messages: messages.map((message, i) => ({
      offset: String(first + i),
      value: Buffer.from(message.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')),
    })),
  }
}

/** The row of the event on line `index` of the message at `offset`. */
function rowAt(offset: number, index: number, event: CanonicalEvent): StoredRow {
  return { ...row(offset, event), index }
}

t.test(
  'a message of several events, a line each: each is stored with its line, and a bad line or a copy is only itself',
  async (t) => {
    const { events, rejections, worker } = cluster()
    const { metrics, store } = worker()
    const [e0, e1, e2, e3, e4] = makeEvents(5, 61) as [
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
      CanonicalEvent,
    ]
    t.equal(
      await store(
        lines(100, [[e0, e1, 'not json', e2], [e3, e1, e4], [`${JSON.stringify(e0).slice(0, -1)},"count":2}`]]),
      ),
      '102',
    )
    t.same(events.rows, [rowAt(100, 0, e0), rowAt(100, 1, e1), rowAt(100, 3, e2), rowAt(101, 0, e3), rowAt(101, 2, e4)])
    t.same(events.tried, [`${TOPIC}:0:100-102`], 'one insert for the range')
    t.same(
      rejections.rejected.map(({ reason, raw }) => ({ reason, raw })),
      [{ reason: `not valid JSON: Unexpected token 'o', "not json" is not valid JSON`, raw: 'not json' }],
      'the unreadable line alone, with its own text',
    )
    t.equal(await sample(metrics, 'qalqan_events_received_total{stage="store"}'), 8)
    t.equal(await sample(metrics, 'qalqan_events_sent_total{stage="store"}'), 5)
    t.equal(await sample(metrics, DUPLICATES), 2, 'e1 again in the next message, e0 again in the last')
    t.equal(await sample(metrics, REJECTED), 1)
  },
)

t.test('a message ends at a trailing line break; an event written over several lines is one event', async (t) => {
  const { events, rejections, worker } = cluster()
  const { store } = worker()
  const [e0, e1, e2] = makeEvents(3, 62) as [CanonicalEvent, CanonicalEvent, CanonicalEvent]
  t.equal(await store(batch(0, [`${JSON.stringify(e0)}\n${JSON.stringify(e1)}\n`, JSON.stringify(e2, null, 2)])), '1')
  t.same(events.rows, [rowAt(0, 0, e0), rowAt(0, 1, e1), rowAt(1, 0, e2)])
  t.same(rejections.rejected, [])
  t.equal(await store(batch(2, ['\n\n', `${JSON.stringify(e0)}\r\n{"v":1`])), '3')
  t.same(
    rejections.rejected.map(({ reason, raw }) => ({ reason: reason.slice(0, 14), raw })),
    [
      { reason: 'not valid JSON', raw: '' },
      { reason: 'not valid JSON', raw: '' },
      { reason: 'not valid JSON', raw: '{"v":1' },
    ],
    'empty lines inside a message are refused like empty messages; a line ending in CR is read',
  )
  t.equal(events.rows.length, 3, 'the event before CR LF is a copy of the first')
})

t.test(
  "a crash while halving one message's events: the replay names the same parts by offset and line, and stores nothing twice",
  async (t) => {
    const { events, rejections, worker } = cluster()
    const sent = makeEvents(8, 63)
    events.refuses = (event) => event.event_id === sent[6]?.event_id
    const insert = events.insert.bind(events)
    let calls = 0
    events.insert = async (...args) => {
      if (++calls === 4) throw new Error('the process died')
      return insert(...args)
    }
    const message = lines(100, [sent.slice(0, 5), sent.slice(5)])
    await t.rejects(worker(() => false).store(message), { message: 'the process died' })
    const range = `${TOPIC}:0:100-101`
    t.same(events.tried, [range, `${range}/100-100.3`, `${range}/100.4-101.2`])
    t.same(
      events.rows,
      sent.slice(0, 4).map((event, i) => rowAt(100, i, event)),
    )

    const restarted = worker()
    t.equal(await restarted.store(message), '101')
    t.same(
      events.tried.slice(3),
      [
        range,
        `${range}/100-100.3`,
        `${range}/100.4-101.2`,
        `${range}/100.4-101`,
        `${range}/101.1-101.2`,
        `${range}/101.1-101.1`,
        `${range}/101.2-101.2`,
      ],
      'the same parts under the same tokens',
    )
    t.equal(events.dropped, 1, 'the part stored before the crash is dropped as a copy')
    t.same(events.rows, [
      ...sent.slice(0, 5).map((event, i) => rowAt(100, i, event)),
      rowAt(101, 0, sent[5]!),
      rowAt(101, 2, sent[7]!),
    ])
    t.same(
      rejections.rejected.map((r) => r.raw),
      [JSON.stringify(sent[6])],
      'the refused line alone',
    )
  },
)

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
  t.same(plans(ledger), ['100-102'])
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
    ['not json', JSON.stringify(e1), 'not json'],
    'in offset order',
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

t.test(
  'a range stored by halves, then a crash and a refetch shorter than the plan: nothing is stored twice',
  async (t) => {
    const { events, rejections, worker } = cluster()
    const sent = makeEvents(4, 64)
    events.refuses = (event) => event.event_id === sent[2]?.event_id
    t.equal(await worker().store(batch(100, sent)), '103')
    t.same(events.rows, [row(100, sent[0]!), row(101, sent[1]!), row(103, sent[3]!)], 'stored by halves')
    // The commit was lost; the refetch ends before the plan does. The plan's own token was never
    // stored (its insert was refused), so the part must not go in again under it.
    const restarted = worker()
    t.equal(await restarted.store(batch(100, sent.slice(0, 2))), '101')
    t.equal(await restarted.store(batch(102, sent.slice(2))), '103')
    t.same(events.rows, [row(100, sent[0]!), row(101, sent[1]!), row(103, sent[3]!)], 'every event once')
    t.same(
      rejections.rejected.map((r) => r.raw),
      [JSON.stringify(sent[2]), JSON.stringify(sent[2])],
      'the refused row rejected again by the replay, as any replayed rejection is',
    )
    t.equal(await sample(restarted.metrics, 'qalqan_events_sent_total{stage="store"}'), 3)
  },
)

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

/** Lets the workers' calls to ClickHouse through in this order: `A planned` is worker A's next read of the ledger. */
async function interleave(lock: Lockstep, steps: readonly string[]): Promise<void> {
  for (const step of steps) {
    const [worker = '', call = ''] = step.split(' ')
    await lock.step(worker, call)
  }
}

t.test('two workers that both found no plan follow the one written first, and store each event once', async (t) => {
  const { events, ledger, worker } = cluster()
  const lock = new Lockstep()
  const a = worker(() => true, lock.wrap('A', ledger, events))
  const b = worker(() => true, lock.wrap('B', ledger, events))
  const sent = makeEvents(7, 27)

  // A rebalance: both hold partition 0 for a moment, B's fetch reaching further.
  const storedA = a.store(batch(100, sent.slice(0, 5)))
  const storedB = b.store(batch(100, sent))
  await interleave(lock, [
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
  t.equal(await storedB, '104', "B follows A's plan, written first")
  t.same(plans(ledger), ['100-104', '100-106'])
  t.same(events.tried, [`${TOPIC}:0:100-104`, `${TOPIC}:0:100-104`], 'both insert under one token')
  t.equal(events.dropped, 1)
  t.same(events.rows, rows(100, sent.slice(0, 5)), 'every event once')
})

for (const first of ['the whole plan', 'the part'] as const) {
  t.test(
    `a worker whose fetch is shorter than the plan it follows splits it; ${first} inserted first, each event is stored once`,
    async (t) => {
      const { events, ledger, worker } = cluster()
      const lock = new Lockstep()
      const a = worker(() => true, lock.wrap('A', ledger, events))
      const b = worker(() => true, lock.wrap('B', ledger, events))
      const sent = makeEvents(5, 28)

      const storedA = a.store(batch(100, sent))
      const storedB = b.store(batch(100, sent.slice(0, 3)))
      const inserts = first === 'the whole plan' ? ['A insert', 'B insert'] : ['B insert', 'A insert']
      await interleave(lock, [
        'A planned',
        'B planned',
        'A plan',
        'B plan',
        'A planned',
        'B planned',
        // B's fetch ends at 102, A's plan at 104: B plans 103-104 as a range of its own.
        'B plan',
        'B planned',
        'A recallEventIds',
        'B recallEventIds',
        ...inserts,
        'A planned',
        'B planned',
      ])
      t.equal(await storedA, '102', "A sees the split after its insert: B's part may have won the token")
      t.equal(await storedB, '102')
      t.same(plans(ledger), ['100-104', '100-102', '103-104'])
      t.equal(events.dropped, 1, 'one of the two inserts under the plan token is dropped')

      // A goes on from 103, and finds there what it stored of the rest, if its insert won.
      const rest = a.store(batch(103, sent.slice(3)))
      await interleave(lock, [
        'A planned',
        'A plannedBefore',
        'A storedPositions',
        // Nothing to insert when A's whole plan was stored.
        ...(first === 'the part' ? ['A insert'] : []),
        'A planned',
      ])
      t.equal(await rest, '104')
      t.same(
        [...events.rows].sort((x, y) => Number(x.offset) - Number(y.offset)),
        rows(100, sent),
        'every event once',
      )
    },
  )
}
