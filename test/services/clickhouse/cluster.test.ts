import t from 'tap'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { clusterStatement } from '../../../services/clickhouse/cluster.js'
import { MIGRATIONS_DDL } from '../../../services/clickhouse/migrate.js'
import { MIGRATIONS } from '../../../services/clickhouse/migrations/index.js'
import { testConfig } from '../../helpers/stack.js'

// Every statement that migrate runs: the migrations table's, then each step's.
const statements = [MIGRATIONS_DDL, ...MIGRATIONS.flatMap((step) => step.statements)]
const clickhouse = await createClickHouse(testConfig())
t.teardown(() => clickhouse.close())

t.test('every statement of the schema has a cluster form that ClickHouse parses', async (t) => {
  t.ok(statements.length >= 10)
  for (const statement of statements) {
    for (const query of clusterStatement(statement, 'qalqan')) {
      const result = await clickhouse.query({
        query: 'SELECT formatQuery({q:String}) AS q',
        query_params: { q: query },
        format: 'JSONEachRow',
      })
      const [row] = await result.json<{ q: string }>()
      t.match(row?.q, /ON CLUSTER qalqan/, query.slice(0, 60))
    }
  }
})

t.test('tables become replicated locals under Distributed tables; views read and write locals', async (t) => {
  const raw = statements.find((s) => s.includes('CREATE TABLE IF NOT EXISTS events_raw')) ?? ''
  const [local, distributed] = clusterStatement(raw, 'qalqan')
  t.match(local, /^CREATE TABLE IF NOT EXISTS events_raw_local ON CLUSTER `qalqan`/)
  t.match(
    local,
    /ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/events_raw_local', '\{replica\}'\)/,
  )
  t.notMatch(local, /non_replicated_deduplication_window/)
  t.equal(
    distributed,
    "CREATE TABLE IF NOT EXISTS events_raw ON CLUSTER `qalqan` AS events_raw_local ENGINE = Distributed('qalqan', currentDatabase(), events_raw_local, cityHash64(event_id))",
  )
  const aggregate = statements.find((s) => s.includes('CREATE TABLE IF NOT EXISTS attacks_1m')) ?? ''
  t.match(
    clusterStatement(aggregate, 'c')[0],
    /ENGINE = ReplicatedAggregatingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/attacks_1m_local', '\{replica\}'\)/,
  )
  const view = statements.find((s) => s.includes('MATERIALIZED VIEW IF NOT EXISTS attacks_1h_mv')) ?? ''
  const [rewritten] = clusterStatement(view, 'c')
  t.match(rewritten, /attacks_1h_mv ON CLUSTER `c` TO attacks_1h_local AS/)
  t.match(rewritten, /FROM attacks_1m_local/)
  t.throws(() => clusterStatement('DROP TABLE x', 'c'), /no cluster form/)
})

t.test('the migrations table is replicated and distributed like the others', async (t) => {
  const [local, distributed] = clusterStatement(MIGRATIONS_DDL, 'qalqan')
  t.match(local, /^CREATE TABLE IF NOT EXISTS schema_steps_local ON CLUSTER `qalqan`/)
  t.match(
    local,
    /ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/schema_steps_local', '\{replica\}'\)/,
  )
  t.equal(
    distributed,
    "CREATE TABLE IF NOT EXISTS schema_steps ON CLUSTER `qalqan` AS schema_steps_local ENGINE = Distributed('qalqan', currentDatabase(), schema_steps_local, rand())",
  )
})

