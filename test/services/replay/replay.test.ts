import { Writable } from 'node:stream'
import t from 'tap'
import { CanonicalEvent } from '../../../schemas/event.js'
import { type RejectedRecord, rawFields } from '../../../schemas/rejected.js'
import type { Ledger } from '../../../services/clickhouse/index.js'
import { recordEventId } from '../../../services/collector/event-id.js'
import { RateLimiter } from '../../../services/collector/rate-limit.js'
import { TokenRegistry } from '../../../services/http/tokens.js'
import type { EventSender, TopicMessage } from '../../../services/kafka/index.js'
import { createLogger } from '../../../services/logger.js'
import { Metrics } from '../../../services/metrics.js'
import type { Filters } from '../../../services/replay/filters.js'
import { HEC_RAW_UNKNOWN } from '../../../services/replay/redecode.js'
import { Replay, type ReplayDeps } from '../../../services/replay/replay.js'
import { MemoryEventStore, MemoryLedger, MemorySender } from '../../helpers/memory.js'
import { TOKENS_FILE } from '../../helpers/stack.js'
import {
  CEF_ALLOWED,
  CEF_BROKEN,
  CEF_SCAN_WITHOUT_ZONE,
  CEF_WITHOUT_ZONE,
  cutRejection,
  RECEIVED_AT,
  rejection,
} from './records.js'

const registry = TokenRegistry.fromFile(TOKENS_FILE)

/** A Replay over a MemorySender; the log lines it writes are kept. */
function replay(
  options: {
    filters?: Filters
    dryRun?: boolean
    progressEvery?: number
    sender?: EventSender
    stored?: Pick<Ledger, 'storedEventIds'>
  } = {},
) {
  const sender = new MemorySender()
  const logs: Record<string, unknown>[] = []
  const enrichedFor: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line))
      done()
    },
  })
  const deps: ReplayDeps = {
    logger: createLogger('info', stream),
    sensors: (id) => registry.sensor(id),
    events: options.sender ?? sender,
    stored: options.stored,
    ingest: {
      metrics: new Metrics(),
      rateLimiter: new RateLimiter(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY),
      enrich: (event, sensor) => {
        enrichedFor.push(sensor.id)
        return event
      },
      timeLimits: { maxFutureMs: 600_000, maxAgeMs: 3650 * 86_400_000 },
    },
    decode: { maxDepth: 16, timeZone: 'Asia/Almaty' },
    filters: options.filters ?? {},
    dryRun: options.dryRun ?? false,
    progressEvery: options.progressEvery ?? 10_000,
    sendBatch: 2,
  }
  return { replay: new Replay(deps), sender, logs, enrichedFor }
}

let offset = 0
function messages(...values: (RejectedRecord | string | null)[]): TopicMessage[] {
  return values.map((value) => ({
    partition: 0,
    offset: String(offset++),
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  }))
}

t.test('a CEF record refused for its time without a zone is replayed as the collector reads it now', async (t) => {
  const { replay: r, sender, enrichedFor } = replay()
  await r.take(messages(rejection(CEF_WITHOUT_ZONE)))
  t.equal(sender.events.length, 1)
  t.same(enrichedFor, ['test-fw-atyrau'], "enriched with its sensor's registration")
  const event = CanonicalEvent.parse(sender.events[0])
  t.equal(event.event_id, recordEventId('test-fw-atyrau', CEF_WITHOUT_ZONE), 'the id the collector derives')
  t.equal(event.occurred_at, '2024-03-14T04:44:10.000Z', "read in the sensor's zone (Asia/Atyrau, UTC+5)")
  t.equal(event.received_at, RECEIVED_AT, 'received when it first arrived')
  t.match(event, {
    sensor_id: 'test-fw-atyrau',
    sensor_type: 'firewall',
    org: 'Test Refinery Atyrau',
    sector: 'energy',
  })
  t.equal(sender.rejected.length, 0, 'nothing goes to the rejected topic')
  t.match(r.summary(), { read: 1, matched: 1, replayed: 1, stillRejected: { total: 0 } })
})

