/**
 * The engine's own insert limit: pre-built rows inserted into events_raw of the product's schema in
 * the embedded engine, nothing else timed (no Kafka, no parsing or validation in JavaScript). The
 * rows are built before the clock starts, as JSONEachRow and as TabSeparated (the cheapest text
 * format the engine reads, and what the worker sends), each into events_raw with its three
 * materialized views and into a copy without them, in batches the size of the worker's; and as
 * TabSeparated again with the deduplication token and settings of the worker's exactly-once inserts.
 *
 *   node dist/bench/engine-limit.js DATA_DIR EVENTS BATCH SEED
 * prints one JSON line: { format: { views: rows/s, noViews: rows/s } }
 */
import { rmSync } from 'node:fs'
import { createClickHouse } from '../services/clickhouse/client.js'
import { migrate } from '../services/clickhouse/migrate.js'
import type { Config } from '../services/config.js'
import { canonicalEvents } from './generator.js'

const [dataDir = '', eventsArg = '120000', batchArg = '10000', seedArg = '801'] = process.argv.slice(2)
const total = Number(eventsArg)
const batch = Number(batchArg)

const clickhouse = { url: undefined, path: dataDir, user: 'default', password: '', database: 'default' }
const client = await createClickHouse({ clickhouse } as unknown as Config)
await migrate(client, { cluster: undefined })
// The same table without the views: what the views cost is the difference.
await client.command({ query: 'CREATE TABLE events_raw_bare AS events_raw' })

const columns = (
  await (
    await client.query({ query: 'DESCRIBE TABLE events_raw', format: 'JSONEachRow' })
  ).json<{
    name: string
    type: string
    default_type: string
  }>()
).filter((column) => column.default_type === '' || column.default_type === 'DEFAULT')

const events = canonicalEvents(total, Number(seedArg))
type Row = Record<string, unknown>
// Each format's rows name a topic of their own: identical blocks would be dropped as duplicates.
const rowsFor = (format: string): Row[] =>
  events.map((event, i) => ({
    ...event,
    kafka_topic: `engine-limit-${format}`,
    kafka_partition: i % 6,
    kafka_offset: i,
  }))

/** TabSeparated: times as the engine writes them, strings escaped, NULL as \N. */
function tsvValue(value: unknown, type: string): string {
  if (value === null || value === undefined) return type.startsWith('Nullable') ? '\\N' : ''
  if (type.includes('DateTime') && typeof value === 'string') return value.replace('T', ' ').replace('Z', '')
  if (typeof value === 'string')
    return value.replace(/[\\\t\n]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : '\\n'))
  return String(value)
}
const present = columns.filter((column) => column.name in (rowsFor('columns')[0] ?? {}))
const names = present.map((column) => column.name).join(', ')

function bodies(format: 'JSONEachRow' | 'TabSeparated', topic: string = format): string[] {
  const rows = rowsFor(topic)
  const out: string[] = []
  for (let start = 0; start < rows.length; start += batch) {
    const slice = rows.slice(start, start + batch)
    out.push(
      format === 'JSONEachRow'
        ? slice.map((row) => JSON.stringify(row)).join('\n')
        : slice.map((row) => present.map((column) => tsvValue(row[column.name], column.type)).join('\t')).join('\n'),
    )
  }
  return out
}

/**
 * Rows/s of the built inserts into `table`. With `tokens`, each insert carries a deduplication
 * token of its own and deduplicates in the views, as the worker's exactly-once inserts do.
 */
async function rate(
  table: string,
  format: 'JSONEachRow' | 'TabSeparated',
  built: string[],
  tokens: boolean,
): Promise<number> {
  const settings = format === 'JSONEachRow' ? { date_time_input_format: 'best_effort' as const } : {}
  const started = performance.now()
  for (const [i, body] of built.entries()) {
    await client.command({
      query: `INSERT INTO ${table} (${names}) FORMAT ${format}\n${body}`,
      clickhouse_settings: tokens
        ? {
            ...settings,
            insert_deduplication_token: `${table}:${i}`,
            deduplicate_blocks_in_dependent_materialized_views: 1,
          }
        : { ...settings, insert_deduplicate: 0 },
    })
  }
  return Math.round(total / ((performance.now() - started) / 1000))
}

const figures: Record<string, { views: number; noViews: number }> = {}
for (const format of ['JSONEachRow', 'TabSeparated'] as const) {
  const built = bodies(format)
  figures[format] = {
    views: await rate('events_raw', format, built, false),
    noViews: await rate('events_raw_bare', format, built, false),
  }
}
// The worker's own inserts: TabSeparated with exactly-once tokens.
await client.command({ query: 'CREATE TABLE events_raw_tokens_bare AS events_raw_bare' })
const tokenBodies = bodies('TabSeparated', 'tokens')
figures['TabSeparated, deduplication tokens'] = {
  views: await rate('events_raw', 'TabSeparated', tokenBodies, true),
  noViews: await rate('events_raw_tokens_bare', 'TabSeparated', tokenBodies, true),
}
const stored = await (
  await client.query({ query: 'SELECT count() AS n FROM events_raw', format: 'JSONEachRow' })
).json<{
  n: string
}>()
await client.close()
rmSync(dataDir, { recursive: true, force: true })
process.stdout.write(`${JSON.stringify({ events: total, batch, stored: Number(stored[0]?.n ?? 0), figures })}\n`)
