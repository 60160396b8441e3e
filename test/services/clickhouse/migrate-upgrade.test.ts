import t from 'tap'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { ClickHouseEventStore, insertToken } from '../../../services/clickhouse/events.js'
import type { OffsetRange } from '../../../services/clickhouse/interfaces.js'
import { ClickHouseLedger } from '../../../services/clickhouse/ledger.js'
import { MIGRATIONS_TABLE, migrate, stepLabel } from '../../../services/clickhouse/migrate.js'
import { MIGRATIONS, type MigrationStep } from '../../../services/clickhouse/migrations/index.js'
import { applyRetention } from '../../../services/clickhouse/retention.js'
import { QalqanError } from '../../../services/errors.js'
import { attackTotals, rawEventCount } from '../../helpers/clickhouse.js'
import { makeEvents, totalsByKey } from '../../helpers/events.js'
import { testConfig } from '../../helpers/stack.js'

// A database as the versions before recorded steps left it, upgraded in place. Its own process, so
// its own data folder.
const config = testConfig()
const client = await createClickHouse(config)
t.teardown(() => client.close())
const TOPIC = 'qalqan.events.v1'
const FROM = '2025-03-01 00:00:00'
const TO = '2025-03-02 00:00:00'
const last = MIGRATIONS.at(-1) as MigrationStep

async function rows<T>(query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>()
}

const tables = async () =>
  (await rows<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name')).map(
    (row) => row.name,
  )

/** What the worker does with a batch: record its range in the ledger, then insert its rows under the range's token. */
async function store(events: ReturnType<typeof makeEvents>, partition: number, first: number): Promise<OffsetRange> {
  const range = { topic: TOPIC, partition, firstOffset: String(first), lastOffset: String(first + events.length - 1) }
  await new ClickHouseLedger(client).plan(range)
  await new ClickHouseEventStore(client).insert(
    events.map((event, i) => ({ offset: String(first + i), event })),
    range,
  )
  return range
}

/**
 * As the previous version's worker stored a range: each event's JSON with the Kafka columns, the
 * fields its schema lacked skipped, under the same token as now.
 */
async function storeAsBefore(
  events: ReturnType<typeof makeEvents>,
  partition: number,
  first: number,
): Promise<OffsetRange> {
  const range = { topic: TOPIC, partition, firstOffset: String(first), lastOffset: String(first + events.length - 1) }
  await new ClickHouseLedger(client).plan(range)
  const rows = events.map((event, i) =>
    JSON.stringify({ ...event, kafka_topic: TOPIC, kafka_partition: partition, kafka_offset: first + i }),
  )
  await client.command({
    query: `INSERT INTO events_raw FORMAT JSONEachRow\n${rows.join('\n')}`,
    clickhouse_settings: {
      insert_deduplication_token: insertToken(range),
      deduplicate_blocks_in_dependent_materialized_views: 1,
      date_time_input_format: 'best_effort',
      input_format_skip_unknown_fields: 1,
    },
  })
  return range
}

/** The ranges planned for a topic, each row as stored, in the order written. */
const plans = (topic: string) =>
  rows<{ first: string; last: string }>(
    `SELECT toString(first_offset) AS first, toString(last_offset) AS last FROM worker_batches WHERE topic = '${topic}'
     ORDER BY first_offset, toUInt64OrZero(splitByChar('_', _part)[2])`,
  )

async function totals() {
  return {
    '1m': await attackTotals(client, 'attacks_1m', FROM, TO),
    '1h': await attackTotals(client, 'attacks_1h', FROM, TO),
    '1d': await attackTotals(client, 'attacks_1d', FROM, TO),
  }
}

t.test('tables of an earlier form are refused, naming each difference, and left as they were', async (t) => {
  // attacks_1m as it was before the aggregates had the organisation.
  await client.command({
    query: `CREATE TABLE attacks_1m
      (
          window_start DateTime('UTC'),
          sector LowCardinality(String),
          region LowCardinality(String),
          category LowCardinality(String),
          severity UInt8,
          src_country LowCardinality(String),
          events SimpleAggregateFunction(sum, UInt64),
          sources AggregateFunction(uniq, String),
          targets AggregateFunction(uniq, String),
          first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
          last_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
      )
      ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(window_start)
      ORDER BY (window_start, sector, region, category, severity, src_country)`,
  })
  const err = await migrate(client).then(
    () => undefined,
    (err: unknown) => err,
  )
  t.type(err, QalqanError)
  t.equal((err as QalqanError).code, 'QLQ_ERR_SCHEMA_UNRECOGNISED')
  const message = (err as Error).message
  t.match(message, 'differ from version 1 (0001-initial)')
  t.match(message, 'attacks_1m has no column org LowCardinality(String)')
  t.match(message, "attacks_1m.last_seen is SimpleAggregateFunction(min, DateTime64(3, 'UTC')), not")
  t.match(
    message,
    'attacks_1m is sorted by (window_start, sector, region, category, severity, src_country), not (window_start, sector, region, category, severity, src_country, org)',
  )
  t.match(message, 'docs/operations.md')
  t.same(await tables(), ['attacks_1m'], 'nothing was created')
  await client.command({ query: 'DROP TABLE attacks_1m' })
})

