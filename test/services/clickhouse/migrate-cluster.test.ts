import t from 'tap'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { clusterStatement } from '../../../services/clickhouse/cluster.js'
import { MIGRATIONS_DDL, MIGRATIONS_TABLE, migrate } from '../../../services/clickhouse/migrate.js'
import { MIGRATIONS, type MigrationStep } from '../../../services/clickhouse/migrations/index.js'
import { testConfig } from '../../helpers/stack.js'

// No cluster runs in the tests. This database has the tables that step 1's cluster form makes on a
// node, each with a plain engine: the replicated <name>_local, and a table of the same columns in the
// place of each Distributed one. That is what migrate reads when it adopts a cluster's database.
const client = await createClickHouse(testConfig())
t.teardown(() => client.close())
const initial = MIGRATIONS[0] as MigrationStep

/** A statement of the cluster form as one node would have it, without the cluster. */
function onOneNode(query: string): string {
  return query
    .replace(/ ON CLUSTER `c`/, '')
    .replace(/Replicated(\w*)MergeTree\('[^']*', '\{replica\}'(?:, )?/, '$1MergeTree(')
    .replace(/ENGINE = Distributed\(.*\)$/, 'ENGINE = Memory')
}

for (const statement of initial.statements) {
  for (const query of clusterStatement(statement, 'c')) await client.command({ query: onOneNode(query) })
}
// The record of steps as well, so that migrate runs no DDL ON CLUSTER here: recording a step is an insert.
for (const query of clusterStatement(MIGRATIONS_DDL, 'c')) await client.command({ query: onOneNode(query) })

t.test("on a cluster, the local tables and the Distributed ones are checked against step 1's columns", async (t) => {
  await client.command({ query: 'ALTER TABLE events_raw DROP COLUMN src_scope' })
  await t.rejects(migrate(client, { cluster: 'c', steps: [initial] }), {
    code: 'QLQ_ERR_SCHEMA_UNRECOGNISED',
    message: /: events_raw has no column src_scope LowCardinality\(String\)\. /,
  })
  await client.command({
    query: 'ALTER TABLE events_raw ADD COLUMN src_scope LowCardinality(String) AFTER src_country',
  })
  await client.command({ query: 'ALTER TABLE worker_batches_local MODIFY COLUMN last_offset Int64' })
  await t.rejects(migrate(client, { cluster: 'c', steps: [initial] }), {
    code: 'QLQ_ERR_SCHEMA_UNRECOGNISED',
    message: /: worker_batches_local\.last_offset is Int64, not UInt64\. /,
  })
  await client.command({ query: 'ALTER TABLE worker_batches_local MODIFY COLUMN last_offset UInt64' })
})

t.test('a cluster whose every table is there is taken as version 1 without running anything', async (t) => {
  const report = await migrate(client, { cluster: 'c', steps: [initial] })
  t.same(report, { from: 1, to: 1, applied: [], adopted: true, statements: 0 })
  t.same(
    await (
      await client.query({ query: `SELECT version, name FROM ${MIGRATIONS_TABLE}`, format: 'JSONEachRow' })
    ).json(),
    [{ version: 1, name: 'initial' }],
  )
})