t.test("the sensor's zone of today's registry decides: a sensor without one takes the default zone", async (t) => {
  const { replay: r, sender } = replay()
  await r.take(messages(rejection(CEF_WITHOUT_ZONE, { sensor_id: 'test-ids-astana' })))
  // 09:44:10 in Almaty (UTC+5 since 2024-03-01): the default of this replay.
  t.equal(sender.events[0]?.occurred_at, '2024-03-14T04:44:10.000Z')
  t.equal(sender.events[0]?.event_id, recordEventId('test-ids-astana', CEF_WITHOUT_ZONE))
})

t.test('replayed twice, a record has the same id; an id the sensor gave is kept', async (t) => {
  const { replay: r, sender } = replay()
  const given = {
    event_id: '0b7c1a52-3f7e-4d1c-9a51-2a9c3f1e5b10',
    occurred_at: '2024-03-14T09:44:10+05:00',
    category: 'exploit',
    severity: 3,
    signature: 'Log4j',
    src_ip: '203.0.113.80',
  }
  const canonical = rejection(JSON.stringify(given), { format: 'canonical-ndjson', reason: 'an older schema' })
  await r.take(messages(rejection(CEF_WITHOUT_ZONE), canonical))
  await r.take(messages(rejection(CEF_WITHOUT_ZONE), canonical))
  t.same(
    sender.events.map((event) => event.event_id),
    [
      recordEventId('test-fw-atyrau', CEF_WITHOUT_ZONE),
      given.event_id,
      recordEventId('test-fw-atyrau', CEF_WITHOUT_ZONE),
      given.event_id,
    ],
  )
})

t.test('records still refused are counted by their reason now, and never written anywhere', async (t) => {
  const { replay: r, sender } = replay()
  await r.take(
    messages(
      rejection(CEF_BROKEN),
      rejection(CEF_BROKEN, { index: 3 }),
      rejection('{"occurred_at":"2024-03-14T09:44:10+05:00"}', { format: 'canonical-json' }),
      rejection(CEF_WITHOUT_ZONE, { format: 'hec-raw' }),
      rejection(CEF_WITHOUT_ZONE, { format: 'netflow' }),
      rejection(CEF_ALLOWED),
    ),
  )
  t.equal(sender.events.length + sender.rejected.length + sender.calls, 0)
  const summary = r.summary()
  t.match(summary, { matched: 6, replayed: 0, notAttacks: 1, stillRejected: { total: 5 } })
  t.same(summary.stillRejected.reasons[0], {
    reason: 'the CEF header has fewer than 7 pipe-separated fields',
    count: 2,
  })
  const reasons = summary.stillRejected.reasons.map(({ reason }) => reason)
  t.ok(reasons.includes(HEC_RAW_UNKNOWN), 'a hec-raw record names the sourcetype it lacks')
  t.ok(reasons.includes('no decoder for the format "netflow"'))
  t.match(reasons.join('\n'), /category/, 'the canonical event names its missing fields')
})

t.test('cut records and records of sensors no longer registered are reported, not produced', async (t) => {
  const { replay: r, sender } = replay()
  await r.take(
    messages(
      cutRejection(CEF_WITHOUT_ZONE),
      rejection(CEF_WITHOUT_ZONE, { sensor_id: 'retired-sensor' }),
      rejection(CEF_SCAN_WITHOUT_ZONE, { sensor_id: 'retired-sensor' }),
      rejection(CEF_WITHOUT_ZONE, { sensor_id: null }),
      rejection(CEF_SCAN_WITHOUT_ZONE),
    ),
  )
  t.equal(sender.events.length, 1, 'only the whole record of a known sensor')
  t.match(r.summary(), {
    matched: 5,
    cut: 1,
    replayed: 1,
    unknownSensor: {
      total: 3,
      sensors: [
        { sensor: 'retired-sensor', count: 2 },
        { sensor: '(none)', count: 1 },
      ],
    },
  })
})

