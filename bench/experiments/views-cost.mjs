// What each part of the materialized views costs an insert into events_raw: the product's schema in
// the embedded engine, 120,000 pre-built TabSeparated rows (as the worker writes them) in inserts of
// 10,000, under one variant of the views per process (the engine binds one data folder per process):
//   all      the three views as the schema has them (attacks_1m from events_raw, 1h from 1m, 1d from 1h)
//   minute   only attacks_1m_mv (hours and days would be read from the minute table)
//   counts   attacks_1m_mv without its two uniq states (sources, targets left empty)
//   none     no view
//   one      a single view into one table of all three granularities (a granularity column, each
//            row's event counted once per granularity by arrayJoin), TTL per granularity
//   for v in all minute counts one none all; do node bench/experiments/views-cost.mjs "$PWD" $v; done
// BATCH=40000 sets the rows per insert (10,000 by default).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const [root = process.cwd(), variant = 'all'] = process.argv.slice(2)
const { createClickHouse } = await import(`${root}/dist/services/clickhouse/client.js`)
const { migrate } = await import(`${root}/dist/services/clickhouse/migrate.js`)
const { eventRows, EVENT_COLUMNS } = await import(`${root}/dist/services/clickhouse/event-rows.js`)
const { canonicalEvents } = await import(`${root}/dist/bench/generator.js`)
const dir = mkdtempSync(join(tmpdir(), 'views-cost-'))
const client = await createClickHouse({ clickhouse: { url: undefined, path: join(dir, 'ch') } })
await migrate(client)
const drop = (view) => client.command({ query: `DROP VIEW IF EXISTS ${view}` })
if (variant === 'minute' || variant === 'none') for (const v of ['attacks_1h_mv', 'attacks_1d_mv']) await drop(v)
if (variant === 'none' || variant === 'counts' || variant === 'one') await drop('attacks_1m_mv')
if (variant === 'one') {
  for (const v of ['attacks_1h_mv', 'attacks_1d_mv']) await drop(v)
  await client.command({
    query: `CREATE TABLE attacks_all
      (granularity UInt32, window_start DateTime('UTC'), sector LowCardinality(String), region LowCardinality(String),
       category LowCardinality(String), severity UInt8, src_country LowCardinality(String), org LowCardinality(String),
       events SimpleAggregateFunction(sum, UInt64), sources AggregateFunction(uniq, String),
       targets AggregateFunction(uniq, String), first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
       last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')))
      ENGINE = AggregatingMergeTree PARTITION BY (granularity, toYYYYMM(window_start))
      ORDER BY (granularity, window_start, sector, region, category, severity, src_country, org)
      TTL window_start + INTERVAL 90 DAY DELETE WHERE granularity = 60,
          window_start + INTERVAL 730 DAY DELETE WHERE granularity = 3600,
          window_start + INTERVAL 3650 DAY DELETE WHERE granularity = 86400
      SETTINGS non_replicated_deduplication_window = 10000`,
  })
  await client.command({
    query: `CREATE MATERIALIZED VIEW attacks_all_mv TO attacks_all AS
      SELECT g.1 AS granularity, g.2 AS window_start, sector, region, category, severity, src_country, org,
        sum(count) AS events, uniqState(src_ip) AS sources, uniqStateIf(dst_ip, dst_ip != '') AS targets,
        min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
      FROM events_raw
      ARRAY JOIN [(toUInt32(60), toStartOfMinute(occurred_at)), (toUInt32(3600), toStartOfHour(occurred_at)), (toUInt32(86400), toStartOfDay(occurred_at))] AS g
      GROUP BY granularity, window_start, sector, region, category, severity, src_country, org`,
  })
}
if (variant === 'counts') {
  await client.command({
    query: `CREATE MATERIALIZED VIEW attacks_1m_mv TO attacks_1m AS
      SELECT toStartOfMinute(occurred_at) AS window_start, sector, region, category, severity, src_country, org,
        sum(count) AS events, min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
      FROM events_raw GROUP BY window_start, sector, region, category, severity, src_country, org`,
  })
}
const N = 120_000
const batch = Number(process.env['BATCH'] ?? 10_000)
const events = canonicalEvents(N, 801)
const bodies = []
for (let start = 0; start < N; start += batch)
  bodies.push(eventRows(events.slice(start, start + batch).map((event, i) => ({ offset: String(start + i), event })), 'views-cost', 0))
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (const [i, body] of bodies.entries()) {
  await client.command({
    query: `INSERT INTO events_raw (${EVENT_COLUMNS.join(', ')}) FORMAT TabSeparated\n${body}`,
    clickhouse_settings: { insert_deduplication_token: `views-cost:${i}`, deduplicate_blocks_in_dependent_materialized_views: 1, date_time_input_format: 'basic' },
  })
}
const seconds = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
console.log(`${variant.padEnd(7)} ${Math.round(N / seconds)} rows/s, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU per row`)
await client.close()
rmSync(dir, { recursive: true, force: true })
