import t from 'tap'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { MIGRATIONS_TABLE, migrate } from '../../../services/clickhouse/migrate.js'
import { MIGRATIONS } from '../../../services/clickhouse/migrations/index.js'
import { testConfig } from '../../helpers/stack.js'

// Its own process, so an empty database of its own.
const config = testConfig()

t.test('starts at once on an empty database: each may run a step, none fails, the schema is whole', async (t) => {
  // Three clients, as three processes would have, whose statements interleave.
  const clients = await Promise.all([1, 2, 3].map(() => createClickHouse(config)))
  t.teardown(() => Promise.all(clients.map((client) => client.close())))
  const reports = await Promise.all(clients.map((client) => migrate(client)))
  t.ok(
    reports.every((report) => report.to === MIGRATIONS.at(-1)?.version),
    'every start reached the last version',
  )
  t.ok(
    reports.some((report) => report.applied.length > 0),
    'at least one applied the steps',
  )

  const [client] = clients
  if (client === undefined) throw new Error('no client')
  const recorded = await (
    await client.query({
      query: `SELECT DISTINCT version, name FROM ${MIGRATIONS_TABLE} ORDER BY version`,
      format: 'JSONEachRow',
    })
  ).json()
  t.same(
    recorded,
    MIGRATIONS.map(({ version, name }) => ({ version, name })),
  )
  const [column] = await (
    await client.query({
      query:
        "SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = 'events_raw' AND name = 'time_source'",
      format: 'JSONEachRow',
    })
  ).json<{ n: number | string }>()
  t.equal(Number(column?.n), 1)
  const [batches] = await (
    await client.query({
      query: "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'worker_batches'",
      format: 'JSONEachRow',
    })
  ).json<{ engine_full: string }>()
  t.match(batches?.engine_full, /\bnon_replicated_deduplication_window = 10000\b/)
  t.same((await migrate(client)).applied, [], 'a later start finds every step recorded')
})