t.test('hostile messages are skipped with a count, and the replay goes on', async (t) => {
  const { replay: r, sender, logs } = replay()
  const good = rejection(CEF_WITHOUT_ZONE)
  await r.take(
    messages(
      null,
      '',
      'not json at all',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      '{"reason":"x"}',
      JSON.stringify({ ...good, extra: 1 }),
      JSON.stringify({ ...good, sensor_id: 's'.repeat(10_000) }),
      JSON.stringify({ ...good, index: 1e300, received_at: 'yesterday' }),
      JSON.stringify({ ...good, ...rawFields('y'.repeat(200_000), Number.POSITIVE_INFINITY) }),
      JSON.stringify({ ...good, raw: good.raw.replace('Terminate', 'Terminat3') }),
      JSON.stringify({ ...good, raw_bytes: 3 }),
      // A huge value where it does no harm: the reason is only matched against the filters.
      { ...good, reason: 'r'.repeat(900_000) },
      good,
    ),
  )
  t.equal(sender.events.length, 2, 'the records after them are replayed')
  t.match(r.summary(), {
    read: 13,
    matched: 2,
    unreadable: { total: 11, empty: 2, not_json: 1, wrong_shape: 6, raw_mismatch: 2 },
  })
  const warnings = logs.filter((line) => line['msg'] === 'skipped a message of the rejected topic')
  t.equal(warnings.length, 10, 'the first ten are logged with where they are, the rest only counted')
  t.ok(
    warnings.every((line) => JSON.stringify(line).length < 1_000),
    'a log line never holds the hostile value',
  )
})

t.test('records the worker refused are replayed only if they now pass validation', async (t) => {
  const { replay: r, sender } = replay()
  const stored = {
    v: 1,
    event_id: '7d7a3f9e-2b41-4f7e-9a0c-5e1d2c3b4a59',
    occurred_at: '2024-03-14T04:44:10.000Z',
    received_at: RECEIVED_AT,
    sensor_id: 'test-hp-almaty',
    sensor_type: 'honeypot',
    category: 'bruteforce',
    severity: 2,
    signature: 'SSH login failed',
    src_ip: '203.0.113.5',
    src_country: '',
    src_scope: 'public',
    org: 'An older name of the bank',
    sector: 'finance',
    region: 'KZ-75',
    count: 4,
    time_source: 'header',
  }
  const store = (event: object) =>
    rejection(JSON.stringify(event), {
      stage: 'store',
      format: 'canonical',
      sensor_id: null,
      index: null,
      received_at: '2024-05-01T00:00:00.000Z',
      reason: 'ClickHouse refused the row',
    })
  await r.take(
    messages(
      store(stored),
      store({ ...stored, event_id: 'b1f0c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d', signature: 'half a pair \ud800' }),
      store({ ...stored, occurred_at: '2030-01-01T00:00:00Z', event_id: '5b0d0d9c-8a53-4c6e-9f2f-1f6a7e6d2c11' }),
    ),
  )
  t.equal(sender.events.length, 1)
  t.match(sender.events[0], {
    event_id: stored.event_id,
    received_at: RECEIVED_AT,
    org: 'Test Bank Almaty',
    count: 4,
    time_source: 'header',
  })
  const reasons = r.summary().stillRejected.reasons.map(({ reason }) => reason)
  t.match(reasons.join('\n'), /well-formed Unicode/, 'a lone surrogate is refused by validation now')
  t.match(reasons.join('\n'), /QALQAN_WORKER_MAX_FUTURE_SECONDS/, 'a time in the future still is')
})

t.test('an HEC envelope is decoded by the sourcetype inside it', async (t) => {
  const { replay: r, sender } = replay()
  const envelope = JSON.stringify({ time: 1710391450, sourcetype: 'fortinet:cef', event: CEF_WITHOUT_ZONE })
  await r.take(messages(rejection(envelope, { format: 'hec' })))
  t.equal(sender.events[0]?.event_id, recordEventId('test-fw-atyrau', envelope))
  t.equal(sender.events[0]?.occurred_at, '2024-03-14T04:44:10.000Z')
})

