// One worker insert, isolated: 8 inserts of 12,000 generated canonical events into the embedded
// engine with the product's schema, as ClickHouseEventStore.insert does them ("product") or from
// each event's JSON text with the Kafka columns appended ("raw"); "nomv" drops the three
// materialized views first, to see what they cost.
//   node bench/experiments/clickhouse-insert.mjs "$PWD" product|raw [nomv]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const root = process.argv[2] ?? process.cwd()
const { createClickHouse } = await import(`${root}/dist/services/clickhouse/client.js`)
const { migrate } = await import(`${root}/dist/services/clickhouse/migrate.js`)
const { ClickHouseEventStore } = await import(`${root}/dist/services/clickhouse/events.js`)
const { canonicalEvents } = await import(`${root}/dist/bench/generator.js`)
const dir = mkdtempSync(join(tmpdir(), 'chbench-'))
const config = { clickhouse: { url: undefined, path: join(dir, 'ch'), user: 'default', password: '', database: 'default' } }
const client = await createClickHouse(config)
await migrate(client)
const store = new ClickHouseEventStore(client)
if (process.argv[4] === 'nomv') for (const v of ['attacks_1m_mv', 'attacks_1h_mv', 'attacks_1d_mv']) await client.command({ query: `DROP VIEW IF EXISTS ${v}` })
if (process.argv[4] === 'nomv') console.log('materialized views dropped')
const N = 12000, rounds = 8
const events = canonicalEvents(N * rounds, 7)
const mode = process.argv[3] ?? 'product'
let offset = 0
const times = []
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (let r = 0; r < rounds; r++) {
  const batch = events.slice(r * N, (r + 1) * N).map((event) => ({ offset: String(offset++), event }))
  const range = { topic: 't', partition: r % 6, firstOffset: batch[0].offset, lastOffset: batch.at(-1).offset }
  const s = performance.now()
  if (mode === 'product') await store.insert(batch, range)
  else if (mode === 'raw') {
    // the JSONEachRow body built from each message's own JSON text, plus the three Kafka columns
    const body = batch.map(({ offset, event }) => { const raw = JSON.stringify(event); return `${raw.slice(0, -1)},"kafka_topic":"t","kafka_partition":${range.partition},"kafka_offset":${offset}}\n` }).join('')
    const { Readable } = await import('node:stream')
    void Readable
    await client.command({ query: `INSERT INTO events_raw FORMAT JSONEachRow\n${body}`, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `t:${range.partition}:${range.firstOffset}-${range.lastOffset}`, deduplicate_blocks_in_dependent_materialized_views: 1, date_time_input_format: 'best_effort', input_format_skip_unknown_fields: 1 } })
  }
  times.push(performance.now() - s)
}
const wall = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
console.log(`${mode}: ${rounds} inserts of ${N}: mean ${(times.reduce((a, b) => a + b) / rounds).toFixed(0)} ms each, ${(N * rounds / (wall / 1000)).toFixed(0)} rows/s, process CPU ${((cpu.user + cpu.system) / 1000 / wall * 100).toFixed(0)}%`)
await client.close()
rmSync(dir, { recursive: true, force: true })