t.test(
  "a step's column change reaches the local tables and the Distributed ones; other changes the local only",
  async (t) => {
    const timeSource = MIGRATIONS.find((step) => step.name === 'time-source')?.statements[0] ?? ''
    t.same(clusterStatement(timeSource, 'qalqan'), [
      "ALTER TABLE events_raw_local ON CLUSTER `qalqan` ADD COLUMN IF NOT EXISTS time_source LowCardinality(String) DEFAULT 'event' AFTER received_at",
      "ALTER TABLE events_raw ON CLUSTER `qalqan` ADD COLUMN IF NOT EXISTS time_source LowCardinality(String) DEFAULT 'event' AFTER received_at",
    ])
    const device = MIGRATIONS.find((step) => step.name === 'device')?.statements ?? []
    t.same(
      device.map((statement) => clusterStatement(statement, 'qalqan')),
      [
        [
          "ALTER TABLE events_raw_local ON CLUSTER `qalqan` ADD COLUMN IF NOT EXISTS device LowCardinality(String) DEFAULT '' AFTER time_source",
          "ALTER TABLE events_raw ON CLUSTER `qalqan` ADD COLUMN IF NOT EXISTS device LowCardinality(String) DEFAULT '' AFTER time_source",
        ],
        [
          "ALTER TABLE events_raw_local ON CLUSTER `qalqan` ADD COLUMN IF NOT EXISTS log_source LowCardinality(String) DEFAULT '' AFTER device",
          "ALTER TABLE events_raw ON CLUSTER `qalqan` ADD COLUMN IF NOT EXISTS log_source LowCardinality(String) DEFAULT '' AFTER device",
        ],
      ],
      'step 4: each column on the local tables and the Distributed ones',
    )
    t.same(clusterStatement('ALTER TABLE attacks_1m DROP COLUMN IF EXISTS note', 'c'), [
      'ALTER TABLE attacks_1m_local ON CLUSTER `c` DROP COLUMN IF EXISTS note',
      'ALTER TABLE attacks_1m ON CLUSTER `c` DROP COLUMN IF EXISTS note',
    ])
    t.same(clusterStatement('ALTER TABLE events_raw ADD INDEX IF NOT EXISTS sig signature TYPE bloom_filter', 'c'), [
      'ALTER TABLE events_raw_local ON CLUSTER `c` ADD INDEX IF NOT EXISTS sig signature TYPE bloom_filter',
    ])
  },
)

t.test(
  'the step that sets the deduplication window has no cluster form: replicated tables deduplicate by themselves',
  async (t) => {
    const step = MIGRATIONS.find((known) => known.name === 'one-plan-per-offset')
    t.ok(step?.statements.length, 'the step is there, with its statements')
    for (const statement of step?.statements ?? []) t.same(clusterStatement(statement, 'qalqan'), [], statement)
    // The ledger's tables on a cluster are what they were before the step.
    const batches = statements.find((s) => s.includes('CREATE TABLE IF NOT EXISTS worker_batches')) ?? ''
    t.same(clusterStatement(batches, 'qalqan'), [
      `CREATE TABLE IF NOT EXISTS worker_batches_local ON CLUSTER \`qalqan\`
(
    topic String,
    partition UInt32,
    first_offset UInt64,
    last_offset UInt64,
    planned_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/worker_batches_local', '{replica}')
ORDER BY (topic, partition, first_offset)
TTL planned_at + INTERVAL 7 DAY`,
      "CREATE TABLE IF NOT EXISTS worker_batches ON CLUSTER `qalqan` AS worker_batches_local ENGINE = Distributed('qalqan', currentDatabase(), worker_batches_local, rand())",
    ])
  },
)

t.test('other settings reach the local tables, also when set with the deduplication window', async (t) => {
  t.same(clusterStatement('ALTER TABLE worker_batches MODIFY SETTING ttl_only_drop_parts = 1', 'c'), [
    'ALTER TABLE worker_batches_local ON CLUSTER `c` MODIFY SETTING ttl_only_drop_parts = 1',
  ])
  t.same(
    clusterStatement(
      "ALTER TABLE events_raw MODIFY SETTING ttl_only_drop_parts = 1, non_replicated_deduplication_window = 100, storage_policy = 'a,b'",
      'c',
    ),
    ["ALTER TABLE events_raw_local ON CLUSTER `c` MODIFY SETTING ttl_only_drop_parts = 1, storage_policy = 'a,b'"],
  )
  t.same(
    clusterStatement(
      'ALTER TABLE worker_batches MODIFY SETTING non_replicated_deduplication_window = 100, ttl_only_drop_parts = 1',
      'c',
    ),
    ['ALTER TABLE worker_batches_local ON CLUSTER `c` MODIFY SETTING ttl_only_drop_parts = 1'],
  )
  t.same(clusterStatement('ALTER TABLE events_raw MODIFY SETTING non_replicated_deduplication_window_x = 1', 'c'), [
    'ALTER TABLE events_raw_local ON CLUSTER `c` MODIFY SETTING non_replicated_deduplication_window_x = 1',
  ])
})
