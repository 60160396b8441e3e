import t from 'tap'
import { CanonicalEvent } from '../../../schemas/event.js'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { ClickHouseEventStore } from '../../../services/clickhouse/events.js'
import { StoreDataError } from '../../../services/clickhouse/errors.js'
import { migrate } from '../../../services/clickhouse/migrate.js'
import { readMessage } from '../../../services/worker/read-message.js'
import { testConfig } from '../../helpers/stack.js'

// The worker writes events_raw's rows as TabSeparated from the validated event. What it stores must
// be what ClickHouse itself reads from the event's JSON (the reference here): every column, for
// text that TabSeparated escapes, times in any offset and precision, and fields left out.
const client = await createClickHouse(testConfig())
await migrate(client)
const store = new ClickHouseEventStore(client)
t.teardown(() => client.close())

function canonical(id: number, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    event_id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    occurred_at: '2026-12-01T10:00:00.123+05:00',
    received_at: '2026-12-01T05:00:01.000Z',
    sensor_id: 'rows-test',
    sensor_type: 'ids',
    category: 'scan',
    severity: 2,
    signature: 'ET SCAN "quoted" \\ back\tslash ünïcödé ✓',
    src_ip: '203.0.113.7',
    src_port: 40000,
    dst_ip: '198.51.100.1',
    protocol: 'tcp',
    src_country: 'CN',
    src_scope: 'public',
    org: 'Test Org',
    sector: 'energy',
    region: 'KZ-23',
    count: 3,
    time_source: 'header',
    device: 'fw-1',
    ...more,
  }
}

async function stored(topic: string): Promise<Record<string, unknown>[]> {
  const result = await client.query({
    query: 'SELECT * EXCEPT (kafka_topic) FROM events_raw WHERE kafka_topic = {topic:String} ORDER BY event_id',
    query_params: { topic },
    format: 'JSONEachRow',
  })
  return result.json()
}

/** What ClickHouse reads from the event's own JSON, with the Kafka columns the worker adds. */
async function asJson(event: CanonicalEvent, topic: string, offset: number, index: number): Promise<void> {
  const json = JSON.stringify({
    ...event,
    kafka_topic: topic,
    kafka_partition: 3,
    kafka_offset: offset,
    kafka_index: index,
  })
  await client.command({
    query: `INSERT INTO events_raw FORMAT JSONEachRow\n${json}`,
    // A token of its own: the embedded engine's session keeps the settings of the insert before.
    clickhouse_settings: {
      date_time_input_format: 'best_effort',
      input_format_skip_unknown_fields: 1,
      insert_deduplication_token: `json-${offset}`,
    },
  })
}

const cases: [string, Record<string, unknown>][] = [
  ['every field', {}],
  ['optional fields left out', { src_port: undefined, dst_ip: undefined, device: undefined, time_source: undefined }],
  ['tab, line breaks, backslashes and NUL', { signature: 'a\tb\nc\rd\\e\\\\f\0g \\t \\N', org: '\\N', device: '\t' }],
  ['text that looks like an escape or a NULL', { signature: '\\N', signature_id: '\\t', log_source: "it's \\'" }],
  ['times in UTC without a fraction', { occurred_at: '2026-12-01T04:59:59Z', received_at: '2026-12-01T05:00:00Z' }],
  [
    'times with more digits and other offsets',
    { occurred_at: '2026-12-01T10:00:00.123456+05:00', received_at: '2026-11-30T20:30:01.5-08:30' },
  ],
  [
    'ports at the ends of their range, IPv6',
    { src_port: 0, dst_port: 65535, src_ip: '2001:db8::1', dst_ip: '::ffff:10.0.0.1' },
  ],
  ['the widest values', { severity: 4, count: 1_000_000, signature: 'ж'.repeat(512), mitre_technique: 'T1110.001' }],
  ['a private source', { src_country: '', src_scope: 'private', src_ip: '10.1.2.3' }],
  [
    'times at the ends of what the column holds',
    { occurred_at: '1900-01-01T00:00:00.000Z', received_at: '2299-12-31T23:59:59.999Z' },
  ],
]

