import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { CanonicalEvent } from '../../schemas/event.js'
import { type EventKey, openClickHouse } from '../../services/clickhouse/index.js'
import { STORED_IDS_PER_QUERY } from '../../services/clickhouse/ledger.js'
import { recordEventId } from '../../services/collector/event-id.js'
import { connectKafka } from '../../services/kafka/index.js'
import { createLogger } from '../../services/logger.js'
import { replayRejected } from '../../services/replay/replay-rejected.js'
import type { ReplaySummary } from '../../services/replay/summary.js'
import { type Running, startRoles } from '../../services/roles.js'
import { startCollector } from '../helpers/collector.js'
import { readWholeTopic, testKafka, waitForGroupCaughtUp } from '../helpers/kafka.js'
import { kafkaBrokers, TOKENS, TOKENS_FILE, testConfig } from '../helpers/stack.js'
import {
  CEF_BROKEN,
  CEF_SCAN_WITHOUT_ZONE,
  CEF_WITHOUT_ZONE,
  cutRejection,
  RECEIVED_AT,
  rejection,
} from '../services/replay/records.js'

// A worker whose window of recent ids is one second: a copy arriving later is recognised only by
// what events_raw holds.
const config = testConfig({ QALQAN_ROLE: 'worker', QALQAN_WORKER_DEDUP_WINDOW_SECONDS: '1' })
/** Longer than the worker remembers an id (the window and one slice of it). */
const PAST_THE_WINDOW_MS = 1_500
const { events: EVENTS, rejected: REJECTED } = config.kafka.topics
const ENV = {
  QALQAN_LOG_LEVEL: 'info',
  QALQAN_KAFKA_BROKERS: kafkaBrokers(),
  QALQAN_KAFKA_TOPIC_EVENTS: EVENTS,
  QALQAN_KAFKA_TOPIC_REJECTED: REJECTED,
  QALQAN_TOKENS_FILE: TOKENS_FILE,
  QALQAN_CLICKHOUSE_URL: `chdb:${config.clickhouse.path}`,
}
const ATYRAU_ID = recordEventId('test-fw-atyrau', CEF_WITHOUT_ZONE)
const ALMATY_ID = recordEventId('test-hp-almaty', CEF_SCAN_WITHOUT_ZONE)
const ATYRAU_SCAN_ID = recordEventId('test-fw-atyrau', CEF_SCAN_WITHOUT_ZONE)

/** Runs `qalqan replay-rejected --json ...` as an operator would, against the test broker and engine. */
async function replay(...args: string[]): Promise<{ code: number; summary: ReplaySummary; stderr: string }> {
  const { code, stdout, stderr } = await run(['--json', ...args], ENV)
  return { code, summary: JSON.parse(stdout) as ReplaySummary, stderr }
}

async function run(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString('utf8'))
        done()
      },
    })
  const code = await replayRejected(argv, env, {
    stdout: sink((text) => (stdout += text)),
    stderr: sink((text) => (stderr += text)),
  })
  return { code, stdout, stderr }
}

async function eventIds(): Promise<string[]> {
  return (await readWholeTopic(EVENTS)).map((value) => CanonicalEvent.parse(JSON.parse(value)).event_id)
}

await connectKafka(config, createLogger('silent')).ensureTopics()
// The schema, as a worker makes it at its start: the replay reads events_raw and makes nothing.
const clickhouse = await openClickHouse(config)
await clickhouse.migrate()
let worker: Running | undefined
t.teardown(async () => {
  await worker?.close()
  await clickhouse.close()
})

/** How many times events_raw holds each event stored from the events topic, by id. */
async function storedCopies(): Promise<Record<string, number>> {
  const rows = await clickhouse.reader.rows<{ id: string; n: string | number }>(
    'SELECT toString(event_id) AS id, count() AS n FROM events_raw WHERE kafka_topic = {topic:String} GROUP BY id',
    { topic: EVENTS },
  )
  return Object.fromEntries(rows.map(({ id, n }) => [id, Number(n)]))
}

// The rejected topic as older versions left it: the CEF records of two sensors whose times carry
// no zone (refused then), one still unreadable, one cut, one of a sensor since retired, and
// messages that are no rejection record at all (one of 900 kB).
const producer = testKafka().producer()
await producer.connect()
await producer.send({
  topic: REJECTED,
  messages: [
    rejection(CEF_WITHOUT_ZONE),
    rejection(CEF_SCAN_WITHOUT_ZONE, { sensor_id: 'test-hp-almaty', index: 1 }),
    rejection(CEF_BROKEN, { reason: 'the CEF header has fewer than 7 pipe-separated fields' }),
    cutRejection(CEF_WITHOUT_ZONE),
    rejection(CEF_WITHOUT_ZONE, { sensor_id: 'retired-sensor' }),
  ]
    .map((record) => ({ key: record.sensor_id, value: JSON.stringify(record) }))
    .concat([
      { key: 'test-fw-atyrau', value: 'CEF:0|not|a rejection record' },
      { key: 'test-fw-atyrau', value: JSON.stringify({ stage: 'decode', raw: CEF_WITHOUT_ZONE }) },
      { key: 'test-fw-atyrau', value: JSON.stringify({ reason: 'r'.repeat(900_000) }) },
    ]),
})
await producer.send({ topic: REJECTED, messages: [{ key: 'test-fw-atyrau', value: null }] })
await producer.disconnect()

