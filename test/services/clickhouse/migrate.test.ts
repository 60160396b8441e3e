import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { CanonicalEvent } from '../../../schemas/event.js'
import { createClickHouse } from '../../../services/clickhouse/client.js'
import { ClickHouseEventStore } from '../../../services/clickhouse/events.js'
import { createdBy, MIGRATIONS_TABLE, migrate, stepChecksum, stepLabel } from '../../../services/clickhouse/migrate.js'
import { MIGRATIONS, type MigrationStep } from '../../../services/clickhouse/migrations/index.js'
import { QalqanError } from '../../../services/errors.js'
import { PROJECT_ROOT } from '../../../services/paths.js'
import { makeEvents } from '../../helpers/events.js'
import { testConfig } from '../../helpers/stack.js'

// Each test file is its own process with its own data folder: this one starts from an empty database.
const client = await createClickHouse(testConfig())
t.teardown(() => client.close())

async function rows<T>(query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>()
}

const recorded = () =>
  rows<{ version: number; name: string; checksum: string; at: string }>(
    `SELECT version, name, checksum, toString(applied_at) AS at FROM ${MIGRATIONS_TABLE} ORDER BY version, applied_at`,
  )

/** Every column of the database's tables, so that a refused start can be shown to have changed nothing. */
const schema = () =>
  rows<Record<string, string>>(
    'SELECT table, name, type, default_expression FROM system.columns WHERE database = currentDatabase() ORDER BY table, name',
  )

async function rejection(promise: Promise<unknown>): Promise<QalqanError> {
  const err = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!(err instanceof QalqanError)) throw new Error(`expected a QalqanError, got ${String(err)}`)
  return err
}

t.test('the steps are the files of migrations/, numbered from 1 in order', async (t) => {
  const files = readdirSync(join(PROJECT_ROOT, 'services', 'clickhouse', 'migrations'))
    .filter((file) => /^\d{4}-/.test(file))
    .sort()
  t.same(
    files,
    MIGRATIONS.map((step) => `${stepLabel(step)}.ts`),
  )
  t.same(
    MIGRATIONS.map((step) => step.version),
    MIGRATIONS.map((_, index) => index + 1),
  )
  const [initial] = MIGRATIONS
  t.equal(initial?.statements.length, 8, 'step 1 is the five tables and three views of schemas/clickhouse/')
  t.ok(
    initial?.statements.every((statement) => /^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS /.test(statement)),
    'every statement of step 1 may run again',
  )
  t.ok(
    MIGRATIONS.flatMap((step) => step.statements).every((statement) => /\bIF (NOT )?EXISTS\b/.test(statement)),
    'every statement of every step may run again',
  )
})

t.test('a step list out of order is refused before anything runs', async (t) => {
  const [initial, second] = MIGRATIONS as [MigrationStep, MigrationStep]
  await t.rejects(migrate(client, { steps: [second, initial] }), /schema step 1 is 0002-time-source/)
  await t.rejects(migrate(client, { steps: [{ ...initial, name: 'Initial Schema' }] }), /kebab-case/)
  t.same(await schema(), [], 'nothing was created')
})

t.test('an empty database gets every step, each recorded with its checksum', async (t) => {
  const report = await migrate(client)
  t.same(report.applied, ['0001-initial', '0002-time-source'])
  t.equal(report.from, 0)
  t.equal(report.to, 2)
  t.equal(report.adopted, false)
  t.ok(report.statements >= 10, `${report.statements} statements`)
  const steps = await recorded()
  t.same(
    steps.map(({ version, name, checksum }) => ({ version, name, checksum })),
    MIGRATIONS.map((step) => ({ version: step.version, name: step.name, checksum: stepChecksum(step) })),
  )
  for (const step of steps) t.ok(Date.parse(`${step.at}Z`) > Date.parse('2026-01-01'), `applied_at ${step.at}`)
  const [timeSource] = await rows<{ type: string; default_expression: string }>(
    "SELECT type, default_expression FROM system.columns WHERE database = currentDatabase() AND table = 'events_raw' AND name = 'time_source'",
  )
  t.same(timeSource, { type: 'LowCardinality(String)', default_expression: "'event'" })
})

t.test("step 1's tables, as migrate reads them from its statements, are the tables ClickHouse made", async (t) => {
  const { tables, views } = createdBy(MIGRATIONS[0] as MigrationStep)
  t.same(
    tables.map((table) => table.name),
    ['events_raw', 'worker_batches', 'attacks_1m', 'attacks_1h', 'attacks_1d'],
  )
  t.same(views, ['attacks_1m_mv', 'attacks_1h_mv', 'attacks_1d_mv'])
  for (const table of tables) {
    const columns = await rows<{ name: string; type: string }>(
      `SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '${table.name}' AND name != 'time_source' ORDER BY position`,
    )
    t.same(
      table.columns.map(([name, type]) => ({ name, type })),
      columns,
      table.name,
    )
    const [sorting] = await rows<{ sorting_key: string }>(
      `SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = '${table.name}'`,
    )
    t.equal(table.orderBy, sorting?.sorting_key, `${table.name} ORDER BY`)
  }
})

