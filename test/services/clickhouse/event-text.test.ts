import t from 'tap'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { openClickHouse, StoreDataError } from '../../../services/clickhouse/index.js'
import { readEvent } from '../../../services/worker/read-message.js'
import { testConfig } from '../../helpers/stack.js'

// The worker stores a message's own text when it holds exactly the event: the same row as the event
// encoded again, and what ClickHouse reads differently from JSON.parse is refused, never stored.
const config = testConfig()
const store = await openClickHouse(config)
await store.migrate()
t.teardown(() => store.close())

let offset = 0
function canonical(id: number, more: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    event_id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
    occurred_at: '2026-12-01T10:00:00.123+05:00',
    received_at: '2026-12-01T05:00:01.000Z',
    sensor_id: 'text-test',
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

async function insert(text: string, topic: string): Promise<void> {
  const read = readEvent(text)
  if (typeof read === 'string') throw new Error(read)
  offset++
  const range = { topic, partition: 0, firstOffset: String(offset), lastOffset: String(offset) }
  await store.events.insert([{ offset: String(offset), event: read.event, text: read.text }], range)
}

async function stored(topic: string): Promise<Record<string, unknown>[]> {
  return store.reader.rows(
    `SELECT * EXCEPT (kafka_offset) FROM events_raw WHERE kafka_topic = {topic:String} ORDER BY event_id`,
    { topic },
  )
}

t.test('readEvent gives the text only when it holds the whole event on one line', async (t) => {
  const full = JSON.stringify(canonical(1))
  t.match(readEvent(full), { text: full })
  const { src_scope: _scope, ...noScope } = canonical(2)
  const withoutScope = readEvent(JSON.stringify(noScope))
  t.equal(
    typeof withoutScope === 'string' ? 'refused' : withoutScope.text,
    undefined,
    'src_scope left out: the event is stored',
  )
  t.match(withoutScope, { event: { src_scope: 'public' } })
  const pretty = readEvent(JSON.stringify(canonical(3), null, 2))
  t.equal(typeof pretty === 'string' ? 'refused' : pretty.text, undefined, 'several lines: the event is stored')
  t.match(readEvent('{"v":1'), /^not valid JSON/)
  t.match(readEvent('{"v":2}'), /^not a canonical event/)
})

t.test('the same row whether stored from the text or from the event', async (t) => {
  for (const [id, more] of [
    [10, {}],
    [11, { src_port: undefined, dst_ip: undefined, device: undefined, time_source: undefined }],
  ] as const) {
    const text = JSON.stringify(canonical(id, more))
    const read = readEvent(text)
    if (typeof read === 'string') throw new Error(read)
    offset++
    await store.events.insert([{ offset: String(offset), event: read.event, text: read.text }], {
      topic: `as-text-${id}`,
      partition: 0,
      firstOffset: String(offset),
      lastOffset: String(offset),
    })
    offset++
    await store.events.insert([{ offset: String(offset), event: read.event as CanonicalEvent }], {
      topic: `as-event-${id}`,
      partition: 0,
      firstOffset: String(offset),
      lastOffset: String(offset),
    })
    const [asText] = await stored(`as-text-${id}`)
    const [asEvent] = await stored(`as-event-${id}`)
    t.ok(asText, 'stored from the text')
    t.same({ ...asText, kafka_topic: '' }, { ...asEvent, kafka_topic: '' }, `event ${id}: every column the same`)
  }
  const [row] = await stored('as-text-10')
  t.match(row, {
    signature: 'ET SCAN "quoted" \\ back\tslash ünïcödé ✓',
    occurred_at: '2026-12-01 05:00:00.123',
    count: 3,
  })
})

t.test('what JSON.parse and ClickHouse read differently is refused as a data error, never stored', async (t) => {
  const base = JSON.stringify(canonical(20))
  const hostile = [
    ['a key given twice (JSON.parse keeps the last)', base.replace('"severity":2', '"severity":200,"severity":2')],
    ['an integer written 2.0', base.replace('"severity":2', '"severity":2.0')],
    ['an integer written 3e0', base.replace('"count":3', '"count":3e0')],
  ] as const
  for (const [what, text] of hostile) {
    const read = readEvent(text)
    t.not(typeof read, 'string', `${what}: the schema accepts it`)
    await t.rejects(insert(text, `hostile-${what}`), StoreDataError, `${what}: refused as data`)
    t.same(await stored(`hostile-${what}`), [], `${what}: nothing stored`)
  }
})