t.test('each row stored from TabSeparated is the row ClickHouse reads from the JSON of the event', async (t) => {
  let offset = 0
  for (const [what, more] of cases) {
    const read = readMessage(JSON.stringify(canonical(offset + 1, more)))
    if (typeof read === 'string') throw new Error(`${what}: ${read}`)
    offset++
    const range = { topic: `tsv-${offset}`, partition: 3, firstOffset: String(offset), lastOffset: String(offset) }
    await store.insert([{ offset: String(offset), index: 2, event: read }], range)
    await asJson(read, `json-${offset}`, offset, 2)
    const [fromTsv] = await stored(`tsv-${offset}`)
    const [fromJson] = await stored(`json-${offset}`)
    t.ok(fromTsv, `${what}: stored`)
    t.same(fromTsv, fromJson, `${what}: every column the same`)
  }
  const [row] = await stored('tsv-3')
  t.match(row, { signature: 'a\tb\nc\rd\\e\\\\f\0g \\t \\N', org: '\\N', kafka_partition: 3, kafka_index: 2 })
  const [times] = await stored('tsv-6')
  t.match(times, { occurred_at: '2026-12-01 05:00:00.123', received_at: '2026-12-01 05:00:01.500' })
})

t.test('times outside what the column holds are taken as ClickHouse takes them from JSON', async (t) => {
  for (const time of ['1800-01-01T00:00:00.000Z', '2400-01-01T00:00:00.000Z', '0000-01-01T00:00:00Z']) {
    const read = readMessage(JSON.stringify(canonical(200, { occurred_at: time, received_at: time })))
    if (typeof read === 'string') throw new Error(read)
    const range = { topic: `tsv-${time}`, partition: 3, firstOffset: '0', lastOffset: '0' }
    const tsv = await store.insert([{ offset: '0', event: read }], range).then(
      () => 'stored',
      (err: unknown) => (err instanceof StoreDataError ? 'refused' : `failed: ${(err as Error).message}`),
    )
    const json = await asJson(read, `json-${time}`, 0, 0).then(
      () => 'stored',
      () => 'refused',
    )
    t.equal(tsv, json, `${time}: ${json} either way`)
    t.same(await stored(`tsv-${time}`), await stored(`json-${time}`), `${time}: the same rows`)
  }
})

t.test('text that is not well-formed Unicode is refused as data, never stored as U+FFFD', async (t) => {
  const event = { ...CanonicalEvent.parse(canonical(300)), org: 'x\ud800' }
  const range = { topic: 'tsv-surrogate', partition: 3, firstOffset: '0', lastOffset: '0' }
  await t.rejects(store.insert([{ offset: '0', event }], range), { name: 'StoreDataError', code: 'NOT_WELL_FORMED' })
  t.same(await stored('tsv-surrogate'), [])
})

t.test('rows wider than the buffer first taken for them are all stored whole', async (t) => {
  const wide = Array.from({ length: 60 }, (_, i) =>
    CanonicalEvent.parse(canonical(400 + i, { signature: `${i} ${'ж'.repeat(500)}`, org: '漢'.repeat(256) })),
  )
  await store.insert(
    wide.map((event, i) => ({ offset: String(i), event })),
    { topic: 'tsv-wide', partition: 3, firstOffset: '0', lastOffset: '59' },
  )
  const rows = await stored('tsv-wide')
  t.equal(rows.length, 60)
  t.same(
    rows.map((row) => [row['signature'], row['org']]),
    wide.map((event) => [event.signature, event.org]),
  )
})

t.test('one insert holds rows of several messages and lines, each with its own place', async (t) => {
  const events = [1, 2, 3].map((i) => CanonicalEvent.parse(canonical(100 + i)))
  await store.insert(
    events.map((event, i) => ({ offset: String(50 + (i >> 1)), index: i & 1, event })),
    { topic: 'tsv-many', partition: 3, firstOffset: '50', lastOffset: '51' },
  )
  t.same(
    (await stored('tsv-many')).map((row) => [row['kafka_offset'], row['kafka_index']]),
    [
      [50, 0],
      [50, 1],
      [51, 0],
    ],
  )
})