t.test('a database of the previous version is taken as version 1 and upgraded in place, its data kept', async (t) => {
  // What the previous version ran at each start: step 1's statements, then the retention.
  const initial = MIGRATIONS[0] as MigrationStep
  for (const statement of initial.statements) await client.command({ query: statement })
  await applyRetention(client, config.retentionDays)
  const stored = makeEvents(300, 11)
  const ranges = [await storeAsBefore(stored.slice(0, 200), 0, 0), await storeAsBefore(stored.slice(200), 1, 40)]
  const before = await totals()
  t.same(before['1m'], totalsByKey(stored), 'the views aggregated what was stored')
  t.notOk((await tables()).includes(MIGRATIONS_TABLE))
  // Two workers planning at one offset: this version keeps both plans, and a merge keeps the later.
  const ledger = new ClickHouseLedger(client)
  await ledger.plan({ topic: 'upgrade.plans', partition: 0, firstOffset: '7', lastOffset: '9' })
  await ledger.plan({ topic: 'upgrade.plans', partition: 0, firstOffset: '7', lastOffset: '8' })
  t.same(await plans('upgrade.plans'), [
    { first: '7', last: '9' },
    { first: '7', last: '8' },
  ])
  await client.command({ query: 'OPTIMIZE TABLE worker_batches FINAL' })
  t.same(await plans('upgrade.plans'), [{ first: '7', last: '8' }], 'before the upgrade, a merge keeps the later plan')

  const report = await migrate(client)
  const upgrades = MIGRATIONS.slice(1)
  t.same(report, {
    from: 1,
    to: last.version,
    applied: upgrades.map(stepLabel),
    adopted: true,
    statements: 1 + upgrades.reduce((sum, step) => sum + step.statements.length, 0),
  })
  t.same(
    await rows(`SELECT version, name FROM ${MIGRATIONS_TABLE} ORDER BY version`),
    MIGRATIONS.map(({ version, name }) => ({ version, name })),
  )
  const [batches] = await rows<{ engine_full: string }>(
    "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'worker_batches'",
  )
  t.match(
    batches?.engine_full,
    /\bSETTINGS .*\bnon_replicated_deduplication_window = 10000\b/,
    'the ledger deduplicates inserts now',
  )

  t.equal(await rawEventCount(client, TOPIC), 300, 'every raw event is still there')
  t.same(await totals(), before, 'and every aggregate')
  t.same(
    await rows('SELECT time_source, count() AS n FROM events_raw GROUP BY time_source'),
    [{ time_source: 'event', n: 300 }],
    'the rows stored before the step read the default',
  )
  t.same(
    await rows('SELECT device, log_source, count() AS n FROM events_raw GROUP BY device, log_source'),
    [{ device: '', log_source: '', n: 300 }],
    'and no device or log source',
  )
  t.equal(await ledger.plannedLastOffset({ topic: TOPIC, partition: 1, firstOffset: '40' }), ranges[1]?.lastOffset)
  t.same(
    (await ledger.recentEventIds(TOPIC, 0, '200', 3)).map((key) => key.eventId),
    stored.slice(197, 200).map((event) => event.event_id),
    'the ledger recalls the ids stored before the upgrade',
  )
  t.same(await applyRetention(client, config.retentionDays), [], 'the retention set before is kept')

  // The worker goes on: a replayed range is still dropped, and new rows reach every aggregate.
  await store(stored.slice(0, 200), 0, 0)
  t.equal(await rawEventCount(client, TOPIC), 300, 'a replay of a range stored before the upgrade is dropped')
  const more = makeEvents(120, 12)
  await store(more, 2, 0)
  t.equal(await rawEventCount(client, TOPIC), 420)
  const after = await totals()
  t.same(after['1m'], totalsByKey([...stored, ...more]))
  t.same(after['1h'], after['1m'])
  t.same(after['1d'], after['1m'])

  // Now a second plan at one offset is dropped on insert, and a merge has only the first to keep.
  await ledger.plan({ topic: 'upgrade.plans', partition: 0, firstOffset: '10', lastOffset: '14' })
  await ledger.plan({ topic: 'upgrade.plans', partition: 0, firstOffset: '10', lastOffset: '12' })
  await client.command({ query: 'OPTIMIZE TABLE worker_batches FINAL' })
  t.same(await plans('upgrade.plans'), [
    { first: '7', last: '8' },
    { first: '10', last: '14' },
  ])

  t.same(
    await migrate(client),
    { from: last.version, to: last.version, applied: [], adopted: false, statements: 0 },
    'then a start changes nothing',
  )
})