t.test('the filters choose what is replayed', async (t) => {
  const { replay: r, sender } = replay({
    filters: {
      sensors: new Set(['test-fw-atyrau']),
      reason: /no utc offset/i,
      since: Date.parse('2024-03-14T00:00:00Z'),
      until: Date.parse('2024-03-15T00:00:00Z'),
    },
  })
  await r.take(
    messages(
      rejection(CEF_WITHOUT_ZONE),
      rejection(CEF_WITHOUT_ZONE, { sensor_id: 'test-ids-astana' }),
      rejection(CEF_SCAN_WITHOUT_ZONE, { reason: 'something else' }),
      rejection(CEF_SCAN_WITHOUT_ZONE, { received_at: '2024-03-15T00:00:00Z' }),
      rejection(CEF_SCAN_WITHOUT_ZONE, { received_at: '2024-03-14T10:00:00+05:00' }),
    ),
  )
  t.match(r.summary(), { read: 5, matched: 2, replayed: 2 })
  t.same(
    sender.events.map((event) => event.event_id),
    [recordEventId('test-fw-atyrau', CEF_WITHOUT_ZONE), recordEventId('test-fw-atyrau', CEF_SCAN_WITHOUT_ZONE)],
  )
})

t.test('a dry run decodes and counts, and sends nothing', async (t) => {
  const { replay: r, sender } = replay({ dryRun: true })
  await r.take(messages(rejection(CEF_WITHOUT_ZONE), rejection(CEF_SCAN_WITHOUT_ZONE), rejection(CEF_BROKEN)))
  t.equal(sender.calls, 0)
  t.match(r.summary(), { dryRun: true, replayed: 2, stillRejected: { total: 1 } })
})

t.test('events go to Kafka in batches; a failed send stops the replay and is not counted', async (t) => {
  const { replay: r, sender } = replay()
  await r.take(messages(...Array.from({ length: 5 }, (_, index) => rejection(CEF_WITHOUT_ZONE, { index }))))
  t.equal(sender.calls, 3, 'batches of two, then the rest')
  sender.failNext(1)
  await t.rejects(r.take(messages(rejection(CEF_SCAN_WITHOUT_ZONE))), { code: 'QLQ_ERR_KAFKA_UNAVAILABLE' })
  t.equal(r.summary().replayed, 5, 'only what Kafka acknowledged counts as replayed')
})

t.test('an event larger than one Kafka message is still rejected, with the reason the producer gives', async (t) => {
  const sender = new MemorySender()
  const small: EventSender = {
    send: (events, rejected) => sender.send(events, rejected),
    refusal: () => 'the event takes 2000000 bytes in Kafka',
  }
  const { replay: r } = replay({ sender: small })
  await r.take(messages(rejection(CEF_WITHOUT_ZONE)))
  t.equal(sender.events.length, 0)
  t.same(r.summary().stillRejected.reasons, [{ reason: 'the event takes 2000000 bytes in Kafka', count: 1 }])
})

t.test('a progress line every N records read', async (t) => {
  const { replay: r, logs } = replay({ progressEvery: 2 })
  await r.take(messages(...Array.from({ length: 5 }, () => rejection(CEF_BROKEN))))
  const lines = logs.filter((line) => line['msg'] === 'replaying rejected records')
  t.same(
    lines.map((line) => [line['read'], line['stillRejected']]),
    [
      [2, 2],
      [4, 4],
    ],
  )
})

/** events_raw in memory, holding the events given as a worker stores them. */
function storeHolding(...events: CanonicalEvent[]): MemoryLedger {
  const store = new MemoryEventStore()
  for (const [index, event] of events.entries())
    store.rows.push({ topic: 'events', partition: 0, offset: String(index), index: 0, event })
  return new MemoryLedger(store)
}