t.test("the worker's inserts store time_source, and an event without it reads event", async (t) => {
  // Dated now: the default retention would drop an older event.
  const [plain, enveloped] = makeEvents(2, 7, Date.now() - 60_000, 1)
  if (plain === undefined || enveloped === undefined) throw new Error('no event')
  const withSource = { ...enveloped, time_source: 'envelope' } as CanonicalEvent
  await new ClickHouseEventStore(client).insert(
    [
      { offset: '0', event: plain },
      { offset: '1', event: withSource },
    ],
    { topic: 'migrate-test', partition: 0, firstOffset: '0', lastOffset: '1' },
  )
  t.same(
    await rows(
      `SELECT toString(event_id) AS id, time_source FROM events_raw WHERE kafka_topic = 'migrate-test' ORDER BY kafka_offset`,
    ),
    [
      { id: plain.event_id, time_source: 'event' },
      { id: enveloped.event_id, time_source: 'envelope' },
    ],
  )
})

t.test('a second start changes nothing', async (t) => {
  const before = { steps: await recorded(), schema: await schema() }
  const report = await migrate(client)
  t.same(report, { from: 2, to: 2, applied: [], adopted: false, statements: 0 })
  t.same({ steps: await recorded(), schema: await schema() }, before)
})

t.test('a step recorded twice, as two processes starting at once may record it, counts once', async (t) => {
  const second = MIGRATIONS[1] as MigrationStep
  await client.insert({
    table: MIGRATIONS_TABLE,
    values: [{ version: 2, name: second.name, checksum: stepChecksum(second) }],
    format: 'JSONEachRow',
  })
  t.same(
    (await recorded()).map((step) => step.version),
    [1, 2, 2],
  )
  t.same((await migrate(client)).applied, [])
})

t.test('a database newer than the program is refused, naming both versions', async (t) => {
  const before = { steps: await recorded(), schema: await schema() }
  const err = await rejection(migrate(client, { steps: MIGRATIONS.slice(0, 1) }))
  t.equal(err.code, 'QLQ_ERR_SCHEMA_TOO_NEW')
  t.match(err.message, 'the ClickHouse database is at schema version 2 (0002-time-source)')
  t.match(err.message, 'knows versions up to 1 (0001-initial)')
  t.match(err.message, 'upgrade the program')
  t.same({ steps: await recorded(), schema: await schema() }, before, 'nothing was changed')
})

t.test('an applied step whose statements changed is refused, naming the step', async (t) => {
  const before = { steps: await recorded(), schema: await schema() }
  const [initial, second] = MIGRATIONS as [MigrationStep, MigrationStep]
  const changed: MigrationStep = {
    ...second,
    statements: [
      "ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS time_source LowCardinality(String) DEFAULT 'received' AFTER received_at",
    ],
  }
  const err = await rejection(migrate(client, { steps: [initial, changed] }))
  t.equal(err.code, 'QLQ_ERR_SCHEMA_STEP_CHANGED')
  t.match(
    err.message,
    `schema step 0002-time-source was applied to this database with checksum ${stepChecksum(second)}`,
  )
  t.match(err.message, `this program's 0002-time-source has checksum ${stepChecksum(changed)}`)
  const first = await rejection(
    migrate(client, { steps: [{ ...initial, statements: initial.statements.slice(1) }, second] }),
  )
  t.equal(first.code, 'QLQ_ERR_SCHEMA_STEP_CHANGED')
  t.match(first.message, 'schema step 0001-initial was applied')
  t.same({ steps: await recorded(), schema: await schema() }, before, 'nothing was changed')

  const respaced: MigrationStep = { ...second, statements: second.statements.map((s) => s.replace(/ /g, '\n    ')) }
  t.equal(stepChecksum(respaced), stepChecksum(second), 'spacing is not a change')
  t.same((await migrate(client, { steps: [initial, respaced] })).applied, [])
})

t.test('a step that fails is named, not recorded, and runs again at the next start', async (t) => {
  const broken: MigrationStep = {
    version: 3,
    name: 'broken',
    statements: [
      'ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS note String',
      'ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS planned_by NoSuchType',
    ],
  }
  const err = await rejection(migrate(client, { steps: [...MIGRATIONS, broken] }))
  t.equal(err.code, 'QLQ_ERR_SCHEMA_STEP_FAILED')
  t.match(err.message, 'schema step 0003-broken failed at its statement 2 of 2: ')
  t.match(err.message, /NoSuchType/)
  t.ok(err.cause instanceof Error, 'the cause is kept')
  t.same([...new Set((await recorded()).map((step) => step.version))], [1, 2], 'step 3 is not recorded')

  const fixed: MigrationStep = {
    ...broken,
    name: 'batch-notes',
    statements: [
      'ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS note String',
      "ALTER TABLE worker_batches ADD COLUMN IF NOT EXISTS planned_by LowCardinality(String) DEFAULT ''",
    ],
  }
  const report = await migrate(client, { steps: [...MIGRATIONS, fixed] })
  t.same(report.applied, ['0003-batch-notes'], 'the statement that had run before runs again, harmlessly')
  t.same((await recorded()).at(-1)?.name, 'batch-notes')
  await t.rejects(migrate(client), { code: 'QLQ_ERR_SCHEMA_TOO_NEW' }, 'and now the program without it is too old')
})