t.test('a dry run decodes and counts, reports what cannot be replayed, and produces nothing', async (t) => {
  const { code, summary, stderr } = await replay('--dry-run', '--progress-every=4')
  t.equal(code, 0)
  t.same(summary, {
    dryRun: true,
    storedChecked: true,
    read: 9,
    unreadable: { total: 4, empty: 1, not_json: 1, wrong_shape: 2, raw_mismatch: 0 },
    matched: 5,
    replayed: 2,
    alreadyStored: 0,
    notAttacks: 0,
    stillRejected: {
      total: 1,
      reasons: [{ reason: 'the CEF header has fewer than 7 pipe-separated fields', count: 1 }],
    },
    cut: 1,
    unknownSensor: { total: 1, sensors: [{ sensor: 'retired-sensor', count: 1 }] },
  })
  t.match(stderr, /"read":4,[^\n]*"msg":"replaying rejected records"/, 'a progress line on stderr')
  t.equal((await readWholeTopic(EVENTS)).length, 0, 'the events topic is untouched')
})

t.test('filters choose the records', async (t) => {
  const none = await replay('--dry-run', '--since=2024-03-15')
  t.match(none.summary, { read: 9, matched: 0, replayed: 0 })
  const reason = await replay('--dry-run', '--reason=/no utc offset/i', '--until=2024-03-15T00:00:00+05:00')
  t.match(reason.summary, { matched: 4, replayed: 2, cut: 1, unknownSensor: { total: 1 }, stillRejected: { total: 0 } })
  const formats = await replay('--dry-run', '--format=suricata,cowrie')
  t.match(formats.summary, { matched: 0 })

  const almaty = await replay('--sensor=test-hp-almaty')
  t.match(almaty.summary, { dryRun: false, matched: 1, replayed: 1 })
  t.same(await eventIds(), [ALMATY_ID], "only that sensor's record is produced")
})

t.test('the records the current decoders accept arrive with the ids the collector gives them', async (t) => {
  // One of them the sensor also sent again, to a collector that accepts it now.
  const collector = await startCollector(t, {
    QALQAN_KAFKA_TOPIC_EVENTS: EVENTS,
    QALQAN_KAFKA_TOPIC_REJECTED: REJECTED,
  })
  const sent = await collector.app.inject({
    method: 'POST',
    url: '/v1/events/cef',
    headers: { authorization: `Bearer ${TOKENS.atyrau}`, 'content-type': 'text/plain' },
    payload: `${CEF_WITHOUT_ZONE}\n`,
  })
  t.equal(sent.statusCode, 202)

  const first = await replay()
  t.match(first.summary, { replayed: 2, stillRejected: { total: 1 }, cut: 1, unknownSensor: { total: 1 } })
  const events = (await readWholeTopic(EVENTS)).map((value) => CanonicalEvent.parse(JSON.parse(value)))
  const replayed = (id: string) => events.filter((event) => event.event_id === id && event.received_at === RECEIVED_AT)
  t.same([replayed(ATYRAU_ID).length, replayed(ALMATY_ID).length], [1, 2], 'one replay, and the one filtered before')
  t.match(replayed(ATYRAU_ID), [
    { sensor_id: 'test-fw-atyrau', occurred_at: '2024-03-14T04:44:10.000Z', category: 'exploit' },
  ])
  t.match(replayed(ALMATY_ID), [
    { sensor_id: 'test-hp-almaty', occurred_at: '2024-03-14T03:44:10.000Z', category: 'scan' },
    { sensor_id: 'test-hp-almaty', occurred_at: '2024-03-14T03:44:10.000Z', category: 'scan' },
  ])
  t.equal(
    events.filter((event) => event.event_id === ATYRAU_ID && event.received_at !== RECEIVED_AT).length,
    1,
    'the collector gave the record it accepted the same id',
  )

  // Nothing is stored yet (no worker runs): a second replay produces them again, and the worker
  // drops these copies as they arrive together.
  const second = await replay()
  t.same(second.summary, first.summary, 'a second replay does the same')
  t.same(
    (await eventIds()).sort(),
    [ALMATY_ID, ALMATY_ID, ALMATY_ID, ATYRAU_ID, ATYRAU_ID, ATYRAU_ID].sort(),
    'the same two ids each time, and the one the collector gave',
  )
  const rejected = await readWholeTopic(REJECTED)
  t.equal(rejected.length, 9, 'nothing was written to the rejected topic')
})

t.test('the worker stores each replayed record once', async (t) => {
  worker = await startRoles(config, createLogger('warn'))
  await waitForGroupCaughtUp(config.worker.groupId, EVENTS)
  t.same(await storedCopies(), { [ALMATY_ID]: 1, [ATYRAU_ID]: 1 }, '6 messages of the events topic, 2 events')
})