t.test('events that events_raw already holds are left out, however long ago they were stored', async (t) => {
  // What a first replay produced and the worker stored, days ago.
  const first = replay()
  await first.replay.take(messages(rejection(CEF_WITHOUT_ZONE)))
  const replayedBefore = first.sender.events[0] as CanonicalEvent
  // The same text that a collector accepted from the sensor later: the same id, another arrival.
  const accepted = {
    ...replayedBefore,
    event_id: recordEventId('test-fw-atyrau', CEF_SCAN_WITHOUT_ZONE).toUpperCase(),
    received_at: '2024-03-20T10:00:00.000Z',
  }
  // Another sensor's event under the id that a third one derives: not the same event.
  const otherSensor = {
    ...replayedBefore,
    sensor_id: 'test-hp-almaty',
    event_id: recordEventId('test-ids-astana', CEF_WITHOUT_ZONE),
  }
  const stored = storeHolding(replayedBefore, accepted, otherSensor)

  const { replay: r, sender, logs } = replay({ stored, progressEvery: 4 })
  await r.take(
    messages(
      rejection(CEF_WITHOUT_ZONE),
      rejection(CEF_SCAN_WITHOUT_ZONE),
      rejection(CEF_WITHOUT_ZONE, { sensor_id: 'test-ids-astana' }),
      rejection(CEF_WITHOUT_ZONE, { index: 7 }),
    ),
  )
  t.same(
    sender.events.map((event) => [event.sensor_id, event.event_id]),
    [['test-ids-astana', recordEventId('test-ids-astana', CEF_WITHOUT_ZONE)]],
    'only the event events_raw does not hold',
  )
  t.match(r.summary(), { storedChecked: true, matched: 4, replayed: 1, alreadyStored: 3 })
  const line = logs.find((entry) => entry['msg'] === 'replaying rejected records')
  t.match(line, { read: 4, alreadyStored: 2 }, 'progress lines count them, as of the batches sent so far')
})

t.test('a dry run asks events_raw too, and counts what would be produced', async (t) => {
  const first = replay()
  await first.replay.take(messages(rejection(CEF_WITHOUT_ZONE)))
  const { replay: r, sender } = replay({ dryRun: true, stored: storeHolding(...first.sender.events) })
  await r.take(messages(rejection(CEF_WITHOUT_ZONE), rejection(CEF_SCAN_WITHOUT_ZONE), rejection(CEF_BROKEN)))
  t.equal(sender.calls, 0)
  t.match(r.summary(), {
    dryRun: true,
    storedChecked: true,
    replayed: 1,
    alreadyStored: 1,
    stillRejected: { total: 1 },
  })
})

t.test('without the check every event that passes is produced, and the summary says it was not checked', async (t) => {
  const { replay: r, sender } = replay()
  await r.take(messages(rejection(CEF_WITHOUT_ZONE), rejection(CEF_WITHOUT_ZONE)))
  t.equal(sender.events.length, 2)
  t.match(r.summary(), { storedChecked: false, replayed: 2, alreadyStored: 0 })
})

t.test('when events_raw cannot be asked, the batch is not produced and the replay stops', async (t) => {
  const stored: Pick<Ledger, 'storedEventIds'> = {
    storedEventIds: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:8123')
    },
  }
  const { replay: r, sender } = replay({ stored })
  await t.rejects(r.take(messages(rejection(CEF_WITHOUT_ZONE), rejection(CEF_SCAN_WITHOUT_ZONE))), {
    message: /ECONNREFUSED/,
  })
  t.equal(sender.calls, 0, 'nothing was sent')
  t.match(r.summary(), { matched: 2, replayed: 0, alreadyStored: 0 })
})

t.test('events_raw is asked once per batch, about the events of that batch only', async (t) => {
  const asked: number[] = []
  const ledger = storeHolding()
  const stored: Pick<Ledger, 'storedEventIds'> = {
    storedEventIds: (keys) => {
      asked.push(keys.length)
      return ledger.storedEventIds(keys)
    },
  }
  const { replay: r, sender } = replay({ stored })
  await r.take(messages(...Array.from({ length: 5 }, (_, index) => rejection(CEF_WITHOUT_ZONE, { index }))))
  t.same(asked, [2, 2, 1], 'batches of two, then the rest')
  t.equal(sender.events.length, 5)
})