t.test('a replay after the worker forgot the ids leaves out what events_raw holds', async (t) => {
  const produced = (await readWholeTopic(EVENTS)).length
  await sleep(PAST_THE_WINDOW_MS)
  const { code, summary } = await replay()
  t.equal(code, 0)
  t.match(summary, {
    storedChecked: true,
    matched: 5,
    replayed: 0,
    alreadyStored: 2,
    stillRejected: { total: 1 },
    cut: 1,
    unknownSensor: { total: 1 },
  })
  t.equal((await readWholeTopic(EVENTS)).length, produced, 'nothing was produced')
  t.same(await storedCopies(), { [ALMATY_ID]: 1, [ATYRAU_ID]: 1 }, 'no second copy')
})

t.test('a record that a collector accepted earlier is not produced again', async (t) => {
  // Refused when the sensor first sent it, then sent again and accepted once the sensor had a zone.
  const producer = testKafka().producer()
  await producer.connect()
  const refused = rejection(CEF_SCAN_WITHOUT_ZONE)
  await producer.send({ topic: REJECTED, messages: [{ key: refused.sensor_id, value: JSON.stringify(refused) }] })
  await producer.disconnect()
  const collector = await startCollector(t, {
    QALQAN_KAFKA_TOPIC_EVENTS: EVENTS,
    QALQAN_KAFKA_TOPIC_REJECTED: REJECTED,
  })
  const sent = await collector.app.inject({
    method: 'POST',
    url: '/v1/events/cef',
    headers: { authorization: `Bearer ${TOKENS.atyrau}`, 'content-type': 'text/plain' },
    payload: `${CEF_SCAN_WITHOUT_ZONE}\n`,
  })
  t.equal(sent.statusCode, 202)
  await waitForGroupCaughtUp(config.worker.groupId, EVENTS)
  t.equal((await storedCopies())[ATYRAU_SCAN_ID], 1, 'stored as the collector sent it')
  const produced = (await readWholeTopic(EVENTS)).length

  await sleep(PAST_THE_WINDOW_MS)
  const { summary } = await replay('--sensor=test-fw-atyrau')
  t.match(summary, { matched: 4, replayed: 0, alreadyStored: 2, stillRejected: { total: 1 }, cut: 1 })
  t.equal((await readWholeTopic(EVENTS)).length, produced, 'nothing was produced')
  t.same(await storedCopies(), { [ALMATY_ID]: 1, [ATYRAU_ID]: 1, [ATYRAU_SCAN_ID]: 1 })
})

t.test('without the check, a copy that reaches the worker after its window is stored again', async (t) => {
  // What the check prevents: the worker alone no longer recognises the copy.
  await sleep(PAST_THE_WINDOW_MS)
  const { summary } = await replay('--sensor=test-hp-almaty', '--no-check-stored')
  t.match(summary, { storedChecked: false, replayed: 1, alreadyStored: 0 })
  await waitForGroupCaughtUp(config.worker.groupId, EVENTS)
  t.equal((await storedCopies())[ALMATY_ID], 2)
})

t.test('the check asks about a bounded number of events at a time, each by its sensor and id', async (t) => {
  const per = STORED_IDS_PER_QUERY
  const keys: EventKey[] = Array.from({ length: 2 * per + per / 2 }, () => ({
    sensorId: 'test-fw-atyrau',
    eventId: randomUUID(),
  }))
  keys[0] = { sensorId: 'test-fw-atyrau', eventId: ATYRAU_ID }
  keys[per - 1] = { sensorId: 'test-hp-almaty', eventId: ATYRAU_ID }
  keys[per] = { sensorId: 'test-hp-almaty', eventId: ALMATY_ID.toUpperCase() }
  keys[keys.length - 1] = { sensorId: 'test-fw-atyrau', eventId: ATYRAU_SCAN_ID }
  const stored = await clickhouse.ledger.storedEventIds(keys)
  const byId = (a: EventKey, b: EventKey) => a.eventId.localeCompare(b.eventId)
  t.same(
    stored.sort(byId),
    [
      { sensorId: 'test-fw-atyrau', eventId: ATYRAU_ID },
      { sensorId: 'test-hp-almaty', eventId: ALMATY_ID },
      { sensorId: 'test-fw-atyrau', eventId: ATYRAU_SCAN_ID },
    ].sort(byId),
    "another sensor's event of the same id is not the one asked about",
  )
  t.same(await clickhouse.ledger.storedEventIds([]), [])
})

t.test('an unreachable ClickHouse stops the replay before it produces anything', async (t) => {
  const produced = (await readWholeTopic(EVENTS)).length
  const { code, stdout, stderr } = await run([], { ...ENV, QALQAN_CLICKHOUSE_URL: 'http://127.0.0.1:1' })
  t.equal(code, 1)
  t.equal(stdout, '')
  t.match(stderr, 'cannot ask ClickHouse (http://127.0.0.1:1/) which events events_raw already holds')
  t.equal((await readWholeTopic(EVENTS)).length, produced, 'nothing was produced')
})
